// `lumac sweep`: a grid over config keys; at each point the precision and energy of the
// circuit (--fan-in) or the accuracy, per-layer ENOB and energy of a network (--model), written
// point by point to HDF5 (app/sweep.hpp, docs/sweep_file.md).
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <fstream>

#include "app/circuit_options.hpp"
#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/network_eval.hpp"
#include "app/progress.hpp"
#include "app/sweep.hpp"
#include "circuits/mac_trace.hpp"
#include "core/h5.hpp"
#include "nn/evaluate.hpp"

namespace lumac {

namespace {

struct SweepCommand {
  CommonOptions common;
  OutputOptions output;
  CircuitOptions circuit;
  NetworkOptions network;
  HardwareCli hardware;
  int seeds = 1;
  std::vector<std::string> params;
  std::int64_t monte_carlo = 0;
  bool time_domain = false;
  bool resume = false;
};

// FNV-1a digest of a file's bytes (the model a sweep ran on, for --resume).
std::string file_digest(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::uint64_t h = 1469598103934665603ull;
  char c;
  while (in.get(c)) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return fmt::format("{:016x}", h);
}

// The hardware options of a model sweep: the circuit shortcuts act per layer.
HardwareCli model_hardware(const SweepCommand& o) {
  HardwareCli h = o.hardware;
  h.photons_per_mac = o.circuit.photons_per_mac;
  h.repeats = o.circuit.repeats;
  h.sources = o.circuit.sources;
  return h;
}

// Network sweeps: the model on the hardware of every point.
PointResult model_point(const SweepCommand& o, Settings s, const LoadedNetwork& net) {
  CircuitOptions circuit = o.circuit;
  circuit.photons_per_mac.reset();
  circuit.repeats.reset();
  s.circuit = apply_circuit_options(s.circuit, circuit);
  const HardwareOptions h = resolve_hardware(model_hardware(o), net.model, s.circuit);
  const NetworkEvaluation e = evaluate_on_hardware(net, s, h, o.common.seed, o.seeds);
  PointResult r;
  r.accuracy = e.accuracy;
  for (const auto& l : e.layers) r.enob.push_back(l.enob);
  r.detected_optical_aJ_per_mac = e.energy.total.aJ_per_mac(e.energy.total.detected_optical_J);
  r.laser_optical_aJ_per_mac = e.energy.total.aJ_per_mac(e.energy.total.laser_optical_J);
  r.total_aJ_per_mac = e.energy.total.aJ_per_mac(e.energy.total.total_J);
  for (double c : e.energy.total.components_J)
    r.energy_components.push_back(e.energy.total.aJ_per_mac(c));
  return r;
}

std::string axes_signature(const SweepGrid& g) {
  std::string s;
  for (const auto& a : g.axes) {
    s += a.key + (a.log ? ":log" : ":lin");
    for (double v : a.values) s += ":" + format_real(v);
    s += ";";
  }
  return s;
}

// Circuit sweeps: the dot product of --fan-in at every point.
PointResult circuit_point(const SweepCommand& o, const Settings& s, const DotProduct& dp) {
  const CircuitParams params = apply_circuit_options(s.circuit, o.circuit);
  const NoiseSources sources = parse_sources(o.circuit);
  const HomodyneMac mac(params, sources);
  PointResult r;
  r.enob = {mac.analyze(dp).enob};
  if (o.monte_carlo > 0) r.extra.push_back(mac.monte_carlo(dp, o.monte_carlo, o.common.seed).enob);
  if (o.time_domain)
    r.extra.push_back(
        time_domain_monte_carlo(mac, dp, o.monte_carlo > 0 ? o.monte_carlo : 100, o.common.seed, 4)
            .enob);
  const EnergyReport e = energy_report(params, s.energy, {dot_product_work(params, dp, sources)});
  r.detected_optical_aJ_per_mac = e.total.aJ_per_mac(e.total.detected_optical_J);
  r.laser_optical_aJ_per_mac = e.total.aJ_per_mac(e.total.laser_optical_J);
  r.total_aJ_per_mac = e.total.aJ_per_mac(e.total.total_J);
  for (double c : e.total.components_J) r.energy_components.push_back(e.total.aJ_per_mac(c));
  return r;
}

void print_results(const SweepResults& r, bool json, const std::string& out) {
  if (json) {
    Json j;
    j.insert_or_assign("out", out);
    Json axes;
    for (const auto& a : r.grid.axes) axes.insert_or_assign(a.key, json_array(a.values));
    j.insert_or_assign("axes", axes);
    toml::array layers;
    for (const auto& l : r.layer_names) layers.push_back(l);
    j.insert_or_assign("layer_names", layers);
    toml::array points;
    for (std::int64_t i = 0; i < r.grid.points(); ++i) {
      const PointResult& p = r.points[static_cast<std::size_t>(i)];
      Json pt;
      Json values;
      const auto v = r.grid.point(i);
      for (std::size_t k = 0; k < v.size(); ++k) values.insert_or_assign(r.grid.axes[k].key, v[k]);
      pt.insert_or_assign("values", values);
      pt.insert_or_assign("enob", json_array(p.enob));
      if (r.seeds > 0) pt.insert_or_assign("accuracy", json_array(p.accuracy));
      pt.insert_or_assign("detected_optical_aJ_per_mac", p.detected_optical_aJ_per_mac);
      pt.insert_or_assign("laser_optical_aJ_per_mac", p.laser_optical_aJ_per_mac);
      pt.insert_or_assign("total_aJ_per_mac", p.total_aJ_per_mac);
      Json comps;
      for (std::size_t c = 0; c < energy_components.size(); ++c)
        comps.insert_or_assign(energy_components[c], p.energy_components[c]);
      pt.insert_or_assign("energy_components", comps);
      for (std::size_t e = 0; e < r.extra_names.size(); ++e)
        pt.insert_or_assign(r.extra_names[e], p.extra[e]);
      points.push_back(pt);
    }
    j.insert_or_assign("points", points);
    print_json(j);
    return;
  }
  for (const auto& a : r.grid.axes) fmt::print("{:>22}", a.key);
  if (r.seeds > 0) fmt::print(" {:>16}", "accuracy");
  for (const auto& l : r.layer_names) fmt::print(" {:>10.10}", "enob " + l);
  for (const auto& e : r.extra_names) fmt::print(" {:>16}", e);
  fmt::print(" {:>14} {:>14}\n", "detected aJ/MAC", "total aJ/MAC");
  for (std::int64_t i = 0; i < r.grid.points(); ++i) {
    const PointResult& p = r.points[static_cast<std::size_t>(i)];
    for (double v : r.grid.point(i)) fmt::print("{:>22.6g}", v);
    if (r.seeds > 0) {
      double m = 0, sd = 0;
      for (double a : p.accuracy) m += a / static_cast<double>(p.accuracy.size());
      for (double a : p.accuracy) sd += (a - m) * (a - m);
      sd = p.accuracy.size() > 1 ? std::sqrt(sd / static_cast<double>(p.accuracy.size() - 1)) : 0;
      fmt::print(" {:>9.4f} +-{:<5.4f}", m, sd);
    }
    for (double e : p.enob) fmt::print(" {:>10.3f}", e);
    for (double e : p.extra) fmt::print(" {:>16.3f}", e);
    fmt::print(" {:>14.5g} {:>14.5g}\n", p.detected_optical_aJ_per_mac, p.total_aJ_per_mac);
  }
  fmt::print("results: {}\n", out);
}

void run_sweep(const SweepCommand& o) {
  const Settings base = load_settings(o.common);
  if (o.params.empty()) fail("lumac sweep needs at least one --param KEY=START:STOP:N[:log]");
  SweepResults r;
  for (const auto& p : o.params) r.grid.axes.push_back(parse_axis(p, base));
  for (std::size_t a = 0; a < r.grid.axes.size(); ++a)
    for (std::size_t b = 0; b < a; ++b)
      if (r.grid.axes[a].key == r.grid.axes[b].key)
        fail("--param: key '{}' is swept twice", r.grid.axes[a].key);
  if (r.grid.points() > 1'000'000)
    fail("the grid has {} points: the limit is 1e6", r.grid.points());
  if (o.monte_carlo < 0 || o.monte_carlo > 10'000'000)
    fail("--monte-carlo = {}: must be in [0, 1e7]", o.monte_carlo);
  const bool model_mode = !o.network.model.empty();
  if (model_mode == (o.circuit.fan_in > 0))
    fail("lumac sweep needs either --fan-in N (circuit sweep) or --model F.h5 (network sweep)");
  if (model_mode && (o.monte_carlo > 0 || o.time_domain))
    fail("--monte-carlo and --time-domain apply to circuit sweeps (--fan-in)");
  if (o.seeds < 1 || o.seeds > 10000) fail("--seeds = {}: must be in [1, 10000]", o.seeds);
  r.config_keys = list_keys(base);
  r.config_toml = settings_toml(base);
  r.command_line = command_line();
  std::optional<LoadedNetwork> net;
  DotProduct dp;
  if (model_mode) {
    // Every point must be a valid configuration before anything runs (the dataset is read once
    // the options are known to be good).
    net = load_network(o.network, false, [&](const nn::Model& m) {
      for (std::int64_t i = 0; i < r.grid.points(); ++i) {
        Settings s = r.grid.settings(base, i);
        resolve_hardware(model_hardware(o), m, s.circuit);
      }
    });
    std::vector<std::string> layers;
    for (const auto& info : net->model.matmul_layers()) layers.push_back(info.name);
    r.init(o.seeds, layers, {});
    nn::EvalOptions clean_opt;
    clean_opt.batch = net->batch;
    const double clean = nn::evaluate(net->model, net->test, clean_opt).accuracy;
    const HardwareCli hw = model_hardware(o);
    r.signature = fmt::format(
        "model;digest={};dataset={};limit={};noise={};seeds={};seed={};photons={};energy={};"
        "repeats={};repeats_per_layer={};enob={};enob_per_layer={};bits={};sources={};"
        "encoding={};averaging={};axes={};config={}",
        file_digest(o.network.model), net->dataset, net->test.size(), hw.noise, o.seeds,
        o.common.seed, hw.photons_per_mac ? format_real(*hw.photons_per_mac) : "",
        fmt::join(hw.energy_per_layer, ","), hw.repeats.value_or(0),
        fmt::join(hw.repeats_per_layer, ","), hw.enob ? format_real(*hw.enob) : "",
        fmt::join(hw.enob_per_layer, ","), hw.bits.value_or(0), hw.sources, o.circuit.encoding,
        o.circuit.averaging, axes_signature(r.grid), r.config_toml);
    r.text_attributes = {{"mode", "model"},
                         {"model", o.network.model},
                         {"dataset", net->dataset},
                         {"noise", hw.noise}};
    r.number_attributes = {{"clean_accuracy", clean},
                           {"seeds", static_cast<double>(o.seeds)},
                           {"limit", static_cast<double>(net->test.size())}};
  } else {
    for (std::int64_t i = 0; i < r.grid.points(); ++i)
      apply_circuit_options(r.grid.settings(base, i).circuit, o.circuit);
    dp = circuit_dot_product(o.circuit, o.common.seed);
    std::vector<std::string> extras;
    if (o.monte_carlo > 0) extras.push_back("enob_monte_carlo");
    if (o.time_domain) extras.push_back("enob_time_domain");
    r.init(0, {"dot_product"}, extras);
    r.signature = fmt::format(
        "circuit;fan_in={};vectors={};sources={};range={};seed={};monte_carlo={};"
        "time_domain={};repeats={};encoding={};averaging={};photons={};axes={};config={}",
        o.circuit.fan_in, o.circuit.vectors, parse_sources(o.circuit).to_string(),
        format_real(o.circuit.range), o.common.seed, o.monte_carlo, o.time_domain,
        o.circuit.repeats.value_or(0), o.circuit.encoding, o.circuit.averaging,
        o.circuit.photons_per_mac ? format_real(*o.circuit.photons_per_mac) : "",
        axes_signature(r.grid), r.config_toml);
    r.text_attributes = {{"mode", "circuit"}};
    r.number_attributes = {{"fan_in", static_cast<double>(o.circuit.fan_in)}};
  }

  const std::filesystem::path out = o.output.out, partial = partial_path(out);
  h5::check_output_path(out, o.output.force);
  std::error_code ec;
  if (o.resume) {
    if (!std::filesystem::exists(partial, ec))
      fail("nothing to resume: '{}' does not exist", partial.string());
    read_partial_sweep(r, partial);
  } else if (std::filesystem::exists(partial, ec) && !o.output.force) {
    fail("'{}' holds an interrupted sweep: pass --resume to continue it or --force to start over",
         partial.string());
  }

  InterruptGuard guard;
  Progress progress(r.grid.points(), "sweep");
  progress.update(r.finished());
  for (std::int64_t i = 0; i < r.grid.points(); ++i) {
    if (r.done[static_cast<std::size_t>(i)]) continue;
    if (InterruptGuard::interrupted()) break;
    r.points[static_cast<std::size_t>(i)] = model_mode
                                                ? model_point(o, r.grid.settings(base, i), *net)
                                                : circuit_point(o, r.grid.settings(base, i), dp);
    r.done[static_cast<std::size_t>(i)] = 1;
    write_sweep_file(r, partial, false);
    progress.update(r.finished());
  }
  if (r.finished() < r.grid.points()) {
    throw Interrupted(
        fmt::format("sweep interrupted after {} of {} points; they are kept in '{}'; "
                    "resume with: {} --resume",
                    r.finished(), r.grid.points(), partial.string(), r.command_line));
  }
  write_sweep_file(r, out, true);
  std::filesystem::remove(partial, ec);
  print_results(r, o.common.json, out.string());
}

}  // namespace

void register_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "sweep config keys over a grid; write results to HDF5");
  auto o = std::make_shared<SweepCommand>();
  add_common_options(*cmd, o->common);
  add_output_options(*cmd, o->output, true);
  add_circuit_options(*cmd, o->circuit, false);
  add_network_options(*cmd, o->network, false);
  o->hardware.noise = "physical";
  cmd->add_option("--noise", o->hardware.noise,
                  "network sweeps: none | shot | thermal | weight | physical (default) | enob");
  cmd->add_option("--seeds", o->seeds, "network sweeps: evaluate every point with S seeds");
  cmd->add_option("--energy-per-layer", o->hardware.energy_per_layer, "network sweeps: E per layer")
      ->delimiter(',');
  cmd->add_option("--repeats-per-layer", o->hardware.repeats_per_layer,
                  "network sweeps: K per layer")
      ->delimiter(',');
  cmd->add_option("--enob", o->hardware.enob, "network sweeps, enob mode: ENOB of every layer");
  cmd->add_option("--param", o->params, "axis KEY=START:STOP:N[:log] (repeatable: a grid)");
  cmd->add_option("--monte-carlo", o->monte_carlo,
                  "circuit sweeps: also a Monte Carlo ENOB with S samples");
  cmd->add_flag("--time-domain", o->time_domain, "circuit sweeps: also a time-domain ENOB");
  cmd->add_flag("--resume", o->resume, "continue an interrupted sweep from OUT.partial");
  cmd->callback([o] { run_sweep(*o); });
}

}  // namespace lumac
