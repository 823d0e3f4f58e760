// Running a network on the simulated hardware, shared by every study and shell: the hardware
// of each matrix-product layer (noise mode, energy, repeats, ENOB, digital bits) resolved from
// a plain spec, one evaluation over several seeds with its per-layer noise report, and the
// energy account.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lumac/core/csv.hpp"
#include "lumac/core/json.hpp"
#include "lumac/devices/noise_sources.hpp"
#include "lumac/energy/energy_model.hpp"
#include "lumac/nn/analog.hpp"
#include "lumac/studies/circuit_study.hpp"
#include "lumac/studies/network.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

// How the matrix products run, as a user states it (one value, or one per layer for the
// lists). The CLI's options and the Python keywords fill it; resolve_hardware checks it.
struct HardwareSpec {
  std::string noise = "physical";  // none | shot | thermal | weight | physical | enob
  std::optional<double> photons_per_mac;
  std::vector<double> energy_per_layer;
  std::optional<int> repeats;
  std::vector<int> repeats_per_layer;
  std::optional<double> enob;
  std::vector<double> enob_per_layer;
  std::optional<int> bits;  // digital baseline (with noise none)
  std::string sources = "all";
};

// A network study given the shortcuts of a circuit spec (the CLI's --photons-per-mac, --repeats
// and --sources, shared with its circuit commands): photons per MAC and repeats act per layer
// and the sources on the executor, so they move into `hardware`; encoding and averaging stay on
// the circuit.
void move_circuit_shortcuts(CircuitSpec& circuit, HardwareSpec& hardware);

// A spec with this noise mode and the rest at its defaults.
inline HardwareSpec hardware_spec(std::string noise) {
  HardwareSpec h;
  h.noise = std::move(noise);
  return h;
}

// The resolved hardware of every matrix-product layer.
struct HardwareOptions {
  nn::NoiseMode mode = nn::NoiseMode::none;
  std::vector<double> energy;  // E per layer (its meaning: nn::noise_mode_info(mode))
  std::vector<int> repeats;    // K per layer
  std::vector<double> enob;    // ENOB per layer (enob mode)
  NoiseSources sources = NoiseSources::all();
  std::optional<int> bits;  // digital baseline: weights and activations at this many bits
};

// Resolves a spec for a model; may change the circuit (photons per MAC in physical mode sets
// the laser power). Errors name the spec's fields.
HardwareOptions resolve_hardware(const HardwareSpec& spec, const nn::Model& model,
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

// The parts of an evaluation, for shells that spread it over processes (mpi/): one seed on the
// test images [begin, end), and the pooling of such pieces. The noise of an image depends only
// on (seed, image index), so the pieces of a seed add up to its whole evaluation: the accuracy
// is the same bit for bit however the images are split (end -1: to the end of the test set) (the
// pooled noise std agrees to rounding; bit for bit when every seed is one piece).
struct SeedEvaluation {
  std::int64_t correct = 0, samples = 0;
  double seconds = 0;                        // wall time
  std::vector<nn::LayerNoiseReport> layers;  // the executor's report over these images
  std::vector<double> photons_per_mac;       // detected per MAC, every repeat included, by layer
};
SeedEvaluation evaluate_seed(const LoadedNetwork& net, const Settings& settings,
                             const HardwareOptions& h, std::uint64_t seed, std::int64_t begin = 0,
                             std::int64_t end = -1);
// `pieces[s]` holds seed s's pieces in image order (together covering the test set).
NetworkEvaluation pool_evaluations(const LoadedNetwork& net, const Settings& settings,
                                   const HardwareOptions& h,
                                   const std::vector<std::vector<SeedEvaluation>>& pieces);

// One evaluation study (lumac eval): the network on its hardware over seeds, next to its clean
// accuracy.
struct EvalStudy {
  std::string model, dataset;
  std::int64_t samples = 0;
  HardwareOptions hardware;
  std::vector<nn::MatmulLayerInfo> info;
  std::vector<nn::AnalogLayer> layers;  // as configured
  double clean_accuracy = 0;
  int seeds = 1;
  std::uint64_t first_seed = 1;  // the noise seeds are first_seed ... first_seed + seeds - 1
  // Physical mode on a chip with static errors (device spreads or static weight noise): the
  // chip is system.device_seed's, or with 0 the noise seed's (one chip per seed).
  bool chip_errors = false;
  int device_seed = 0;
  NetworkEvaluation result;
};
// How an evaluation over seeds is computed: evaluate_on_hardware, or a shell's own version of
// it (the MPI drivers spread it over processes; on the ranks that do not report it returns an
// evaluation without accuracies). run_eval_study calls it twice: for the clean accuracy
// (HardwareOptions{}, noise none, one seed) and for the study.
using Evaluator = std::function<NetworkEvaluation(const LoadedNetwork&, const Settings&,
                                                  const HardwareOptions&, std::uint64_t, int)>;

// `settings` may change (photons per MAC in physical mode sets the laser power).
EvalStudy run_eval_study(const NetworkSpec& network, const HardwareSpec& hardware,
                         Settings settings, std::uint64_t seed, int seeds,
                         const Evaluator& evaluator = evaluate_on_hardware);
// The same on a loaded network (its test split as loaded: the Python module's models).
EvalStudy run_eval_study(const LoadedNetwork& net, const HardwareSpec& hardware, Settings settings,
                         std::uint64_t seed, int seeds,
                         const Evaluator& evaluator = evaluate_on_hardware);
Json to_json(const EvalStudy& study);
// One row per matrix-product layer, then a row "network" with the accuracy and the energies.
CsvTable to_csv(const EvalStudy& study);

// The energy account of a network (lumac energy --model), with the accuracy and the per-layer
// ENOB it buys measured on the first `network.limit` test images (200 if 0); with
// energy.adc_resolution = matched the ADC energy follows that ENOB.
EnergyReport model_energy_report(NetworkSpec network, const HardwareSpec& hardware,
                                 Settings settings, std::uint64_t seed);

// The same on a loaded network, measured on its whole test split as loaded.
EnergyReport model_energy_report(const LoadedNetwork& net, const HardwareSpec& hardware,
                                 Settings settings, std::uint64_t seed);

// The energy account of a model under hardware options (photons from the executor's view).
EnergyReport network_energy(const nn::Model& model, const Settings& settings,
                            const HardwareOptions& h, const std::vector<double>& readout_enob);

}  // namespace lumac
