#include "lumac/devices/modulator.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
using constants::pi;

TEST_CASE("modulator: transfer at 0 and V_pi, extinction ratio achieved") {
  ModulatorParams p;
  p.bias_phase_rad = 0;  // maximum transmission at V = 0
  const MachZehnderModulator m(p);
  const double tmax = std::pow(10.0, -3.0 / 10);  // 3 dB insertion loss
  CHECK(m.power_transmission(0) == doctest::Approx(tmax));
  CHECK(m.power_transmission(p.v_pi_V) == doctest::Approx(tmax / 1000));  // 30 dB
  // Extinction achieved over a fine voltage sweep equals the parameter.
  double hi = 0, lo = 1;
  for (int k = 0; k <= 4000; ++k) {
    const double t = m.power_transmission(-2 * p.v_pi_V + k * 4 * p.v_pi_V / 4000);
    hi = std::max(hi, t);
    lo = std::min(lo, t);
  }
  CHECK(10 * std::log10(hi / lo) == doctest::Approx(30).epsilon(1e-6));
  // |field|^2 is the power transfer at every voltage.
  for (double v : {-1.3, -0.2, 0.0, 0.7, 1.9, 3.1})
    CHECK(std::norm(m.field_transmission(v)) == doctest::Approx(m.power_transmission(v)));
}

TEST_CASE("modulator: null bias gives a signed field and the pre-distortion round trip") {
  ModulatorParams p;
  p.extinction_ratio_dB = 300;  // effectively infinite: d = 1e-15
  const MachZehnderModulator ideal(p);
  CHECK(ideal.power_transmission(0) == doctest::Approx(0).epsilon(1e-12));
  for (double x = -1; x <= 1.0001; x += 0.05) {
    const double xc = std::clamp(x, -1.0, 1.0);
    CHECK(ideal.decode_magnitude(ideal.encode(xc)) == doctest::Approx(xc).epsilon(1e-12));
  }
  p.extinction_ratio_dB = 30;
  const MachZehnderModulator real(p);
  const double d = real.field_imbalance();
  CHECK(d == doctest::Approx(std::pow(10.0, -1.5)));
  double worst = 0;
  for (double x = -1; x <= 1.0001; x += 0.01) {
    const double xc = std::clamp(x, -1.0, 1.0);
    const double err = std::abs(real.decode_magnitude(real.encode(xc)) - xc);
    // Analytic: sqrt(x^2 + d^2 (1 - x^2)) - |x|, at most d (at x = 0).
    CHECK(err ==
          doctest::Approx(std::sqrt(xc * xc + d * d * (1 - xc * xc)) - std::abs(xc)).epsilon(1e-9));
    CHECK(err <= d * (1 + 1e-12));
    worst = std::max(worst, err);
  }
  CHECK(worst == doctest::Approx(d));
  // The quadrature (homodyne-detected) amplitude stays exact even with finite extinction.
  for (double x : {-0.9, -0.3, 0.0, 0.4, 1.0})
    CHECK(real.encode(x).imag() / std::sqrt(real.max_transmission()) == doctest::Approx(x));
  CHECK_THROWS_AS(real.drive_voltage(1.5), Error);
}

TEST_CASE("modulator: 10-90% rise time of the step response is 0.35 / f_3dB within 2%") {
  ModulatorParams p;
  p.bandwidth_Hz = 30e9;
  const MachZehnderModulator m(p);
  const double period = 1e-9;
  const int sps = 20000;
  const auto v = m.filtered_drive({1.0}, period, sps);
  const double dt = period / sps;
  auto crossing = [&](double level) {
    for (std::size_t k = 1; k < v.size(); ++k)
      if (v[k] >= level) return (k - 1 + (level - v[k - 1]) / (v[k] - v[k - 1])) * dt;
    return -1.0;
  };
  const double rise = crossing(0.9) - crossing(0.1);
  CHECK(rise == doctest::Approx(0.35 / p.bandwidth_Hz).epsilon(0.02));
  // And it settles to the drive level.
  CHECK(v.back() == doctest::Approx(1.0).epsilon(1e-9));
}

TEST_CASE("modulator: RC response is stable and exact for steps longer than tau") {
  const MachZehnderModulator m{ModulatorParams{}};
  const double tau = m.time_constant_s();
  const double period = 100e-12;  // 18.8 tau
  const auto v = m.filtered_drive({1.0, -1.0}, period, 1);
  REQUIRE(v.size() == 3);
  const double e = std::exp(-period / tau);
  CHECK(v[1] == doctest::Approx(1 - e).epsilon(1e-6));
  CHECK(v[2] == doctest::Approx(-1 + (v[1] + 1) * e).epsilon(1e-6));
}

TEST_CASE("modulator: drive energy C V_pp^2 / 4 with V_pp = 2 V_pi") {
  const MachZehnderModulator m{ModulatorParams{}};
  CHECK(m.drive_energy_J() == doctest::Approx(50e-15 * 16 / 4));
}

TEST_CASE("modulator: invalid parameters are rejected with the field named") {
  ModulatorParams p;
  p.v_pi_V = 0;
  CHECK_THROWS_WITH_AS(MachZehnderModulator{p}, "modulator.v_pi_V = 0: must be finite and > 0",
                       Error);
  p = {};
  p.bandwidth_Hz = std::nan("");
  CHECK_THROWS_AS(MachZehnderModulator{p}, Error);
}
