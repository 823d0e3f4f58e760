#include "lumac/core/error.hpp"
#include "lumac/core/units.hpp"
#include "lumac/devices/detector.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

std::vector<double> sample(const BalancedDetector& det, const WindowPhotons& w, double t,
                           double rin_var, NoiseSources sources, ShotModel model, int n) {
  std::vector<double> d(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i)
    d[static_cast<std::size_t>(i)] = det.sample_difference(w, t, rin_var, sources, model, 42,
                                                           {static_cast<std::uint64_t>(i), 0, 0});
  return d;
}

}  // namespace

// A fixed 10 fF integrator without CDS.
DetectorParams integrator() {
  DetectorParams p;
  p.integrator_capacitance_F = 10e-15;
  p.correlated_double_sampling = false;
  return p;
}

TEST_CASE("detector: responsivity and kTC noise") {
  DetectorParams p = integrator();
  p.quantum_efficiency = 1;
  // R = eta q lambda / (h c) = 1.2502 A/W at 1550 nm.
  CHECK(BalancedDetector(p, 1550e-9, 300).responsivity_A_per_W() ==
        doctest::Approx(1.25).epsilon(0.002));
  p.integrator_capacitance_F = 10e-15;
  // sqrt(k_B T C) / q = sqrt(1.380649e-23 * 300 * 1e-14) / 1.602176634e-19 = 40.17 electrons.
  CHECK(std::abs(BalancedDetector(p, 1550e-9, 300).reset_std_electrons() - 40.3) < 0.5);
  CHECK(BalancedDetector(p, 1550e-9, 300).reset_std_electrons() ==
        doctest::Approx(40.169).epsilon(1e-4));
}

TEST_CASE(
    "detector: shot-noise mean 2 eta a_s a_L and variance eta (a_s^2 + a_L^2), exact Poisson") {
  DetectorParams p = integrator();
  p.quantum_efficiency = 0.8;
  const BalancedDetector det(p, 1550e-9, 300);
  WindowPhotons w;
  const double as = std::sqrt(50.0), al = std::sqrt(200.0);
  w.add_symbol(as, al);
  const double mean = 2 * 0.8 * as * al;    // 160
  const double var = 0.8 * (50.0 + 200.0);  // 200
  CHECK(det.mean_difference(w) == doctest::Approx(mean));
  CHECK(det.shot_variance(w) == doctest::Approx(var));
  const int n = 100000;
  for (ShotModel model : {ShotModel::poisson, ShotModel::gaussian}) {
    const Moments m =
        moments(sample(det, w, 1e-10, 0, NoiseSources::none().with(NoiseSource::shot), model, n));
    CHECK(std::abs(m.mean - mean) < mean_tolerance(std::sqrt(var), n));
    CHECK(std::abs(m.variance - var) < variance_tolerance(var, n));
  }
  // Negative a_s (signed field) flips the sign of the mean, not the variance.
  WindowPhotons neg;
  neg.add_symbol(-as, al);
  const Moments mn = moments(sample(
      det, neg, 1e-10, 0, NoiseSources::none().with(NoiseSource::shot), ShotModel::poisson, n));
  CHECK(std::abs(mn.mean + mean) < mean_tolerance(std::sqrt(var), n));
}

TEST_CASE("detector: every noise term adds its analytic variance (n = 1e5)") {
  DetectorParams p = integrator();
  p.quantum_efficiency = 0.8;
  p.dark_current_A = 100e-9;  // 2 I t / q = 12.5 e^2 over 10 ps
  p.amplifier_noise_A_per_rtHz = 3e-12;
  p.readout_noise_V_per_rtHz = 0;
  p.cmrr_dB = 20;
  const BalancedDetector det(p, 1550e-9, 300);
  const double t = 10e-12;
  // Three symbols of a window, with signs.
  WindowPhotons w;
  w.add_symbol(std::sqrt(50.0), std::sqrt(200.0));
  w.add_symbol(-std::sqrt(20.0), std::sqrt(80.0));
  w.add_symbol(std::sqrt(10.0), -std::sqrt(30.0));
  const double rin_var = 5e-3;  // e.g. -110 dB/Hz over a 1 ns symbol: 1e-11 / 2e-9
  const double expected_var = det.shot_variance(w) + det.dark_variance(t) +
                              std::pow(det.reset_std_electrons(), 2) + det.amplifier_variance(t) +
                              det.rin_variance(w, rin_var);
  // Every term is a visible share of the total.
  CHECK(det.dark_variance(t) == doctest::Approx(12.48).epsilon(0.01));
  CHECK(det.amplifier_variance(t) ==
        doctest::Approx(9e-24 * 10e-12 / (2 * 2.566970e-38)).epsilon(1e-4));
  CHECK(det.rin_variance(w, rin_var) > 0.03 * expected_var);
  const int n = 100000;
  const Moments m = moments(sample(det, w, t, rin_var, NoiseSources::all(), ShotModel::poisson, n));
  CHECK(std::abs(m.mean - det.mean_difference(w)) < mean_tolerance(std::sqrt(expected_var), n));
  CHECK(std::abs(m.variance - expected_var) < variance_tolerance(expected_var, n));
  // Sources switch off one at a time: only reset noise.
  const double reset_var = std::pow(det.reset_std_electrons(), 2);
  const Moments r = moments(sample(
      det, w, t, rin_var, NoiseSources::none().with(NoiseSource::reset), ShotModel::poisson, n));
  CHECK(std::abs(r.variance - reset_var) < variance_tolerance(reset_var, n));
  CHECK(std::abs(r.mean - det.mean_difference(w)) < mean_tolerance(std::sqrt(reset_var), n));
}

TEST_CASE("detector: RIN is rejected by the CMRR for common-mode power") {
  DetectorParams p = integrator();
  p.cmrr_dB = 30;
  const BalancedDetector det(p, 1550e-9, 300);
  // Signal only, no LO: no difference signal, common-mode power only.
  WindowPhotons w;
  w.add_symbol(10.0, 0.0);
  const double eta = p.quantum_efficiency;
  // n+ = n- = 50: diff 0, sum 100; variance eta^2 s^2 eps^2 100^2.
  CHECK(det.rin_variance(w, 1e-4) == doctest::Approx(eta * eta * 1e-4 * 1e-3 * 1e4));
}

TEST_CASE("detector: the front ends' read noise, CDS and capacity against their formulas") {
  constexpr double q = 1.602176634e-19, k_b = 1.380649e-23;
  DetectorParams p = integrator();
  p.integrator_capacitance_F = 1e-12;
  p.readout_noise_V_per_rtHz = 5e-9;
  p.readout_bandwidth_Hz = 1e9;
  p.amplifier_noise_A_per_rtHz = 1e-12;
  p.swing_V = 0.8;
  const double t = 100e-9;
  {
    const BalancedDetector det(p, 1550e-9, 300);
    // kTC of 1 pF: sqrt(k T C) / q = 401.7 e; one sample of e_n over the noise bandwidth
    // (pi / 2) B: (C e_n)^2 (pi / 2) B / q^2; current noise i_n^2 t / (2 q^2).
    CHECK(det.reset_std_electrons() == doctest::Approx(std::sqrt(k_b * 300 * 1e-12) / q));
    CHECK(det.reset_std_electrons() == doctest::Approx(401.7).epsilon(1e-3));
    const double v1 = std::pow(1e-12 * 5e-9 / q, 2) * (constants::pi / 2) * 1e9;
    CHECK(det.voltage_noise_variance() == doctest::Approx(v1));
    CHECK(det.current_noise_variance(t) == doctest::Approx(1e-24 * t / (2 * q * q)));
    CHECK(det.amplifier_variance(t) == doctest::Approx(v1 + 1e-24 * t / (2 * q * q)));
    CHECK(det.capacity_electrons() == doctest::Approx(1e-12 * 0.8 / q));
    // CDS: no kTC, the amplifier read twice.
    p.correlated_double_sampling = true;
    const BalancedDetector cds(p, 1550e-9, 300);
    CHECK(cds.reset_std_electrons() == 0);
    CHECK(cds.voltage_noise_variance() == doctest::Approx(2 * v1));
  }
  {
    // TIA: the feedback resistor's 4 k T / R_f adds to the current noise; no kTC, no sampled
    // voltage noise; its output clips at V_swing / R_f.
    p.front_end = FrontEnd::tia;
    p.tia_feedback_ohm = 2e3;
    const BalancedDetector tia(p, 1550e-9, 300);
    const double density = 1e-24 + 4 * k_b * 300 / 2e3;
    CHECK(tia.current_noise_variance(t) == doctest::Approx(density * t / (2 * q * q)));
    CHECK(tia.voltage_noise_variance() == 0);
    CHECK(tia.reset_std_electrons() == 0);
    CHECK(tia.max_current_A() == doctest::Approx(0.8 / 2e3));
  }
  // An integrator sized by the circuit cannot stand alone.
  DetectorParams sized;
  sized.integrator_capacitance_F = 0;
  CHECK_THROWS_WITH_AS(BalancedDetector(sized, 1550e-9, 300),
                       doctest::Contains("needs a circuit to size it from"), Error);
}

TEST_CASE("noise sources: parse and print") {
  CHECK(NoiseSources::parse("shot,dark").to_string() == "shot,dark");
  CHECK(NoiseSources::parse("all") == NoiseSources::all());
  CHECK(NoiseSources::parse("none") == NoiseSources::none());
  CHECK_THROWS_WITH_AS(NoiseSources::parse("shot,thermal"),
                       doctest::Contains("unknown noise source 'thermal'"), Error);
}
