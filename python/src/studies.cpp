// Studies over many evaluations: sweeps over config keys and iso-accuracy searches.
#include <fmt/format.h>

#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/studies/search.hpp"
#include "lumac/studies/sweep.hpp"
#include "python/src/bind_common.hpp"

namespace lumac::python {

namespace {

// The sweep's results as numpy arrays over the grid (row-major, the first axis slowest).
py::dict sweep_arrays(const SweepResults& r) {
  std::vector<py::ssize_t> grid;
  for (const auto& a : r.grid.axes) grid.push_back(static_cast<py::ssize_t>(a.values.size()));
  auto with = [&](std::size_t n) {
    std::vector<py::ssize_t> dims = grid;
    dims.push_back(static_cast<py::ssize_t>(n));
    return dims;
  };
  const std::size_t layers = r.layer_names.size(), seeds = static_cast<std::size_t>(r.seeds);
  py::array_t<double> accuracy(with(seeds)), enob(with(layers)), detected(grid), laser(grid),
      total(grid), components(with(energy_components.size()));
  std::vector<py::array_t<double>> extras;
  for (std::size_t e = 0; e < r.extra_names.size(); ++e) extras.emplace_back(grid);
  for (std::int64_t i = 0; i < r.grid.points(); ++i) {
    // Row-major offset of the point from its index along each axis.
    const auto at = r.grid.point_indices(i);
    std::size_t flat = 0;
    for (std::size_t k = 0; k < at.size(); ++k) flat = flat * r.grid.axes[k].values.size() + at[k];
    const PointResult& p = r.points[static_cast<std::size_t>(i)];
    for (std::size_t s = 0; s < seeds; ++s)
      accuracy.mutable_data()[flat * seeds + s] = p.accuracy[s];
    for (std::size_t l = 0; l < layers; ++l) enob.mutable_data()[flat * layers + l] = p.enob[l];
    detected.mutable_data()[flat] = p.detected_optical_aJ_per_mac;
    laser.mutable_data()[flat] = p.laser_optical_aJ_per_mac;
    total.mutable_data()[flat] = p.total_aJ_per_mac;
    for (std::size_t c = 0; c < energy_components.size(); ++c)
      components.mutable_data()[flat * energy_components.size() + c] = p.energy_components[c];
    for (std::size_t e = 0; e < extras.size(); ++e) extras[e].mutable_data()[flat] = p.extra[e];
  }
  py::dict axes;
  for (const auto& a : r.grid.axes) {
    if (a.text())
      axes[py::str(a.key)] = py::array(py::cast(a.labels));
    else
      axes[py::str(a.key)] =
          py::array_t<double>(static_cast<py::ssize_t>(a.values.size()), a.values.data());
  }
  py::dict out;
  out["axes"] = axes;
  out["layer_names"] = r.layer_names;
  if (seeds > 0) out["accuracy"] = accuracy;
  out["enob"] = enob;
  out["detected_optical_aJ_per_mac"] = detected;
  out["laser_optical_aJ_per_mac"] = laser;
  out["total_aJ_per_mac"] = total;
  std::vector<std::string> names(energy_components.begin(), energy_components.end());
  out["energy_component_names"] = names;
  out["energy_components_aJ_per_mac"] = components;
  for (std::size_t e = 0; e < extras.size(); ++e) out[py::str(r.extra_names[e])] = extras[e];
  return out;
}

}  // namespace

void bind_studies(py::module_& m) {
  m.def(
      "sweep",
      [](const std::vector<std::string>& params, const std::optional<Config>& config,
         const std::string& model, const std::string& dataset, std::int64_t fan_in,
         std::optional<double> photons_per_mac, std::optional<int> repeats,
         const std::string& encoding, const std::string& averaging, const std::string& sources,
         const std::string& vectors, double range, std::int64_t monte_carlo, bool time_domain,
         const std::string& noise, int seeds, std::uint64_t seed, std::int64_t limit, int batch,
         std::vector<double> energy_per_layer, std::vector<int> repeats_per_layer,
         std::optional<double> enob, const std::optional<std::string>& out, bool force,
         const py::object& progress) {
        SweepSpec spec;
        spec.axes = params;
        spec.circuit = CircuitSpec{fan_in,    photons_per_mac, repeats, encoding,
                                   averaging, sources,         vectors, range};
        spec.monte_carlo = monte_carlo;
        spec.time_domain = time_domain;
        spec.network.model = model;
        spec.network.dataset = dataset;
        spec.network.limit = limit;
        spec.network.batch = batch;
        spec.hardware.noise = noise.empty() ? "physical" : noise;
        spec.hardware.energy_per_layer = std::move(energy_per_layer);
        spec.hardware.repeats_per_layer = std::move(repeats_per_layer);
        spec.hardware.enob = enob;
        spec.seeds = seeds;
        spec.seed = seed;
        if (spec.network_mode()) move_circuit_shortcuts(spec.circuit, spec.hardware);
        const Settings base = settings_of(config);
        if (out) h5::check_output_path(*out, force);
        const auto report = progress_callback(progress);
        SweepResults r;
        Json j;
        run_released([&] {
          std::optional<LoadedNetwork> net;
          prepare_sweep(spec, base, "python: lumac.sweep", r, net);
          run_sweep_points(
              spec, base, net, r,
              [&] {
                if (report) report(r.finished(), r.grid.points());
              },
              [] { return stop_requested(); });
          if (r.finished() < r.grid.points())
            throw Interrupted(
                fmt::format("sweep interrupted after {} of {} points; nothing written",
                            r.finished(), r.grid.points()));
          if (out) write_sweep_file(r, *out, true);
          j = to_json(r, out.value_or(""));
        });
        return py::make_tuple(to_python(j), sweep_arrays(r));
      },
      py::arg("params"), py::kw_only(), py::arg("config") = py::none(), py::arg("model") = "",
      py::arg("dataset") = "", py::arg("fan_in") = 0, py::arg("photons_per_mac") = py::none(),
      py::arg("repeats") = py::none(), py::arg("encoding") = "", py::arg("averaging") = "",
      py::arg("sources") = "all", py::arg("vectors") = "uniform", py::arg("range") = 0.0,
      py::arg("monte_carlo") = 0, py::arg("time_domain") = false, py::arg("noise") = "",
      py::arg("seeds") = 1, py::arg("seed") = 1, py::arg("limit") = 0, py::arg("batch") = 256,
      py::arg("energy_per_layer") = std::vector<double>{},
      py::arg("repeats_per_layer") = std::vector<int>{}, py::arg("enob") = py::none(),
      py::arg("out") = py::none(), py::arg("force") = false, py::arg("progress") = py::none());
  m.def(
      "search",
      [](const std::string& model, const std::string& key, const HardwareArgs& hw,
         double target_drop, const std::string& better, const std::optional<Config>& config,
         const std::string& dataset, int seeds, std::uint64_t seed, std::int64_t limit, int batch,
         double tolerance_ratio) {
        SearchSpec spec;
        spec.network.model = model;
        spec.network.dataset = dataset;
        spec.network.limit = limit;
        spec.network.batch = batch;
        spec.hardware = hw.spec();
        spec.key = key;
        spec.target_drop = target_drop;
        spec.better = better;
        spec.seeds = seeds;
        spec.seed = seed;
        spec.tolerance_ratio = tolerance_ratio;
        const Settings settings = settings_of(config);
        Json j;
        run_released([&] { j = to_json(run_search(spec, settings)); });
        return to_python(j);
      },
      py::arg("model"), py::arg("key"), py::kw_only(), py::arg("hardware"),
      py::arg("target_drop") = 0.01, py::arg("better") = "higher", py::arg("config") = py::none(),
      py::arg("dataset") = "", py::arg("seeds") = 1, py::arg("seed") = 1, py::arg("limit") = 0,
      py::arg("batch") = 256, py::arg("tolerance_ratio") = 1.05);
}

}  // namespace lumac::python
