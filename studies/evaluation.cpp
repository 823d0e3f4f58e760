#include "lumac/studies/evaluation.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/precision.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/quantize.hpp"
#include "lumac/studies/network_work.hpp"
#include "lumac/studies/results.hpp"

namespace lumac {

HardwareOptions resolve_hardware(const HardwareSpec& o, const nn::Model& model,
                                 CircuitParams& circuit) {
  HardwareOptions h;
  h.mode = nn::parse_noise_mode(o.noise);
  const nn::NoiseModeInfo& info = nn::noise_mode_info(h.mode);
  h.sources = NoiseSources::parse(o.sources);
  const std::size_t layers = model.matmul_layers().size();
  auto per_layer = [&](const auto& list, const char* option) {
    if (!list.empty() && list.size() != layers)
      fail("{} has {} values but the model has {} matrix-product layers", option, list.size(),
           layers);
  };
  per_layer(o.energy_per_layer, "energy_per_layer");
  per_layer(o.repeats_per_layer, "repeats_per_layer");
  per_layer(o.enob_per_layer, "enob_per_layer");
  if (o.repeats && !o.repeats_per_layer.empty())
    fail("repeats and repeats_per_layer cannot be combined");
  if (o.enob && !o.enob_per_layer.empty()) fail("enob and enob_per_layer cannot be combined");
  if (o.photons_per_mac && !o.energy_per_layer.empty() && info.photons == nn::PhotonsOption::energy)
    fail("photons_per_mac and energy_per_layer both set E in {} mode: give one", info.name);
  if (o.bits && info.adds_noise()) fail("bits is the digital baseline: use it with noise none");
  const bool wants_enob = h.mode == nn::NoiseMode::enob;
  if ((o.enob || !o.enob_per_layer.empty()) && !wants_enob) fail("enob needs noise enob");
  if (wants_enob && !o.enob && o.enob_per_layer.empty())
    fail("noise enob needs enob b or enob_per_layer b1,b2,...");
  if (o.photons_per_mac && info.photons == nn::PhotonsOption::refused)
    fail("photons_per_mac applies to noise shot or physical, not {}", info.name);
  h.bits = o.bits;
  // K: --repeats or --repeats-per-layer, else the config's system.repeats for every layer.
  h.repeats.assign(layers, o.repeats ? *o.repeats : circuit.system.repeats);
  if (!o.repeats_per_layer.empty()) h.repeats = o.repeats_per_layer;
  for (int k : h.repeats)
    if (k < 1 || k > (1 << 20)) fail("repeats = {}: must be in [1, 2^20]", k);
  if (o.enob) h.enob.assign(layers, *o.enob);
  if (!o.enob_per_layer.empty()) h.enob = o.enob_per_layer;
  h.energy = o.energy_per_layer;
  if (info.photons == nn::PhotonsOption::laser_power && o.photons_per_mac)
    circuit = with_photons_per_mac(circuit, *o.photons_per_mac);
  if (info.photons == nn::PhotonsOption::energy && h.energy.empty()) {
    // Shot mode: E defaults to photons_per_mac, else to the laser budget of the config.
    const double e =
        o.photons_per_mac ? *o.photons_per_mac : HomodyneMac(circuit).photons_per_mac_full_scale();
    h.energy.assign(layers, e);
  }
  for (double e : h.energy)
    if (!(e > 0) || !std::isfinite(e)) fail("energy per MAC = {}: must be finite and > 0", e);
  return h;
}

std::vector<nn::AnalogLayer> configured_layers(const nn::Model& model, const HardwareOptions& h) {
  std::vector<nn::AnalogLayer> layers = nn::analog_layers(model);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    if (!h.energy.empty()) layers[l].energy = {h.energy[l]};
    if (!h.repeats.empty()) layers[l].repeats = h.repeats[l];
    if (!h.enob.empty()) layers[l].enob = h.enob[l];
  }
  return layers;
}

namespace {

// Detected photons per MAC per repeat and the number of repeats of every layer.
void layer_budget(const nn::AnalogExecutor& ex, std::vector<double>& photons,
                  std::vector<double>& repeats) {
  photons.clear();
  repeats.clear();
  for (std::size_t l = 0; l < ex.layers().size(); ++l) {
    const nn::LayerBudget b = ex.budget(l);
    photons.push_back(b.photons_per_mac);
    repeats.push_back(b.repeats);
  }
}

}  // namespace

EnergyReport network_energy(const nn::Model& model, const Settings& settings,
                            const HardwareOptions& h, const std::vector<double>& readout_enob) {
  const nn::AnalogExecutor ex(h.mode, configured_layers(model, h), settings.circuit, h.sources, 0);
  std::vector<double> photons, repeats;
  layer_budget(ex, photons, repeats);
  return energy_report(settings.circuit, settings.energy,
                       network_work(model, repeats, photons, readout_enob),
                       model.digital_ops_per_sample());
}

SeedEvaluation evaluate_seed(const LoadedNetwork& net, const Settings& settings,
                             const HardwareOptions& h, std::uint64_t seed, std::int64_t begin,
                             std::int64_t end) {
  const auto layers = configured_layers(net.model, h);
  nn::EvalOptions opt;
  opt.batch = net.batch;
  opt.begin = begin;
  opt.limit = end < 0 ? 0 : end;
  std::unique_ptr<nn::MatmulHook> hook;
  const nn::AnalogExecutor ex(h.mode, layers, settings.circuit, h.sources, seed);
  if (h.bits) hook = std::make_unique<nn::DigitalQuantization>(*h.bits, layers);
  opt.hook = h.bits ? hook.get() : (nn::noise_mode_info(h.mode).adds_noise() ? &ex : nullptr);
  const auto start = std::chrono::steady_clock::now();
  // An empty range evaluates nothing (end -1 means the end of the test set).
  const bool empty = end >= 0 && begin >= end;
  const nn::EvalResult e = empty ? nn::EvalResult{} : nn::evaluate(net.model, net.test, opt);
  SeedEvaluation r;
  r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  r.correct = e.correct;
  r.samples = e.samples;
  r.layers = ex.report();
  std::vector<double> photons, repeats;
  layer_budget(ex, photons, repeats);
  for (std::size_t l = 0; l < layers.size(); ++l)
    r.photons_per_mac.push_back(photons[l] * repeats[l]);
  return r;
}

NetworkEvaluation pool_evaluations(const LoadedNetwork& net, const Settings& settings,
                                   const HardwareOptions& h,
                                   const std::vector<std::vector<SeedEvaluation>>& pieces) {
  NetworkEvaluation r;
  const auto layers = configured_layers(net.model, h);
  std::vector<double> sum_var(layers.size(), 0), count(layers.size(), 0);
  // Clipped inputs and outputs, counted (fraction times what was seen).
  std::vector<double> inputs(layers.size(), 0), in_clipped(layers.size(), 0),
      out_clipped(layers.size(), 0);
  std::vector<std::vector<double>> source_var(layers.size());
  for (const auto& seed : pieces) {
    if (seed.empty()) fail("pool_evaluations: a seed has no evaluated images");
    std::int64_t correct = 0, samples = 0;
    double seconds = 0;
    for (const SeedEvaluation& piece : seed) {
      correct += piece.correct;
      samples += piece.samples;
      seconds += piece.seconds;
      if (piece.layers.size() != layers.size())
        fail("pool_evaluations: a piece reports {} layers, the model has {}", piece.layers.size(),
             layers.size());
      for (std::size_t l = 0; l < layers.size(); ++l) {
        const nn::LayerNoiseReport& rep = piece.layers[l];
        sum_var[l] += rep.noise_std * rep.noise_std * rep.outputs_seen;
        count[l] += rep.outputs_seen;
        inputs[l] += rep.inputs_seen;
        in_clipped[l] += rep.input_clipped_fraction * rep.inputs_seen;
        out_clipped[l] += rep.output_clipped_fraction * rep.outputs_seen;
        // A piece that saw no outputs has no per-source figures.
        source_var[l].resize(std::max(source_var[l].size(), rep.by_source.size()), 0);
        for (std::size_t k = 0; k < rep.by_source.size(); ++k)
          source_var[l][k] += std::pow(rep.by_source[k].second, 2) * rep.outputs_seen;
      }
    }
    if (samples != net.test.size())
      fail("pool_evaluations: the pieces of a seed cover {} of {} test images", samples,
           net.test.size());
    r.accuracy.push_back(samples > 0 ? static_cast<double>(correct) / static_cast<double>(samples)
                                     : 0.0);
    r.seconds.push_back(seconds);
  }
  if (r.accuracy.empty()) fail("pool_evaluations: no seeds");
  r.layers = pieces.front().front().layers;
  r.photons_per_mac = pieces.front().front().photons_per_mac;
  // The names of the sources, from a piece that saw outputs.
  for (std::size_t l = 0; l < layers.size(); ++l)
    for (const auto& seed : pieces)
      for (const SeedEvaluation& piece : seed)
        if (piece.layers[l].by_source.size() > r.layers[l].by_source.size())
          r.layers[l].by_source = piece.layers[l].by_source;
  std::vector<double> sorted = r.seconds;
  std::sort(sorted.begin(), sorted.end());
  r.images_per_s = static_cast<double>(net.test.size()) / sorted[sorted.size() / 2];
  const AccuracyStats stats = accuracy_stats(r.accuracy);
  r.accuracy_mean = stats.mean;
  r.accuracy_std = stats.std;
  std::vector<double> readout_enob;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    auto& rep = r.layers[l];
    rep.outputs_seen = count[l];
    rep.inputs_seen = inputs[l];
    rep.input_clipped_fraction = inputs[l] > 0 ? in_clipped[l] / inputs[l] : 0.0;
    rep.output_clipped_fraction = count[l] > 0 ? out_clipped[l] / count[l] : 0.0;
    rep.noise_std = count[l] > 0 ? std::sqrt(sum_var[l] / count[l]) : 0.0;
    rep.enob = rep.noise_std > 0 ? enob_bits(layers[l].output_range(), rep.noise_std)
                                 : std::numeric_limits<double>::infinity();
    if (h.bits) rep.enob = *h.bits;  // the digital baseline's precision is its bit width
    for (std::size_t k = 0; k < rep.by_source.size() && k < source_var[l].size(); ++k)
      rep.by_source[k].second = count[l] > 0 ? std::sqrt(source_var[l][k] / count[l]) : 0.0;
    readout_enob.push_back(std::isfinite(rep.enob) ? rep.enob : 0.0);
  }
  r.energy = network_energy(net.model, settings, h, readout_enob);
  r.energy.accuracy = r.accuracy_mean;
  return r;
}

NetworkEvaluation evaluate_on_hardware(const LoadedNetwork& net, const Settings& settings,
                                       const HardwareOptions& h, std::uint64_t seed, int seeds) {
  check_seeds(seeds);
  std::vector<std::vector<SeedEvaluation>> pieces;
  for (int s = 0; s < seeds; ++s)
    pieces.push_back({evaluate_seed(net, settings, h, seed + static_cast<std::uint64_t>(s))});
  return pool_evaluations(net, settings, h, pieces);
}

namespace {

// The evaluation of a loaded network whose hardware options are resolved (st.hardware).
void finish_eval_study(EvalStudy& st, const LoadedNetwork& net, const Settings& settings,
                       std::uint64_t seed, int seeds, const Evaluator& evaluator) {
  st.model = net.path;
  st.dataset = net.dataset;
  st.samples = net.test.size();
  st.seeds = seeds;
  st.first_seed = seed;
  st.device_seed = settings.circuit.system.device_seed;
  st.chip_errors = st.hardware.mode == nn::NoiseMode::physical &&
                   (has_device_spread(settings.circuit, st.hardware.sources) ||
                    (st.hardware.sources.has(NoiseSource::weight) &&
                     settings.circuit.modulator.weight_noise_std > 0 &&
                     settings.circuit.modulator.weight_noise_kind == WeightNoiseKind::static_));
  // The clean accuracy through the evaluator too (exact products: noise none), so that a
  // distributed evaluator spreads it as well; equal to clean_accuracy(net) bit for bit.
  const NetworkEvaluation clean = evaluator(net, settings, HardwareOptions{}, seed, 1);
  st.clean_accuracy = clean.accuracy.empty() ? 0.0 : clean.accuracy.front();
  st.result = evaluator(net, settings, st.hardware, seed, seeds);
  st.info = net.model.matmul_layers();
  st.layers = configured_layers(net.model, st.hardware);
}

}  // namespace

EvalStudy run_eval_study(const NetworkSpec& network, const HardwareSpec& hardware,
                         Settings settings, std::uint64_t seed, int seeds,
                         const Evaluator& evaluator) {
  check_seeds(seeds);
  EvalStudy st;
  const LoadedNetwork net = load_network(network, false, [&](const nn::Model& m) {
    st.hardware = resolve_hardware(hardware, m, settings.circuit);
  });
  finish_eval_study(st, net, settings, seed, seeds, evaluator);
  return st;
}

EvalStudy run_eval_study(const LoadedNetwork& net, const HardwareSpec& hardware, Settings settings,
                         std::uint64_t seed, int seeds, const Evaluator& evaluator) {
  check_seeds(seeds);
  EvalStudy st;
  st.hardware = resolve_hardware(hardware, net.model, settings.circuit);
  finish_eval_study(st, net, settings, seed, seeds, evaluator);
  return st;
}

Json to_json(const EvalStudy& st) {
  const NetworkEvaluation& r = st.result;
  Json j;
  j["model"] = st.model;
  j["dataset"] = st.dataset;
  j["samples"] = st.samples;
  j["noise"] = std::string(enum_name(st.hardware.mode));
  if (st.hardware.bits) j["bits"] = static_cast<std::int64_t>(*st.hardware.bits);
  j["clean_accuracy"] = st.clean_accuracy;
  j["accuracy_mean"] = r.accuracy_mean;
  j["accuracy_std"] = r.accuracy_std;
  j["accuracy"] = json_array(r.accuracy);
  j["seeds"] = static_cast<std::int64_t>(st.seeds);
  j["first_seed"] = static_cast<std::int64_t>(st.first_seed);
  j["device_seed"] = static_cast<std::int64_t>(st.device_seed);
  j["chip_errors"] = st.chip_errors;
  j["images_per_s"] = r.images_per_s;
  j["eval_seconds"] = json_array(r.seconds);
  Json ls = Json::array();
  for (std::size_t l = 0; l < st.info.size(); ++l) {
    Json e{{"name", st.info[l].name},
           {"fan_in", static_cast<std::int64_t>(st.info[l].fan_in)},
           {"outputs", static_cast<std::int64_t>(st.info[l].outputs)},
           {"macs", st.info[l].macs},
           {"operands", st.info[l].activation_operands() ? "activations" : "weights"},
           {"enob", r.layers[l].enob},
           {"noise_std", r.layers[l].noise_std},
           {"input_clipped_fraction", r.layers[l].input_clipped_fraction},
           {"output_clipped_fraction", r.layers[l].output_clipped_fraction},
           {"output_range", st.layers[l].output_range()},
           {"photons_per_mac", r.photons_per_mac[l]},
           {"energy", st.layers[l].energy[0]},
           {"repeats", static_cast<std::int64_t>(st.layers[l].repeats)}};
    if (!r.layers[l].by_source.empty()) {
      Json src = Json::object();
      for (const auto& [name, v] : r.layers[l].by_source) src[name] = v;
      e["noise_std_by_source"] = src;
    }
    ls.push_back(e);
  }
  j["layers"] = ls;
  j["energy"] = energy_json(r.energy);
  return j;
}

EnergyReport model_energy_report(NetworkSpec network, const HardwareSpec& hardware,
                                 Settings settings, std::uint64_t seed) {
  // Every energy is reported next to the accuracy and the per-layer ENOB it buys: the network
  // is evaluated (on 200 test images unless --limit says otherwise).
  HardwareOptions h;
  if (network.limit == 0) network.limit = 200;
  const LoadedNetwork net = load_network(network, false, [&](const nn::Model& m) {
    h = resolve_hardware(hardware, m, settings.circuit);
  });
  return evaluate_on_hardware(net, settings, h, seed, 1).energy;
}

EnergyReport model_energy_report(const LoadedNetwork& net, const HardwareSpec& hardware,
                                 Settings settings, std::uint64_t seed) {
  const HardwareOptions h = resolve_hardware(hardware, net.model, settings.circuit);
  return evaluate_on_hardware(net, settings, h, seed, 1).energy;
}

void move_circuit_shortcuts(CircuitSpec& circuit, HardwareSpec& hardware) {
  hardware.photons_per_mac = circuit.photons_per_mac;
  hardware.repeats = circuit.repeats;
  hardware.sources = circuit.sources;
  circuit.photons_per_mac.reset();
  circuit.repeats.reset();
}

CsvTable to_csv(const EvalStudy& st) {
  CsvTable t;
  t.header = {"layer",
              "fan_in",
              "outputs",
              "macs",
              "energy",
              "repeats",
              "noise_std",
              "enob",
              "input_clipped_fraction",
              "output_clipped_fraction",
              "photons_per_mac",
              "detected_optical_aJ_per_mac",
              "total_aJ_per_mac",
              "accuracy_mean",
              "accuracy_std",
              "clean_accuracy",
              "extinction_error_rms",
              "static_error_rms"};
  const NetworkEvaluation& r = st.result;
  // The RMS of a deterministic error of physical mode (0 when the layer has none).
  auto deterministic = [&](std::size_t l, const std::string& name) {
    for (const auto& entry : r.layers[l].by_source)
      if (entry.first == name) return entry.second;
    return 0.0;
  };
  for (std::size_t l = 0; l < st.info.size(); ++l) {
    const EnergyFigures e = energy_figures(r.energy.layers[l]);
    t.rows.push_back(
        {st.info[l].name, std::to_string(st.info[l].fan_in), std::to_string(st.info[l].outputs),
         std::to_string(st.info[l].macs), format_real(st.layers[l].energy[0]),
         std::to_string(st.layers[l].repeats), format_real(r.layers[l].noise_std),
         format_real(r.layers[l].enob), format_real(r.layers[l].input_clipped_fraction),
         format_real(r.layers[l].output_clipped_fraction), format_real(r.photons_per_mac[l]),
         format_real(e.detected_optical_aJ_per_mac), format_real(e.total_aJ_per_mac), "", "", "",
         format_real(deterministic(l, "extinction")), format_real(deterministic(l, "static"))});
  }
  const EnergyFigures total = energy_figures(r.energy.total);
  t.rows.push_back({"network", "", "", format_real(r.energy.total.macs), "", "", "", "", "", "", "",
                    format_real(total.detected_optical_aJ_per_mac),
                    format_real(total.total_aJ_per_mac), format_real(r.accuracy_mean),
                    format_real(r.accuracy_std), format_real(st.clean_accuracy), "", ""});
  return t;
}

}  // namespace lumac
