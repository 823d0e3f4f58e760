// Noise modes of analog execution (nn/analog.hpp), each with what it means: what its energy
// knob E is and in which unit, the photon budget and the repeats it implies for the energy
// account, the laser power an allocation of E needs, whether precision learning applies, its
// default energy weight lambda and the start of the iso-accuracy search. Every study and shell
// asks this table instead of testing modes one by one; adding a mode means adding a row here
// and its variance in nn/analog.cpp.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "lumac/circuits/circuit_params.hpp"
#include "lumac/core/config.hpp"

namespace lumac::nn {

// Each mode is a whole noise model of the network's products; its name in files and on the command
// line is the row's `name` ("shot", "thermal", ...). The enumerators say "_only" where the mode
// keeps a single effect, which also keeps them apart from the circuit's NoiseSource terms of the
// same name.
enum class NoiseMode { none, shot_only, thermal_only, weight_only, physical, enob };

// What a command-line or API "photons per MAC" value means in a mode.
enum class PhotonsOption {
  refused,      // the mode has no photon budget of its own
  energy,       // E itself is detected photons per MAC (shot)
  laser_power,  // sets the laser power for that many photons at full scale (physical)
};

// What E counts in a mode.
enum class EnergyKind {
  none,         // no knob (none, enob)
  photons,      // detected photons per MAC (shot)
  laser_scale,  // a scale of the configured laser power (physical)
  repeats,      // repeats of the circuit at the configured laser power (thermal, weight)
};

struct NoiseModeInfo {
  NoiseMode mode;
  std::string_view name;         // as in --noise and in files
  EnergyKind energy;             // what E counts
  std::string_view energy_unit;  // E's unit in words
  PhotonsOption photons;         // what a photons-per-MAC value sets
  bool learnable;                // precision learning applies
  double default_lambda;         // the energy weight of precision learning (PHYSICS.md §5)
  double search_start;           // first global scale of the iso-accuracy search
  bool adds_noise() const { return mode != NoiseMode::none; }
  bool counts_repeats() const { return energy == EnergyKind::repeats; }
};

inline constexpr std::array<NoiseModeInfo, 6> noise_modes{{
    {NoiseMode::none, "none", EnergyKind::none, "-", PhotonsOption::refused, false, 0, 1},
    {NoiseMode::shot_only, "shot", EnergyKind::photons, "detected photons per MAC",
     PhotonsOption::energy, true, 2, 10},
    {NoiseMode::thermal_only, "thermal", EnergyKind::repeats, "repeats", PhotonsOption::refused,
     true, 8, 1},
    {NoiseMode::weight_only, "weight", EnergyKind::repeats, "repeats", PhotonsOption::refused, true,
     8, 1},
    {NoiseMode::physical, "physical", EnergyKind::laser_scale, "laser power scale",
     PhotonsOption::laser_power, true, 2, 1},
    {NoiseMode::enob, "enob", EnergyKind::none, "-", PhotonsOption::refused, false, 0, 1},
}};

const NoiseModeInfo& noise_mode_info(NoiseMode mode);

// Parses a mode name (`what` names the field for the error message).
NoiseMode parse_noise_mode(std::string_view text, std::string_view what = "noise");

// The photon budget and repeats of one layer for the energy account (PHYSICS.md §5):
// detected photons per MAC per repeat, and the number of repeats. shot: E photons, K repeats;
// physical: the laser budget scaled by E, K repeats; thermal and weight: E counts repeats of
// the circuit at the configured laser power, so the circuit's budget and K E repeats.
struct LayerBudget {
  double photons_per_mac = 0;
  double repeats = 1;
};
// `executor_photons` is what the executor reports for the layer (E, or the scaled laser
// budget), `circuit_photons` the configured circuit's full-scale budget.
LayerBudget layer_budget(NoiseMode mode, int repeats, double mean_energy, double executor_photons,
                         double circuit_photons);

// Whole repeats of a layer as reported per allocation: K, times round(E) (at least 1) when E
// counts repeats.
std::int64_t whole_repeats(NoiseMode mode, int repeats, double mean_energy);

// The laser power (W) that an allocation of MAC-weighted mean energy E needs; 0 without one.
double allocation_laser_power_W(NoiseMode mode, const CircuitParams& circuit, double energy);

}  // namespace lumac::nn

namespace lumac {
template <>
struct EnumNames<nn::NoiseMode> {
  static constexpr std::array<std::pair<nn::NoiseMode, std::string_view>, 6> values{
      {{nn::NoiseMode::none, nn::noise_modes[0].name},
       {nn::NoiseMode::shot_only, nn::noise_modes[1].name},
       {nn::NoiseMode::thermal_only, nn::noise_modes[2].name},
       {nn::NoiseMode::weight_only, nn::noise_modes[3].name},
       {nn::NoiseMode::physical, nn::noise_modes[4].name},
       {nn::NoiseMode::enob, nn::noise_modes[5].name}}};
};
}  // namespace lumac
