#include "lumac/studies/sweep.hpp"

#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/energy/energy_model.hpp"

namespace lumac {

namespace fs = std::filesystem;

namespace {

double parse_number(const std::string& text, const std::string& axis, const char* what) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v))
    fail("sweep axis '{}': {} '{}' is not a finite number", axis, what, text);
  return v;
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (true) {
    const std::size_t end = s.find(sep, start);
    out.push_back(s.substr(start, end == std::string::npos ? std::string::npos : end - start));
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return out;
}

const double nan = std::numeric_limits<double>::quiet_NaN();

// KEY=V1,V2,...: numbers of a numeric key, true/false, or the names of a choice.
SweepAxis list_axis(SweepAxis axis, const KeyInfo& info, const std::string& text,
                    const std::string& spec) {
  const auto items = split(spec, ',');
  for (std::size_t i = 0; i < items.size(); ++i) {
    const std::string& item = items[i];
    if (item.empty()) fail("sweep axis '{}': an empty value in the list", text);
    for (std::size_t j = 0; j < i; ++j)
      if (items[j] == item) fail("sweep axis '{}': '{}' is listed twice", text, item);
    switch (info.kind) {
      case KeyKind::real:
      case KeyKind::integer: {
        const double v = parse_number(item, text, "value");
        if (info.kind == KeyKind::integer && v != std::round(v))
          fail("sweep axis '{}': '{}' is an integer key but '{}' is not an integer", text, axis.key,
               item);
        axis.values.push_back(v);
        break;
      }
      case KeyKind::boolean:
        if (item != "true" && item != "false")
          fail("sweep axis '{}': '{}' takes true or false, not '{}'", text, axis.key, item);
        break;
      case KeyKind::choice:
        if (std::find(info.choices.begin(), info.choices.end(), item) == info.choices.end())
          fail("sweep axis '{}': '{}' is not a value of {} (one of {})", text, item, axis.key,
               fmt::join(info.choices, ", "));
        break;
    }
    if (info.kind == KeyKind::boolean || info.kind == KeyKind::choice) {
      axis.labels.push_back(item);
      axis.values.push_back(static_cast<double>(i));
    }
  }
  axis.integer = info.kind == KeyKind::integer;
  return axis;
}

}  // namespace

std::string SweepAxis::value_text(std::size_t i) const {
  if (text()) return labels[i];
  return integer ? std::to_string(std::llround(values[i])) : format_real(values[i]);
}

SweepAxis parse_axis(const std::string& text, const Settings& base) {
  const auto eq = text.find('=');
  if (eq == std::string::npos) fail("sweep axis '{}': expected KEY=START:STOP:N[:log]", text);
  SweepAxis axis;
  axis.key = text.substr(0, eq);
  const auto keys = list_keys(base);
  const KeyInfo* info = nullptr;
  for (const auto& k : keys)
    if (k.key == axis.key) info = &k;
  if (!info) {
    std::vector<std::string> valid;
    for (const auto& k : keys) valid.push_back(k.key);
    fail("sweep axis: unknown config key '{}' (did you mean '{}'?)", axis.key,
         nearest_key(axis.key, valid));
  }
  axis.unit = info->unit;
  const std::string spec = text.substr(eq + 1);
  const bool numeric = info->kind == KeyKind::real || info->kind == KeyKind::integer;
  if (spec.find(':') == std::string::npos) return list_axis(axis, *info, text, spec);
  if (!numeric)
    fail("sweep axis '{}': '{}' is not a number; list its values, e.g. {}={}", text, axis.key,
         axis.key,
         info->kind == KeyKind::boolean ? "false,true"
                                        : fmt::format("{}", fmt::join(info->choices, ",")));
  axis.integer = info->kind == KeyKind::integer;
  const auto parts = split(spec, ':');
  if (parts.size() != 3 && parts.size() != 4)
    fail("sweep axis '{}': expected KEY=START:STOP:N[:log]", text);
  const double start = parse_number(parts[0], text, "START");
  const double stop = parse_number(parts[1], text, "STOP");
  const double n_real = parse_number(parts[2], text, "N");
  if (n_real < 1 || n_real != std::floor(n_real) || n_real > 100000)
    fail("sweep axis '{}': N = {} must be an integer in [1, 100000]", text, parts[2]);
  const auto n = static_cast<int>(n_real);
  if (parts.size() == 4) {
    if (parts[3] != "log")
      fail("sweep axis '{}': the fourth field must be 'log' (got '{}')", text, parts[3]);
    axis.log = true;
  }
  if (n == 1 && start != stop) fail("sweep axis '{}': one point needs START = STOP", text);
  if (n > 1 && !(start < stop))
    fail("sweep axis '{}': the range is empty or inverted (START must be < STOP)", text);
  if (axis.log && !(start > 0 && stop > 0))
    fail("sweep axis '{}': a log range needs START and STOP > 0 (it cannot cross or touch zero)",
         text);
  // The end points are the values typed; an interior point is the double nearest to its
  // definition, start + f (stop - start) or start (stop / start)^f with f = i / (N - 1),
  // evaluated in extended precision from the decimal text of START and STOP.
  const long double start_x = std::strtold(parts[0].c_str(), nullptr);
  const long double stop_x = std::strtold(parts[1].c_str(), nullptr);
  for (int i = 0; i < n; ++i) {
    double v = i == 0 ? start : stop;
    if (i > 0 && i < n - 1) {
      const long double f = static_cast<long double>(i) / (n - 1);
      v = static_cast<double>(axis.log ? start_x * std::pow(stop_x / start_x, f)
                                       : start_x + f * (stop_x - start_x));
    }
    if (info->kind == KeyKind::integer) {
      if (std::abs(v - std::round(v)) > 1e-9 * std::max(1.0, std::abs(v)))
        fail("sweep axis '{}': '{}' is an integer key but point {} is {}", text, axis.key, i, v);
      v = std::round(v);
    }
    axis.values.push_back(v);
  }
  return axis;
}

std::int64_t SweepGrid::points() const {
  std::int64_t p = 1;
  for (const auto& a : axes) p *= static_cast<std::int64_t>(a.values.size());
  return p;
}

std::vector<double> SweepGrid::point(std::int64_t index) const {
  std::vector<double> v(axes.size());
  for (std::size_t k = axes.size(); k-- > 0;) {
    const auto n = static_cast<std::int64_t>(axes[k].values.size());
    v[k] = axes[k].values[static_cast<std::size_t>(index % n)];
    index /= n;
  }
  return v;
}

std::vector<std::size_t> SweepGrid::point_indices(std::int64_t index) const {
  std::vector<std::size_t> at(axes.size());
  for (std::size_t k = axes.size(); k-- > 0;) {
    const auto n = static_cast<std::int64_t>(axes[k].values.size());
    at[k] = static_cast<std::size_t>(index % n);
    index /= n;
  }
  return at;
}

Settings SweepGrid::settings(const Settings& base, std::int64_t index) const {
  Settings s = base;
  const auto at = point_indices(index);
  for (std::size_t k = 0; k < axes.size(); ++k)
    set_key(s, axes[k].key, ConfigValue::from_text(axes[k].value_text(at[k])));
  validate(s);
  return s;
}

void SweepResults::init(std::int64_t seeds_, std::vector<std::string> layers,
                        std::vector<std::string> extras) {
  seeds = seeds_;
  layer_names = std::move(layers);
  extra_names = std::move(extras);
  const auto p = static_cast<std::size_t>(grid.points());
  done.assign(p, 0);
  PointResult empty;
  empty.accuracy.assign(static_cast<std::size_t>(seeds), nan);
  empty.enob.assign(layer_names.size(), nan);
  empty.detected_optical_aJ_per_mac = empty.laser_optical_aJ_per_mac = empty.total_aJ_per_mac = nan;
  empty.energy_components.assign(energy_components.size(), nan);
  empty.extra.assign(extra_names.size(), nan);
  points.assign(p, empty);
}

std::int64_t SweepResults::finished() const {
  std::int64_t n = 0;
  for (auto d : done) n += d;
  return n;
}

fs::path partial_path(const fs::path& out) {
  return fs::path(out.string() + ".partial");
}

namespace {

// The axes group (the values of each axis) and the points group (each axis's value at every
// point) of a sweep file.
void write_axes(H5::H5File& f, const SweepGrid& grid) {
  const auto p = static_cast<hsize_t>(grid.points());
  H5::Group root = f.openGroup("/");
  H5::Group axes = h5::create_group(root, "axes");
  H5::Group points = h5::create_group(root, "points");
  for (std::size_t k = 0; k < grid.axes.size(); ++k) {
    const SweepAxis& a = grid.axes[k];
    h5::write_dataset(axes, a.key, a.values, {a.values.size()}, a.unit);
    H5::DataSet axis_ds = axes.openDataSet(a.key);
    h5::write_attribute(axis_ds, "log", std::int64_t{a.log ? 1 : 0});
    // Booleans and choices: the values are indices into the names.
    if (a.text()) h5::write_attribute(axis_ds, "labels", a.labels);
    std::vector<double> per_point(p);
    for (hsize_t i = 0; i < p; ++i) per_point[i] = grid.point(static_cast<std::int64_t>(i))[k];
    h5::write_dataset(points, a.key, per_point, {p}, a.unit);
  }
}

}  // namespace

void write_sweep_file(const SweepResults& r, const fs::path& path, bool complete) {
  h5::OutputFile out(path, true);
  H5::H5File& f = out.file();
  try {
    H5::Group root = f.openGroup("/");
    h5::write_header(f, r.config_keys, r.config_toml, "lumac-sweep", r.command_line);
    h5::write_attribute(f, "complete", std::int64_t{complete ? 1 : 0});
    h5::write_attribute(f, "signature", r.signature);
    std::vector<std::string> keys;
    for (const auto& a : r.grid.axes) keys.push_back(a.key);
    h5::write_attribute(f, "axes", keys);
    for (const auto& [k, v] : r.text_attributes) h5::write_attribute(f, k, v);
    for (const auto& [k, v] : r.number_attributes) h5::write_attribute(f, k, v);

    write_axes(f, r.grid);
    const auto p = static_cast<hsize_t>(r.grid.points());
    std::vector<std::int64_t> done(r.done.begin(), r.done.end());
    h5::write_dataset(root, "done", done, {p}, "1");
    auto column = [&](auto get) {
      std::vector<double> v(p);
      for (hsize_t i = 0; i < p; ++i) v[i] = get(r.points[i]);
      return v;
    };
    if (r.seeds > 0) {
      const auto s = static_cast<hsize_t>(r.seeds);
      std::vector<double> acc;
      for (const auto& pt : r.points) acc.insert(acc.end(), pt.accuracy.begin(), pt.accuracy.end());
      h5::write_dataset(root, "accuracy", acc, {p, s}, "1");
      h5::write_dataset(root, "accuracy_mean", column([](const PointResult& q) {
                          double m = 0;
                          for (double a : q.accuracy)
                            m += a / static_cast<double>(q.accuracy.size());
                          return m;
                        }),
                        {p}, "1");
      h5::write_dataset(root, "accuracy_std", column([](const PointResult& q) {
                          const double n = static_cast<double>(q.accuracy.size());
                          double m = 0, v = 0;
                          for (double a : q.accuracy) m += a / n;
                          for (double a : q.accuracy) v += (a - m) * (a - m);
                          return n > 1 ? std::sqrt(v / (n - 1)) : 0.0;
                        }),
                        {p}, "1");
    }
    const auto l = static_cast<hsize_t>(r.layer_names.size());
    std::vector<double> enob;
    for (const auto& pt : r.points) enob.insert(enob.end(), pt.enob.begin(), pt.enob.end());
    h5::write_dataset(root, "enob", enob, {p, l}, "bit");
    H5::DataSet enob_ds = root.openDataSet("enob");
    h5::write_attribute(enob_ds, "layer_names", r.layer_names);
    h5::write_dataset(root, "detected_optical_aJ_per_mac",
                      column([](const PointResult& q) { return q.detected_optical_aJ_per_mac; }),
                      {p}, "aJ");
    h5::write_dataset(root, "laser_optical_aJ_per_mac",
                      column([](const PointResult& q) { return q.laser_optical_aJ_per_mac; }), {p},
                      "aJ");
    h5::write_dataset(root, "total_aJ_per_mac",
                      column([](const PointResult& q) { return q.total_aJ_per_mac; }), {p}, "aJ");
    std::vector<double> comp;
    for (const auto& pt : r.points)
      comp.insert(comp.end(), pt.energy_components.begin(), pt.energy_components.end());
    h5::write_dataset(root, "energy_components", comp, {p, energy_components.size()}, "aJ");
    std::vector<std::string> names(energy_components.begin(), energy_components.end());
    H5::DataSet comp_ds = root.openDataSet("energy_components");
    h5::write_attribute(comp_ds, "component_names", names);
    for (std::size_t e = 0; e < r.extra_names.size(); ++e)
      h5::write_dataset(root, r.extra_names[e],
                        column([e](const PointResult& q) { return q.extra[e]; }), {p},
                        r.extra_names[e].rfind("enob", 0) == 0 ? "bit" : "1");
  } catch (const H5::Exception& e) {
    fail_file("cannot write sweep results to '{}': {}", path.string(), e.getDetailMsg());
  }
  out.commit();
}

void read_partial_sweep(SweepResults& r, const fs::path& path) {
  H5::H5File f = h5::open_for_reading(path, "partial sweep");
  if (!h5::has_attribute(f, "kind") || h5::read_string_attribute(f, "kind") != "lumac-sweep")
    fail("'{}' is not a lumac sweep file", path.string());
  if (h5::read_int_attribute(f, "schema_version") != 1)
    fail("'{}' has an unsupported sweep schema version", path.string());
  if (h5::read_string_attribute(f, "signature") != r.signature)
    fail(
        "cannot resume from '{}': it was written by a different sweep (model, noise, axes, seeds, "
        "limit or config differ)",
        path.string());
  // The run that started the sweep names it: the resumed file is the one it would have written.
  if (h5::has_attribute(f, "command_line"))
    r.command_line = h5::read_string_attribute(f, "command_line");
  const H5::Group root = f.openGroup("/");
  const auto p = static_cast<std::size_t>(r.grid.points());
  const auto done = h5::read_ints(root, "done");
  if (done.data.size() != p) fail("'{}': the done mask has the wrong size", path.string());
  const auto enob = h5::read_doubles(root, "enob").data;
  const auto det = h5::read_doubles(root, "detected_optical_aJ_per_mac").data;
  const auto las = h5::read_doubles(root, "laser_optical_aJ_per_mac").data;
  const auto tot = h5::read_doubles(root, "total_aJ_per_mac").data;
  const auto comp = h5::read_doubles(root, "energy_components").data;
  std::vector<double> acc;
  if (r.seeds > 0) acc = h5::read_doubles(root, "accuracy").data;
  std::vector<std::vector<double>> extra;
  for (const auto& name : r.extra_names) extra.push_back(h5::read_doubles(root, name).data);
  const std::size_t l = r.layer_names.size(), c = energy_components.size();
  const auto s = static_cast<std::size_t>(r.seeds);
  if (enob.size() != p * l || comp.size() != p * c || acc.size() != p * s || det.size() != p)
    fail("'{}': datasets have the wrong shape for this sweep", path.string());
  for (std::size_t i = 0; i < p; ++i) {
    if (!done.data[i]) continue;
    r.done[i] = 1;
    PointResult& pt = r.points[i];
    pt.accuracy.assign(acc.begin() + static_cast<std::ptrdiff_t>(i * s),
                       acc.begin() + static_cast<std::ptrdiff_t>((i + 1) * s));
    pt.enob.assign(enob.begin() + static_cast<std::ptrdiff_t>(i * l),
                   enob.begin() + static_cast<std::ptrdiff_t>((i + 1) * l));
    pt.detected_optical_aJ_per_mac = det[i];
    pt.laser_optical_aJ_per_mac = las[i];
    pt.total_aJ_per_mac = tot[i];
    pt.energy_components.assign(comp.begin() + static_cast<std::ptrdiff_t>(i * c),
                                comp.begin() + static_cast<std::ptrdiff_t>((i + 1) * c));
    for (std::size_t e = 0; e < extra.size(); ++e) pt.extra[e] = extra[e].at(i);
  }
}

}  // namespace lumac
