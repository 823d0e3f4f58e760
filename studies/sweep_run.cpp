// Running a sweep (studies/sweep.hpp): the spec, the preparation of the grid and its
// signature, and the computation of each point.
#include <fmt/format.h>

#include <fstream>

#include "lumac/circuits/mac_trace.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/studies/results.hpp"
#include "lumac/studies/sweep.hpp"

namespace lumac {

namespace {

// FNV-1a digest of a file's bytes (the model a sweep ran on, for the resume signature).
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

Json optional_json(const auto& v) {
  return v ? Json(*v) : Json(nullptr);
}

// The circuit of a network-sweep point: the spec's encoding and averaging (photons per MAC,
// repeats and sources act per layer, through the hardware spec: move_circuit_shortcuts).
CircuitSpec network_circuit(const SweepSpec& spec) {
  CircuitSpec c = spec.circuit;
  c.photons_per_mac.reset();
  c.repeats.reset();
  return c;
}

void set_energy(PointResult& r, const EnergyReport& e) {
  const EnergyFigures f = energy_figures(e.total);
  r.detected_optical_aJ_per_mac = f.detected_optical_aJ_per_mac;
  r.laser_optical_aJ_per_mac = f.laser_optical_aJ_per_mac;
  r.total_aJ_per_mac = f.total_aJ_per_mac;
  r.energy_components = f.components_aJ_per_mac;
}

PointResult network_point(const SweepSpec& spec, Settings s, const LoadedNetwork& net) {
  s.circuit = apply_circuit_spec(s.circuit, network_circuit(spec));
  const HardwareOptions h = resolve_hardware(spec.hardware, net.model, s.circuit);
  const NetworkEvaluation e = evaluate_on_hardware(net, s, h, spec.seed, spec.seeds);
  PointResult r;
  r.accuracy = e.accuracy;
  for (const auto& l : e.layers) r.enob.push_back(l.enob);
  set_energy(r, e.energy);
  return r;
}

PointResult circuit_point(const SweepSpec& spec, const Settings& s) {
  const EnobStudy st =
      run_enob_study(s, spec.circuit, spec.seed, spec.monte_carlo, spec.time_domain);
  PointResult r;
  r.enob = {st.budget.enob};
  if (st.monte_carlo) r.extra.push_back(st.monte_carlo->enob);
  if (st.time_domain) r.extra.push_back(st.time_domain->enob);
  const DotProduct dp = circuit_dot_product(spec.circuit, spec.seed);
  set_energy(r, energy_report(st.params, s.energy, {dot_product_work(st.params, dp, st.sources)}));
  return r;
}

// A shortcut that fixes a config key would silently cancel an axis over that key: an error
// naming both.
void check_shortcuts(const SweepSpec& spec, const SweepGrid& grid) {
  const HardwareSpec& h = spec.hardware;
  const CircuitSpec& c = spec.circuit;
  const std::vector<std::pair<bool, std::pair<const char*, const char*>>> fixed{
      {c.photons_per_mac.has_value() || h.photons_per_mac.has_value(),
       {"photons_per_mac", "laser.power_W"}},
      {c.repeats.has_value() || h.repeats.has_value(), {"repeats", "system.repeats"}},
      {!h.repeats_per_layer.empty(), {"repeats_per_layer", "system.repeats"}},
      {!c.encoding.empty(), {"encoding", "system.encoding"}},
      {!c.averaging.empty(), {"averaging", "system.averaging"}},
  };
  for (const auto& axis : grid.axes)
    for (const auto& [set, names] : fixed)
      if (set && axis.key == names.second)
        fail("{} fixes {}, which the sweep axis over '{}' varies: give one of them", names.first,
             names.second, axis.key);
}

}  // namespace

Json to_json(const SweepSpec& spec) {
  const CircuitSpec& c = spec.circuit;
  const HardwareSpec& h = spec.hardware;
  Json j;
  j["axes"] = spec.axes;
  j["seed"] = spec.seed;
  j["circuit"] = Json{{"fan_in", c.fan_in},
                      {"photons_per_mac", optional_json(c.photons_per_mac)},
                      {"repeats", optional_json(c.repeats)},
                      {"encoding", c.encoding},
                      {"averaging", c.averaging},
                      {"sources", c.sources},
                      {"vectors", c.vectors},
                      {"range", c.range},
                      {"monte_carlo", spec.monte_carlo},
                      {"time_domain", spec.time_domain}};
  if (spec.network_mode()) {
    j["network"] = Json{{"model", spec.network.model},
                        {"dataset", spec.network.dataset},
                        {"limit", spec.network.limit},
                        {"seeds", spec.seeds}};
    j["hardware"] = Json{{"noise", h.noise},
                         {"photons_per_mac", optional_json(h.photons_per_mac)},
                         {"energy_per_layer", h.energy_per_layer},
                         {"repeats", optional_json(h.repeats)},
                         {"repeats_per_layer", h.repeats_per_layer},
                         {"enob", optional_json(h.enob)},
                         {"enob_per_layer", h.enob_per_layer},
                         {"bits", optional_json(h.bits)},
                         {"sources", h.sources}};
  }
  return j;
}

void prepare_sweep(const SweepSpec& spec, const Settings& base, const std::string& command_line,
                   SweepResults& r, std::optional<LoadedNetwork>& net) {
  if (spec.axes.empty()) fail("a sweep needs at least one axis KEY=START:STOP:N[:log]");
  for (const auto& a : spec.axes) r.grid.axes.push_back(parse_axis(a, base));
  for (std::size_t a = 0; a < r.grid.axes.size(); ++a)
    for (std::size_t b = 0; b < a; ++b)
      if (r.grid.axes[a].key == r.grid.axes[b].key)
        fail("axis key '{}' is swept twice", r.grid.axes[a].key);
  if (r.grid.points() > 1'000'000)
    fail("the grid has {} points: the limit is 1e6", r.grid.points());
  check_shortcuts(spec, r.grid);
  check_monte_carlo(spec.monte_carlo);
  if (spec.network_mode() == (spec.circuit.fan_in > 0))
    fail("a sweep needs either a fan-in (circuit sweep) or a model (network sweep)");
  if (spec.network_mode() && (spec.monte_carlo > 0 || spec.time_domain))
    fail("monte_carlo and time_domain apply to circuit sweeps (a fan-in)");
  check_seeds(spec.seeds);
  r.config_keys = list_keys(base);
  r.config_toml = settings_toml(base);
  r.command_line = command_line;
  Json signature = to_json(spec);
  signature["config"] = r.config_toml;
  if (spec.network_mode()) {
    // Every point must be a valid configuration before anything runs (the dataset is read once
    // the options are known to be good).
    net = load_network(spec.network, false, [&](const nn::Model& m) {
      for (std::int64_t i = 0; i < r.grid.points(); ++i) {
        Settings s = r.grid.settings(base, i);
        s.circuit = apply_circuit_spec(s.circuit, network_circuit(spec));
        resolve_hardware(spec.hardware, m, s.circuit);
      }
    });
    std::vector<std::string> layers;
    for (const auto& info : net->model.matmul_layers()) layers.push_back(info.name);
    r.init(spec.seeds, layers, {});
    signature["model_digest"] = file_digest(spec.network.model);
    signature["dataset"] = net->dataset;
    signature["test_samples"] = net->test.size();
    r.text_attributes = {{"mode", "model"},
                         {"model", spec.network.model},
                         {"dataset", net->dataset},
                         {"noise", spec.hardware.noise}};
    r.number_attributes = {{"clean_accuracy", clean_accuracy(*net)},
                           {"seeds", static_cast<double>(spec.seeds)},
                           {"limit", static_cast<double>(net->test.size())}};
  } else {
    for (std::int64_t i = 0; i < r.grid.points(); ++i)
      apply_circuit_spec(r.grid.settings(base, i).circuit, spec.circuit);
    circuit_dot_product(spec.circuit, spec.seed);
    std::vector<std::string> extras;
    if (spec.monte_carlo > 0) extras.push_back("enob_monte_carlo");
    if (spec.time_domain) extras.push_back("enob_time_domain");
    r.init(0, {"dot_product"}, extras);
    r.text_attributes = {{"mode", "circuit"}};
    r.number_attributes = {{"fan_in", static_cast<double>(spec.circuit.fan_in)}};
  }
  r.signature = signature.dump();
}

PointResult compute_sweep_point(const SweepSpec& spec, const Settings& base,
                                const std::optional<LoadedNetwork>& net, const SweepGrid& grid,
                                std::int64_t index) {
  if (index < 0 || index >= grid.points())
    fail("sweep point {} is outside the grid of {} points", index, grid.points());
  if (spec.network_mode() && !net) fail("a network sweep point needs the loaded network");
  const Settings s = grid.settings(base, index);
  return spec.network_mode() ? network_point(spec, s, *net) : circuit_point(spec, s);
}

std::vector<double> pack_point(const PointResult& p) {
  std::vector<double> out;
  for (const auto* v : {&p.accuracy, &p.enob, &p.energy_components, &p.extra}) {
    out.push_back(static_cast<double>(v->size()));
    out.insert(out.end(), v->begin(), v->end());
  }
  out.insert(out.end(),
             {p.detected_optical_aJ_per_mac, p.laser_optical_aJ_per_mac, p.total_aJ_per_mac});
  return out;
}

PointResult unpack_point(const std::vector<double>& packed, const SweepResults& r) {
  PointResult p;
  std::size_t at = 0;
  auto take = [&](std::vector<double>& v, std::size_t expected, const char* what) {
    if (at >= packed.size() || packed[at] != static_cast<double>(expected))
      fail("a packed sweep point has the wrong number of {} values (expected {})", what, expected);
    ++at;
    if (packed.size() - at < expected) fail("a packed sweep point is truncated");
    v.assign(packed.begin() + static_cast<std::ptrdiff_t>(at),
             packed.begin() + static_cast<std::ptrdiff_t>(at + expected));
    at += expected;
  };
  take(p.accuracy, static_cast<std::size_t>(r.seeds), "accuracy");
  take(p.enob, r.layer_names.size(), "ENOB");
  take(p.energy_components, energy_components.size(), "energy");
  take(p.extra, r.extra_names.size(), "extra");
  if (packed.size() - at != 3)
    fail("a packed sweep point has {} trailing values, not 3", packed.size() - at);
  p.detected_optical_aJ_per_mac = packed[at];
  p.laser_optical_aJ_per_mac = packed[at + 1];
  p.total_aJ_per_mac = packed[at + 2];
  return p;
}

std::string describe_point(const SweepGrid& grid, std::int64_t index) {
  std::string out;
  const auto at = grid.point_indices(index);
  for (std::size_t k = 0; k < at.size(); ++k)
    out += fmt::format("{}{}={}", k ? ", " : "", grid.axes[k].key, grid.axes[k].value_text(at[k]));
  return out;
}

void run_sweep_points(const SweepSpec& spec, const Settings& base,
                      const std::optional<LoadedNetwork>& net, SweepResults& r,
                      const std::function<void()>& after_point, const std::function<bool()>& stop) {
  for (std::int64_t i = 0; i < r.grid.points(); ++i) {
    const auto at = static_cast<std::size_t>(i);
    if (r.done[at]) continue;
    if (stop && stop()) return;
    try {
      r.points[at] = compute_sweep_point(spec, base, net, r.grid, i);
    } catch (const Interrupted&) {
      return;  // the point in flight is discarded; the finished ones are kept
    }
    r.done[at] = 1;
    if (after_point) after_point();
  }
}

Json to_json(const SweepResults& r, const std::string& out) {
  Json j;
  j["out"] = out;
  Json axes = Json::object();
  for (const auto& a : r.grid.axes) axes[a.key] = a.text() ? Json(a.labels) : json_array(a.values);
  j["axes"] = axes;
  j["layer_names"] = r.layer_names;
  Json points = Json::array();
  for (std::int64_t i = 0; i < r.grid.points(); ++i) {
    const PointResult& p = r.points[static_cast<std::size_t>(i)];
    Json pt;
    Json values = Json::object();
    const auto v = r.grid.point(i);
    const auto at = r.grid.point_indices(i);
    for (std::size_t k = 0; k < v.size(); ++k) {
      const SweepAxis& a = r.grid.axes[k];
      values[a.key] = a.text() ? Json(a.labels[at[k]]) : Json(v[k]);
    }
    pt["values"] = values;
    pt["enob"] = json_array(p.enob);
    if (r.seeds > 0) pt["accuracy"] = json_array(p.accuracy);
    pt["detected_optical_aJ_per_mac"] = p.detected_optical_aJ_per_mac;
    pt["laser_optical_aJ_per_mac"] = p.laser_optical_aJ_per_mac;
    pt["total_aJ_per_mac"] = p.total_aJ_per_mac;
    Json comps = Json::object();
    for (std::size_t c = 0; c < energy_components.size(); ++c)
      comps[std::string(energy_components[c])] = p.energy_components[c];
    pt["energy_components"] = comps;
    for (std::size_t e = 0; e < r.extra_names.size(); ++e) pt[r.extra_names[e]] = p.extra[e];
    points.push_back(pt);
  }
  j["points"] = points;
  return j;
}

CsvTable to_csv(const SweepResults& r) {
  CsvTable t;
  for (const auto& a : r.grid.axes) t.header.push_back(a.key);
  if (r.seeds > 0) {
    t.header.insert(t.header.end(), {"accuracy_mean", "accuracy_std"});
    for (std::int64_t s = 0; s < r.seeds; ++s)
      t.header.push_back(fmt::format("accuracy_seed_{}", s));
  }
  for (const auto& l : r.layer_names) t.header.push_back("enob_" + l);
  for (const auto& e : r.extra_names) t.header.push_back(e);
  t.header.insert(t.header.end(),
                  {"detected_optical_aJ_per_mac", "laser_optical_aJ_per_mac", "total_aJ_per_mac"});
  for (std::int64_t i = 0; i < r.grid.points(); ++i) {
    const PointResult& p = r.points[static_cast<std::size_t>(i)];
    std::vector<std::string> row;
    const auto at = r.grid.point_indices(i);
    for (std::size_t k = 0; k < at.size(); ++k) row.push_back(r.grid.axes[k].value_text(at[k]));
    if (r.seeds > 0) {
      const AccuracyStats a = accuracy_stats(p.accuracy);
      row.push_back(format_real(a.mean));
      row.push_back(format_real(a.std));
      for (double a_s : p.accuracy) row.push_back(format_real(a_s));
    }
    for (double e : p.enob) row.push_back(format_real(e));
    for (double e : p.extra) row.push_back(format_real(e));
    row.push_back(format_real(p.detected_optical_aJ_per_mac));
    row.push_back(format_real(p.laser_optical_aJ_per_mac));
    row.push_back(format_real(p.total_aJ_per_mac));
    t.rows.push_back(std::move(row));
  }
  return t;
}

}  // namespace lumac
