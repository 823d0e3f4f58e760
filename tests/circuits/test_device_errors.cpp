// Static device errors and signal-LO phase in the circuit (issue 15 items 4 and 5): analytic
// oracles for each term, the Monte Carlo over chips against the budget, and a fixed chip.
#include <cmath>
#include <numeric>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/circuits/mac_trace.hpp"
#include "lumac/circuits/vectors.hpp"
#include "lumac/core/units.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

CircuitParams device_defaults() {
  return load_settings({}, {}).circuit;
}

// N inputs uniform in [0, 0.4] (mean 0.2 of full scale) and weights uniform in [-1, 1], with
// full scales 1.
DotProduct positive_inputs(int n, std::uint64_t seed) {
  DotProduct dp = random_dot_product(n, VectorDistribution::uniform, seed);
  for (double& x : dp.x) x = 0.2 * (x + 1);
  return dp;
}

double sum_of(const std::vector<double>& a, auto f) {
  double s = 0;
  for (std::size_t j = 0; j < a.size(); ++j) s += f(j);
  return s;
}

// E[(cos t - 1)^2], E[sin^2 t], E[cos t] and Var[cos t] for t ~ N(0, s^2).
double cos_err2(double s) {
  return (3 - 4 * std::exp(-s * s / 2) + std::exp(-2 * s * s)) / 2;
}
double cos_var(double s) {
  return (1 + std::exp(-2 * s * s)) / 2 - std::exp(-s * s);
}

// A relative comparison (doctest's Approx adds an absolute scale of 1, too loose for values
// well below 1).
doctest::Approx rel(double x) {
  return doctest::Approx(x).scale(0);
}

}  // namespace

TEST_CASE("devices: a weight modulator's bias error is sigma sum v sqrt(1 - u^2) to first order") {
  // PHYSICS: field sin(asin(u) + delta) = u + delta sqrt(1 - u^2) + O(delta^2), so the product
  // moves by delta sum v sqrt(1 - u^2); the input modulator's delta sum sqrt(1 - v^2) u is
  // removed by offset calibration at v = 0 except for delta sum (sqrt(1 - v^2) - 1) u.
  const DotProduct dp = positive_inputs(1000, 3);
  const double s = 1e-3;
  CircuitParams p = device_defaults();
  p.modulator.bias_error_rad = s;
  const auto sources = NoiseSources::none().with(NoiseSource::bias);
  const auto& x = dp.x;
  const auto& w = dp.w;
  const double weight_part =
      sum_of(x, [&](std::size_t j) { return x[j] * std::sqrt(1 - w[j] * w[j]); });
  const double input_cal =
      sum_of(x, [&](std::size_t j) { return (std::sqrt(1 - x[j] * x[j]) - 1) * w[j]; });
  const double input_raw =
      sum_of(x, [&](std::size_t j) { return std::sqrt(1 - x[j] * x[j]) * w[j]; });
  for (bool calibrated : {true, false}) {
    CAPTURE(calibrated);
    p.system.offset_calibration = calibrated;
    const NoiseBudget b = HomodyneMac(p, sources).analyze(dp);
    const double input_part = calibrated ? input_cal : input_raw;
    // Relative error of the first-order form: O(delta^2) from the cos terms' delta^2 / 2.
    CHECK(b.term("bias") == rel(s * std::hypot(weight_part, input_part)).epsilon(1e-4));
    CHECK(b.term("phase") == 0);
    CHECK(b.term("mismatch") == 0);
  }
  // The example: 10 mrad at N = 1000 and mean input 0.2: about 1.6 units of y
  // (0.01 * 1000 * 0.2 * pi / 4), which no laser power removes.
  p.system.offset_calibration = true;
  p.modulator.bias_error_rad = 0.01;
  p.laser.power_W = 1;
  const NoiseBudget loud = HomodyneMac(p).analyze(dp);
  CHECK(loud.term("bias") == rel(0.01 * 1000 * 0.2 * constants::pi / 4).epsilon(0.1));
  CHECK(loud.enob < 6);
}

TEST_CASE(
    "devices: a static LO phase error: cos phi gain, and d phi sum Im(e_s e_L*) with extinction") {
  const DotProduct dp = random_dot_product(200, VectorDistribution::uniform, 4);
  const double ideal = std::inner_product(dp.x.begin(), dp.x.end(), dp.w.begin(), 0.0);
  CircuitParams p = device_defaults();
  const auto sources = NoiseSources::none().with(NoiseSource::phase);
  // Real-free fields (no extinction): the read-out is cos(phi) x.w exactly.
  p.system.lo_phase_error_rad = 0.1;
  const NoiseBudget b = HomodyneMac(p, sources).analyze(dp);
  CHECK(b.term("phase") == rel(std::sqrt(cos_err2(0.1)) * std::abs(ideal)));
  // Small angles: E[(cos t - 1)^2] ~ E[t^4] / 4 = 3 sigma^4 / 4.
  CHECK(b.term("phase") == rel(std::sqrt(0.75) * 0.01 * std::abs(ideal)).epsilon(0.01));
  // With extinction d the quadrature Im(E_s E_L*) = d (v sqrt(1 - u^2) - sqrt(1 - v^2) u) enters
  // at first order; calibration at v = 0 removes -d sum u.
  p.modulator.extinction_ratio_dB = 20;  // d = 0.1
  p.system.lo_phase_error_rad = 1e-3;
  const double d = 0.1;
  const auto& x = dp.x;
  const auto& w = dp.w;
  const double quadrature =
      d * sum_of(x, [&](std::size_t j) {
        return x[j] * std::sqrt(1 - w[j] * w[j]) - (std::sqrt(1 - x[j] * x[j]) - 1) * w[j];
      });
  const NoiseBudget e = HomodyneMac(p, sources.with(NoiseSource::extinction)).analyze(dp);
  CHECK(e.term("phase") == rel(1e-3 * std::abs(quadrature)).epsilon(1e-3));
}

TEST_CASE(
    "devices: responsivity mismatch leaks (m / 4) sqrt(n_s / n_L) sum v^2 after calibration") {
  // Diodes eta (1 +- m / 2): the mean difference gains eta (m / 2) sum (n_s v^2 + n_L u^2)
  // electrons; in units of y (G = 2 eta sqrt(n_s n_L)) that is (m / 4) (sqrt(n_s / n_L) sum v^2
  // + sqrt(n_L / n_s) sum u^2), and the zero-input trim removes the u^2 part only.
  const DotProduct dp = random_dot_product(300, VectorDistribution::uniform, 5);
  CircuitParams p = device_defaults();
  p.system.signal_split = 0.25;  // n_s / n_L = 1 / 3: a swap of the two shows
  p.detector.responsivity_mismatch = 0.02;
  const auto sources = NoiseSources::none().with(NoiseSource::mismatch);
  double s = 0, u = 0;
  for (std::size_t j = 0; j < dp.x.size(); ++j) {
    s += dp.x[j] * dp.x[j];
    u += dp.w[j] * dp.w[j];
  }
  const double r = std::sqrt(1.0 / 3);
  p.system.offset_calibration = true;
  CHECK(HomodyneMac(p, sources).analyze(dp).term("mismatch") ==
        rel(0.02 / 4 * r * s).epsilon(1e-9));
  p.system.offset_calibration = false;
  CHECK(HomodyneMac(p, sources).analyze(dp).term("mismatch") ==
        rel(0.02 / 4 * (r * s + u / r)).epsilon(1e-9));
}

TEST_CASE(
    "devices: temporal phase noise: variance Var[cos] y^2 / K and fading (e^(-s^2/2) - 1) y") {
  const DotProduct dp = random_dot_product(64, VectorDistribution::uniform, 6);
  const double ideal = std::inner_product(dp.x.begin(), dp.x.end(), dp.w.begin(), 0.0);
  CircuitParams p = device_defaults();
  p.system.lo_phase_noise_rad = 0.2;
  p.system.repeats = 4;
  const auto sources = NoiseSources::none().with(NoiseSource::phase);
  const NoiseBudget b = HomodyneMac(p, sources).analyze(dp);
  CHECK(b.term("phase_noise") == rel(std::sqrt(cos_var(0.2) / 4) * std::abs(ideal)));
  CHECK(b.term("phase_fading") == rel((1 - std::exp(-0.02)) * std::abs(ideal)));
  CHECK(b.expected == rel(std::exp(-0.02) * ideal));
  // Monte Carlo: mean and spread of the read-outs.
  const double n = 20000;
  const MonteCarloResult mc = HomodyneMac(p, sources).monte_carlo(dp, 20000, 3);
  CHECK(std::abs(mc.mean - b.expected) < mean_tolerance(b.noise_std, n));
  CHECK(std::abs(mc.noise_std / b.noise_std - 1) < 5 / std::sqrt(2 * n));
}

TEST_CASE("devices: the Monte Carlo over chips matches the budget with every spread on") {
  CircuitParams p = device_defaults();
  p.laser.power_W = 1e-4;
  p.modulator.extinction_ratio_dB = 25;
  p.modulator.bias_error_rad = 0.005;
  p.modulator.v_pi_spread = 0.05;
  p.system.lo_phase_error_rad = 0.1;
  p.system.lo_phase_noise_rad = 0.1;
  p.system.splitter_imbalance = 0.05;
  p.detector.responsivity_mismatch = 0.03;
  p.system.repeats = 2;
  const DotProduct dp = positive_inputs(64, 7);
  for (auto averaging : {Averaging::digital, Averaging::analog}) {
    CAPTURE(static_cast<int>(averaging));
    p.system.averaging = averaging;
    const HomodyneMac mac(p);
    const NoiseBudget b = mac.analyze(dp);
    for (const std::string name : {"phase", "phase_noise", "bias", "mismatch", "spread"}) {
      CAPTURE(name);
      CHECK(b.term(name) > 0.05 * b.total_std);
    }
    const double samples = 20000;
    const MonteCarloResult mc = mac.monte_carlo(dp, 20000, 21);
    // 5 standard errors of an RMS estimate; the budget leaves out the spreads' cross terms,
    // of relative order sigma_a sigma_b (< 0.5% here).
    CHECK(std::abs(mc.rms_error / b.total_std - 1) < 5 / std::sqrt(2 * samples) + 0.005);
  }
}

TEST_CASE("devices: a fixed chip is the same in every sample; another seed is another chip") {
  CircuitParams p = device_defaults();
  p.modulator.bias_error_rad = 0.05;
  p.system.lo_phase_error_rad = 0.1;
  p.detector.responsivity_mismatch = 0.02;
  p.system.splitter_imbalance = 0.05;
  p.modulator.v_pi_spread = 0.05;
  const DotProduct dp = positive_inputs(100, 8);
  const auto statics = NoiseSources::none()
                           .with(NoiseSource::bias)
                           .with(NoiseSource::phase)
                           .with(NoiseSource::mismatch)
                           .with(NoiseSource::spread);
  auto chip_readout = [&](int device_seed) {
    CircuitParams q = p;
    q.system.device_seed = device_seed;
    const HomodyneMac mac(q, statics);
    const EncodedDotProduct e = mac.encode(dp);
    const DeviceErrors dev = draw_device(
        q, statics, RandomStream(static_cast<std::uint64_t>(device_seed), Stream::device), 0, 0, 0);
    CHECK_FALSE(dev.nominal());
    const double r = mac.mean_charge(mac.window(e, {}, dev), dev) - mac.zero_input_offset(e, dev);
    return std::pair{r / mac.gain_electrons_per_unit(e), mac.monte_carlo(dp, 50, 1)};
  };
  // (No structured bindings: clang 14 cannot use them in doctest's CHECK.)
  const auto chip7 = chip_readout(7);
  const double r7 = chip7.first;
  const MonteCarloResult mc7 = chip7.second;
  // No temporal source: every sample reads the chip's value.
  CHECK(mc7.noise_std < 1e-9 * std::abs(r7));
  CHECK(mc7.mean == rel(r7).epsilon(1e-12));
  CHECK(chip_readout(7).second.mean == mc7.mean);
  const auto chip8 = chip_readout(8);
  CHECK(std::abs(chip8.first - r7) > 1e-3 * std::abs(r7));
  CHECK(chip8.second.mean == rel(chip8.first).epsilon(1e-12));
  // device_seed 0: a new chip every sample, whose spread is the budget's static RMS.
  const HomodyneMac ensemble(p, statics);
  const NoiseBudget b = ensemble.analyze(dp);
  const double samples = 4000;
  const MonteCarloResult mc = ensemble.monte_carlo(dp, 4000, 2);
  CHECK(mc.noise_std > 0);
  CHECK(std::abs(mc.rms_error / b.total_std - 1) < 5 / std::sqrt(2 * samples) + 0.01);
}

TEST_CASE("devices: draw_device is a function of (seed, chip, row, output) and the sources") {
  CircuitParams p = device_defaults();
  p.modulator.bias_error_rad = 0.01;
  p.system.lo_phase_error_rad = 0.02;
  const RandomStream rng(5, Stream::device);
  const DeviceErrors a = draw_device(p, NoiseSources::all(), rng, 0, 1, 2);
  const DeviceErrors b = draw_device(p, NoiseSources::all(), rng, 0, 1, 2);
  CHECK(a.weight.bias_rad == b.weight.bias_rad);
  CHECK(a.lo_phase_rad == b.lo_phase_rad);
  // The input modulator belongs to the row: shared by the outputs of that row.
  const DeviceErrors c = draw_device(p, NoiseSources::all(), rng, 0, 1, 3);
  CHECK(c.input.bias_rad == a.input.bias_rad);
  CHECK(c.weight.bias_rad != a.weight.bias_rad);
  CHECK(draw_device(p, NoiseSources::all(), rng, 0, 2, 2).input.bias_rad != a.input.bias_rad);
  CHECK(draw_device(p, NoiseSources::all(), rng, 1, 1, 2).weight.bias_rad != a.weight.bias_rad);
  // A source that is off leaves its devices nominal.
  const DeviceErrors off =
      draw_device(p, NoiseSources::all().without(NoiseSource::bias), rng, 0, 1, 2);
  CHECK(off.weight.bias_rad == 0);
  CHECK(off.lo_phase_rad == a.lo_phase_rad);
  // The LO phase and the balanced pair belong to the detector (row, output): B M of them.
  p.detector.responsivity_mismatch = 0.01;
  const DeviceErrors e = draw_device(p, NoiseSources::all(), rng, 0, 1, 2);
  CHECK(draw_device(p, NoiseSources::all(), rng, 0, 1, 3).responsivity_mismatch !=
        e.responsivity_mismatch);
  CHECK(draw_device(p, NoiseSources::all(), rng, 0, 2, 2).responsivity_mismatch !=
        e.responsivity_mismatch);
  CHECK(draw_device(p, NoiseSources::all(), rng, 0, 2, 2).lo_phase_rad != a.lo_phase_rad);
  // Over many outputs the draws have the configured std (5 standard errors of a variance).
  double sum_sq = 0;
  const int n = 4000;
  for (int o = 0; o < n; ++o)
    sum_sq += std::pow(
        draw_device(p, NoiseSources::all(), rng, 0, 0, static_cast<std::uint64_t>(o)).lo_phase_rad,
        2);
  CHECK(std::abs(sum_sq / n - 4e-4) < variance_tolerance(4e-4, n));
}

TEST_CASE("devices: the time-domain trace runs on the same chip as the Monte Carlo") {
  CircuitParams p = device_defaults();
  // 20 THz devices: the inter-symbol interference (about 10% of the V_pi error's effect at
  // 200 GHz) falls below 0.2%.
  p.modulator.bandwidth_Hz = 20e12;
  p.detector.bandwidth_Hz = 20e12;
  p.modulator.bias_error_rad = 0.05;
  p.system.lo_phase_error_rad = 0.2;
  p.detector.responsivity_mismatch = 0.05;
  p.system.splitter_imbalance = 0.1;
  p.modulator.v_pi_spread = 0.1;
  p.modulator.weight_noise_std = 0.05;
  p.modulator.weight_noise_kind = WeightNoiseKind::static_;
  p.system.device_seed = 4;
  const DotProduct dp = random_dot_product(16, VectorDistribution::uniform, 9);
  TraceOptions opt;
  opt.samples_per_symbol = 1;
  opt.record = false;
  const HomodyneMac nominal(p, NoiseSources::none());
  const double mc0 = nominal.monte_carlo(dp, 2, 1).mean;
  const double tr0 = simulate_trace(nominal, dp, opt).readout;
  // Each source alone (their effects partly cancel together): the trace moves as the Monte
  // Carlo's read-out of the same chip does.
  for (NoiseSource source : {NoiseSource::bias, NoiseSource::phase, NoiseSource::mismatch,
                             NoiseSource::spread, NoiseSource::weight}) {
    CAPTURE(noise_source_name(source));
    const HomodyneMac chip(p, NoiseSources::none().with(source));
    const double moved = chip.monte_carlo(dp, 2, 1).mean - mc0;
    const double traced = simulate_trace(chip, dp, opt).readout - tr0;
    CHECK(std::abs(moved) > 1e-3);
    CHECK(traced == rel(moved).epsilon(0.02));
    // A fixed chip: a second run (another run index) sees the same devices.
    TraceOptions again = opt;
    again.run = 5;
    CHECK(simulate_trace(chip, dp, again).readout == rel(simulate_trace(chip, dp, opt).readout));
  }
}

TEST_CASE("devices: the trace's temporal phase noise is the Monte Carlo's, repeat by repeat") {
  // The same draws (seed, sample or run, repeat) in both: with phase noise the only source
  // their read-outs agree run by run up to the trace's inter-symbol interference.
  CircuitParams p = device_defaults();
  p.modulator.bandwidth_Hz = 200e9;
  p.detector.bandwidth_Hz = 200e9;
  p.system.lo_phase_noise_rad = 0.3;
  p.system.repeats = 4;
  const DotProduct dp = random_dot_product(16, VectorDistribution::uniform, 9);
  const HomodyneMac noisy(p, NoiseSources::none().with(NoiseSource::phase));
  const MonteCarloResult td = time_domain_monte_carlo(noisy, dp, 100, 3, 1);
  const MonteCarloResult mc = noisy.monte_carlo(dp, 100, 3);
  CHECK(td.noise_std == rel(mc.noise_std).epsilon(0.02));
  CHECK(td.mean == rel(mc.mean).epsilon(0.02));
  // (A phase per run instead of per repeat, or the repeats' draws shifted, would differ by
  // far more: the spread over 100 runs has a relative standard error of about 20%.)
  CHECK(mc.noise_std == rel(noisy.analyze(dp).term("phase_noise")).epsilon(0.5));
}

TEST_CASE("devices: each static spread alone: the Monte Carlo over chips has the budget's RMS") {
  // One spread at a time (the combined test sees mostly the large ones). Each error is close
  // to linear in a normal draw, so the RMS over S chips has a relative standard error
  // 1 / sqrt(2 S); 5 of them.
  const DotProduct dp = positive_inputs(64, 10);
  const double samples = 20000;
  struct Case {
    const char* key;
    NoiseSource source;
    const char* term;
  };
  for (const Case c :
       {Case{"detector.responsivity_mismatch=0.03", NoiseSource::mismatch, "mismatch"},
        Case{"modulator.v_pi_spread=0.05", NoiseSource::spread, "spread"},
        Case{"system.splitter_imbalance=0.05", NoiseSource::spread, "spread"},
        Case{"system.lo_phase_error_rad=0.1", NoiseSource::phase, "phase"},
        Case{"modulator.bias_error_rad=0.01", NoiseSource::bias, "bias"}}) {
    CAPTURE(c.key);
    const CircuitParams p = load_settings({}, {c.key}).circuit;
    const auto sources = NoiseSources::none().with(c.source).with(NoiseSource::extinction);
    const HomodyneMac mac(p, sources);
    const NoiseBudget b = mac.analyze(dp);
    CHECK(b.term(c.term) > 0.9 * b.total_std);
    const MonteCarloResult mc = mac.monte_carlo(dp, 20000, 4);
    CHECK(std::abs(mc.rms_error / b.total_std - 1) < 5 / std::sqrt(2 * samples));
  }
}
