// `lumac enob`: the noise budget and ENOB of one dot product on the optical MAC
// (circuits/homodyne_mac.hpp), optionally sampled by Monte Carlo and in the time domain.
#include <fmt/format.h>

#include "app/circuit_options.hpp"
#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "circuits/mac_trace.hpp"

namespace lumac {

namespace {

struct EnobOptions {
  CommonOptions common;
  CircuitOptions circuit;
  std::int64_t monte_carlo = 0;
  bool time_domain = false;
  int samples_per_symbol = 4;
};

void run_enob(const EnobOptions& o) {
  const Settings s = load_settings(o.common);
  const CircuitParams params = apply_circuit_options(s.circuit, o.circuit);
  const NoiseSources sources = parse_sources(o.circuit);
  if (o.monte_carlo < 0 || o.monte_carlo > 100'000'000)
    fail("--monte-carlo = {}: must be in [0, 1e8] samples", o.monte_carlo);
  const DotProduct dp = circuit_dot_product(o.circuit, o.common.seed);
  const HomodyneMac mac(params, sources);
  const NoiseBudget b = mac.analyze(dp);
  std::optional<MonteCarloResult> mc, td;
  if (o.monte_carlo > 0) mc = mac.monte_carlo(dp, o.monte_carlo, o.common.seed);
  if (o.time_domain) {
    const std::int64_t runs = o.monte_carlo > 0 ? o.monte_carlo : 200;
    if (runs < 2) fail("--time-domain needs at least 2 runs (--monte-carlo)");
    td = time_domain_monte_carlo(mac, dp, runs, o.common.seed, o.samples_per_symbol);
  }

  if (o.common.json) {
    Json j;
    j.insert_or_assign("fan_in", static_cast<std::int64_t>(dp.x.size()));
    j.insert_or_assign("repeats", static_cast<std::int64_t>(params.system.repeats));
    j.insert_or_assign("encoding", std::string(enum_name(params.system.encoding)));
    j.insert_or_assign("averaging", std::string(enum_name(params.system.averaging)));
    j.insert_or_assign("sources", sources.to_string());
    j.insert_or_assign("enob_analytic", b.enob);
    j.insert_or_assign("enob_convention", "log2(R / (sqrt(12) sigma))");
    j.insert_or_assign("full_scale_range", b.range);
    j.insert_or_assign("ideal", b.ideal);
    j.insert_or_assign("expected", b.expected);
    j.insert_or_assign("noise_std_total", b.noise_std);
    j.insert_or_assign("total_std", b.total_std);
    Json by_source;
    for (const auto& t : b.terms) by_source.insert_or_assign(t.name, t.std);
    j.insert_or_assign("noise_std", by_source);
    j.insert_or_assign("photons_per_mac_detected", b.photons_per_mac_detected);
    j.insert_or_assign("photons_per_mac_full_scale", b.photons_per_mac_full_scale);
    j.insert_or_assign("photons_per_symbol_signal", b.signal_photons_per_symbol);
    j.insert_or_assign("photons_per_symbol_lo", b.lo_photons_per_symbol);
    j.insert_or_assign("laser_power_W", b.laser_power_W);
    j.insert_or_assign("gain_electrons_per_unit", b.gain_electrons_per_unit);
    Json counts{{"laser_photons", b.counts.laser_photons},
                {"input_symbols", b.counts.input_symbols},
                {"weight_symbols", b.counts.weight_symbols},
                {"dac_conversions", b.counts.dac_conversions},
                {"adc_conversions", b.counts.adc_conversions},
                {"readouts", b.counts.readouts}};
    j.insert_or_assign("counts", counts);
    if (mc) {
      j.insert_or_assign("enob_monte_carlo", mc->enob);
      j.insert_or_assign("monte_carlo", Json{{"samples", mc->samples},
                                             {"mean", mc->mean},
                                             {"noise_std", mc->noise_std},
                                             {"rms_error", mc->rms_error}});
    }
    if (td) {
      j.insert_or_assign("enob_time_domain", td->enob);
      j.insert_or_assign("time_domain", Json{{"runs", td->samples},
                                             {"mean", td->mean},
                                             {"noise_std", td->noise_std},
                                             {"rms_error", td->rms_error}});
    }
    print_json(j);
    return;
  }
  fmt::print("lumac enob: fan-in {}, {} encoding, {} averaging x {}, sources {}\n", dp.x.size(),
             enum_name(params.system.encoding), enum_name(params.system.averaging),
             params.system.repeats, sources.to_string());
  fmt::print("  laser {:.4g} W; photons per symbol at full scale: signal {:.4g}, LO {:.4g}\n",
             b.laser_power_W, b.signal_photons_per_symbol, b.lo_photons_per_symbol);
  fmt::print("  detected photons per MAC: {:.4g} (this dot product), {:.4g} (full scale)\n",
             b.photons_per_mac_detected, b.photons_per_mac_full_scale);
  fmt::print("  ideal {:.6g}, expected read-out {:.6g}, range R {:.6g}\n", b.ideal, b.expected,
             b.range);
  fmt::print("  {:<12} {:>12} {:>8}\n", "source", "std (of y)", "share");
  const double var = b.total_std * b.total_std;
  for (const auto& t : b.terms)
    fmt::print("  {:<12} {:>12.4g} {:>7.1f}%{}\n", t.name, t.std,
               var > 0 ? 100 * t.std * t.std / var : 0.0,
               t.deterministic ? "  (deterministic)" : "");
  fmt::print("  {:<12} {:>12.4g}\n", "total", b.total_std);
  fmt::print("  ENOB (analytic)      {:.3f} bits   [log2(R / (sqrt(12) sigma))]\n", b.enob);
  if (mc)
    fmt::print("  ENOB (Monte Carlo)   {:.3f} bits   ({} samples, RMS error {:.4g})\n", mc->enob,
               mc->samples, mc->rms_error);
  if (td)
    fmt::print("  ENOB (time domain)   {:.3f} bits   ({} runs, RMS error {:.4g})\n", td->enob,
               td->samples, td->rms_error);
}

}  // namespace

void register_enob(CLI::App& app) {
  auto* cmd =
      app.add_subcommand("enob", "noise budget and ENOB of one dot product on the optical MAC");
  auto o = std::make_shared<EnobOptions>();
  add_common_options(*cmd, o->common);
  add_circuit_options(*cmd, o->circuit, true);
  cmd->add_option("--monte-carlo", o->monte_carlo, "sample S read-outs by Monte Carlo (0: off)");
  cmd->add_flag("--time-domain", o->time_domain,
                "also simulate in the time domain (runs: --monte-carlo, default 200)");
  cmd->add_option("--samples-per-symbol", o->samples_per_symbol,
                  "time-domain samples per symbol (default 4)");
  cmd->callback([o] { run_enob(*o); });
}

}  // namespace lumac
