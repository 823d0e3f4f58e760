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
  // -150 dB/Hz over 1 GHz: 1e-15 * 1e9 = 1e-6.
  CHECK(l.relative_intensity_variance(1e9) == doctest::Approx(1e-6));
  // Shot-noise floor 2 h nu / P at 1 mW: 10 log10(2.563e-16) = -155.9 dB/Hz.
  CHECK(l.shot_noise_rin_floor_dB_per_Hz() == doctest::Approx(-155.91).epsilon(1e-3));
}

namespace {

// Simulated steady states at 2, 3 and 4 I_th give back the analytic threshold and slope (2%).
void check_simulated_li(const RateEquationLaser& laser) {
  const double ith = laser.threshold_current_A();
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

// The ringing after a 2% current step at 3 I_th has the analytic relaxation frequency (10%).
void check_relaxation(const RateEquationLaser& laser) {
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

}  // namespace

TEST_CASE("laser: 980 nm set, threshold and slope from simulated L-I within 2% of analytic") {
  const RateEquationLaser laser{rate_equations_gaas_980nm()};
  const double ith = laser.threshold_current_A();
  // Analytic values for the Coldren example (see PHYSICS.md §6): I_th about 1 mA, tau_p 2.77 ps,
  // slope eta_i alpha_m/(alpha_i+alpha_m) h nu/q = 0.8 * 45.6/50.6 * 1.2652 V = 0.912 W/A.
  CHECK(ith > 0.5e-3);
  CHECK(ith < 2e-3);
  CHECK(laser.photon_lifetime_s() == doctest::Approx(2.77e-12).epsilon(0.01));
  CHECK(laser.slope_efficiency_W_per_A() == doctest::Approx(0.912).epsilon(1e-3));
  check_simulated_li(laser);
}

TEST_CASE("laser: 980 nm set, relaxation oscillation within 10% of omega_R^2 = v_g a S / tau_p") {
  check_relaxation(RateEquationLaser{rate_equations_gaas_980nm()});
}

TEST_CASE("laser: 1550 nm InGaAsP set (the default), analytic threshold, slope and lifetime") {
  const LaserParams p = rate_equations_ingaasp_1550nm();
  const RateEquationLaser laser{p};
  // g_th = (alpha_i + alpha_m) / Gamma = 3000 / 0.085 = 35294 /m; with N_s = 0,
  // N_th = N_tr exp(g_th / g0) = 1.5e24 exp(0.39216) = 2.2203e24 /m^3;
  // R = B N^2 + C N^3 = 4.9295e32 + 1.4228e33 = 1.9158e33 /m^3/s;
  // I_th = q V R / eta_i = 1.60218e-19 * 2.5e-17 * 1.9158e33 / 0.8 = 9.592 mA.
  CHECK(laser.threshold_density_per_m3() == doctest::Approx(2.2203e24).epsilon(1e-4));
  CHECK(laser.threshold_current_A() == doctest::Approx(9.592e-3).epsilon(1e-3));
  // In the published range of short 1.55 um DFB lasers (a few mA to about 15 mA).
  CHECK(laser.threshold_current_A() > 3e-3);
  CHECK(laser.threshold_current_A() < 15e-3);
  // eta_d = eta_i alpha_m / (alpha_i + alpha_m) h nu / q = 0.8 * 2/3 * 0.79990 V = 0.42661 W/A.
  CHECK(laser.slope_efficiency_W_per_A() == doctest::Approx(0.42661).epsilon(1e-4));
  // tau_p = n_g / (c (alpha_i + alpha_m)) = 3.7 / (2.99792458e8 * 3000) = 4.114 ps.
  CHECK(laser.photon_lifetime_s() == doctest::Approx(4.114e-12).epsilon(1e-3));
  CHECK(p.wavelength_m == 1550e-9);
  // LaserParams{} is this set.
  const RateEquationLaser defaults{LaserParams{}};
  CHECK(defaults.threshold_current_A() == laser.threshold_current_A());
  // Above threshold the steady state approaches S = eta_i (I - I_th) / (q V v_g g_th); the
  // spontaneous emission into the mode adds a little (0.5% at 2 I_th).
  for (double k : {2.0, 4.0}) {
    const double i = k * laser.threshold_current_A();
    CAPTURE(k);
    CHECK(laser.steady_state(i).photons_per_m3 ==
          doctest::Approx(laser.analytic_photon_density_per_m3(i)).epsilon(0.005));
  }
}

TEST_CASE("laser: 1550 nm set, threshold and slope from simulated L-I within 2% of analytic") {
  check_simulated_li(RateEquationLaser{rate_equations_ingaasp_1550nm()});
}

TEST_CASE("laser: 1550 nm set, relaxation oscillation within 10% of omega_R^2 = v_g a S / tau_p") {
  check_relaxation(RateEquationLaser{rate_equations_ingaasp_1550nm()});
}

TEST_CASE("laser: the algebraic steady state equals the integrated one from 0 to threshold") {
  // Integrating the rate equations from no carriers until nothing changes is an independent
  // check of the bisection (which once started at N = -N_s and so was wrong below ~10 uA for
  // the 980 nm set, whose carriers sit below -N_s = 0.4e18 /cm^3 there). The approach to
  // equilibrium is slowest at 1 uA: dN/dt = P - B N^2 gives N_eq tanh(B N_eq t), B N_eq about
  // 1e7 /s (980 nm) and 4.5e6 /s (1550 nm), so 5 us settles to 1e-19. Tolerances: N within
  // 1e-5 and S within 1e-4 relative (the integrator's relative tolerance is 1e-9 on N and S is
  // kept to 1e-12 absolute on a 1e20 /m^3 scale).
  for (const LaserParams& p : {rate_equations_gaas_980nm(), rate_equations_ingaasp_1550nm()}) {
    const RateEquationLaser laser{p};
    const double ith = laser.threshold_current_A();
    CAPTURE(p.wavelength_m);
    CHECK(laser.steady_state(0).carriers_per_m3 == 0);
    CHECK(laser.steady_state(0).photons_per_m3 == 0);
    for (double i : {1e-6, 1e-5, 0.5 * ith, 0.99 * ith}) {
      CAPTURE(i);
      const auto ss = laser.steady_state(i);
      const auto trace = laser.simulate([i](double) { return i; }, {}, 5e-6, 10e-9);
      const auto& end = trace.back();
      // Converged: the last 100 ns change N by less than 1e-7.
      CHECK(std::abs(end.carriers_per_m3 - trace[trace.size() - 11].carriers_per_m3) <
            1e-7 * end.carriers_per_m3);
      CHECK(ss.carriers_per_m3 == doctest::Approx(end.carriers_per_m3).epsilon(1e-5));
      CHECK(ss.photons_per_m3 == doctest::Approx(end.photons_per_m3).epsilon(1e-4));
      // Below threshold: N < N_th, and the carrier balance eta_i I / (q V) = R(N) + v_g g S.
      CHECK(ss.carriers_per_m3 < laser.threshold_density_per_m3());
      const double pump = p.injection_efficiency * i / (1.602176634e-19 * p.active_volume_m3);
      const double loss =
          laser.recombination_per_m3_s(ss.carriers_per_m3) +
          laser.group_velocity_m_per_s() * laser.gain_per_m(ss.carriers_per_m3) * ss.photons_per_m3;
      CHECK(loss == doctest::Approx(pump).epsilon(1e-9));
    }
    // Across threshold N rises monotonically and clamps near N_th.
    double last = 0;
    for (double k : {0.9, 0.99, 1.0, 1.01, 1.1, 2.0}) {
      const double n = laser.steady_state(k * ith).carriers_per_m3;
      CHECK(n > last);
      CHECK(n < laser.threshold_density_per_m3());
      last = n;
    }
    CHECK(last > (1 - 1e-3) * laser.threshold_density_per_m3());
  }
}

TEST_CASE("laser: electrical power from the operating point, V_f (I_th + P / eta_d) + cooler") {
  LaserParams p = rate_equations_ingaasp_1550nm();
  const RateEquationLaser dyn{p};
  const double ith = dyn.threshold_current_A(), eta_d = dyn.slope_efficiency_W_per_A();
  REQUIRE(p.forward_voltage_V == 1.5);
  // At 1 mW: 1.5 V * (9.592 mA + 1 mW / 0.42661 W/A) = 1.5 * 11.936 mA = 17.90 mW, WPE 5.59%.
  p.power_W = 1e-3;
  const Laser l1(p);
  CHECK(l1.drive_current_A() == doctest::Approx(ith + 1e-3 / eta_d).epsilon(1e-12));
  CHECK(l1.electrical_power_W() == doctest::Approx(1.5 * (ith + 1e-3 / eta_d)).epsilon(1e-12));
  CHECK(l1.electrical_power_W() == doctest::Approx(17.904e-3).epsilon(1e-3));
  CHECK(l1.wall_plug_efficiency() == doctest::Approx(1e-3 / l1.electrical_power_W()));
  CHECK(l1.wall_plug_efficiency() == doctest::Approx(0.05585).epsilon(1e-3));
  // V I_th at low power: at 1 nW the threshold is all that is left (P / eta_d is 2.3 nA).
  p.power_W = 1e-9;
  CHECK(Laser(p).electrical_power_W() == doctest::Approx(1.5 * ith).epsilon(1e-6));
  CHECK(Laser(p).electrical_power_W() == doctest::Approx(14.388e-3).epsilon(1e-3));
  // ... plus the cooler's power when there is one.
  p.cooler_power_W = 0.4;
  CHECK(Laser(p).electrical_power_W() == doctest::Approx(1.5 * ith + 0.4).epsilon(1e-6));
  // The wall-plug efficiency stays below eta_d / V_f (and so below 1 for V_f >= h nu / q).
  p.cooler_power_W = 0;
  p.power_W = 1;
  CHECK(Laser(p).wall_plug_efficiency() < eta_d / 1.5);
}

TEST_CASE("laser: one laser feeding T tiles charges each V_f I_th / T + V_f P / eta_d") {
  LaserParams p = rate_equations_ingaasp_1550nm();
  p.power_W = 0.5e-3;
  const RateEquationLaser dyn{p};
  const double ith = dyn.threshold_current_A(), eta_d = dyn.slope_efficiency_W_per_A();
  CHECK(tile_laser_electrical_power_W(p, 1) == Laser(p).electrical_power_W());
  for (int t : {1, 4, 64}) {
    CAPTURE(t);
    CHECK(tile_laser_electrical_power_W(p, t) ==
          doctest::Approx(1.5 * ith / t + 1.5 * 0.5e-3 / eta_d).epsilon(1e-12));
  }
  // The cooler is shared too.
  p.cooler_power_W = 0.2;
  CHECK(tile_laser_electrical_power_W(p, 4) ==
        doctest::Approx(1.5 * ith / 4 + 1.5 * 0.5e-3 / eta_d + 0.05).epsilon(1e-12));
  CHECK_THROWS_WITH_AS(tile_laser_electrical_power_W(p, 0),
                       "system.tiles_per_laser = 0: must be >= 1", Error);
}

TEST_CASE("laser: turn-on delay matches the carrier build-up integral") {
  const RateEquationLaser laser{rate_equations_gaas_980nm()};
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
  p.forward_voltage_V = -1;
  CHECK_THROWS_WITH_AS(Laser{p}, "laser.forward_voltage_V = -1: must be in (0, 10]", Error);
  p.forward_voltage_V = 0.7;  // below h nu / q = 0.80 V at 1550 nm
  CHECK_THROWS_WITH_AS(
      Laser{p}, "laser.forward_voltage_V = 0.7: must be >= the photon energy h nu / q = 0.8 V",
      Error);
  p = {};
  p.cooler_power_W = -0.1;
  CHECK_THROWS_WITH_AS(Laser{p}, "laser.cooler_power_W = -0.1: must be finite and >= 0", Error);
  p = {};
  p.gain_offset_density_per_m3 = -2e24;
  CHECK_THROWS_AS(RateEquationLaser{p}, Error);
}
