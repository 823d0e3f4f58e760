#include "lumac/devices/converters.hpp"
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

TEST_CASE("modulator drive: a 3-bit DAC on the pre-distorted voltage, hand-computed") {
  // 3 bits: voltage levels t = V / V_pi in {0, +-1/3, +-2/3, +-1}, fields sin(pi t / 2) in
  // {0, +-0.5, +-sqrt(3)/2, +-1}. With pre-distortion t = (2 / pi) asin(x):
  //   x = 0.25: t = 0.1609 -> 0 (the 0 / 1/3 threshold t = 1/6 is x = sin(pi / 12) = 0.2588)
  //   x = 0.3:  t = 0.1940 -> 1/3 -> 0.5     x = 0.7:  t = 0.4936 -> 1/3 -> 0.5
  //   x = 0.75: t = 0.5399 -> 2/3 -> 0.8660  x = -0.95: t = -0.7978 -> -2/3 -> -0.8660
  //   x = 0.99: t = 0.9099 -> 1 -> 1
  // Without pre-distortion t = x: 0.3 -> 1/3 -> 0.5, 0.7 -> 2/3 -> 0.8660, 0.9 -> 1 -> 1.
  const double r3 = std::sqrt(3.0) / 2;
  // (Plain pairs, not structured bindings: clang 14 cannot capture a binding in CAPTURE.)
  for (const auto& xf : {std::pair{0.25, 0.0}, std::pair{0.3, 0.5}, std::pair{0.7, 0.5},
                         std::pair{0.75, r3}, std::pair{-0.95, -r3}, std::pair{0.99, 1.0},
                         std::pair{0.0, 0.0}, std::pair{1.0, 1.0}, std::pair{-1.0, -1.0}}) {
    const double x = xf.first, field = xf.second;
    CAPTURE(x);
    CHECK(quantized_drive(x, 3, true) == doctest::Approx(field).epsilon(1e-12).scale(1));
  }
  CHECK(drive_voltage_normalized(0.75, 3, true) == doctest::Approx(2.0 / 3));
  CHECK(quantized_drive(0.2588, 3, true) == 0);
  CHECK(quantized_drive(0.2590, 3, true) == doctest::Approx(0.5));
  for (const auto& xf : {std::pair{0.3, 0.5}, std::pair{0.7, r3}, std::pair{0.9, 1.0},
                         std::pair{0.1, 0.0}, std::pair{-0.3, -0.5}}) {
    const double x = xf.first, field = xf.second;
    CAPTURE(x);
    CHECK(quantized_drive(x, 3, false) == doctest::Approx(field).epsilon(1e-12).scale(1));
  }
  // No DAC: exactly x with pre-distortion, sin(pi x / 2) without (full scale stays 1).
  CHECK(quantized_drive(0.3, 0, true) == 0.3);
  CHECK(quantized_drive(0.3, 0, false) == doctest::Approx(std::sin(pi * 0.15)));
  CHECK(quantized_drive(1, 0, false) == doctest::Approx(1));
  CHECK_THROWS_AS(quantized_drive(1.5, 8, true), Error);
  CHECK_THROWS_AS(quantized_drive(0.5, -1, true), Error);
}

TEST_CASE("modulator drive: near 0 the field step is pi/2 times the amplitude-domain step") {
  // 8 bits: the voltage step is 1/127 of V_pi, the field moves by sin(pi / 254) = (pi / 2) / 127
  // (1 - (pi / 254)^2 / 6): pi / 2 times the 1/127 step of an amplitude-domain mid-tread DAC,
  // to first order (relative 2.5e-5). Measured as the largest jump on a fine grid of drives in
  // [-0.05, 0.05], every jump being one DAC step.
  const double amplitude_lsb = MidTreadQuantizer(8).lsb();
  double largest = 0, previous = quantized_drive(-0.05, 8, true);
  for (int i = 1; i <= 100000; ++i) {
    const double f = quantized_drive(-0.05 + 0.1 * i / 100000, 8, true);
    largest = std::max(largest, f - previous);
    previous = f;
  }
  CHECK(largest / amplitude_lsb == doctest::Approx(pi / 2).epsilon(1e-4));
  // Near full scale the steps shrink as (pi / 2) sqrt(1 - x^2) = (pi / 2) 0.141 at x = 0.99
  // (0.13 between the levels 116/127 and 117/127 that surround it).
  const double near_one = quantized_drive(0.99, 8, true);
  const double t = drive_voltage_normalized(0.99, 8, true);
  const double step =
      (std::sin(pi / 2 * (t + amplitude_lsb)) - near_one) / (pi / 2 * amplitude_lsb);
  CHECK(step > 0.10);
  CHECK(step < 0.16);
}

TEST_CASE(
    "modulator drive: the DAC voltage and the field it gives, with and without pre-distortion") {
  ModulatorParams p;
  p.extinction_ratio_dB = 300;
  for (bool pre : {true, false}) {
    p.predistortion = pre;
    const MachZehnderModulator m(p);
    for (double x : {-0.8, -0.1, 0.0, 0.37, 1.0})
      for (int bits : {0, 4, 8}) {
        CAPTURE(pre);
        CAPTURE(x);
        CAPTURE(bits);
        const double v = m.dac_voltage(x, bits);
        CHECK(v == doctest::Approx(p.v_pi_V * drive_voltage_normalized(x, bits, pre)));
        // Linear without pre-distortion: V = V_pi x (before the DAC).
        if (!pre && bits == 0) CHECK(v == doctest::Approx(p.v_pi_V * x).scale(1));
        CHECK(m.field_transmission(v).imag() / std::sqrt(m.max_transmission()) ==
              doctest::Approx(quantized_drive(x, bits, pre)).scale(1));
      }
    // encode() follows the configured drive.
    CHECK(m.decode_magnitude(m.encode(0.5)) ==
          doctest::Approx(pre ? 0.5 : std::sin(pi / 4)).epsilon(1e-12));
  }
}
