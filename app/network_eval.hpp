// Running a model on the simulated hardware, shared by lumac eval, energy, sweep and precision:
// loading a model and its dataset, the per-layer hardware options (noise mode, energy, repeats,
// ENOB, digital bits), and one evaluation over several seeds with its per-layer noise report and
// energy account.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "app/settings.hpp"
#include "devices/noise_sources.hpp"
#include "energy/energy_model.hpp"
#include "nn/analog.hpp"
#include "nn/dataset.hpp"
#include "nn/model.hpp"

namespace lumac {

struct NetworkOptions {
  std::string model;
  std::string dataset;     // default: the dataset the model was trained on
  std::int64_t limit = 0;  // first N test samples (0: all)
  int batch = 256;
};
void add_network_options(CLI::App& cmd, NetworkOptions& o, bool model_required);

struct LoadedNetwork {
  nn::Model model;
  std::string path;
  std::string dataset;
  nn::Dataset test;                  // the first `limit` test samples
  std::optional<nn::Dataset> train;  // when asked for
  int batch = 256;
};
// lumac::Error for a missing or corrupt model, a missing dataset, a model without calibration,
// a model whose input does not fit the dataset, or a bad limit or batch. `check_model` runs on
// the model before the (slower) dataset is read, so option errors come first.
LoadedNetwork load_network(const NetworkOptions& o, bool need_train = false,
                           const std::function<void(const nn::Model&)>& check_model = {});

// How every matrix-product layer runs (one value, or one per layer, for the lists).
struct HardwareOptions {
  nn::NoiseMode mode = nn::NoiseMode::none;
  std::vector<double> energy;  // E per layer (photons per MAC / repeats / laser scale)
  std::vector<int> repeats;    // K per layer
  std::vector<double> enob;    // ENOB per layer (enob mode)
  NoiseSources sources = NoiseSources::all();
  std::optional<int> bits;  // digital baseline: weights and activations at this many bits
};

// CLI options for HardwareOptions: --noise, --photons-per-mac, --energy-per-layer, --repeats,
// --repeats-per-layer, --enob, --enob-per-layer, --bits, --sources.
struct HardwareCli {
  std::string noise = "none";
  std::optional<double> photons_per_mac;
  std::vector<double> energy_per_layer;
  std::optional<int> repeats;
  std::vector<int> repeats_per_layer;
  std::optional<double> enob;
  std::vector<double> enob_per_layer;
  std::optional<int> bits;
  std::string sources = "all";
};
void add_hardware_options(CLI::App& cmd, HardwareCli& o);
// Resolves the options for a model; may change the circuit (--photons-per-mac in physical mode
// sets the laser power).
HardwareOptions resolve_hardware(const HardwareCli& o, const nn::Model& model,
                                 CircuitParams& circuit);

// The analog layers of the model with the options applied.
std::vector<nn::AnalogLayer> configured_layers(const nn::Model& model, const HardwareOptions& h);

struct NetworkEvaluation {
  std::vector<double> accuracy;  // one per seed
  double accuracy_mean = 0, accuracy_std = 0;
  std::vector<nn::LayerNoiseReport> layers;  // noise per layer, pooled over the seeds
  std::vector<double> photons_per_mac;       // detected per MAC, every repeat included, by layer
  EnergyReport energy;
  std::vector<double> seconds;  // wall time of each seed's evaluation
  double images_per_s = 0;      // median over the seeds
};

NetworkEvaluation evaluate_on_hardware(const LoadedNetwork& net, const Settings& settings,
                                       const HardwareOptions& h, std::uint64_t seed, int seeds);

// The energy account of a model under hardware options (photons from the executor's view).
EnergyReport network_energy(const nn::Model& model, const Settings& settings,
                            const HardwareOptions& h, const std::vector<double>& readout_enob);

}  // namespace lumac
