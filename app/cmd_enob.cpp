// `lumac enob`: the noise budget and ENOB of one dot product on the optical MAC
// (studies/circuit_study.hpp), optionally sampled by Monte Carlo and in the time domain.
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/study_options.hpp"

namespace lumac::cli {

namespace {

struct EnobCommand {
  CommonOptions common;
  CircuitSpec circuit;
  std::int64_t monte_carlo = 0;
  bool time_domain = false;
  int samples_per_symbol = 4;
};

void print_enob(const EnobStudy& st) {
  const NoiseBudget& b = st.budget;
  fmt::print("lumac enob: fan-in {}, {} encoding, {} averaging x {}, sources {}\n", st.fan_in,
             enum_name(st.params.system.encoding), enum_name(st.params.system.averaging),
             st.params.system.repeats, st.sources.to_string());
  fmt::print("  laser {:.4g} W; photons per symbol at full scale: signal {:.4g}, LO {:.4g}\n",
             b.laser_power_W, b.signal_photons_per_symbol, b.lo_photons_per_symbol);
  fmt::print("  detected photons per MAC: {:.4g} (this dot product), {:.4g} (full scale)\n",
             b.photons_per_mac_detected, b.photons_per_mac_full_scale);
  fmt::print("  ideal {:.6g}, expected read-out {:.6g}, range R {:.6g}\n", b.ideal, b.expected,
             b.range);
  if (b.front_end == FrontEnd::integrator)
    fmt::print(
        "  integrator {:.4g} F{}: full-scale charge {:.4g} e needs {:.4g} V, this dot product "
        "peaks at {:.4g} V, swing {:.4g} V\n",
        b.capacitance_F, st.params.detector.integrator_capacitance_F == 0 ? " (sized)" : "",
        b.full_scale_charge_electrons, b.full_scale_V, b.peak_V, b.swing_V);
  else
    fmt::print(
        "  TIA: full-scale symbol gives {:.4g} V at its output, this dot product peaks at {:.4g} "
        "V, swing {:.4g} V\n",
        b.full_scale_V, b.peak_V, b.swing_V);
  if (b.saturates())
    fmt::print(
        "  warning: the receiver saturates ({:.4g} V over its {:.4g} V swing): the read-out is "
        "clipped (the saturation term)\n",
        b.peak_V, b.swing_V);
  else if (b.full_scale_V > b.swing_V)
    fmt::print(
        "  note: a full-scale read-out would need {:.4g} V, over the {:.4g} V swing: inputs that "
        "large would saturate the receiver{}\n",
        b.full_scale_V, b.swing_V,
        st.params.detector.integrator_capacitance_F == 0
            ? " (sized to the ADC's span, beyond which the ADC clips too)"
            : "");
  fmt::print("  {:<12} {:>12} {:>8}\n", "source", "std (of y)", "share");
  const double var = b.total_std * b.total_std;
  for (const auto& t : b.terms) {
    const bool chip_term =
        t.name == "phase" || t.name == "bias" || t.name == "mismatch" || t.name == "spread";
    fmt::print("  {:<12} {:>12.4g} {:>7.1f}%{}\n", t.name, t.std,
               var > 0 ? 100 * t.std * t.std / var : 0.0,
               t.deterministic          ? "  (deterministic)"
               : chip_term && t.std > 0 ? "  (static: RMS over chips)"
                                        : "");
  }
  fmt::print("  {:<12} {:>12.4g}\n", "total", b.total_std);
  fmt::print("  ENOB (analytic)      {:.3f} bits   [log2(R / (sqrt(12) sigma))]\n", b.enob);
  // Which chip the samples ran on, when its devices are not nominal.
  std::string chip;
  if (has_device_spread(st.params, st.sources))
    chip = st.params.system.device_seed > 0
               ? fmt::format(", all on chip {}", st.params.system.device_seed)
               : std::string(", each on a new chip");
  if (st.monte_carlo)
    fmt::print("  ENOB (Monte Carlo)   {:.3f} bits   ({} samples{}, RMS error {:.4g})\n",
               st.monte_carlo->enob, st.monte_carlo->samples, chip, st.monte_carlo->rms_error);
  if (st.time_domain)
    fmt::print("  ENOB (time domain)   {:.3f} bits   ({} runs{}, RMS error {:.4g})\n",
               st.time_domain->enob, st.time_domain->samples, chip, st.time_domain->rms_error);
  if (st.monte_carlo && has_device_spread(st.params, st.sources) &&
      st.params.system.device_seed > 0)
    fmt::print(
        "  note: on chip {} the mean read-out is {:.6g} (budget {:.6g}): the chip's fixed error "
        "is in the Monte Carlo, while the budget's static terms are RMS over chips\n",
        st.params.system.device_seed, st.monte_carlo->mean, b.expected);
}

void run_enob(const EnobCommand& o) {
  const EnobStudy st = run_enob_study(load_settings(o.common), o.circuit, o.common.seed,
                                      o.monte_carlo, o.time_domain, o.samples_per_symbol);
  if (o.common.json)
    print_json(to_json(st));
  else
    print_enob(st);
}

}  // namespace

void register_enob(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("enob", "noise budget and ENOB of one dot product on the optical MAC");
  auto o = std::make_shared<EnobCommand>();
  add_common_options(*cmd, o->common);
  add_circuit_options(*cmd, o->circuit, true);
  cmd->add_option("--monte-carlo", o->monte_carlo,
                  "sample S read-outs by Monte Carlo (0: off; at most 1e8)");
  cmd->add_flag("--time-domain", o->time_domain,
                "also simulate in the time domain (runs: --monte-carlo, default 200)");
  cmd->add_option("--samples-per-symbol", o->samples_per_symbol,
                  "time-domain samples per symbol (default 4)");
  cmd->callback([o] { run_enob(*o); });
}

}  // namespace lumac::cli
