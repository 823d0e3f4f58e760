#include "lumac/devices/converters.hpp"

#include <algorithm>
#include <cmath>

#include "lumac/core/error.hpp"
#include "lumac/core/precision.hpp"

namespace lumac {

void validate(const AdcParams& p) {
  const FieldCheck c("adc");
  c.integer("bits", p.bits, 1, 24);
  c.positive("range_scale", p.range_scale);
  c.non_negative("walden_fom_J_per_step", p.walden_fom_J_per_step);
  c.non_negative("thermal_fom_J", p.thermal_fom_J);
}

void validate(const DacParams& p) {
  const FieldCheck c("dac");
  c.integer("bits", p.bits, 2, 24);
  c.non_negative("energy_per_conversion_J", p.energy_per_conversion_J);
}

MidRiseQuantizer::MidRiseQuantizer(int bits, double lo, double hi)
    : bits_(bits),
      lo_(lo),
      lsb_(lsb_mid_rise(hi - lo, bits)),
      max_code_((std::int64_t{1} << bits) - 1) {
  if (bits < 1 || bits > 24) fail("ADC bits = {}: must be an integer in [1, 24]", bits);
  if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi))
    fail("ADC span [{}, {}]: must be finite with hi > lo", lo, hi);
}

std::int64_t MidRiseQuantizer::code(double value) const {
  const double k = std::floor((value - lo_) / lsb_);
  if (!(k >= 0)) return 0;  // also maps NaN to code 0
  return std::min(max_code_, static_cast<std::int64_t>(std::min(k, 9e15)));
}

double MidRiseQuantizer::value(std::int64_t code) const {
  return lo_ + (static_cast<double>(code) + 0.5) * lsb_;
}

MidTreadQuantizer::MidTreadQuantizer(int bits)
    : lsb_(lsb_mid_tread(2.0, bits)), levels_(std::ldexp(1.0, bits - 1) - 1) {
  if (bits < 2 || bits > 24) fail("DAC bits = {}: must be an integer in [2, 24]", bits);
}

double MidTreadQuantizer::quantize(double x) const {
  const double k = std::clamp(std::nearbyint(x / lsb_), -levels_, levels_);
  return k * lsb_;
}

double adc_energy_per_conversion_J(const AdcParams& p, double enob) {
  return std::max(p.walden_fom_J_per_step * std::exp2(enob), p.thermal_fom_J * std::exp2(2 * enob));
}

}  // namespace lumac
