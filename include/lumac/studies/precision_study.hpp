// The precision study (lumac precision): learns the precision (energy) of every layer of a
// frozen model (nn/precision.hpp) and compares it at iso-accuracy with one uniform precision:
// for each target accuracy (clean minus each drop), the lowest global energy scale of each
// allocation that meets it on the test set.
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lumac/core/json.hpp"
#include "lumac/nn/precision.hpp"
#include "lumac/studies/network.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

struct PrecisionSpec {
  std::string noise;                      // shot | thermal | weight | physical
  std::vector<double> drops{0.01, 0.02};  // target drops of accuracy, fractions in (0, 1)
  bool per_channel = false;               // one energy per output channel
  bool unconstrained = false;             // CE + lambda ln E_avg instead of the hinge
  bool integer_repeats = false;           // E counts repeats: round it (straight-through)
  int steps = 1500;                       // mini-batches of learning, in [1, 1e7]
  int batch = 64;                         // mini-batch size, in [1, 65536]
  double learning_rate = 0.01;            // Adam
  std::optional<double> lambda;           // default: the mode's (nn/noise_mode.hpp)
  std::optional<double> target_energy;    // default: the uniform E meeting the first target
  std::string sources = "all";            // physical mode: noise sources to keep
  std::uint64_t seed = 1;
  std::function<void(int step, int steps, double loss)> on_step;  // learning progress
};

// lumac::Error for a bad spec; runs before any data are read.
void check_precision_spec(const PrecisionSpec& spec);

// One allocation at one scale: its energies, accuracy, per-layer ENOB and energies per MAC.
struct Allocation {
  double scale = 0;
  double accuracy = 0;
  double energy_per_mac = 0;  // MAC-weighted mean E (as the forward pass uses it)
  double detected_optical_aJ_per_mac = 0;
  double laser_optical_aJ_per_mac = 0;
  double total_aJ_per_mac = 0;
  double laser_power_W = 0;                 // the (MAC-weighted mean) laser power it needs
  std::vector<std::vector<double>> energy;  // per layer (per channel)
  std::vector<double> enob;
  std::vector<std::int64_t> repeats;  // whole repeats per layer (nn::whole_repeats)
  bool reached = false;
  int evaluations = 0;
};

struct PrecisionTarget {
  double drop = 0, target_accuracy = 0;
  Allocation uniform, learned;
  bool learned_searched = false;  // false when the study stopped before this search
  // 1 - learned / uniform MAC-weighted mean E (0 if the learned allocation did not reach it).
  double saving_fraction = 0;
};

struct PrecisionStudy {
  std::string model, noise, energy_unit;
  std::vector<std::string> layer_names;
  std::vector<double> layer_macs;
  // Per layer: a product of two activations (attention), not of weights by activations.
  std::vector<bool> layer_activation_operands;
  double clean_accuracy = 0;
  std::int64_t test_samples = 0;
  double target_energy = 0, lambda = 0;
  int steps = 0;
  nn::PrecisionResult learned;  // the learned energies and the learning curve
  std::vector<PrecisionTarget> targets;
  // False when a stop was requested (core/interrupt.hpp) during learning or during the searches
  // of the learned allocation: what was learned is kept, the rest is missing. A stop during the
  // uniform searches, before anything is learned, throws lumac::Interrupted.
  bool complete = true;
};

// Loads nothing: `net` must have its training split.
PrecisionStudy run_precision_study(const LoadedNetwork& net, const Settings& settings,
                                   const PrecisionSpec& spec);

// The study's JSON form (lumac precision --json, and the result_json attribute of its file).
Json to_json(const PrecisionStudy& study);
// Writes the study's HDF5 file (docs/cli.md, lumac precision) through a temporary name.
void write_precision_file(const PrecisionStudy& study, const Settings& settings,
                          const std::filesystem::path& path, bool force,
                          const std::string& command_line);

// The same study with several seeds (lumac precision --seeds S): studies[k] ran with seed
// first_seed + k (its learning batches and its noise). JSON: {seeds, first_seed,
// saving_fraction_mean, saving_fraction_std (per target drop), studies: [one study's JSON]}.
Json to_json(const std::vector<PrecisionStudy>& studies, std::uint64_t first_seed);
// The HDF5 form: the root has the header, `seed` (S), `target_drop` (T) and `saving_fraction`
// (S x T); group `seed_<k>` holds study k as the single-seed file's root does.
void write_precision_file(const std::vector<PrecisionStudy>& studies, std::uint64_t first_seed,
                          const Settings& settings, const std::filesystem::path& path, bool force,
                          const std::string& command_line);

}  // namespace lumac
