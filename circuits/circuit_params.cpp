#include "lumac/circuits/circuit_params.hpp"

namespace lumac {

void validate(const CircuitParams& c) {
  validate(c.laser);
  validate(c.modulator);
  validate(c.detector);
  validate(c.adc);
  validate(c.dac);
  validate(c.system);
}

}  // namespace lumac
