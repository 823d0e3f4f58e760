#include "lumac/nn/noise_mode.hpp"

#include <algorithm>
#include <cmath>

#include "lumac/circuits/homodyne_mac.hpp"

namespace lumac::nn {

const NoiseModeInfo& noise_mode_info(NoiseMode mode) {
  for (const auto& m : noise_modes)
    if (m.mode == mode) return m;
  fail("noise mode {}: unknown", static_cast<int>(mode));
}

NoiseMode parse_noise_mode(std::string_view text, std::string_view what) {
  return parse_enum<NoiseMode>(text, what);
}

LayerBudget layer_budget(NoiseMode mode, int repeats, double mean_energy, double executor_photons,
                         double circuit_photons) {
  const bool e_counts_repeats = noise_mode_info(mode).counts_repeats();
  LayerBudget b;
  b.photons_per_mac = e_counts_repeats ? circuit_photons : executor_photons;
  b.repeats = repeats * (e_counts_repeats ? mean_energy : 1.0);
  return b;
}

std::int64_t whole_repeats(NoiseMode mode, int repeats, double mean_energy) {
  const bool e_counts_repeats = noise_mode_info(mode).counts_repeats();
  return static_cast<std::int64_t>(repeats) *
         static_cast<std::int64_t>(e_counts_repeats ? std::max(1.0, std::round(mean_energy)) : 1.0);
}

double allocation_laser_power_W(NoiseMode mode, const CircuitParams& circuit, double energy) {
  switch (noise_mode_info(mode).energy) {
    case EnergyKind::laser_scale:
      return energy * circuit.laser.power_W;
    case EnergyKind::photons:
      return with_photons_per_mac(circuit, energy).laser.power_W;
    case EnergyKind::repeats:
      return circuit.laser.power_W;  // E counts repeats at the configured power
    case EnergyKind::none:
      break;
  }
  return 0;
}

}  // namespace lumac::nn
