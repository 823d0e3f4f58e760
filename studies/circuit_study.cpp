#include "lumac/studies/circuit_study.hpp"

#include <fmt/format.h>

#include <cmath>

#include "lumac/circuits/mac_trace.hpp"
#include "lumac/core/error.hpp"

namespace lumac {

CircuitParams apply_circuit_spec(CircuitParams params, const CircuitSpec& spec) {
  if (spec.repeats) params.system.repeats = *spec.repeats;
  if (!spec.encoding.empty())
    params.system.encoding = parse_enum<Encoding>(spec.encoding, "encoding");
  if (!spec.averaging.empty())
    params.system.averaging = parse_enum<Averaging>(spec.averaging, "averaging");
  validate(params);
  if (spec.photons_per_mac) params = with_photons_per_mac(params, *spec.photons_per_mac);
  return params;
}

NoiseSources circuit_sources(const CircuitSpec& spec) {
  return NoiseSources::parse(spec.sources);
}

DotProduct circuit_dot_product(const CircuitSpec& spec, std::uint64_t seed) {
  if (!(spec.range >= 0) || !std::isfinite(spec.range))
    fail("range = {}: must be finite and > 0 (or 0 for the Cauchy-Schwarz range)", spec.range);
  DotProduct dp = random_dot_product(spec.fan_in,
                                     parse_enum<VectorDistribution>(spec.vectors, "vectors"), seed);
  dp.range = spec.range;
  return dp;
}

EnergyReport circuit_energy_report(const Settings& settings, const CircuitSpec& spec,
                                   std::uint64_t seed) {
  if (spec.fan_in < 1)
    fail("the energy of a dot product needs a fan-in >= 1 (got {})", spec.fan_in);
  const CircuitParams params = apply_circuit_spec(settings.circuit, spec);
  const DotProduct dp = circuit_dot_product(spec, seed);
  return energy_report(params, settings.energy,
                       {dot_product_work(params, dp, circuit_sources(spec))});
}

LayerWork dot_product_work(const CircuitParams& params, const DotProduct& dp,
                           NoiseSources sources) {
  const HomodyneMac mac(params, sources.without(NoiseSource::adc));
  LayerWork w;
  w.name = fmt::format("dot product N={}", dp.x.size());
  w.fan_in = static_cast<std::int64_t>(dp.x.size());
  w.outputs = params.system.fan_out;
  w.positions = 1;
  w.weights = w.fan_in * w.outputs;
  w.repeats = params.system.repeats;
  w.photons_per_mac = mac.photons_per_mac_full_scale();
  w.readout_enob = mac.analyze(dp).enob;
  return w;
}

void check_monte_carlo(std::int64_t samples) {
  if (samples < 0 || samples > max_monte_carlo_samples)
    fail("monte_carlo = {}: must be in [0, 1e8] samples", samples);
}

EnobStudy run_enob_study(const Settings& settings, const CircuitSpec& spec, std::uint64_t seed,
                         std::int64_t monte_carlo, bool time_domain, int samples_per_symbol) {
  EnobStudy st;
  st.params = apply_circuit_spec(settings.circuit, spec);
  st.sources = circuit_sources(spec);
  check_monte_carlo(monte_carlo);
  const DotProduct dp = circuit_dot_product(spec, seed);
  st.fan_in = static_cast<std::int64_t>(dp.x.size());
  const HomodyneMac mac(st.params, st.sources);
  st.budget = mac.analyze(dp);
  if (monte_carlo > 0) st.monte_carlo = mac.monte_carlo(dp, monte_carlo, seed);
  if (time_domain) {
    const std::int64_t runs = monte_carlo > 0 ? monte_carlo : default_time_domain_runs;
    if (runs < 2) fail("the time-domain check needs at least 2 runs (monte_carlo)");
    st.time_domain = time_domain_monte_carlo(mac, dp, runs, seed, samples_per_symbol);
  }
  return st;
}

namespace {

Json sampled_json(const MonteCarloResult& r, const char* count_key) {
  return Json{{count_key, r.samples},
              {"mean", r.mean},
              {"noise_std", r.noise_std},
              {"rms_error", r.rms_error}};
}

}  // namespace

Json to_json(const EnobStudy& st) {
  const NoiseBudget& b = st.budget;
  Json j;
  j["fan_in"] = st.fan_in;
  j["repeats"] = static_cast<std::int64_t>(st.params.system.repeats);
  j["encoding"] = std::string(enum_name(st.params.system.encoding));
  j["averaging"] = std::string(enum_name(st.params.system.averaging));
  j["sources"] = st.sources.to_string();
  j["enob_analytic"] = b.enob;
  j["enob_convention"] = "log2(R / (sqrt(12) sigma))";
  j["full_scale_range"] = b.range;
  j["ideal"] = b.ideal;
  j["expected"] = b.expected;
  j["noise_std_total"] = b.noise_std;
  j["total_std"] = b.total_std;
  Json by_source = Json::object();
  for (const auto& t : b.terms) by_source[t.name] = t.std;
  j["noise_std"] = by_source;
  j["photons_per_mac_detected"] = b.photons_per_mac_detected;
  j["photons_per_mac_full_scale"] = b.photons_per_mac_full_scale;
  j["photons_per_symbol_signal"] = b.signal_photons_per_symbol;
  j["photons_per_symbol_lo"] = b.lo_photons_per_symbol;
  j["laser_power_W"] = b.laser_power_W;
  j["gain_electrons_per_unit"] = b.gain_electrons_per_unit;
  j["front_end"] = std::string(enum_name(b.front_end));
  j["full_scale_charge_electrons"] = b.full_scale_charge_electrons;
  if (b.front_end == FrontEnd::integrator) {
    j["integrator_capacitance_F"] = b.capacitance_F;
    j["integrator_full_scale_V"] = b.full_scale_V;
    j["integrator_peak_V"] = b.peak_V;
    j["integrator_swing_V"] = b.swing_V;
  } else {
    j["tia_full_scale_V"] = b.full_scale_V;
    j["tia_peak_V"] = b.peak_V;
    j["tia_swing_V"] = b.swing_V;
  }
  j["receiver_saturates"] = b.saturates();
  j["counts"] = Json{
      {"laser_photons", b.counts.laser_photons},     {"input_symbols", b.counts.input_symbols},
      {"weight_symbols", b.counts.weight_symbols},   {"dac_conversions", b.counts.dac_conversions},
      {"adc_conversions", b.counts.adc_conversions}, {"readouts", b.counts.readouts}};
  if (st.monte_carlo) {
    j["enob_monte_carlo"] = st.monte_carlo->enob;
    j["monte_carlo"] = sampled_json(*st.monte_carlo, "samples");
  }
  if (st.time_domain) {
    j["enob_time_domain"] = st.time_domain->enob;
    j["time_domain"] = sampled_json(*st.time_domain, "runs");
  }
  return j;
}

}  // namespace lumac
