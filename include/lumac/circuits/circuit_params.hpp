// Everything that defines one homodyne optical MAC circuit: its devices and system parameters,
// as loaded from a preset (config sections laser, modulator, detector, adc, dac, system).
#pragma once

#include "lumac/circuits/system.hpp"
#include "lumac/devices/converters.hpp"
#include "lumac/devices/detector.hpp"
#include "lumac/devices/laser.hpp"
#include "lumac/devices/modulator.hpp"

namespace lumac {

struct CircuitParams {
  LaserParams laser;
  ModulatorParams modulator;
  DetectorParams detector;
  AdcParams adc;
  DacParams dac;
  SystemParams system;
};

template <class V>
void visit_circuit_sections(CircuitParams& c, V& v) {
  v.section("laser", c.laser);
  v.section("modulator", c.modulator);
  v.section("detector", c.detector);
  v.section("adc", c.adc);
  v.section("dac", c.dac);
  v.section("system", c.system);
}

// Validates every section; throws lumac::Error naming the first bad field.
void validate(const CircuitParams& c);

}  // namespace lumac
