#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/circuits/vectors.hpp"
#include "lumac/core/units.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

DotProduct random_dot_product(int n, std::uint64_t seed) {
  return lumac::random_dot_product(n, VectorDistribution::uniform, seed);
}

CircuitParams defaults() {
  return load_settings({}, {}).circuit;
}

// A receiver whose every noise term shows: a fixed 10 fF integrator without CDS (kTC 40 e) and
// 3 pA/sqrt(Hz) of input current noise.
CircuitParams noisy_receiver(CircuitParams p) {
  p.detector.integrator_capacitance_F = 10e-15;
  p.detector.correlated_double_sampling = false;
  p.detector.amplifier_noise_A_per_rtHz = 3e-12;
  return p;
}

// Tolerance in bits of an ENOB measured from S samples: the standard error of an RMS estimate
// is sigma / sqrt(2 S), i.e. 1 / (sqrt(2 S) ln 2) bits; 5 standard errors.
double enob_tolerance(double samples) {
  return 5 / (std::sqrt(2 * samples) * std::log(2.0));
}

}  // namespace

TEST_CASE(
    "mac: norm-adaptive shot noise gives ENOB = 0.5 log2(N n / 3), analytic and Monte Carlo") {
  const int n = 1000;
  const DotProduct dp = random_dot_product(n, 1);
  for (double photons : {1.0, 21.0}) {
    CircuitParams p = with_photons_per_mac(defaults(), photons);
    p.system.encoding = Encoding::norm_adaptive;
    const HomodyneMac mac(p, NoiseSources::none().with(NoiseSource::shot));
    const NoiseBudget b = mac.analyze(dp);
    const double oracle = 0.5 * std::log2(n * photons / 3);  // 4.19 and 6.39 bits
    CAPTURE(photons);
    CHECK(std::abs(b.enob - oracle) < 0.02);
    CHECK(b.photons_per_mac_detected == doctest::Approx(photons));
    // sigma = ||w|| ||x|| / sqrt(N n)
    double xx = 0, ww = 0;
    for (int j = 0; j < n; ++j) {
      xx += dp.x[j] * dp.x[j];
      ww += dp.w[j] * dp.w[j];
    }
    CHECK(b.term("shot") == doctest::Approx(std::sqrt(xx * ww / (n * photons))));
    const double samples = 20000;
    const MonteCarloResult mc = mac.monte_carlo(dp, static_cast<std::int64_t>(samples), 7);
    CHECK(std::abs(mc.enob - oracle) < 0.1);
    CHECK(std::abs(mc.enob - b.enob) < enob_tolerance(samples));
    CHECK(std::abs(mc.mean - b.ideal) < mean_tolerance(b.noise_std, samples));
  }
}

TEST_CASE("mac: shot-limited digital averaging adds 0.5 log2 K bits") {
  const DotProduct dp = random_dot_product(1000, 2);
  CircuitParams p = with_photons_per_mac(defaults(), 2.0);
  const auto sources = NoiseSources::none().with(NoiseSource::shot);
  const double base = HomodyneMac(p, sources).analyze(dp).enob;
  const double samples = 20000;
  const double base_mc = HomodyneMac(p, sources).monte_carlo(dp, 20000, 3).enob;
  for (int k : {4, 16}) {
    p.system.repeats = k;
    const HomodyneMac mac(p, sources);
    const double gain = mac.analyze(dp).enob - base;
    CAPTURE(k);
    CHECK(gain == doctest::Approx(0.5 * std::log2(k)).epsilon(1e-9));
    const double gain_mc = mac.monte_carlo(dp, 20000, 4).enob - base_mc;
    CHECK(std::abs(gain_mc - 0.5 * std::log2(k)) < std::max(0.05, 2 * enob_tolerance(samples)));
  }
}

TEST_CASE("mac: reset-noise-limited, analog accumulation adds log2 K bits, digital 0.5 log2 K") {
  const DotProduct dp = random_dot_product(256, 3);
  CircuitParams p = noisy_receiver(defaults());
  p.laser.power_W = 1e-5;  // a small signal so that kTC noise matters
  const auto sources = NoiseSources::none().with(NoiseSource::reset);
  const double base = HomodyneMac(p, sources).analyze(dp).enob;
  p.system.repeats = 4;
  p.system.averaging = Averaging::analog;
  const HomodyneMac analog(p, sources);
  CHECK(analog.analyze(dp).enob - base == doctest::Approx(2.0));
  p.system.averaging = Averaging::digital;
  const HomodyneMac digital(p, sources);
  CHECK(digital.analyze(dp).enob - base == doctest::Approx(1.0));
  // Monte Carlo agrees (10^4 samples).
  const double samples = 10000;
  CHECK(std::abs(analog.monte_carlo(dp, 10000, 5).enob - analog.analyze(dp).enob) <
        enob_tolerance(samples));
  CHECK(std::abs(digital.monte_carlo(dp, 10000, 5).enob - digital.analyze(dp).enob) <
        enob_tolerance(samples));
  // One conversion for analog accumulation, K for digital averaging.
  CHECK(analog.analyze(dp).counts.adc_conversions == 1);
  CHECK(digital.analyze(dp).counts.adc_conversions == 4);
}

TEST_CASE(
    "mac: with very large optical power and no other noise the ENOB approaches the ADC bits") {
  const DotProduct dp = random_dot_product(1000, 4);
  CircuitParams p = defaults();
  p.laser.power_W = 10.0;
  for (int bits : {6, 8, 10}) {
    p.adc.bits = bits;
    const HomodyneMac mac(p, NoiseSources::none().with(NoiseSource::shot).with(NoiseSource::adc));
    const NoiseBudget b = mac.analyze(dp);
    CAPTURE(bits);
    CHECK(b.enob < bits);
    CHECK(b.enob > bits - 0.05);
  }
  // The ADC span is range_scale times the range: doubling it costs one bit.
  p.adc.bits = 8;
  p.adc.range_scale = 2;
  const HomodyneMac mac(p, NoiseSources::none().with(NoiseSource::adc));
  CHECK(mac.analyze(dp).enob == doctest::Approx(7.0));
}

TEST_CASE("mac: Monte Carlo matches the statistical model on the full default noise budget") {
  for (auto averaging : {Averaging::digital, Averaging::analog}) {
    CircuitParams p = noisy_receiver(defaults());
    p.laser.power_W = 1e-4;
    p.modulator.weight_noise_std = 0.01;
    p.system.repeats = 3;
    p.system.averaging = averaging;
    p.detector.dark_current_A = 1e-6;
    p.laser.rin_dB_per_Hz = -120;
    for (auto kind : {WeightNoiseKind::temporal, WeightNoiseKind::static_}) {
      p.modulator.weight_noise_kind = kind;
      const DotProduct dp = random_dot_product(64, 5);
      const HomodyneMac mac(p);
      const NoiseBudget b = mac.analyze(dp);
      // Every temporal source contributes a visible share.
      for (const char* name : {"shot", "dark", "reset", "amplifier", "rin", "weight", "adc"}) {
        CAPTURE(name);
        CHECK(b.term(name) > 0.02 * b.noise_std);
      }
      const double samples = 20000;
      const MonteCarloResult mc = mac.monte_carlo(dp, 20000, 9);
      CAPTURE(static_cast<int>(averaging));
      CAPTURE(static_cast<int>(kind));
      CHECK(std::abs(mc.rms_error / b.total_std - 1) < 5 / std::sqrt(2 * samples));
      CHECK(std::abs(mc.mean - b.expected) < mean_tolerance(b.noise_std, samples));
    }
  }
}

TEST_CASE("mac: static weight noise is not averaged by repeats, temporal is") {
  const DotProduct dp = random_dot_product(100, 6);
  CircuitParams p = defaults();
  p.modulator.weight_noise_std = 0.02;
  const auto sources = NoiseSources::none().with(NoiseSource::weight);
  const double w1 = HomodyneMac(p, sources).analyze(dp).term("weight");
  // sigma_w m_w ||x||
  double xx = 0;
  for (double v : dp.x) xx += v * v;
  CHECK(w1 == doctest::Approx(0.02 * std::sqrt(xx)));
  p.system.repeats = 4;
  CHECK(HomodyneMac(p, sources).analyze(dp).term("weight") == doctest::Approx(w1 / 2));
  p.modulator.weight_noise_kind = WeightNoiseKind::static_;
  CHECK(HomodyneMac(p, sources).analyze(dp).term("weight") == doctest::Approx(w1));
}

TEST_CASE("mac: deterministic errors of DAC quantization, extinction and clipping") {
  DotProduct dp = random_dot_product(200, 7);
  CircuitParams p = defaults();
  const HomodyneMac none(p, NoiseSources::none());
  const NoiseBudget clean = none.analyze(dp);
  CHECK(clean.expected == doctest::Approx(clean.ideal).epsilon(1e-12));
  CHECK(clean.total_std == doctest::Approx(0).scale(1));
  // Extinction: the d^2 sqrt(1-v^2) sqrt(1-u^2) term, d^2 = 10^-3 at 30 dB; offset calibration
  // subtracts its zero-input value d^2 sum sqrt(1-u^2), leaving d^2 sum (sqrt(1-v^2) - 1)
  // sqrt(1-u^2) (the same analytic, Monte Carlo and trace read-out).
  double untrimmed = 0, trimmed = 0;
  for (std::size_t j = 0; j < dp.x.size(); ++j) {
    const double cu = std::sqrt(1 - dp.w[j] * dp.w[j]), cv = std::sqrt(1 - dp.x[j] * dp.x[j]);
    untrimmed += 1e-3 * cv * cu;
    trimmed += 1e-3 * (cv - 1) * cu;
  }
  const auto ext_only = NoiseSources::none().with(NoiseSource::extinction);
  const NoiseBudget ext = HomodyneMac(p, ext_only).analyze(dp);
  CHECK(ext.expected - ext.ideal == doctest::Approx(trimmed).epsilon(1e-9));
  CHECK(std::abs(trimmed) < 0.5 * std::abs(untrimmed));
  const MonteCarloResult ext_mc =
      HomodyneMac(p, ext_only.with(NoiseSource::shot)).monte_carlo(dp, 4000, 2);
  CHECK(std::abs(ext_mc.mean - ext.expected) < mean_tolerance(ext_mc.noise_std, 4000));
  p.system.offset_calibration = false;
  const NoiseBudget raw = HomodyneMac(p, ext_only).analyze(dp);
  CHECK(raw.expected - raw.ideal == doctest::Approx(untrimmed).epsilon(1e-9));
  p.system.offset_calibration = true;
  // DAC: 8-bit mid-tread drives.
  const NoiseBudget dac = HomodyneMac(p, NoiseSources::none().with(NoiseSource::dac)).analyze(dp);
  CHECK(dac.term("dac") > 0);
  CHECK(dac.term("dac") < 200 * 2.0 / 127);
  // Clipping: inputs beyond full scale are clipped whatever the sources.
  dp.x[0] = 3;
  const NoiseBudget clip = none.analyze(dp);
  CHECK(clip.term("clipping") == doctest::Approx(std::abs(2 * dp.w[0])));
}

TEST_CASE("mac: photons per symbol follow the laser power through the link budget") {
  CircuitParams p = with_photons_per_mac(defaults(), 10);
  const HomodyneMac mac(p);
  CHECK(mac.photons_per_mac_full_scale() == doctest::Approx(10));
  // Full scale inputs and weights (all ones): detected photons per MAC = the full-scale figure.
  DotProduct ones;
  ones.x.assign(50, 1.0);
  ones.w.assign(50, 1.0);
  const NoiseBudget b = HomodyneMac(p, NoiseSources::none().with(NoiseSource::shot)).analyze(ones);
  CHECK(b.photons_per_mac_detected == doctest::Approx(10));
  // Laser photons per output: P N T / (E_ph M).
  CHECK(b.counts.laser_photons ==
        doctest::Approx(p.laser.power_W * 50 * 1e-10 / (1.28158e-19 * 32)).epsilon(1e-4));
  CHECK(b.counts.weight_symbols == 50);
  CHECK(b.counts.input_symbols == doctest::Approx(50.0 / 32));
}

TEST_CASE("mac: bad dot products are errors") {
  const HomodyneMac mac(defaults());
  DotProduct dp;
  CHECK_THROWS_WITH_AS(mac.analyze(dp), doctest::Contains("fan-in"), Error);
  dp.x = {1, 2};
  dp.w = {1};
  CHECK_THROWS_WITH_AS(mac.analyze(dp), doctest::Contains("2 inputs but 1 weights"), Error);
  dp.w = {1, std::nan("")};
  CHECK_THROWS_AS(mac.analyze(dp), Error);
  dp.w = {1, 1};
  dp.x_full_scale = 0;
  CHECK_THROWS_AS(mac.analyze(dp), Error);
  CHECK_THROWS_AS(with_photons_per_mac(defaults(), -1), Error);
  CHECK_THROWS_AS(with_photons_per_mac(defaults(), 0), Error);
}

TEST_CASE("mac: the layer noise polynomial equals the exact budget, source by source") {
  // Three receivers: the default (sized, CDS), sized without CDS (kTC ~ C ~ the laser power),
  // and a fixed 10 fF capacitor.
  CircuitParams sized_ktc = defaults();
  sized_ktc.detector.correlated_double_sampling = false;
  for (CircuitParams p : {defaults(), sized_ktc, noisy_receiver(defaults())}) {
    p.laser.power_W = 3e-5;
    p.laser.rin_dB_per_Hz = -120;
    p.modulator.weight_noise_std = 0.01;
    CAPTURE(p.detector.integrator_capacitance_F);
    CAPTURE(p.detector.correlated_double_sampling);
    for (auto averaging : {Averaging::digital, Averaging::analog}) {
      p.system.averaging = averaging;
      p.system.repeats = 3;
      const DotProduct dp = random_dot_product(300, 9);
      // Extinction and the deterministic DAC error are what the polynomial leaves out.
      const auto sources =
          NoiseSources::all().without(NoiseSource::extinction).without(NoiseSource::dac);
      const HomodyneMac mac(p, sources);
      const NoiseBudget b = mac.analyze(dp);
      double s = 0, u = 0, c = 0, s4 = 0, u4 = 0;
      for (std::size_t j = 0; j < dp.x.size(); ++j) {
        const double v2 = dp.x[j] * dp.x[j], w2 = dp.w[j] * dp.w[j];
        s += v2;
        u += w2;
        c += v2 * w2;
        s4 += v2 * v2;
        u4 += w2 * w2;
      }
      const LayerNoiseModel m = mac.layer_noise(300, 1, 1, b.range);
      for (std::size_t i = 0; i < m.source_names.size(); ++i) {
        const std::string name(m.source_names[i]);
        if (name == "dac") continue;
        CAPTURE(name);
        CHECK(std::sqrt(m.by_source[i](s, u, c, s4, u4)) ==
              doctest::Approx(b.term(name)).epsilon(1e-9));
      }
      CHECK(std::sqrt(m.total(s, u, c, s4, u4)) == doctest::Approx(b.noise_std).epsilon(1e-9));
      // The derivative with respect to the log of the laser power matches a finite difference.
      const double h = 1e-4;
      const double up = mac.layer_noise(300, 1, 1, b.range, std::exp(h)).total(s, u, c, s4, u4);
      const double down = mac.layer_noise(300, 1, 1, b.range, std::exp(-h)).total(s, u, c, s4, u4);
      CHECK(m.d_total_d_log_scale(s, u, c, s4, u4) ==
            doctest::Approx((up - down) / (2 * h)).epsilon(1e-6));
    }
  }
  CircuitParams p = defaults();
  // DAC as noise: an 8-bit mid-tread DAC on the drive voltage over [-V_pi, V_pi] (step 2 / 254
  // of V_pi) gives every drive v a field variance k (1 - v^2), k = (pi / 2)^2 LSB^2 / 12: the
  // product gets k (s + u - 2 c).
  const HomodyneMac dac_only(p, NoiseSources::none().with(NoiseSource::dac));
  const double lsb = 2.0 / 254, k = std::pow(constants::pi / 2, 2) * lsb * lsb / 12;
  CHECK(dac_only.layer_noise(10, 1, 1, 1).total(3, 4, 0, 0, 0) == doctest::Approx(k * 7));
  CHECK(dac_only.layer_noise(10, 1, 1, 1).total(3, 4, 1.5, 0, 0) == doctest::Approx(k * 4));
}

TEST_CASE("receiver: a sized integrator's read-out noise is fixed relative to full scale") {
  // Only the read-out amplifier's voltage noise: with C = Q_fs q / V_swing and CDS (two
  // samples), its std in units of y is (Q_fs / G) e_n sqrt(2 (pi / 2) B) / V_swing, and
  // Q_fs / G = N m_x m_w: N e_n sqrt(pi B) / V_swing at unit full scales, whatever the laser.
  const int n = 500;
  const DotProduct dp = random_dot_product(n, 21);
  CircuitParams p = defaults();
  p.detector.amplifier_noise_A_per_rtHz = 0;
  {
    // The default sizing holds the charge the ADC spans, range_scale R G / 2: the noise is then
    // (range_scale R / 2) e_n sqrt(pi B) / V_swing in units of y.
    const NoiseBudget b =
        HomodyneMac(p, NoiseSources::none().with(NoiseSource::amplifier)).analyze(dp);
    CHECK(b.term("amplifier") ==
          doctest::Approx(p.adc.range_scale * b.range / 2 * p.detector.readout_noise_V_per_rtHz *
                          std::sqrt(constants::pi * p.detector.readout_bandwidth_Hz) /
                          p.detector.swing_V)
              .epsilon(1e-9));
    CHECK(b.full_scale_V > p.detector.swing_V);  // a full-scale read-out would not fit
  }
  p.detector.integrator_sizing = IntegratorSizing::full_scale;
  const auto amp = NoiseSources::none().with(NoiseSource::amplifier);
  const double oracle = n * p.detector.readout_noise_V_per_rtHz *
                        std::sqrt(constants::pi * p.detector.readout_bandwidth_Hz) /
                        p.detector.swing_V;
  for (double power : {1e-4, 1e-3, 1e-2}) {
    p.laser.power_W = power;
    const NoiseBudget b = HomodyneMac(p, amp).analyze(dp);
    CAPTURE(power);
    CHECK(b.term("amplifier") == doctest::Approx(oracle).epsilon(1e-9));
    CHECK(b.full_scale_V == doctest::Approx(p.detector.swing_V));
    CHECK(b.capacitance_F ==
          doctest::Approx(b.full_scale_charge_electrons * 1.602176634e-19 / p.detector.swing_V));
  }
  // Repeats: digital averaging reads K times (std / sqrt K); analog accumulation needs K times
  // the capacitor for K times the charge, so one read-out of K times the noise in electrons
  // over K times the signal: no gain at all.
  p.system.repeats = 4;
  const NoiseBudget digital = HomodyneMac(p, amp).analyze(dp);
  CHECK(digital.term("amplifier") == doctest::Approx(oracle / 2).epsilon(1e-9));
  p.system.averaging = Averaging::analog;
  const HomodyneMac analog(p, amp);
  const NoiseBudget a = analog.analyze(dp);
  CHECK(a.term("amplifier") == doctest::Approx(oracle).epsilon(1e-9));
  // A fixed capacitor instead: analog accumulation gains K (2 bits).
  p.detector.integrator_capacitance_F = 1e-12;
  p.system.repeats = 1;
  const double one = HomodyneMac(p, amp).analyze(dp).term("amplifier");
  p.system.repeats = 4;
  CHECK(HomodyneMac(p, amp).analyze(dp).term("amplifier") == doctest::Approx(one / 4));
  // Monte Carlo of the sized receiver with analog accumulation agrees (the read-out drawn once).
  const double samples = 20000;
  const MonteCarloResult mc = analog.monte_carlo(dp, 20000, 17);
  CHECK(std::abs(mc.noise_std / a.noise_std - 1) < 5 / std::sqrt(2 * samples));
}

TEST_CASE("receiver: an integrator saturates at C V_swing, a TIA at V_swing / R_f") {
  // Every input and weight at full scale, no extinction residual: each symbol adds
  // d = 2 eta sqrt(n_s n_L) electrons, the free charge is N d, the held one min(N d, C V / q).
  const int n = 100;
  DotProduct dp;
  dp.x.assign(n, 1.0);
  dp.w.assign(n, 1.0);
  CircuitParams p = defaults();
  p.detector.integrator_sizing = IntegratorSizing::full_scale;
  const auto none = NoiseSources::none();
  const HomodyneMac probe(p, none);
  const double eta = p.detector.quantum_efficiency;
  const double d =
      2 * eta *
      std::sqrt(probe.link().signal_photons_per_symbol() * probe.link().lo_photons_per_symbol());
  constexpr double q = 1.602176634e-19;
  // Sized: exactly full, nothing lost.
  const NoiseBudget sized = probe.analyze(dp);
  CHECK(sized.term("saturation") < 1e-9);
  CHECK(sized.peak_V == doctest::Approx(p.detector.swing_V));
  CHECK_FALSE(sized.saturates());
  // A capacitor holding 60% of it.
  p.detector.integrator_capacitance_F = 0.6 * n * d * q / p.detector.swing_V;
  const HomodyneMac small(p, none);
  const NoiseBudget b = small.analyze(dp);
  const double gain = b.gain_electrons_per_unit;
  CHECK(b.saturates());
  CHECK(b.peak_V == doctest::Approx(p.detector.swing_V / 0.6));
  CHECK(b.term("saturation") == doctest::Approx(0.4 * n * d / gain).epsilon(1e-9));
  CHECK(b.expected == doctest::Approx(0.6 * n).epsilon(1e-9));
  // A running sum that only touches the rail: +1 for 70 symbols, then -1 for 30 (y = 40): the
  // charge clips at 60 d during the climb and comes down to 30 d, not 40 d.
  for (int j = 70; j < n; ++j) dp.w[static_cast<std::size_t>(j)] = -1;
  const NoiseBudget r = small.analyze(dp);
  CHECK(r.expected == doctest::Approx(30.0).epsilon(1e-9));
  CHECK(r.term("saturation") == doctest::Approx(10.0).epsilon(1e-9));
  // The Monte Carlo carries the same clipped mean.
  const MonteCarloResult mc = HomodyneMac(p, none.with(NoiseSource::shot)).monte_carlo(dp, 2000, 3);
  CHECK(std::abs(mc.mean - 30.0) < mean_tolerance(mc.noise_std, 2000));
  // TIA: a full-scale symbol drives d q / T through R_f; clipping at half of it halves y.
  p.detector.front_end = FrontEnd::tia;
  p.detector.tia_feedback_ohm = 2 * p.detector.swing_V / (d * q / probe.symbol_period_s());
  const NoiseBudget t = HomodyneMac(p, none).analyze(dp);
  CHECK(t.saturates());
  CHECK(t.peak_V == doctest::Approx(2 * p.detector.swing_V));
  CHECK(t.expected == doctest::Approx(20.0).epsilon(1e-9));
}

namespace {

struct DriveSums {
  double s = 0, u = 0, c = 0, s4 = 0, u4 = 0;
};

// s = sum v^2, u = sum u^2, c = sum v^2 u^2, s4, u4 of the drives v = x / m_x, u = w / m_w.
DriveSums drive_sums(const DotProduct& dp) {
  DriveSums d;
  for (std::size_t j = 0; j < dp.x.size(); ++j) {
    const double v2 = std::pow(dp.x[j] / dp.x_full_scale, 2);
    const double u2 = std::pow(dp.w[j] / dp.w_full_scale, 2);
    d.s += v2;
    d.u += u2;
    d.c += v2 * u2;
    d.s4 += v2 * v2;
    d.u4 += u2 * u2;
  }
  return d;
}

// A dot product of fan-in n with drives uniform in [-1, 1] at full scales m_x = 2, m_w = 1.5
// (so that y = m_x m_w sum v u = 3 sum v u: a unit slip between y and sum v u shows).
DotProduct scaled_dot_product(int n, std::uint64_t seed) {
  DotProduct dp = random_dot_product(n, seed);
  dp.x_full_scale = 2;
  dp.w_full_scale = 1.5;
  for (auto& x : dp.x) x *= 2;
  for (auto& w : dp.w) w *= 1.5;
  return dp;
}

double eval(const NoisePolynomial& p, const DriveSums& d) {
  return p(d.s, d.u, d.c, d.s4, d.u4);
}

}  // namespace

TEST_CASE("mac: shot noise at signal_split 0.25 is sqrt((s / n_L + u / n_s) / (4 eta K)) sum v u") {
  // Full-scale encoding, shot noise only. Shot variance eta sum(n_s v^2 + n_L u^2) electrons^2
  // over a gain G = 2 eta sqrt(n_s n_L) / (m_x m_w): in units of y = m_x m_w sum v u,
  //   sigma_y^2 = (m_x m_w)^2 (s / n_L + u / n_s) / (4 eta K).
  // At split 0.25 the LO carries three times the signal's photons, so swapping n_s and n_L
  // (or dropping the m_x m_w conversion, m_x m_w = 3 here) changes the answer.
  CircuitParams p = defaults();
  p.system.signal_split = 0.25;
  p.system.repeats = 2;
  p.laser.power_W = 2e-5;
  const HomodyneMac mac(p, NoiseSources::none().with(NoiseSource::shot));
  const DotProduct dp = scaled_dot_product(200, 21);
  const NoiseBudget b = mac.analyze(dp);
  const double ns = b.signal_photons_per_symbol, nl = b.lo_photons_per_symbol;
  CHECK(nl == doctest::Approx(3 * ns).epsilon(1e-12));
  CHECK(ns == doctest::Approx(mac.link().signal_photons_per_symbol()).epsilon(1e-12));
  const double eta = p.detector.quantum_efficiency, k = 2;
  const DriveSums d = drive_sums(dp);
  const double sigma_vu = std::sqrt((d.s / nl + d.u / ns) / (4 * eta * k));
  CHECK(b.term("shot") / (2 * 1.5) == doctest::Approx(sigma_vu).epsilon(1e-9));
  const LayerNoiseModel m = mac.layer_noise(200, 2, 1.5, b.range);
  CHECK(std::sqrt(eval(m.by_source[0], d)) / (2 * 1.5) == doctest::Approx(sigma_vu).epsilon(1e-9));
  CHECK(std::sqrt(eval(m.total, d)) == doctest::Approx(b.noise_std).epsilon(1e-9));
}

TEST_CASE("mac: RIN only at signal_split 0.25: analyze() and the layer polynomial agree") {
  CircuitParams p = defaults();
  p.system.signal_split = 0.25;
  p.laser.power_W = 2e-4;
  p.laser.rin_dB_per_Hz = -120;
  for (auto averaging : {Averaging::digital, Averaging::analog}) {
    p.system.averaging = averaging;
    p.system.repeats = 3;
    const HomodyneMac mac(p, NoiseSources::none().with(NoiseSource::rin));
    const DotProduct dp = scaled_dot_product(150, 22);
    const NoiseBudget b = mac.analyze(dp);
    const LayerNoiseModel m = mac.layer_noise(150, 2, 1.5, b.range);
    const DriveSums d = drive_sums(dp);
    const std::string mode(enum_name(averaging));
    CAPTURE(mode);
    REQUIRE(b.term("rin") > 0);
    CHECK(std::sqrt(eval(m.by_source[4], d)) == doctest::Approx(b.term("rin")).epsilon(1e-9));
    CHECK(std::sqrt(eval(m.total, d)) == doctest::Approx(b.noise_std).epsilon(1e-9));
  }
}

TEST_CASE("mac: ADC only, 8 bits, K = 4: analog accumulation 8 bits of ENOB, digital 9") {
  // ENOB = log2(R / (sqrt(12) sigma)) with sigma = LSB / sqrt(12), LSB = range_scale R / 2^b:
  // 8 bits for one read-out. Analog accumulation spans K times the charge (still 8 bits);
  // digital averaging of K = 4 read-outs halves sigma (9 bits).
  CircuitParams p = defaults();
  p.adc.bits = 8;
  p.adc.range_scale = 1;
  p.system.repeats = 4;
  const DotProduct dp = scaled_dot_product(100, 23);
  for (auto [averaging, bits] :
       {std::pair{Averaging::analog, 8.0}, std::pair{Averaging::digital, 9.0}}) {
    p.system.averaging = averaging;
    const HomodyneMac mac(p, NoiseSources::none().with(NoiseSource::adc));
    const NoiseBudget b = mac.analyze(dp);
    const std::string mode(enum_name(averaging));
    CAPTURE(mode);
    CHECK(std::abs(b.enob - bits) < 1e-9);
    const LayerNoiseModel m = mac.layer_noise(100, 2, 1.5, b.range);
    const double sigma = std::sqrt(eval(m.by_source[6], drive_sums(dp)));
    CHECK(std::abs(std::log2(b.range / (std::sqrt(12.0) * sigma)) - bits) < 1e-9);
    CHECK(
        std::abs(std::log2(b.range / (std::sqrt(12.0) * std::sqrt(eval(m.total, drive_sums(dp))))) -
                 bits) < 1e-9);
  }
}

TEST_CASE("mac: the DAC quantizes the pre-distorted drive voltage; the dac error, analytic") {
  // 8 bits: the voltage t = (2 / pi) asin(v) rounds to k / 127 and the field is
  // x_q = sin(pi/2 Q(t)); the dac error is m_x m_w sum (x_q u_q - v u), from the formula here.
  const DotProduct dp = scaled_dot_product(200, 31);
  const NoiseBudget b =
      HomodyneMac(defaults(), NoiseSources::none().with(NoiseSource::dac)).analyze(dp);
  const double pi = constants::pi;
  auto xq = [pi](double v) {
    return std::sin(pi / 2 * std::round(std::asin(v) * 2 / pi * 127) / 127);
  };
  double err = 0, amplitude_err = 0;
  for (std::size_t j = 0; j < dp.x.size(); ++j) {
    const double v = dp.x[j] / 2, u = dp.w[j] / 1.5;
    err += xq(v) * xq(u) - v * u;
    amplitude_err += std::round(v * 127) / 127 * std::round(u * 127) / 127 - v * u;
  }
  err *= 2 * 1.5;
  amplitude_err *= 2 * 1.5;
  CHECK(b.term("dac") == doctest::Approx(std::abs(err)).epsilon(1e-9));
  CHECK(b.expected - b.ideal == doctest::Approx(err).epsilon(1e-6));
  CHECK(b.term("nonlinearity") == 0);
  // Not the amplitude-domain quantizer it replaced.
  CHECK(std::abs(err - amplitude_err) > 0.1 * std::abs(err));
}

TEST_CASE("mac: without pre-distortion the sine transfer's error is the nonlinearity term") {
  // V = V_pi v, field sin(pi v / 2): nonlinearity = m_x m_w sum (sin(pi v/2) sin(pi u/2) - v u).
  const DotProduct dp = scaled_dot_product(200, 32);
  CircuitParams p = defaults();
  p.modulator.predistortion = false;
  const double pi = constants::pi;
  double nl = 0;
  for (std::size_t j = 0; j < dp.x.size(); ++j) {
    const double v = dp.x[j] / 2, u = dp.w[j] / 1.5;
    nl += std::sin(pi * v / 2) * std::sin(pi * u / 2) - v * u;
  }
  nl *= 2 * 1.5;
  const NoiseBudget b = HomodyneMac(p, NoiseSources::none()).analyze(dp);
  CHECK(b.term("nonlinearity") == doctest::Approx(std::abs(nl)).epsilon(1e-12));
  CHECK(b.expected - b.ideal == doctest::Approx(nl).epsilon(1e-9));
  CHECK(b.total_std == doctest::Approx(std::abs(nl)).epsilon(1e-9));
  CHECK(b.term("dac") == 0);
  // With the DAC on V_pi v as well: the dac term is what the uniform voltage grid adds to the
  // sine, sum (sin(pi/2 Q(v)) sin(pi/2 Q(u)) - sin(pi v/2) sin(pi u/2)).
  double dac = 0;
  auto fq = [pi](double v) { return std::sin(pi / 2 * std::round(v * 127) / 127); };
  for (std::size_t j = 0; j < dp.x.size(); ++j) {
    const double v = dp.x[j] / 2, u = dp.w[j] / 1.5;
    dac += fq(v) * fq(u) - std::sin(pi * v / 2) * std::sin(pi * u / 2);
  }
  dac *= 2 * 1.5;
  const NoiseBudget bd = HomodyneMac(p, NoiseSources::none().with(NoiseSource::dac)).analyze(dp);
  CHECK(bd.term("nonlinearity") == doctest::Approx(std::abs(nl)).epsilon(1e-12));
  CHECK(bd.term("dac") == doctest::Approx(std::abs(dac)).epsilon(1e-9));
  CHECK(bd.expected - bd.ideal == doctest::Approx(nl + dac).epsilon(1e-9));
  // Pre-distorted (the default), there is no sine error.
  CHECK(HomodyneMac(defaults(), NoiseSources::none()).analyze(dp).term("nonlinearity") == 0);
}

TEST_CASE("mac: the layer polynomial's DAC term is the mean voltage-domain quantization error") {
  // Drives v, u independent and uniform on [-1, 1] (midpoint grids of M = 400000 points; the
  // grid's own error is far below the tolerance). The exact mean square error of one product,
  //   E[(v' u' - v u)^2] = E[v'^2] E[u'^2] - 2 E[v' v] E[u' u] + E[v^2] E[u^2]
  // (v' = quantized_drive(v, b, true)), against the polynomial's noise equivalent
  // k (E[v^2] + E[u^2] - 2 E[v^2] E[u^2]), k = (pi / 2)^2 LSB^2 / 12. The noise equivalent is
  // first order in the LSB; at 6 to 10 bits it is within 0.1% (measured: 1e-4 at 6 bits), and
  // 1.64 times the amplitude-domain LSB^2 / 12 (s + u) it replaced.
  const int m = 400000;
  for (int bits : {6, 8, 10}) {
    CircuitParams p = defaults();
    p.dac.bits = bits;
    for (bool pre : {true, false}) {
      p.modulator.predistortion = pre;
      double q2 = 0, qf = 0, f2 = 0, v2 = 0;  // E[v'^2], E[v' f], E[f^2], E[v^2]
      for (int i = 0; i < m; ++i) {
        const double v = -1 + (i + 0.5) * 2.0 / m;
        const double f = quantized_drive(v, 0, pre), q = quantized_drive(v, bits, pre);
        q2 += q * q / m;
        qf += q * f / m;
        f2 += f * f / m;
        v2 += v * v / m;
      }
      // Without pre-distortion the error is measured against the sine's field f and the noise
      // equivalent is k (1 - f^2): the polynomial evaluated at the field's sums.
      const double exact = q2 * q2 - 2 * qf * qf + f2 * f2;
      const LayerNoiseModel lm =
          HomodyneMac(p, NoiseSources::none().with(NoiseSource::dac)).layer_noise(1, 1, 1, 1);
      const double poly = lm.by_source[7](f2, f2, f2 * f2, 0, 0);
      CAPTURE(bits);
      CAPTURE(pre);
      CHECK(poly == doctest::Approx(exact).epsilon(1e-3));
      // The amplitude-domain model underestimated it by (pi / 2)^2 (1 - E[v^2]) = 1.64.
      const double lsb = 1.0 / (std::ldexp(1.0, bits - 1) - 1);
      if (pre) CHECK(exact / (lsb * lsb / 12 * 2 * v2) > 1.5);
    }
  }
}

TEST_CASE("mac: Monte Carlo agrees with analyze() without pre-distortion") {
  CircuitParams p = with_photons_per_mac(defaults(), 1000);
  p.modulator.predistortion = false;
  const HomodyneMac mac(p, NoiseSources::none().with(NoiseSource::shot).with(NoiseSource::dac));
  const DotProduct dp = random_dot_product(100, 33);
  const NoiseBudget b = mac.analyze(dp);
  // The sine error dominates: a Monte Carlo that drove the modulators linearly would fail.
  REQUIRE(b.term("nonlinearity") > 3 * b.noise_std);
  const double samples = 20000;
  const MonteCarloResult mc = mac.monte_carlo(dp, static_cast<std::int64_t>(samples), 5);
  CHECK(std::abs(mc.mean - b.expected) < mean_tolerance(b.noise_std, samples));
  CHECK(std::abs(mc.noise_std / b.noise_std - 1) < 5 / std::sqrt(2 * samples));
  CHECK(std::abs(mc.enob - b.enob) < enob_tolerance(samples));
}
