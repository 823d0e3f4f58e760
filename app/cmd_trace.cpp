// `lumac trace`: one time-domain simulation of the optical MAC (studies/trace_study.hpp) written
// to HDF5 (schema: docs/trace_file.md).
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/study_options.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/studies/trace_study.hpp"

namespace lumac::cli {

namespace {

struct TraceCommand {
  CommonOptions common;
  OutputOptions output;
  CircuitSpec circuit;
  TraceSpec trace;
};

void run_trace(const TraceCommand& o) {
  const Settings s = load_settings(o.common);
  check_trace(s, o.circuit, o.trace);
  h5::check_output_path(o.output.out, o.output.force);
  const TraceStudy st = run_trace_study(s, o.circuit, o.trace, o.common.seed);
  write_trace_file(st, s, o.output.out, o.output.force, command_line());
  if (o.common.json) {
    print_json(to_json(st, o.output.out));
    return;
  }
  fmt::print("lumac trace: {} samples of {} symbols written to {}\n", st.trace.time_s.size(),
             st.dot_product.x.size() * st.params.system.repeats, o.output.out);
  fmt::print("  ideal {:.6g}, read-out {:.6g} (statistical expectation {:.6g} +- {:.3g})\n",
             st.trace.ideal, st.trace.readout, st.budget.expected, st.budget.noise_std);
  if (st.chip_errors) {
    const DeviceErrors& d = st.chip;
    fmt::print(
        "  chip {}: input modulator bias {:.4g} rad, V_pi error {:.4g}; weight modulator bias "
        "{:.4g} rad, V_pi error {:.4g}; LO phase {:.4g} rad; responsivity mismatch {:.4g}; "
        "splitter power errors {:.4g} (signal), {:.4g} (LO)\n",
        st.params.system.device_seed > 0 ? fmt::format("{}", st.params.system.device_seed)
                                         : fmt::format("of noise seed {}", st.seed),
        d.input.bias_rad, d.input.v_pi_error, d.weight.bias_rad, d.weight.v_pi_error,
        d.lo_phase_rad, d.responsivity_mismatch, d.signal_power_error, d.lo_power_error);
    fmt::print(
        "  (the statistical expectation is over chips: its +- includes their static RMS, while "
        "the read-out carries this chip's fixed error)\n");
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
  cmd->add_option("--samples-per-symbol", o->trace.samples_per_symbol,
                  "recorded samples per symbol (default 16)");
  cmd->add_option("--laser", o->trace.laser,
                  "cw (default) | rate-equation (switched on --laser-lead before)");
  cmd->add_option("--laser-lead", o->trace.laser_lead_s,
                  "rate-equation laser: turn-on to first symbol, s (default 5e-9)");
  cmd->callback([o] { run_trace(*o); });
}

}  // namespace lumac::cli
