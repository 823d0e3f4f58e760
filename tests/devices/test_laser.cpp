#include <algorithm>

#include "lumac/devices/laser.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

TEST_CASE("laser: CW figures") {
  LaserParams p;
  p.power_W = 1e-3;
  const Laser l(p);
  // E = h c / lambda = 6.62607015e-34 * 299792458 / 1550e-9 = 1.28158e-19 J.
  CHECK(l.photon_energy_J() == doctest::Approx(1.2816e-19).epsilon(5e-5));
  CHECK(l.photon_flux_per_s() == doctest::Approx(1e-3 / 1.28158e-19).epsilon(1e-4));
  CHECK(l.electrical_power_W() == doctest::Approx(1e-3 / 0.2));
  // -150 dB/Hz over 1 GHz: 1e-15 * 1e9 = 1e-6.
  CHECK(l.relative_intensity_variance(1e9) == doctest::Approx(1e-6));
  // Shot-noise floor 2 h nu / P at 1 mW: 10 log10(2.563e-16) = -155.9 dB/Hz.
  CHECK(l.shot_noise_rin_floor_dB_per_Hz() == doctest::Approx(-155.91).epsilon(1e-3));
}

TEST_CASE("laser: rate-equation threshold and slope from simulated L-I within 2% of analytic") {
  const RateEquationLaser laser{LaserParams{}};
  const double ith = laser.threshold_current_A();
  // Analytic values for the Coldren example (see PHYSICS.md §6): I_th about 1 mA,
  // slope eta_i alpha_m/(alpha_i+alpha_m) h nu/q.
  CHECK(ith > 0.5e-3);
  CHECK(ith < 2e-3);
  CHECK(laser.photon_lifetime_s() == doctest::Approx(2.77e-12).epsilon(0.01));
  // Simulated steady states (integrated to equilibrium) at three currents above threshold.
  std::vector<double> currents{2 * ith, 3 * ith, 4 * ith}, powers;
  for (double i : currents) {
    const auto trace = laser.simulate([i](double) { return i; }, {}, 30e-9, 0.1e-9);
    powers.push_back(trace.back().power_W);
    // Converged: the last nanosecond changes by less than 1e-5 relative.
    CHECK(std::abs(trace.back().power_W - trace[trace.size() - 11].power_W) <
          1e-5 * trace.back().power_W);
  }
  // Least-squares line P = s (I - I0).
  const double n = 3;
  double mi = 0, mp = 0;
  for (int k = 0; k < 3; ++k) {
    mi += currents[k] / n;
    mp += powers[k] / n;
  }
  double sxy = 0, sxx = 0;
  for (int k = 0; k < 3; ++k) {
    sxy += (currents[k] - mi) * (powers[k] - mp);
    sxx += (currents[k] - mi) * (currents[k] - mi);
  }
  const double slope = sxy / sxx;
  const double threshold = mi - mp / slope;
  CHECK(slope == doctest::Approx(laser.slope_efficiency_W_per_A()).epsilon(0.02));
  CHECK(threshold == doctest::Approx(ith).epsilon(0.02));
  // The algebraic steady state agrees with the integrated one.
  const auto ss = laser.steady_state(3 * ith);
  CHECK(laser.output_power_W(ss.photons_per_m3) == doctest::Approx(powers[1]).epsilon(1e-4));
}

TEST_CASE("laser: small-signal relaxation oscillation within 10% of omega_R^2 = v_g a S / tau_p") {
  const RateEquationLaser laser{LaserParams{}};
  const double i0 = 3 * laser.threshold_current_A();
  const auto start = laser.steady_state(i0);
  const double dt = 0.5e-12;
  const auto trace = laser.simulate([i0](double) { return 1.02 * i0; }, start, 4e-9, dt);
  // Peaks of the ringing output power.
  std::vector<double> peaks;
  for (std::size_t k = 1; k + 1 < trace.size(); ++k)
    if (trace[k].power_W > trace[k - 1].power_W && trace[k].power_W >= trace[k + 1].power_W)
      peaks.push_back(trace[k].time_s);
  REQUIRE(peaks.size() >= 4);
  const double period = (peaks[3] - peaks[0]) / 3;
  const double f_measured = 1 / period;
  const double f_analytic = laser.analytic_relaxation_frequency_Hz(i0);
  CAPTURE(f_measured);
  CAPTURE(f_analytic);
  CHECK(f_measured == doctest::Approx(f_analytic).epsilon(0.10));
}

TEST_CASE("laser: turn-on delay matches the carrier build-up integral") {
  const RateEquationLaser laser{LaserParams{}};
  const double i = 2 * laser.threshold_current_A();
  const double analytic = laser.analytic_turn_on_delay_s(i);
  const auto trace = laser.simulate([i](double) { return i; }, {}, 5e-9, 1e-12);
  const double n_th = laser.threshold_density_per_m3();
  const auto crossing = std::find_if(trace.begin(), trace.end(),
                                     [&](const auto& s) { return s.carriers_per_m3 >= n_th; });
  REQUIRE(crossing != trace.end());
  CAPTURE(analytic);
  CAPTURE(crossing->time_s);
  // Carriers reach threshold when the integral says (stimulated emission is negligible
  // before); sampled every 1 ps.
  CHECK(crossing->time_s == doctest::Approx(analytic).epsilon(0.02));
  // Light follows after the photon build-up: half the final power comes later.
  const double p_final = laser.output_power_W(laser.steady_state(i).photons_per_m3);
  const auto half = std::find_if(trace.begin(), trace.end(),
                                 [&](const auto& s) { return s.power_W > 0.5 * p_final; });
  REQUIRE(half != trace.end());
  CHECK(half->time_s > crossing->time_s);
}

TEST_CASE("laser: invalid parameters are rejected with the field named") {
  LaserParams p;
  p.power_W = -1;
  CHECK_THROWS_WITH_AS(Laser{p}, "laser.power_W = -1: must be finite and > 0", Error);
  p = {};
  p.wall_plug_efficiency = 0;
  CHECK_THROWS_WITH_AS(Laser{p}, "laser.wall_plug_efficiency = 0: must be in (0, 1]", Error);
  p = {};
  p.gain_offset_density_per_m3 = -2e24;
  CHECK_THROWS_AS(RateEquationLaser{p}, Error);
}
