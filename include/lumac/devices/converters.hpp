// Data converters (PHYSICS.md §6, "Converters").
//
// ADC: mid-rise uniform quantizer with 2^bits codes over [lo, hi]; code k in [0, 2^bits - 1]
// reconstructs to lo + (k + 1/2) LSB, LSB = (hi - lo) / 2^bits; inputs outside the span clip to
// the end codes. Its error on a uniformly distributed input has variance LSB^2 / 12.
// DAC: symmetric mid-tread quantizer of a signed drive x in [-1, 1] with 2^bits - 1 levels
// k / (2^(bits-1) - 1), so 0 is exact (ReLU zeros stay zero).
// Energy per conversion: ADC E = max(FoM_W 2^ENOB, FoM_th 4^ENOB) (Walden and thermal
// asymptotes of Murmann's ADC survey); DAC a fixed energy per conversion (about 1 pJ at GS/s).
#pragma once

#include <cstdint>

namespace lumac {

struct AdcParams {
  int bits = 8;                          // resolution
  double range_scale = 1.0;              // ADC span / full-scale range of the read-out
  double walden_fom_J_per_step = 5e-15;  // FoM_W (best at >= 1 GS/s: about 5 fJ per step)
  double thermal_fom_J = 2.4e-19;        // FoM_th (energy per 4^ENOB; Schreier FoM 185 dB)
};

template <class V>
void visit_fields(AdcParams& p, V& v) {
  v.integer("bits", p.bits, "bit", "ADC resolution");
  v.real("range_scale", p.range_scale, "1", "ADC span / full-scale range of the read-out");
  v.real("walden_fom_J_per_step", p.walden_fom_J_per_step, "J",
         "Walden figure of merit, energy per conversion step");
  v.real("thermal_fom_J", p.thermal_fom_J, "J",
         "thermal figure of merit, energy per conversion per 4^ENOB");
}

void validate(const AdcParams& p);

struct DacParams {
  int bits = 8;                            // resolution of the modulator drive
  double energy_per_conversion_J = 1e-12;  // energy of one conversion at GS/s (Netcast)
};

template <class V>
void visit_fields(DacParams& p, V& v) {
  v.integer("bits", p.bits, "bit", "DAC resolution of the modulator drives");
  v.real("energy_per_conversion_J", p.energy_per_conversion_J, "J", "energy per conversion");
}

void validate(const DacParams& p);

// Mid-rise quantizer over [lo, hi].
class MidRiseQuantizer {
 public:
  MidRiseQuantizer(int bits, double lo, double hi);
  double lsb() const { return lsb_; }
  std::int64_t code(double value) const;
  double value(std::int64_t code) const;
  double quantize(double value) const { return this->value(code(value)); }

 private:
  int bits_;
  double lo_, lsb_;
  std::int64_t max_code_;
};

// Symmetric mid-tread quantizer of x in [-1, 1] (values outside clip).
class MidTreadQuantizer {
 public:
  explicit MidTreadQuantizer(int bits);
  double lsb() const { return lsb_; }
  double quantize(double x) const;

 private:
  double lsb_;
  double levels_;  // 2^(bits-1) - 1
};

// ADC energy per conversion at a given ENOB: max(FoM_W 2^ENOB, FoM_th 4^ENOB).
double adc_energy_per_conversion_J(const AdcParams& p, double enob);

}  // namespace lumac
