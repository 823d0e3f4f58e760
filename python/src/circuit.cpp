// Circuit-level calls: device figures, the noise budget and ENOB of one dot product, its
// time-domain trace and its energy account.
#include "lumac/core/h5.hpp"
#include "lumac/studies/circuit_study.hpp"
#include "lumac/studies/device_figures.hpp"
#include "lumac/studies/results.hpp"
#include "lumac/studies/trace_study.hpp"
#include "python/src/bind_common.hpp"

namespace lumac::python {

namespace {

CircuitSpec circuit_spec(std::int64_t fan_in, std::optional<double> photons_per_mac,
                         std::optional<int> repeats, const std::string& encoding,
                         const std::string& averaging, const std::string& sources,
                         const std::string& vectors, double range) {
  CircuitSpec c;
  c.fan_in = fan_in;
  c.photons_per_mac = photons_per_mac;
  c.repeats = repeats;
  c.encoding = encoding;
  c.averaging = averaging;
  c.sources = sources;
  c.vectors = vectors;
  c.range = range;
  return c;
}

// A vector as a numpy array that owns it (no copy).
template <class T>
py::array_t<T> owned_array(std::vector<T>&& v) {
  auto* heap = new std::vector<T>(std::move(v));
  py::capsule owner(heap, [](void* p) { delete static_cast<std::vector<T>*>(p); });
  return py::array_t<T>(static_cast<py::ssize_t>(heap->size()), heap->data(), owner);
}

#define LUMAC_CIRCUIT_ARGS                                                                  \
  py::arg("fan_in"), py::kw_only(),                                                         \
      py::arg("config") = py::none(), py::arg("photons_per_mac") = py::none(),              \
      py::arg("repeats") = py::none(), py::arg("encoding") = "", py::arg("averaging") = "", \
      py::arg("sources") = "all", py::arg("vectors") = "uniform", py::arg("range") = 0.0

}  // namespace

void bind_circuit(py::module_& m) {
  m.def(
      "devices",
      [](const std::optional<Config>& config) {
        return to_python(to_json(device_figures(settings_of(config))));
      },
      py::kw_only(), py::arg("config") = py::none());
  m.def(
      "enob",
      [](std::int64_t fan_in, const std::optional<Config>& config,
         std::optional<double> photons_per_mac, std::optional<int> repeats,
         const std::string& encoding, const std::string& averaging, const std::string& sources,
         const std::string& vectors, double range, std::int64_t monte_carlo, bool time_domain,
         int samples_per_symbol, std::uint64_t seed) {
        const Settings s = settings_of(config);
        const CircuitSpec c = circuit_spec(fan_in, photons_per_mac, repeats, encoding, averaging,
                                           sources, vectors, range);
        Json j;
        run_released([&] {
          j = to_json(run_enob_study(s, c, seed, monte_carlo, time_domain, samples_per_symbol));
        });
        return to_python(j);
      },
      LUMAC_CIRCUIT_ARGS, py::arg("monte_carlo") = 0, py::arg("time_domain") = false,
      py::arg("samples_per_symbol") = 4, py::arg("seed") = 1);
  m.def(
      "circuit_energy",
      [](std::int64_t fan_in, const std::optional<Config>& config,
         std::optional<double> photons_per_mac, std::optional<int> repeats,
         const std::string& encoding, const std::string& averaging, const std::string& sources,
         const std::string& vectors, double range, std::uint64_t seed) {
        const Settings s = settings_of(config);
        const CircuitSpec c = circuit_spec(fan_in, photons_per_mac, repeats, encoding, averaging,
                                           sources, vectors, range);
        return to_python(energy_json(circuit_energy_report(s, c, seed)));
      },
      LUMAC_CIRCUIT_ARGS, py::arg("seed") = 1);
  m.def(
      "trace",
      [](std::int64_t fan_in, const std::optional<Config>& config,
         std::optional<double> photons_per_mac, std::optional<int> repeats,
         const std::string& encoding, const std::string& averaging, const std::string& sources,
         const std::string& vectors, double range, int samples_per_symbol, const std::string& laser,
         double laser_lead_s, std::uint64_t seed, const std::optional<std::string>& out,
         bool force) {
        const Settings s = settings_of(config);
        const CircuitSpec c = circuit_spec(fan_in, photons_per_mac, repeats, encoding, averaging,
                                           sources, vectors, range);
        TraceSpec t;
        t.samples_per_symbol = samples_per_symbol;
        t.laser = laser;
        t.laser_lead_s = laser_lead_s;
        check_trace(s, c, t);
        if (out) h5::check_output_path(*out, force);
        std::optional<TraceStudy> st;
        run_released([&] {
          st = run_trace_study(s, c, t, seed);
          if (out) write_trace_file(*st, s, *out, force, "python: lumac.trace");
        });
        const py::object summary = to_python(to_json(*st, out.value_or("")));
        py::dict arrays;
        MacTrace& tr = st->trace;
        arrays["time_s"] = owned_array(std::move(tr.time_s));
        arrays["drive_signal_V"] = owned_array(std::move(tr.drive_signal_V));
        arrays["drive_lo_V"] = owned_array(std::move(tr.drive_lo_V));
        arrays["modulator_signal_V"] = owned_array(std::move(tr.modulator_signal_V));
        arrays["modulator_lo_V"] = owned_array(std::move(tr.modulator_lo_V));
        arrays["power_signal_W"] = owned_array(std::move(tr.power_signal_W));
        arrays["power_lo_W"] = owned_array(std::move(tr.power_lo_W));
        arrays["current_plus_A"] = owned_array(std::move(tr.current_plus_A));
        arrays["current_minus_A"] = owned_array(std::move(tr.current_minus_A));
        arrays["charge_C"] = owned_array(std::move(tr.charge_C));
        arrays["laser_power_W"] = owned_array(std::move(tr.laser_power_W));
        arrays["readout_charge_C"] = owned_array(std::move(tr.readout_charge_C));
        arrays["window_open_s"] = owned_array(std::move(tr.window_open_s));
        arrays["window_close_s"] = owned_array(std::move(tr.window_close_s));
        arrays["adc_codes"] = owned_array(std::move(tr.adc_codes));
        arrays["x"] = owned_array(std::vector<double>(st->dot_product.x));
        arrays["w"] = owned_array(std::vector<double>(st->dot_product.w));
        return py::make_tuple(summary, arrays);
      },
      LUMAC_CIRCUIT_ARGS, py::arg("samples_per_symbol") = 16, py::arg("laser") = "cw",
      py::arg("laser_lead_s") = 5e-9, py::arg("seed") = 1, py::arg("out") = py::none(),
      py::arg("force") = false);
}

}  // namespace lumac::python
