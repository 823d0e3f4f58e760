#include "lumac/studies/precision_study.hpp"

#include <cmath>
#include <memory>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/results.hpp"

namespace lumac {

namespace {

// What every evaluation of the study shares.
struct Context {
  const LoadedNetwork& net;
  const Settings& settings;
  const PrecisionSpec& spec;
  nn::NoiseMode mode;
  NoiseSources sources;
  std::vector<nn::AnalogLayer> base;
};

double layer_mean(const std::vector<double>& e) {
  double mean = 0;
  for (double v : e) mean += v / static_cast<double>(e.size());
  return mean;
}

std::vector<std::vector<double>> scaled(const std::vector<std::vector<double>>& relative, double s,
                                        bool integer) {
  auto e = relative;
  for (auto& layer : e)
    for (double& v : layer) v = nn::forward_energy(v * s, integer);
  return e;
}

// Evaluates the test set with these energies; `report` receives the executor's noise report.
double accuracy_with(const Context& c, const std::vector<std::vector<double>>& energy,
                     std::vector<nn::LayerNoiseReport>* report = nullptr) {
  auto layers = c.base;
  for (std::size_t l = 0; l < layers.size(); ++l) layers[l].energy = energy[l];
  const nn::AnalogExecutor ex(c.mode, layers, c.settings.circuit, c.sources, c.spec.seed);
  nn::EvalOptions opt;
  opt.batch = c.net.batch;
  opt.hook = &ex;
  const double accuracy = nn::evaluate(c.net.model, c.net.test, opt).accuracy;
  if (report) *report = ex.report();
  return accuracy;
}

// The energy account of an allocation (per-layer mean of per-channel energies), at the
// configured repeats K.
void account(const Context& c, Allocation& a) {
  HardwareOptions h;
  h.mode = c.mode;
  h.sources = c.sources;
  for (const auto& layer : a.energy) {
    h.energy.push_back(layer_mean(layer));
    h.repeats.push_back(c.settings.circuit.system.repeats);
  }
  const EnergyFigures e = energy_figures(network_energy(c.net.model, c.settings, h, a.enob).total);
  a.detected_optical_aJ_per_mac = e.detected_optical_aJ_per_mac;
  a.laser_optical_aJ_per_mac = e.laser_optical_aJ_per_mac;
  a.total_aJ_per_mac = e.total_aJ_per_mac;
  a.laser_power_W = nn::allocation_laser_power_W(c.mode, c.settings.circuit, a.energy_per_mac);
  for (const auto& layer : a.energy)
    a.repeats.push_back(
        nn::whole_repeats(c.mode, c.settings.circuit.system.repeats, layer_mean(layer)));
}

Allocation search(const Context& c, const std::vector<std::vector<double>>& relative, double target,
                  double start) {
  Allocation a;
  const bool integer = c.spec.integer_repeats;
  const nn::IsoAccuracy iso = nn::lowest_energy_scale(
      [&](double s) { return accuracy_with(c, scaled(relative, s, integer)); }, target, start);
  a.reached = iso.reached;
  a.scale = iso.scale;
  a.evaluations = iso.evaluations;
  a.energy = scaled(relative, iso.scale, integer);
  a.energy_per_mac = nn::mean_energy(c.net.model, a.energy);
  std::vector<nn::LayerNoiseReport> report;
  a.accuracy = accuracy_with(c, a.energy, &report);
  for (const auto& r : report) a.enob.push_back(std::isfinite(r.enob) ? r.enob : 0.0);
  account(c, a);
  return a;
}

nn::PrecisionOptions learning_options(const PrecisionSpec& spec, nn::NoiseMode mode,
                                      double target_energy) {
  nn::PrecisionOptions p;
  p.mode = mode;
  p.per_channel = spec.per_channel;
  p.constrained = !spec.unconstrained;
  p.lambda = spec.lambda.value_or(nn::noise_mode_info(mode).default_lambda);
  p.target_energy = spec.target_energy.value_or(target_energy);
  p.steps = spec.steps;
  p.batch = spec.batch;
  p.learning_rate = spec.learning_rate;
  p.integer_repeats = spec.integer_repeats;
  p.seed = spec.seed;
  if (spec.on_step)
    p.on_step = [&spec](int step, double loss) { spec.on_step(step, spec.steps, loss); };
  return p;
}

}  // namespace

void check_precision_spec(const PrecisionSpec& spec) {
  if (spec.noise.empty())
    fail("precision learning needs a noise mode: shot|thermal|weight|physical");
  const nn::NoiseMode mode = nn::parse_noise_mode(spec.noise);
  if (!nn::noise_mode_info(mode).learnable)
    fail("noise {}: precision learning needs shot, thermal, weight or physical", spec.noise);
  if (spec.drops.empty()) fail("target_drop needs at least one value");
  for (double d : spec.drops)
    if (!(d > 0) || !(d < 1))
      fail("target_drop = {}: must be in (0, 1) (accuracy points as a fraction)", d);
  if (spec.steps < 1 || spec.steps > 10'000'000)
    fail("steps = {}: must be in [1, 1e7]", spec.steps);
  if (spec.batch < 1 || spec.batch > 65536)
    fail("train_batch = {}: must be in [1, 65536]", spec.batch);
  if (!(spec.learning_rate > 0) || !std::isfinite(spec.learning_rate))
    fail("learning_rate = {}: must be finite and > 0", spec.learning_rate);
  if (spec.lambda && (!(*spec.lambda > 0) || !std::isfinite(*spec.lambda)))
    fail("lambda = {}: must be finite and > 0", *spec.lambda);
  if (spec.target_energy && (!(*spec.target_energy > 0) || !std::isfinite(*spec.target_energy)))
    fail("target_energy = {}: must be finite and > 0", *spec.target_energy);
  (void)NoiseSources::parse(spec.sources);
}

PrecisionStudy run_precision_study(const LoadedNetwork& net, const Settings& settings,
                                   const PrecisionSpec& spec) {
  check_precision_spec(spec);
  if (!net.train) fail("the precision study needs the training split of '{}'", net.dataset);
  const nn::NoiseMode mode = nn::parse_noise_mode(spec.noise);
  Context c{
      net, settings, spec, mode, NoiseSources::parse(spec.sources), nn::analog_layers(net.model)};
  for (auto& layer : c.base) layer.repeats = settings.circuit.system.repeats;
  PrecisionStudy st;
  st.model = net.path;
  st.noise = spec.noise;
  st.energy_unit = nn::noise_mode_info(mode).energy_unit;
  for (const auto& info : net.model.matmul_layers()) {
    st.layer_names.push_back(info.name);
    st.layer_macs.push_back(info.macs);
    st.layer_activation_operands.push_back(info.activation_operands());
  }
  st.clean_accuracy = clean_accuracy(net);
  st.test_samples = net.test.size();
  const double clean = st.clean_accuracy;
  for (double d : spec.drops)
    if (clean - d <= 0)
      fail("target_drop = {}: the target accuracy {} is not positive", d, clean - d);

  // Uniform allocation for every target; the first target's energy is the learning budget.
  std::vector<std::vector<double>> uniform;
  for (const auto& a : c.base) uniform.emplace_back(spec.per_channel ? a.outputs : 1, 1.0);
  const double start = nn::noise_mode_info(mode).search_start;
  for (double d : spec.drops) {
    throw_if_stop_requested("precision study (during the uniform searches, nothing learned yet)");
    PrecisionTarget t;
    t.drop = d;
    t.target_accuracy = clean - d;
    t.uniform =
        search(c, uniform, clean - d, st.targets.empty() ? start : st.targets.back().uniform.scale);
    if (!t.uniform.reached)
      fail(
          "the target accuracy {:.4f} (clean {:.4f} minus {}) cannot be reached with any energy "
          "up to 1e9 x {}",
          clean - d, clean, d, start);
    st.targets.push_back(std::move(t));
  }
  const nn::PrecisionOptions p =
      learning_options(spec, mode, st.targets.front().uniform.energy_per_mac);
  st.target_energy = p.target_energy;
  st.lambda = p.lambda;
  st.steps = p.steps;
  st.learned = nn::learn_precision(net.model, *net.train, c.base, settings.circuit, c.sources, p);
  if (st.learned.interrupted) {
    st.complete = false;
    return st;
  }
  // The learned allocation relative to its mean, searched over a global scale.
  auto relative = st.learned.energy;
  const double mean_learned = nn::mean_energy(net.model, st.learned.energy);
  for (auto& l : relative)
    for (double& e : l) e /= mean_learned;
  try {
    for (auto& t : st.targets) {
      t.learned = search(c, relative, t.target_accuracy, t.uniform.scale);
      t.learned_searched = true;
      t.saving_fraction =
          t.learned.reached ? 1 - t.learned.energy_per_mac / t.uniform.energy_per_mac : 0.0;
    }
  } catch (const Interrupted&) {
    st.complete = false;
  }
  return st;
}

namespace {

Json allocation_json(const PrecisionStudy& st, const Allocation& a) {
  Json j{{"scale", a.scale},
         {"accuracy", a.accuracy},
         {"energy_per_mac", a.energy_per_mac},
         {"detected_optical_aJ_per_mac", a.detected_optical_aJ_per_mac},
         {"laser_optical_aJ_per_mac", a.laser_optical_aJ_per_mac},
         {"total_aJ_per_mac", a.total_aJ_per_mac},
         {"laser_power_W", a.laser_power_W},
         {"reached", a.reached},
         {"evaluations", static_cast<std::int64_t>(a.evaluations)}};
  Json layers = Json::array();
  for (std::size_t l = 0; l < st.layer_names.size(); ++l) {
    Json e{{"name", st.layer_names[l]},
           {"macs", st.layer_macs[l]},
           {"operands", st.layer_activation_operands[l] ? "activations" : "weights"},
           {"energy_per_mac", layer_mean(a.energy[l])},
           {"enob", a.enob[l]},
           {"repeats", a.repeats[l]}};
    if (a.energy[l].size() > 1) e["energy_per_channel"] = json_array(a.energy[l]);
    layers.push_back(e);
  }
  j["layers"] = layers;
  return j;
}

}  // namespace

Json to_json(const PrecisionStudy& st) {
  Json j;
  j["model"] = st.model;
  j["noise"] = st.noise;
  j["clean_accuracy"] = st.clean_accuracy;
  j["test_samples"] = st.test_samples;
  j["target_energy"] = st.target_energy;
  j["lambda"] = st.lambda;
  j["steps"] = static_cast<std::int64_t>(st.steps);
  j["learning_seconds"] = st.learned.seconds;
  j["energy_unit"] = st.energy_unit;
  Json targets = Json::array();
  for (const auto& t : st.targets)
    targets.push_back(
        Json{{"drop", t.drop},
             {"target_accuracy", t.target_accuracy},
             {"uniform", allocation_json(st, t.uniform)},
             {"learned", t.learned_searched ? allocation_json(st, t.learned) : Json(nullptr)},
             {"saving_fraction", t.saving_fraction}});
  j["targets"] = targets;
  j["complete"] = st.complete;
  if (!st.targets.empty() && st.targets.front().learned_searched)
    j["layers"] = allocation_json(st, st.targets.front().learned)["layers"];
  j["learning_steps_done"] = static_cast<std::int64_t>(st.learned.curve.loss.size());
  return j;
}

namespace {

// One study's datasets (and its result_json) in `g`.
void write_study(H5::Group& g, const PrecisionStudy& st) {
  h5::write_attribute(g, "result_json", to_json(to_json(st)));
  h5::write_attribute(g, "clean_accuracy", st.clean_accuracy);
  h5::write_attribute(g, "complete", std::int64_t{st.complete ? 1 : 0});
  const auto n = static_cast<hsize_t>(st.learned.curve.loss.size());
  h5::write_dataset(g, "learning_loss", st.learned.curve.loss, {n}, "nat");
  h5::write_dataset(g, "learning_cross_entropy", st.learned.curve.cross_entropy, {n}, "nat");
  h5::write_dataset(g, "learning_mean_energy", st.learned.curve.mean_energy, {n}, "1");
  h5::write_attribute(g, "layer_names", st.layer_names);
  H5::Group e = h5::create_group(g, "learned_energy");
  for (std::size_t l = 0; l < st.layer_names.size(); ++l)
    h5::write_dataset(e, st.layer_names[l], st.learned.energy[l], {st.learned.energy[l].size()},
                      "1");
  std::vector<double> drops, uni, lea, uni_aj, lea_aj, save;
  for (const auto& t : st.targets) {
    drops.push_back(t.drop);
    uni.push_back(t.uniform.energy_per_mac);
    lea.push_back(t.learned.energy_per_mac);
    uni_aj.push_back(t.uniform.detected_optical_aJ_per_mac);
    lea_aj.push_back(t.learned.detected_optical_aJ_per_mac);
    save.push_back(t.saving_fraction);
  }
  const hsize_t tn = drops.size();
  h5::write_dataset(g, "target_drop", drops, {tn}, "1");
  h5::write_dataset(g, "uniform_energy_per_mac", uni, {tn}, "1");
  h5::write_dataset(g, "learned_energy_per_mac", lea, {tn}, "1");
  h5::write_dataset(g, "uniform_detected_optical_aJ_per_mac", uni_aj, {tn}, "aJ");
  h5::write_dataset(g, "learned_detected_optical_aJ_per_mac", lea_aj, {tn}, "aJ");
  h5::write_dataset(g, "saving_fraction", save, {tn}, "1");
}

}  // namespace

void write_precision_file(const PrecisionStudy& st, const Settings& settings,
                          const std::filesystem::path& path, bool force,
                          const std::string& command_line) {
  h5::OutputFile out(path, force);
  H5::H5File& f = out.file();
  H5::Group root = f.openGroup("/");
  write_header(f, settings, "lumac-precision", command_line);
  write_study(root, st);
  out.commit();
}

Json to_json(const std::vector<PrecisionStudy>& studies, std::uint64_t first_seed) {
  if (studies.empty()) fail("a precision study over seeds needs at least one study");
  Json j;
  j["seeds"] = static_cast<std::int64_t>(studies.size());
  j["first_seed"] = first_seed;
  std::vector<double> mean, stdev;
  for (std::size_t t = 0; t < studies.front().targets.size(); ++t) {
    std::vector<double> s;
    for (const auto& st : studies)
      if (t < st.targets.size()) s.push_back(st.targets[t].saving_fraction);
    const AccuracyStats a = accuracy_stats(s);
    mean.push_back(a.mean);
    stdev.push_back(a.std);
  }
  j["saving_fraction_mean"] = json_array(mean);
  j["saving_fraction_std"] = json_array(stdev);
  Json all = Json::array();
  for (const auto& st : studies) all.push_back(to_json(st));
  j["studies"] = all;
  return j;
}

void write_precision_file(const std::vector<PrecisionStudy>& studies, std::uint64_t first_seed,
                          const Settings& settings, const std::filesystem::path& path, bool force,
                          const std::string& command_line) {
  if (studies.empty()) fail("a precision study over seeds needs at least one study");
  h5::OutputFile out(path, force);
  H5::H5File& f = out.file();
  H5::Group root = f.openGroup("/");
  write_header(f, settings, "lumac-precision-seeds", command_line);
  h5::write_attribute(f, "result_json", to_json(to_json(studies, first_seed)));
  const std::size_t targets = studies.front().targets.size();
  std::vector<double> seeds, drops, saving;
  for (const auto& t : studies.front().targets) drops.push_back(t.drop);
  for (std::size_t k = 0; k < studies.size(); ++k) {
    seeds.push_back(static_cast<double>(first_seed + k));
    for (std::size_t t = 0; t < targets; ++t)
      saving.push_back(t < studies[k].targets.size() ? studies[k].targets[t].saving_fraction : 0);
    H5::Group g = h5::create_group(root, fmt::format("seed_{}", k));
    write_study(g, studies[k]);
  }
  h5::write_dataset(root, "seed", seeds, {seeds.size()}, "1");
  h5::write_dataset(root, "target_drop", drops, {targets}, "1");
  h5::write_dataset(root, "saving_fraction", saving, {studies.size(), targets}, "1");
  out.commit();
}

}  // namespace lumac
