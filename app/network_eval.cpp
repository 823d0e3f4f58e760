#include "app/network_eval.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>

#include "circuits/homodyne_mac.hpp"
#include "core/error.hpp"
#include "core/precision.hpp"
#include "energy/network_energy.hpp"
#include "nn/evaluate.hpp"
#include "nn/model_file.hpp"
#include "nn/quantize.hpp"

namespace lumac {

void add_network_options(CLI::App& cmd, NetworkOptions& o, bool model_required) {
  auto* m = cmd.add_option("--model", o.model, "model file (e.g. data/models/fmnist_cnn.h5)");
  if (model_required) m->required();
  cmd.add_option("--dataset", o.dataset,
                 "fashion-mnist | mnist (default: the dataset the model was trained on)");
  cmd.add_option("--limit", o.limit, "use the first N test images (default: all)");
  cmd.add_option("--batch", o.batch, "images per forward pass (default 256)");
}

LoadedNetwork load_network(const NetworkOptions& o, bool need_train,
                           const std::function<void(const nn::Model&)>& check_model) {
  if (o.limit < 0) fail("--limit = {}: must be >= 0", o.limit);
  if (o.batch < 1 || o.batch > 65536) fail("--batch = {}: must be in [1, 65536]", o.batch);
  LoadedNetwork net;
  net.path = o.model;
  net.batch = o.batch;
  net.model = nn::load_model(o.model);
  if (!net.model.calibrated())
    fail("model file '{}' has no calibration ranges (lumac train writes them)", o.model);
  if (check_model) check_model(net.model);
  net.dataset = o.dataset;
  if (net.dataset.empty()) {
    if (!net.model.training()) fail("model file '{}' names no dataset: pass --dataset", o.model);
    net.dataset = net.model.training()->dataset;
  }
  const auto name = parse_enum<nn::DatasetName>(net.dataset, "--dataset");
  nn::DatasetSplits data = nn::load_dataset(name, data_dir(), need_train);
  if (data.test.sample_shape != net.model.input_shape())
    fail("model '{}' takes inputs of shape {} but dataset '{}' has images of shape {}", o.model,
         nn::shape_string(net.model.input_shape()), net.dataset,
         nn::shape_string(data.test.sample_shape));
  if (data.test.classes != net.model.classes())
    fail("model '{}' has {} outputs but dataset '{}' has {} classes", o.model, net.model.classes(),
         net.dataset, data.test.classes);
  if (o.limit > data.test.size())
    fail("--limit = {}: the {} test set has only {} images", o.limit, net.dataset,
         data.test.size());
  net.test = data.test.prefix(o.limit);
  if (need_train) net.train = std::move(data.train);
  return net;
}

void add_hardware_options(CLI::App& cmd, HardwareCli& o) {
  cmd.add_option("--noise", o.noise,
                 "none | shot | thermal | weight | physical | enob (default none)");
  cmd.add_option("--photons-per-mac", o.photons_per_mac,
                 "shot: E, detected photons per MAC; physical: set the laser power for this many "
                 "detected photons per MAC at full scale");
  cmd.add_option("--energy-per-layer", o.energy_per_layer,
                 "E per layer, comma separated (photons per MAC, repeats or laser scale)")
      ->delimiter(',');
  cmd.add_option("--repeats", o.repeats, "K repeats of every matrix product");
  cmd.add_option("--repeats-per-layer", o.repeats_per_layer, "K per layer, comma separated")
      ->delimiter(',');
  cmd.add_option("--enob", o.enob, "enob mode: ENOB of every layer");
  cmd.add_option("--enob-per-layer", o.enob_per_layer, "enob mode: ENOB per layer")->delimiter(',');
  cmd.add_option("--bits", o.bits, "digital baseline: quantize weights and activations to b bits");
  cmd.add_option("--sources", o.sources, "physical mode: noise sources to keep (default all)");
}

HardwareOptions resolve_hardware(const HardwareCli& o, const nn::Model& model,
                                 CircuitParams& circuit) {
  HardwareOptions h;
  h.mode = nn::parse_noise_mode(o.noise);
  h.sources = NoiseSources::parse(o.sources);
  const std::size_t layers = model.matmul_layers().size();
  auto per_layer = [&](const auto& list, const char* option) {
    if (!list.empty() && list.size() != layers)
      fail("{} has {} values but the model has {} matrix-product layers", option, list.size(),
           layers);
  };
  per_layer(o.energy_per_layer, "--energy-per-layer");
  per_layer(o.repeats_per_layer, "--repeats-per-layer");
  per_layer(o.enob_per_layer, "--enob-per-layer");
  if (o.repeats && !o.repeats_per_layer.empty())
    fail("--repeats and --repeats-per-layer cannot be combined");
  if (o.enob && !o.enob_per_layer.empty()) fail("--enob and --enob-per-layer cannot be combined");
  if (o.photons_per_mac && !o.energy_per_layer.empty() && h.mode == nn::NoiseMode::shot)
    fail("--photons-per-mac and --energy-per-layer both set E in shot mode: give one");
  if (o.bits && h.mode != nn::NoiseMode::none)
    fail("--bits is the digital baseline: use it with --noise none");
  if ((o.enob || !o.enob_per_layer.empty()) && h.mode != nn::NoiseMode::enob)
    fail("--enob needs --noise enob");
  if (h.mode == nn::NoiseMode::enob && !o.enob && o.enob_per_layer.empty())
    fail("--noise enob needs --enob b or --enob-per-layer b1,b2,...");
  if (o.photons_per_mac && h.mode != nn::NoiseMode::shot && h.mode != nn::NoiseMode::physical)
    fail("--photons-per-mac applies to --noise shot or physical");
  h.bits = o.bits;
  // K: --repeats or --repeats-per-layer, else the config's system.repeats for every layer.
  h.repeats.assign(layers, o.repeats ? *o.repeats : circuit.system.repeats);
  if (!o.repeats_per_layer.empty()) h.repeats = o.repeats_per_layer;
  for (int k : h.repeats)
    if (k < 1 || k > (1 << 20)) fail("repeats = {}: must be in [1, 2^20]", k);
  if (o.enob) h.enob.assign(layers, *o.enob);
  if (!o.enob_per_layer.empty()) h.enob = o.enob_per_layer;
  h.energy = o.energy_per_layer;
  if (h.mode == nn::NoiseMode::physical && o.photons_per_mac)
    circuit = with_photons_per_mac(circuit, *o.photons_per_mac);
  if (h.mode == nn::NoiseMode::shot && h.energy.empty()) {
    // Shot mode: E defaults to --photons-per-mac, else to the laser budget of the config.
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

// Detected photons per MAC per repeat and the number of repeats of every layer. shot: E photons,
// K repeats; physical: the laser budget times E, K repeats; thermal and weight: E counts
// repeats of the circuit at the configured laser power (PHYSICS.md section 5), so the circuit's
// budget, K E repeats.
void layer_budget(const nn::AnalogExecutor& ex, nn::NoiseMode mode, const CircuitParams& circuit,
                  std::vector<double>& photons, std::vector<double>& repeats) {
  const bool e_counts_repeats = mode == nn::NoiseMode::thermal || mode == nn::NoiseMode::weight;
  const double circuit_photons =
      e_counts_repeats ? HomodyneMac(circuit).photons_per_mac_full_scale() : 0.0;
  photons.clear();
  repeats.clear();
  for (std::size_t l = 0; l < ex.layers().size(); ++l) {
    const nn::AnalogLayer& a = ex.layers()[l];
    photons.push_back(e_counts_repeats ? circuit_photons : ex.photons_per_mac(l));
    repeats.push_back(a.repeats * (e_counts_repeats ? a.mean_energy() : 1.0));
  }
}

}  // namespace

EnergyReport network_energy(const nn::Model& model, const Settings& settings,
                            const HardwareOptions& h, const std::vector<double>& readout_enob) {
  const nn::AnalogExecutor ex(h.mode, configured_layers(model, h), settings.circuit, h.sources, 0);
  std::vector<double> photons, repeats;
  layer_budget(ex, h.mode, settings.circuit, photons, repeats);
  return energy_report(settings.circuit, settings.energy,
                       network_work(model, repeats, photons, readout_enob));
}

NetworkEvaluation evaluate_on_hardware(const LoadedNetwork& net, const Settings& settings,
                                       const HardwareOptions& h, std::uint64_t seed, int seeds) {
  if (seeds < 1 || seeds > 10000) fail("--seeds = {}: must be in [1, 10000]", seeds);
  NetworkEvaluation r;
  const auto layers = configured_layers(net.model, h);
  std::vector<double> sum_var(layers.size(), 0), count(layers.size(), 0);
  std::vector<std::vector<double>> source_var(layers.size());
  std::vector<std::string> source_names;
  for (int s = 0; s < seeds; ++s) {
    nn::EvalOptions opt;
    opt.batch = net.batch;
    std::unique_ptr<nn::MatmulHook> hook;
    const nn::AnalogExecutor ex(h.mode, layers, settings.circuit, h.sources,
                                seed + static_cast<std::uint64_t>(s));
    if (h.bits) hook = std::make_unique<nn::DigitalQuantization>(*h.bits, layers);
    opt.hook = h.bits ? hook.get() : (h.mode == nn::NoiseMode::none ? nullptr : &ex);
    const auto start = std::chrono::steady_clock::now();
    r.accuracy.push_back(nn::evaluate(net.model, net.test, opt).accuracy);
    r.seconds.push_back(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    const auto rep = ex.report();
    for (std::size_t l = 0; l < layers.size(); ++l) {
      sum_var[l] += rep[l].noise_std * rep[l].noise_std * rep[l].outputs_seen;
      count[l] += rep[l].outputs_seen;
      source_var[l].resize(rep[l].by_source.size(), 0);
      for (std::size_t k = 0; k < rep[l].by_source.size(); ++k)
        source_var[l][k] += std::pow(rep[l].by_source[k].second, 2) * rep[l].outputs_seen;
    }
    if (s == 0) {
      r.layers = rep;
      std::vector<double> photons, repeats;
      layer_budget(ex, h.mode, settings.circuit, photons, repeats);
      for (std::size_t l = 0; l < layers.size(); ++l)
        r.photons_per_mac.push_back(photons[l] * repeats[l]);
    }
  }
  const double n = seeds;
  std::vector<double> sorted = r.seconds;
  std::sort(sorted.begin(), sorted.end());
  r.images_per_s = static_cast<double>(net.test.size()) / sorted[sorted.size() / 2];
  for (double a : r.accuracy) r.accuracy_mean += a / n;
  for (double a : r.accuracy) r.accuracy_std += (a - r.accuracy_mean) * (a - r.accuracy_mean);
  r.accuracy_std = seeds > 1 ? std::sqrt(r.accuracy_std / (n - 1)) : 0.0;
  std::vector<double> readout_enob;
  for (std::size_t l = 0; l < layers.size(); ++l) {
    auto& rep = r.layers[l];
    rep.outputs_seen = count[l];
    rep.noise_std = count[l] > 0 ? std::sqrt(sum_var[l] / count[l]) : 0.0;
    rep.enob = rep.noise_std > 0 ? enob_bits(layers[l].output_range(), rep.noise_std)
                                 : std::numeric_limits<double>::infinity();
    if (h.bits) rep.enob = *h.bits;  // the digital baseline's precision is its bit width
    for (std::size_t k = 0; k < rep.by_source.size(); ++k)
      rep.by_source[k].second = count[l] > 0 ? std::sqrt(source_var[l][k] / count[l]) : 0.0;
    readout_enob.push_back(std::isfinite(rep.enob) ? rep.enob : 0.0);
  }
  r.energy = network_energy(net.model, settings, h, readout_enob);
  return r;
}

}  // namespace lumac
