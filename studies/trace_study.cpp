#include "lumac/studies/trace_study.hpp"

#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"

namespace lumac {

void check_trace(const Settings& settings, const CircuitSpec& circuit, const TraceSpec& spec) {
  const CircuitParams params = apply_circuit_spec(settings.circuit, circuit);
  (void)circuit_sources(circuit);
  if (spec.laser != "cw" && spec.laser != "rate-equation")
    fail("laser = '{}': must be cw or rate-equation", spec.laser);
  if (!(spec.laser_lead_s >= 0) || spec.laser_lead_s > 1e-6)
    fail("laser_lead = {} s: must be in [0, 1e-6]", spec.laser_lead_s);
  if (circuit.fan_in > 100'000)
    fail("fan-in = {}: a trace is limited to 1e5 symbols", circuit.fan_in);
  const double recorded =
      static_cast<double>(circuit.fan_in) * params.system.repeats * spec.samples_per_symbol;
  if (recorded > 2e7)
    fail(
        "the trace would record {:.3g} samples (fan-in x repeats x samples per symbol): the limit "
        "is 2e7",
        recorded);
}

TraceStudy run_trace_study(const Settings& settings, const CircuitSpec& circuit,
                           const TraceSpec& spec, std::uint64_t seed) {
  check_trace(settings, circuit, spec);
  TraceStudy st;
  st.params = apply_circuit_spec(settings.circuit, circuit);
  st.sources = circuit_sources(circuit);
  st.spec = spec;
  st.seed = seed;
  st.dot_product = circuit_dot_product(circuit, seed);
  const HomodyneMac mac(st.params, st.sources);
  TraceOptions opt;
  opt.samples_per_symbol = spec.samples_per_symbol;
  opt.rate_equation_laser = spec.laser == "rate-equation";
  opt.laser_lead_s = spec.laser_lead_s;
  opt.seed = seed;
  st.trace = simulate_trace(mac, st.dot_product, opt);
  st.budget = mac.analyze(st.dot_product);
  // The chip simulate_trace drew (as circuits/mac_trace.cpp does for run opt.run).
  st.chip_errors = has_device_spread(st.params, st.sources);
  const auto device_seed = static_cast<std::uint64_t>(st.params.system.device_seed);
  st.chip =
      device_seed > 0
          ? draw_device(st.params, st.sources, RandomStream(device_seed, Stream::device), 0, 0, 0)
          : draw_device(st.params, st.sources, RandomStream(seed, Stream::device), opt.run, 0, 0);
  return st;
}

void write_trace_file(const TraceStudy& st, const Settings& settings,
                      const std::filesystem::path& path, bool force,
                      const std::string& command_line) {
  h5::OutputFile out(path, force);
  H5::H5File& f = out.file();
  H5::Group root = f.openGroup("/");
  write_header(f, settings, "lumac-trace", command_line);
  h5::write_attribute(f, "seed", static_cast<std::int64_t>(st.seed));
  h5::write_attribute(f, "fan_in", static_cast<std::int64_t>(st.dot_product.x.size()));
  h5::write_attribute(f, "repeats", static_cast<std::int64_t>(st.params.system.repeats));
  h5::write_attribute(f, "samples_per_symbol",
                      static_cast<std::int64_t>(st.spec.samples_per_symbol));
  h5::write_attribute(f, "sources", st.sources.to_string());
  h5::write_attribute(f, "laser_model", st.spec.laser);
  h5::write_attribute(f, "laser_power_W", st.params.laser.power_W);
  h5::write_attribute(f, "ideal", st.trace.ideal);
  h5::write_attribute(f, "readout", st.trace.readout);
  h5::write_attribute(f, "expected_statistical", st.budget.expected);
  h5::write_attribute(f, "noise_std_statistical", st.budget.noise_std);
  h5::write_attribute(f, "enob_analytic", st.budget.enob);
  h5::write_attribute(f, "full_scale_range", st.budget.range);
  h5::write_attribute(f, "gain_electrons_per_unit", st.trace.gain_electrons_per_unit);
  h5::write_attribute(f, "adc_lsb_C", st.trace.adc_lsb_C);
  const hsize_t n = st.trace.time_s.size();
  h5::write_dataset(root, "time_s", st.trace.time_s, {n}, "s");
  h5::write_dataset(root, "drive_signal_V", st.trace.drive_signal_V, {n}, "V");
  h5::write_dataset(root, "drive_lo_V", st.trace.drive_lo_V, {n}, "V");
  h5::write_dataset(root, "modulator_signal_V", st.trace.modulator_signal_V, {n}, "V");
  h5::write_dataset(root, "modulator_lo_V", st.trace.modulator_lo_V, {n}, "V");
  h5::write_dataset(root, "power_signal_W", st.trace.power_signal_W, {n}, "W");
  h5::write_dataset(root, "power_lo_W", st.trace.power_lo_W, {n}, "W");
  h5::write_dataset(root, "current_plus_A", st.trace.current_plus_A, {n}, "A");
  h5::write_dataset(root, "current_minus_A", st.trace.current_minus_A, {n}, "A");
  h5::write_dataset(root, "charge_C", st.trace.charge_C, {n}, "C");
  h5::write_dataset(root, "laser_power_W", st.trace.laser_power_W, {n}, "W");
  const hsize_t r = st.trace.readout_charge_C.size();
  h5::write_dataset(root, "readout_charge_C", st.trace.readout_charge_C, {r}, "C");
  h5::write_dataset(root, "adc_codes", st.trace.adc_codes, {r}, "1");
  h5::write_dataset(root, "window_open_s", st.trace.window_open_s, {r}, "s");
  h5::write_dataset(root, "window_close_s", st.trace.window_close_s, {r}, "s");
  h5::write_dataset(root, "x", st.dot_product.x, {st.dot_product.x.size()}, "1");
  h5::write_dataset(root, "w", st.dot_product.w, {st.dot_product.w.size()}, "1");
  out.commit();
}

Json to_json(const TraceStudy& st, const std::string& out) {
  Json j{{"out", out},
         {"samples", static_cast<std::int64_t>(st.trace.time_s.size())},
         {"ideal", st.trace.ideal},
         {"readout", st.trace.readout},
         {"expected_statistical", st.budget.expected},
         {"readouts", static_cast<std::int64_t>(st.trace.readout_charge_C.size())},
         {"device_seed", static_cast<std::int64_t>(st.params.system.device_seed)}};
  if (st.chip_errors) {
    const DeviceErrors& d = st.chip;
    j["chip"] = Json{{"input_bias_rad", d.input.bias_rad},
                     {"input_v_pi_error", d.input.v_pi_error},
                     {"weight_bias_rad", d.weight.bias_rad},
                     {"weight_v_pi_error", d.weight.v_pi_error},
                     {"lo_phase_rad", d.lo_phase_rad},
                     {"responsivity_mismatch", d.responsivity_mismatch},
                     {"signal_power_error", d.signal_power_error},
                     {"lo_power_error", d.lo_power_error}};
  }
  return j;
}

}  // namespace lumac
