// `lumac precision`: learns the precision (energy) of every layer of a frozen model
// (nn/precision.hpp) and compares it at iso-accuracy with one uniform precision: for each
// target accuracy (clean minus each --target-drop), the lowest global energy scale of each
// allocation that meets it on the test set.
#include <fmt/format.h>
#include <unistd.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/network_eval.hpp"
#include "circuits/homodyne_mac.hpp"
#include "core/h5.hpp"
#include "core/units.hpp"
#include "nn/evaluate.hpp"
#include "nn/precision.hpp"

namespace lumac {

namespace {

struct PrecisionCommand {
  CommonOptions common;
  OutputOptions output;
  NetworkOptions network;
  std::string noise;
  std::vector<double> drops{0.01, 0.02};
  bool per_channel = false;
  bool unconstrained = false;
  bool integer_repeats = false;
  int steps = 1500;
  int batch = 64;
  double learning_rate = 0.01;
  std::optional<double> lambda;
  std::optional<double> target_energy;
  std::string sources = "all";
};

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
  bool reached = false;
  int evaluations = 0;
};

struct Context {
  const PrecisionCommand& o;
  Settings settings;
  LoadedNetwork net;
  nn::NoiseMode mode;
  NoiseSources sources;
  std::vector<nn::AnalogLayer> base;
};

std::vector<std::vector<double>> scaled(const std::vector<std::vector<double>>& relative, double s,
                                        bool integer) {
  auto e = relative;
  for (auto& layer : e)
    for (double& v : layer) v = nn::forward_energy(v * s, integer);
  return e;
}

nn::EvalResult run(const Context& c, const std::vector<std::vector<double>>& energy,
                   nn::AnalogExecutor** keep = nullptr) {
  auto layers = c.base;
  for (std::size_t l = 0; l < layers.size(); ++l) layers[l].energy = energy[l];
  auto* ex = new nn::AnalogExecutor(c.mode, layers, c.settings.circuit, c.sources, c.o.common.seed);
  nn::EvalOptions opt;
  opt.batch = c.net.batch;
  opt.hook = ex;
  const nn::EvalResult r = nn::evaluate(c.net.model, c.net.test, opt);
  if (keep)
    *keep = ex;
  else
    delete ex;
  return r;
}

Allocation search(const Context& c, const std::vector<std::vector<double>>& relative, double target,
                  double start) {
  Allocation a;
  const nn::IsoAccuracy iso = nn::lowest_energy_scale(
      [&](double s) { return run(c, scaled(relative, s, c.o.integer_repeats)).accuracy; }, target,
      start);
  a.reached = iso.reached;
  a.scale = iso.scale;
  a.evaluations = iso.evaluations;
  a.energy = scaled(relative, iso.scale, c.o.integer_repeats);
  a.energy_per_mac = nn::mean_energy(c.net.model, a.energy);
  nn::AnalogExecutor* ex = nullptr;
  a.accuracy = run(c, a.energy, &ex).accuracy;
  for (const auto& r : ex->report()) a.enob.push_back(std::isfinite(r.enob) ? r.enob : 0.0);
  delete ex;
  // The energy account of the allocation (per-layer mean of per-channel energies).
  HardwareOptions h;
  h.mode = c.mode;
  h.sources = c.sources;
  for (const auto& layer : a.energy) {
    double mean = 0;
    for (double e : layer) mean += e / static_cast<double>(layer.size());
    h.energy.push_back(mean);
    h.repeats.push_back(c.settings.circuit.system.repeats);  // K, the configured repeats
  }
  const EnergyReport e = network_energy(c.net.model, c.settings, h, a.enob);
  a.detected_optical_aJ_per_mac = e.total.aJ_per_mac(e.total.detected_optical_J);
  a.laser_optical_aJ_per_mac = e.total.aJ_per_mac(e.total.laser_optical_J);
  a.total_aJ_per_mac = e.total.aJ_per_mac(e.total.total_J);
  if (c.mode == nn::NoiseMode::physical)
    a.laser_power_W = a.energy_per_mac * c.settings.circuit.laser.power_W;
  if (c.mode == nn::NoiseMode::shot)
    a.laser_power_W = with_photons_per_mac(c.settings.circuit, a.energy_per_mac).laser.power_W;
  if (c.mode == nn::NoiseMode::thermal || c.mode == nn::NoiseMode::weight)
    a.laser_power_W = c.settings.circuit.laser.power_W;  // E counts repeats
  return a;
}

Json allocation_json(const Context& c, const Allocation& a) {
  Json j{{"scale", a.scale},
         {"accuracy", a.accuracy},
         {"energy_per_mac", a.energy_per_mac},
         {"detected_optical_aJ_per_mac", a.detected_optical_aJ_per_mac},
         {"laser_optical_aJ_per_mac", a.laser_optical_aJ_per_mac},
         {"total_aJ_per_mac", a.total_aJ_per_mac},
         {"laser_power_W", a.laser_power_W},
         {"reached", a.reached},
         {"evaluations", static_cast<std::int64_t>(a.evaluations)}};
  toml::array layers;
  const auto& info = c.net.model.matmul_layers();
  for (std::size_t l = 0; l < info.size(); ++l) {
    double mean = 0;
    for (double e : a.energy[l]) mean += e / static_cast<double>(a.energy[l].size());
    const bool repeats = c.mode == nn::NoiseMode::thermal || c.mode == nn::NoiseMode::weight;
    Json e{{"name", info[l].name},
           {"macs", info[l].macs},
           {"energy_per_mac", mean},
           {"enob", a.enob[l]},
           {"repeats",
            static_cast<std::int64_t>(c.settings.circuit.system.repeats) *
                static_cast<std::int64_t>(repeats ? std::max(1.0, std::round(mean)) : 1.0)}};
    if (a.energy[l].size() > 1) e.insert_or_assign("energy_per_channel", json_array(a.energy[l]));
    layers.push_back(e);
  }
  j.insert_or_assign("layers", layers);
  return j;
}

void run_precision(const PrecisionCommand& o) {
  if (o.noise.empty()) fail("lumac precision needs --noise shot|thermal|weight|physical");
  const nn::NoiseMode mode = nn::parse_noise_mode(o.noise);
  if (mode == nn::NoiseMode::none || mode == nn::NoiseMode::enob)
    fail("--noise {}: precision learning needs shot, thermal, weight or physical", o.noise);
  if (o.drops.empty()) fail("--target-drop needs at least one value");
  for (double d : o.drops)
    if (!(d > 0) || !(d < 1))
      fail("--target-drop {}: must be in (0, 1) (accuracy points as a fraction)", d);
  if (!o.output.out.empty()) h5::check_output_path(o.output.out, o.output.force);
  // The learning options are checked before the (slow) data are read.
  if (o.steps < 1 || o.steps > 10'000'000) fail("--steps = {}: must be in [1, 1e7]", o.steps);
  if (o.batch < 1 || o.batch > 65536) fail("--train-batch = {}: must be in [1, 65536]", o.batch);
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
    fail("--lr = {}: must be finite and > 0", o.learning_rate);
  if (o.lambda && (!(*o.lambda > 0) || !std::isfinite(*o.lambda)))
    fail("--lambda = {}: must be finite and > 0", *o.lambda);
  if (o.target_energy && (!(*o.target_energy > 0) || !std::isfinite(*o.target_energy)))
    fail("--target-energy = {}: must be finite and > 0", *o.target_energy);
  Context c{o, load_settings(o.common), {}, mode, NoiseSources::parse(o.sources), {}};
  c.net = load_network(o.network, true);
  c.base = nn::analog_layers(c.net.model);
  for (auto& layer : c.base) layer.repeats = c.settings.circuit.system.repeats;
  nn::EvalOptions clean_opt;
  clean_opt.batch = c.net.batch;
  const double clean = nn::evaluate(c.net.model, c.net.test, clean_opt).accuracy;
  for (double d : o.drops)
    if (clean - d <= 0)
      fail("--target-drop {}: the target accuracy {} is not positive", d, clean - d);

  // Uniform allocation for every target; the first target's energy is the learning budget.
  std::vector<std::vector<double>> uniform;
  for (const auto& a : c.base) uniform.emplace_back(o.per_channel ? a.outputs : 1, 1.0);
  const double start = mode == nn::NoiseMode::shot ? 10.0 : 1.0;
  std::vector<Allocation> uniform_at;
  for (double d : o.drops) {
    uniform_at.push_back(
        search(c, uniform, clean - d, uniform_at.empty() ? start : uniform_at.back().scale));
    if (!uniform_at.back().reached)
      fail(
          "the target accuracy {:.4f} (clean {:.4f} minus {}) cannot be reached with any energy "
          "up to 1e9 x {}",
          clean - d, clean, d, start);
  }
  nn::PrecisionOptions p;
  p.mode = mode;
  p.per_channel = o.per_channel;
  p.constrained = !o.unconstrained;
  p.lambda = o.lambda.value_or(
      mode == nn::NoiseMode::thermal || mode == nn::NoiseMode::weight ? 8.0 : 2.0);
  p.target_energy = o.target_energy.value_or(uniform_at.front().energy_per_mac);
  p.steps = o.steps;
  p.batch = o.batch;
  p.learning_rate = o.learning_rate;
  p.integer_repeats = o.integer_repeats;
  p.seed = o.common.seed;
  const bool tty = isatty(STDERR_FILENO) == 1;
  p.on_step = [&](int step, double loss) {
    if (tty && (step % 50 == 0 || step == p.steps))
      fmt::print(stderr, "\rlearning precision: step {}/{}, loss {:.4f}   ", step, p.steps, loss);
  };
  const nn::PrecisionResult learned =
      nn::learn_precision(c.net.model, *c.net.train, c.base, c.settings.circuit, c.sources, p);
  if (tty) fmt::print(stderr, "\n");
  // The learned allocation relative to its mean, searched over a global scale.
  auto relative = learned.energy;
  const double mean_learned = nn::mean_energy(c.net.model, learned.energy);
  for (auto& l : relative)
    for (double& e : l) e /= mean_learned;
  std::vector<Allocation> learned_at;
  for (std::size_t t = 0; t < o.drops.size(); ++t)
    learned_at.push_back(search(c, relative, clean - o.drops[t], uniform_at[t].scale));

  Json j;
  j.insert_or_assign("model", c.net.path);
  j.insert_or_assign("noise", o.noise);
  j.insert_or_assign("clean_accuracy", clean);
  j.insert_or_assign("test_samples", static_cast<std::int64_t>(c.net.test.size()));
  j.insert_or_assign("target_energy", p.target_energy);
  j.insert_or_assign("lambda", p.lambda);
  j.insert_or_assign("steps", static_cast<std::int64_t>(p.steps));
  j.insert_or_assign("learning_seconds", learned.seconds);
  j.insert_or_assign("energy_unit", mode == nn::NoiseMode::shot       ? "detected photons per MAC"
                                    : mode == nn::NoiseMode::physical ? "laser power scale"
                                                                      : "repeats");
  toml::array targets;
  for (std::size_t t = 0; t < o.drops.size(); ++t) {
    const double saving = learned_at[t].reached
                              ? 1 - learned_at[t].energy_per_mac / uniform_at[t].energy_per_mac
                              : 0.0;
    targets.push_back(Json{{"drop", o.drops[t]},
                           {"target_accuracy", clean - o.drops[t]},
                           {"uniform", allocation_json(c, uniform_at[t])},
                           {"learned", allocation_json(c, learned_at[t])},
                           {"saving_fraction", saving}});
  }
  j.insert_or_assign("targets", targets);
  j.insert_or_assign("layers",
                     *allocation_json(c, learned_at.front()).get_as<toml::array>("layers"));

  if (!o.output.out.empty()) {
    h5::OutputFile out(o.output.out, o.output.force);
    H5::H5File& f = out.file();
    H5::Group root = f.openGroup("/");
    h5::write_config(f, list_keys(c.settings), settings_toml(c.settings));
    h5::write_attribute(f, "kind", std::string("lumac-precision"));
    h5::write_attribute(f, "schema_version", std::int64_t{1});
    h5::write_attribute(f, "command_line", command_line());
    h5::write_attribute(f, "result_json", to_json(j));
    h5::write_attribute(f, "clean_accuracy", clean);
    const auto n = static_cast<hsize_t>(learned.curve.loss.size());
    h5::write_dataset(root, "learning_loss", learned.curve.loss, {n}, "nat");
    h5::write_dataset(root, "learning_cross_entropy", learned.curve.cross_entropy, {n}, "nat");
    h5::write_dataset(root, "learning_mean_energy", learned.curve.mean_energy, {n}, "1");
    std::vector<std::string> names;
    for (const auto& info : c.net.model.matmul_layers()) names.push_back(info.name);
    h5::write_attribute(f, "layer_names", names);
    H5::Group g = f.createGroup("learned_energy");
    for (std::size_t l = 0; l < names.size(); ++l)
      h5::write_dataset(g, names[l], learned.energy[l], {learned.energy[l].size()}, "1");
    std::vector<double> drops = o.drops, uni, lea, uni_aj, lea_aj, save;
    for (std::size_t t = 0; t < o.drops.size(); ++t) {
      uni.push_back(uniform_at[t].energy_per_mac);
      lea.push_back(learned_at[t].energy_per_mac);
      uni_aj.push_back(uniform_at[t].detected_optical_aJ_per_mac);
      lea_aj.push_back(learned_at[t].detected_optical_aJ_per_mac);
      save.push_back(learned_at[t].reached ? 1 - lea.back() / uni.back() : 0.0);
    }
    const hsize_t tn = drops.size();
    h5::write_dataset(root, "target_drop", drops, {tn}, "1");
    h5::write_dataset(root, "uniform_energy_per_mac", uni, {tn}, "1");
    h5::write_dataset(root, "learned_energy_per_mac", lea, {tn}, "1");
    h5::write_dataset(root, "uniform_detected_optical_aJ_per_mac", uni_aj, {tn}, "aJ");
    h5::write_dataset(root, "learned_detected_optical_aJ_per_mac", lea_aj, {tn}, "aJ");
    h5::write_dataset(root, "saving_fraction", save, {tn}, "1");
    out.commit();
  }
  if (o.common.json) {
    print_json(j);
    return;
  }
  fmt::print("lumac precision: {} under {} noise, clean accuracy {:.4f} ({} test images)\n",
             c.net.path, o.noise, clean, c.net.test.size());
  fmt::print("  learned in {} steps ({:.1f} s), target E {:.4g} ({}), lambda {}\n", p.steps,
             learned.seconds, p.target_energy, j["energy_unit"].value_or(std::string()), p.lambda);
  const bool photonic = mode == nn::NoiseMode::shot || mode == nn::NoiseMode::physical;
  fmt::print("\n  {:<10} {:<9} {:>9} {:>10} {:>9} {:>11} {:>11} {:>11}\n", "target", "precision",
             "accuracy", "E per MAC", "laser mW", "detected aJ", "laser aJ", "total aJ");
  for (std::size_t t = 0; t < o.drops.size(); ++t) {
    for (const Allocation* a : {&uniform_at[t], &learned_at[t]}) {
      fmt::print("  {:<10} {:<9} {:>9.4f} {:>10.4g} {:>9} {:>11.4g} {:>11.4g} {:>11.4g}\n",
                 a == &uniform_at[t] ? fmt::format("-{:.0f} pt", 100 * o.drops[t]) : "",
                 a == &uniform_at[t] ? "uniform" : "learned", a->accuracy, a->energy_per_mac,
                 photonic ? fmt::format("{:.4g}", 1e3 * a->laser_power_W) : "-",
                 a->detected_optical_aJ_per_mac, a->laser_optical_aJ_per_mac, a->total_aJ_per_mac);
    }
    fmt::print("  {:<10} saving {:.1f}% of E per MAC\n", "",
               100 * (1 - learned_at[t].energy_per_mac / uniform_at[t].energy_per_mac));
  }
  fmt::print("\n  per layer (first target): E per MAC and ENOB\n");
  for (std::size_t k = 0; k < c.net.model.matmul_layers().size(); ++k) {
    const Allocation& u = uniform_at.front();
    const Allocation& l = learned_at.front();
    double mu = 0, ml = 0;
    for (double e : u.energy[k]) mu += e / static_cast<double>(u.energy[k].size());
    for (double e : l.energy[k]) ml += e / static_cast<double>(l.energy[k].size());
    fmt::print("    {:<6} uniform E {:>9.4g} ENOB {:>5.2f}   learned E {:>9.4g} ENOB {:>5.2f}\n",
               c.net.model.matmul_layers()[k].name, mu, u.enob[k], ml, l.enob[k]);
  }
}

}  // namespace

void register_precision(CLI::App& app) {
  auto* cmd = app.add_subcommand("precision",
                                 "learn per-layer precision and compare it with uniform precision");
  auto o = std::make_shared<PrecisionCommand>();
  add_common_options(*cmd, o->common);
  add_output_options(*cmd, o->output, false);
  add_network_options(*cmd, o->network, true);
  cmd->add_option("--noise", o->noise, "shot | thermal | weight | physical")->required();
  cmd->add_option("--target-drop", o->drops, "accuracy drops to compare at (default 0.01,0.02)")
      ->delimiter(',');
  cmd->add_flag("--per-channel", o->per_channel, "one energy per output channel");
  cmd->add_flag("--unconstrained", o->unconstrained,
                "loss CE + lambda ln E_avg (default: the constrained hinge)");
  cmd->add_flag("--integer-repeats", o->integer_repeats,
                "E counts repeats: round it (straight-through)");
  cmd->add_option("--steps", o->steps, "mini-batches of learning (default 1500)");
  cmd->add_option("--train-batch", o->batch, "mini-batch size (default 64)");
  cmd->add_option("--lr", o->learning_rate, "Adam learning rate (default 0.01)");
  cmd->add_option("--lambda", o->lambda,
                  "energy weight (default 2 shot/physical, 8 thermal/weight)");
  cmd->add_option("--target-energy", o->target_energy,
                  "E_target (default: the uniform energy meeting the first target)");
  cmd->add_option("--sources", o->sources, "physical mode: noise sources to keep (default all)");
  cmd->callback([o] { run_precision(*o); });
}

}  // namespace lumac
