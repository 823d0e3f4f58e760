// The noise and deterministic-error sources of the optical MAC (PHYSICS.md §2), as a set that
// commands select with `--sources shot,dark,...` so a user (or a test) can isolate one source.
#pragma once

#include <string>
#include <string_view>

namespace lumac {

enum class NoiseSource : unsigned {
  shot = 1u << 0,        // photon counting (Poisson) noise of both diodes
  dark = 1u << 1,        // dark-current counts of both diodes
  reset = 1u << 2,       // integrator kTC reset noise
  amplifier = 1u << 3,   // amplifier current noise
  rin = 1u << 4,         // laser relative intensity noise after CMRR
  weight = 1u << 5,      // weight (modulator drive) noise
  adc = 1u << 6,         // ADC quantization of the read-out
  extinction = 1u << 7,  // deterministic: finite modulator extinction ratio
  dac = 1u << 8,         // deterministic: DAC quantization of the drive
  phase = 1u << 9,       // signal-LO phase: static error per output and temporal phase noise
  bias = 1u << 10,       // static modulator bias offsets
  mismatch = 1u << 11,   // static responsivity mismatch of each balanced pair (leakage)
  spread = 1u << 12,     // static V_pi spread of each modulator and splitter imbalance
};

class NoiseSources {
 public:
  static NoiseSources all() { return NoiseSources(0x1FFFu); }
  static NoiseSources none() { return NoiseSources(0u); }
  // Parses "shot,dark" (or "all", "none"); unknown names are a lumac::Error listing valid ones.
  static NoiseSources parse(std::string_view list);

  bool has(NoiseSource s) const { return (mask_ & static_cast<unsigned>(s)) != 0; }
  NoiseSources with(NoiseSource s) const { return NoiseSources(mask_ | static_cast<unsigned>(s)); }
  NoiseSources without(NoiseSource s) const {
    return NoiseSources(mask_ & ~static_cast<unsigned>(s));
  }
  std::string to_string() const;  // "shot,dark,..."
  bool operator==(const NoiseSources&) const = default;

 private:
  explicit NoiseSources(unsigned mask) : mask_(mask) {}
  unsigned mask_;
};

std::string_view noise_source_name(NoiseSource s);

}  // namespace lumac
