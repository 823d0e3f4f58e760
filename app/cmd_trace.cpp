// `lumac trace`: one time-domain simulation of the optical MAC (circuits/mac_trace.hpp) written
// to HDF5 (schema: docs/trace_file.md).
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/study_options.hpp"
#include "lumac/circuits/mac_trace.hpp"
#include "lumac/core/h5.hpp"

namespace lumac::cli {

namespace {

struct TraceCommand {
  CommonOptions common;
  OutputOptions output;
  CircuitSpec circuit;
  int samples_per_symbol = 16;
  std::string laser = "cw";
  double laser_lead_s = 5e-9;
};

void run_trace(const TraceCommand& o) {
  const Settings s = load_settings(o.common);
  const CircuitParams params = apply_circuit_spec(s.circuit, o.circuit);
  const NoiseSources sources = circuit_sources(o.circuit);
  if (o.laser != "cw" && o.laser != "rate-equation")
    fail("--laser = '{}': must be cw or rate-equation", o.laser);
  if (!(o.laser_lead_s >= 0) || o.laser_lead_s > 1e-6)
    fail("--laser-lead = {} s: must be in [0, 1e-6]", o.laser_lead_s);
  if (o.circuit.fan_in > 100'000)
    fail("--fan-in = {}: a trace is limited to 1e5 symbols", o.circuit.fan_in);
  const double recorded =
      static_cast<double>(o.circuit.fan_in) * params.system.repeats * o.samples_per_symbol;
  if (recorded > 2e7)
    fail(
        "the trace would record {:.3g} samples (fan-in x repeats x samples per symbol): the limit "
        "is 2e7",
        recorded);
  h5::check_output_path(o.output.out, o.output.force);
  const DotProduct dp = circuit_dot_product(o.circuit, o.common.seed);
  const HomodyneMac mac(params, sources);
  TraceOptions opt;
  opt.samples_per_symbol = o.samples_per_symbol;
  opt.rate_equation_laser = o.laser == "rate-equation";
  opt.laser_lead_s = o.laser_lead_s;
  opt.seed = o.common.seed;
  const MacTrace tr = simulate_trace(mac, dp, opt);
  const NoiseBudget b = mac.analyze(dp);

  h5::OutputFile out(o.output.out, o.output.force);
  H5::H5File& f = out.file();
  H5::Group root = f.openGroup("/");
  write_header(f, s, "lumac-trace", command_line());
  h5::write_attribute(f, "seed", static_cast<std::int64_t>(o.common.seed));
  h5::write_attribute(f, "fan_in", static_cast<std::int64_t>(dp.x.size()));
  h5::write_attribute(f, "repeats", static_cast<std::int64_t>(params.system.repeats));
  h5::write_attribute(f, "samples_per_symbol", static_cast<std::int64_t>(o.samples_per_symbol));
  h5::write_attribute(f, "sources", sources.to_string());
  h5::write_attribute(f, "laser_model", o.laser);
  h5::write_attribute(f, "laser_power_W", params.laser.power_W);
  h5::write_attribute(f, "ideal", tr.ideal);
  h5::write_attribute(f, "readout", tr.readout);
  h5::write_attribute(f, "expected_statistical", b.expected);
  h5::write_attribute(f, "noise_std_statistical", b.noise_std);
  h5::write_attribute(f, "enob_analytic", b.enob);
  h5::write_attribute(f, "full_scale_range", b.range);
  h5::write_attribute(f, "gain_electrons_per_unit", tr.gain_electrons_per_unit);
  h5::write_attribute(f, "adc_lsb_C", tr.adc_lsb_C);
  const hsize_t n = tr.time_s.size();
  h5::write_dataset(root, "time_s", tr.time_s, {n}, "s");
  h5::write_dataset(root, "drive_signal_V", tr.drive_signal_V, {n}, "V");
  h5::write_dataset(root, "drive_lo_V", tr.drive_lo_V, {n}, "V");
  h5::write_dataset(root, "modulator_signal_V", tr.modulator_signal_V, {n}, "V");
  h5::write_dataset(root, "modulator_lo_V", tr.modulator_lo_V, {n}, "V");
  h5::write_dataset(root, "power_signal_W", tr.power_signal_W, {n}, "W");
  h5::write_dataset(root, "power_lo_W", tr.power_lo_W, {n}, "W");
  h5::write_dataset(root, "current_plus_A", tr.current_plus_A, {n}, "A");
  h5::write_dataset(root, "current_minus_A", tr.current_minus_A, {n}, "A");
  h5::write_dataset(root, "charge_C", tr.charge_C, {n}, "C");
  h5::write_dataset(root, "laser_power_W", tr.laser_power_W, {n}, "W");
  const hsize_t r = tr.readout_charge_C.size();
  h5::write_dataset(root, "readout_charge_C", tr.readout_charge_C, {r}, "C");
  h5::write_dataset(root, "adc_codes", tr.adc_codes, {r}, "1");
  h5::write_dataset(root, "x", dp.x, {dp.x.size()}, "1");
  h5::write_dataset(root, "w", dp.w, {dp.w.size()}, "1");
  out.commit();

  if (o.common.json) {
    print_json(Json{{"out", o.output.out},
                    {"samples", static_cast<std::int64_t>(n)},
                    {"ideal", tr.ideal},
                    {"readout", tr.readout},
                    {"expected_statistical", b.expected},
                    {"readouts", static_cast<std::int64_t>(r)}});
  } else {
    fmt::print("lumac trace: {} samples of {} symbols written to {}\n", n,
               dp.x.size() * params.system.repeats, o.output.out);
    fmt::print("  ideal {:.6g}, read-out {:.6g} (statistical expectation {:.6g} +- {:.3g})\n",
               tr.ideal, tr.readout, b.expected, b.noise_std);
  }
}

}  // namespace

void register_trace(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "trace", "simulate one dot product in the time domain, write HDF5 waveforms");
  auto o = std::make_shared<TraceCommand>();
  add_common_options(*cmd, o->common);
  add_output_options(*cmd, o->output, true);
  add_circuit_options(*cmd, o->circuit, true);
  cmd->add_option("--samples-per-symbol", o->samples_per_symbol,
                  "recorded samples per symbol (default 16)");
  cmd->add_option("--laser", o->laser,
                  "cw (default) | rate-equation (switched on --laser-lead before)");
  cmd->add_option("--laser-lead", o->laser_lead_s,
                  "rate-equation laser: turn-on to first symbol, s (default 5e-9)");
  cmd->callback([o] { run_trace(*o); });
}

}  // namespace lumac::cli
