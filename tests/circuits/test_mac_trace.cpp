#include "lumac/circuits/mac_trace.hpp"
#include "lumac/circuits/vectors.hpp"
#include "lumac/core/precision.hpp"
#include "lumac/devices/converters.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

CircuitParams fast_circuit() {
  CircuitParams p = load_settings({}, {}).circuit;
  p.modulator.bandwidth_Hz = 200e9;  // 20 times the 10 GS/s symbol rate
  p.detector.bandwidth_Hz = 200e9;
  return p;
}

}  // namespace

TEST_CASE(
    "trace: with bandwidths far above the symbol rate the time domain reproduces the statistical "
    "model") {
  CircuitParams p = fast_circuit();
  p.laser.power_W = 5e-5;
  p.laser.rin_dB_per_Hz = -118;
  p.detector.dark_current_A = 1e-6;
  // A fixed 10 fF integrator without CDS (kTC shows), current and read-out voltage noise.
  p.detector.integrator_capacitance_F = 10e-15;
  p.detector.correlated_double_sampling = false;
  p.detector.amplifier_noise_A_per_rtHz = 3e-12;
  p.detector.readout_noise_V_per_rtHz = 40e-9;
  const DotProduct dp = random_dot_product(8, VectorDistribution::uniform, 3);
  const auto sources = NoiseSources::all().without(NoiseSource::adc);
  const HomodyneMac mac(p, sources);
  const NoiseBudget b = mac.analyze(dp);
  // Every noise source matters here.
  for (const std::string name : {"shot", "dark", "reset", "amplifier", "rin"}) {
    CAPTURE(name);
    CHECK(b.term(name) > 0.05 * b.noise_std);
  }
  // Deterministic: the residual inter-symbol interference is below 1% of the range.
  TraceOptions opt;
  opt.samples_per_symbol = 2;
  opt.record = false;
  const HomodyneMac quiet(
      p, NoiseSources::none().with(NoiseSource::dac).with(NoiseSource::extinction));
  const double deterministic = simulate_trace(quiet, dp, opt).readout;
  CHECK(std::abs(deterministic - b.expected) < 0.01 * b.range);
  // Noise: 1000 runs; mean within 5 standard errors of the noise-free run, std within 5
  // standard errors (relative 5 / sqrt(2 n)) of the statistical noise std.
  const double runs = 1000;
  const MonteCarloResult td = time_domain_monte_carlo(mac, dp, 1000, 11, 2);
  CHECK(std::abs(td.mean - deterministic) < mean_tolerance(b.noise_std, runs));
  CHECK(std::abs(td.noise_std / b.noise_std - 1) < 5 / std::sqrt(2 * runs));
}

TEST_CASE(
    "trace: ENOB falls monotonically as the modulator bandwidth falls below the symbol rate") {
  CircuitParams p = load_settings({}, {}).circuit;
  p.detector.bandwidth_Hz = 100e9;
  const auto sources = NoiseSources::none();
  TraceOptions opt;
  opt.samples_per_symbol = 4;
  opt.record = false;
  double previous = 1e9;
  for (double bw : {40e9, 20e9, 10e9, 5e9, 2.5e9}) {
    p.modulator.bandwidth_Hz = bw;
    const HomodyneMac mac(p, sources);
    // RMS of the inter-symbol-interference error relative to the range, over 20 dot products.
    double sum = 0;
    for (std::uint64_t i = 0; i < 20; ++i) {
      const DotProduct dp = random_dot_product(16, VectorDistribution::uniform, 5, i);
      const MacTrace tr = simulate_trace(mac, dp, opt);
      const double rel = (tr.readout - tr.ideal) / mac.range_of(dp);
      sum += rel * rel;
    }
    const double enob = enob_bits(1.0, std::sqrt(sum / 20));
    CAPTURE(bw);
    CAPTURE(enob);
    CHECK(enob < previous);
    previous = enob;
  }
  // At a quarter of the symbol rate the ISI costs most of the precision.
  CHECK(previous < 3);
}

TEST_CASE(
    "trace: the final integrator charge is the read-out, and the ADC code corresponds to it") {
  CircuitParams p = fast_circuit();
  p.system.offset_calibration = false;  // the read-out is the ADC value itself
  const DotProduct dp = random_dot_product(10, VectorDistribution::positive, 8);
  const HomodyneMac mac(p);
  TraceOptions opt;
  opt.samples_per_symbol = 8;
  const MacTrace tr = simulate_trace(mac, dp, opt);
  REQUIRE(tr.readout_charge_C.size() == 1);
  REQUIRE(tr.adc_codes.size() == 1);
  const double q = constants::elementary_charge_C;
  const double span_e = mac.range_of(dp) * tr.gain_electrons_per_unit;
  const MidRiseQuantizer adc(p.adc.bits, -span_e / 2, span_e / 2);
  CHECK(tr.adc_codes[0] == adc.code(tr.readout_charge_C[0] / q));
  CHECK(tr.readout == doctest::Approx(adc.value(tr.adc_codes[0]) / tr.gain_electrons_per_unit));
  // The recorded charge ends at the sampled value, and the waveforms have one sample per step.
  CHECK(tr.charge_C.back() == doctest::Approx(tr.readout_charge_C[0]));
  CHECK(tr.time_s.size() == tr.charge_C.size());
  CHECK(tr.time_s.size() >= 10u * 8u);
  // The read-out is within a few noise standard deviations of the ideal dot product.
  const NoiseBudget b = mac.analyze(dp);
  CHECK(std::abs(tr.readout - b.ideal) < 6 * b.total_std + 0.01 * b.range);
}

TEST_CASE("trace: repeats give K read-outs for digital averaging and one for analog accumulation") {
  CircuitParams p = fast_circuit();
  p.system.repeats = 3;
  const DotProduct dp = random_dot_product(4, VectorDistribution::uniform, 2);
  TraceOptions opt;
  opt.samples_per_symbol = 2;
  CHECK(simulate_trace(HomodyneMac(p), dp, opt).adc_codes.size() == 3);
  p.system.averaging = Averaging::analog;
  CHECK(simulate_trace(HomodyneMac(p), dp, opt).adc_codes.size() == 1);
}

TEST_CASE("trace: a rate-equation laser switched on just before the dot product corrupts it") {
  CircuitParams p = fast_circuit();
  const DotProduct dp = random_dot_product(8, VectorDistribution::positive, 4);
  const HomodyneMac mac(p, NoiseSources::none());
  TraceOptions opt;
  opt.samples_per_symbol = 4;
  opt.record = false;
  opt.rate_equation_laser = true;
  // At 1.5 I_th the default (1550 nm) laser's carriers take over 0.4 ns to reach threshold,
  // half the 0.8 ns dot product.
  opt.laser_bias_multiple = 1.5;
  CHECK(RateEquationLaser(p.laser).analytic_turn_on_delay_s(
            1.5 * RateEquationLaser(p.laser).threshold_current_A()) > 0.4e-9);
  opt.laser_lead_s = 10e-9;  // settled
  const double settled = simulate_trace(mac, dp, opt).readout;
  opt.laser_lead_s = 0;  // no light for the first symbols
  const double cold = simulate_trace(mac, dp, opt).readout;
  const double ideal = simulate_trace(mac, dp, TraceOptions{}).ideal;
  CHECK(std::abs(settled - ideal) < 0.01 * mac.range_of(dp));
  CHECK(std::abs(cold - ideal) > 0.2 * std::abs(ideal));
}

TEST_CASE("trace: bad options are errors") {
  const HomodyneMac mac(fast_circuit());
  const DotProduct dp = random_dot_product(4, VectorDistribution::uniform, 1);
  TraceOptions opt;
  opt.samples_per_symbol = 0;
  CHECK_THROWS_AS(simulate_trace(mac, dp, opt), Error);
  CHECK_THROWS_AS(random_dot_product(0, VectorDistribution::uniform, 1), Error);
  CHECK_THROWS_AS(time_domain_monte_carlo(mac, dp, 1, 1, 4), Error);
}

TEST_CASE(
    "trace: without pre-distortion the DAC drives V_pi Q(x) and the read-out has the sine error") {
  CircuitParams p = fast_circuit();
  p.modulator.predistortion = false;
  p.dac.bits = 4;  // levels k / 7 of V_pi
  p.laser.power_W = 2e-5;
  const DotProduct dp = random_dot_product(8, VectorDistribution::uniform, 3);
  const HomodyneMac quiet(p, NoiseSources::none().with(NoiseSource::dac));
  const NoiseBudget b = quiet.analyze(dp);
  REQUIRE(b.term("nonlinearity") > 0.02 * b.range);
  TraceOptions opt;
  opt.samples_per_symbol = 4;
  const MacTrace tr = simulate_trace(quiet, dp, opt);
  // The DAC levels are the quantized voltages V_pi round(7 x) / 7, read mid-symbol.
  for (std::size_t j = 0; j < dp.x.size(); ++j) {
    CAPTURE(j);
    CHECK(tr.drive_signal_V[4 * j + 2] ==
          doctest::Approx(p.modulator.v_pi_V * std::round(7 * dp.x[j]) / 7).scale(1));
    CHECK(tr.drive_lo_V[4 * j + 2] ==
          doctest::Approx(p.modulator.v_pi_V * std::round(7 * dp.w[j]) / 7).scale(1));
  }
  // The read-out is the statistical model's mean (sine error and DAC included), up to the
  // residual inter-symbol interference.
  CHECK(std::abs(tr.readout - b.expected) < 0.002 * b.range);
  // Shot noise on top: mean and std of 400 runs against the statistical model.
  const HomodyneMac noisy(p, NoiseSources::none().with(NoiseSource::dac).with(NoiseSource::shot));
  const NoiseBudget bn = noisy.analyze(dp);
  const double runs = 400;
  const MonteCarloResult td = time_domain_monte_carlo(noisy, dp, 400, 13, 2);
  CHECK(std::abs(td.mean - tr.readout) < mean_tolerance(bn.noise_std, runs));
  CHECK(std::abs(td.noise_std / bn.noise_std - 1) < 5 / std::sqrt(2 * runs));
}
