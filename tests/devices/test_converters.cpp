#include "lumac/core/error.hpp"
#include "lumac/core/precision.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/devices/converters.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

TEST_CASE("adc: mid-rise quantizer error variance is LSB^2/12 within 1% on uniform input") {
  const MidRiseQuantizer q(8, -1.0, 1.0);
  CHECK(q.lsb() == doctest::Approx(2.0 / 256));
  const RandomStream r(1, Stream::test);
  const int n = 1000000;
  std::vector<double> err(n);
  for (int i = 0; i < n; ++i) {
    const double x = -1 + 2 * r.uniform(static_cast<std::uint64_t>(i), 0, 0, 0);
    err[static_cast<std::size_t>(i)] = q.quantize(x) - x;
  }
  const Moments m = moments(err);
  // The relative standard error of the variance estimate of a uniform error is
  // sqrt(0.8 / n) = 0.09%, so 1% is over 10 standard errors.
  CHECK(m.variance == doctest::Approx(q.lsb() * q.lsb() / 12).epsilon(0.01));
  CHECK(std::abs(m.mean) < mean_tolerance(q.lsb() / std::sqrt(12.0), n));
}

TEST_CASE("adc: codes, reconstruction and clipping") {
  const MidRiseQuantizer q(3, 0.0, 8.0);
  CHECK(q.code(0.0) == 0);
  CHECK(q.code(0.99) == 0);
  CHECK(q.code(1.0) == 1);
  CHECK(q.code(7.99) == 7);
  CHECK(q.code(100.0) == 7);
  CHECK(q.code(-5.0) == 0);
  CHECK(q.value(0) == 0.5);
  CHECK(q.value(7) == 7.5);
  CHECK_THROWS_AS(MidRiseQuantizer(0, 0, 1), Error);
  CHECK_THROWS_AS(MidRiseQuantizer(8, 1, 1), Error);
}

TEST_CASE("dac: mid-tread keeps zero and full scale exact") {
  const MidTreadQuantizer q(8);
  CHECK(q.lsb() == doctest::Approx(1.0 / 127));
  CHECK(q.quantize(0.0) == 0.0);
  CHECK(q.quantize(1.0) == doctest::Approx(1.0));
  CHECK(q.quantize(-1.0) == doctest::Approx(-1.0));
  CHECK(q.quantize(2.0) == doctest::Approx(1.0));
  // Half a step (1/254 = 0.003937) is the decision threshold between 0 and one step.
  CHECK(q.quantize(0.0039) == 0.0);
  CHECK(q.quantize(0.0040) == doctest::Approx(1.0 / 127));
}

TEST_CASE("adc: energy per conversion from the figures of merit") {
  AdcParams p;
  p.walden_fom_J_per_step = 5e-15;
  p.thermal_fom_J = 2.4e-19;
  CHECK(adc_energy_per_conversion_J(p, 8) == doctest::Approx(5e-15 * 256));
  CHECK(adc_energy_per_conversion_J(p, 16) == doctest::Approx(2.4e-19 * 65536.0 * 65536.0));
}

TEST_CASE("precision: ENOB and bits to resolution are inverse") {
  // A quantizer of b bits over R has RMS error LSB / sqrt(12) and hence ENOB exactly b.
  for (int b : {4, 8, 12})
    CHECK(enob_bits(2.0, lsb_mid_rise(2.0, b) / std::sqrt(12.0)) == doctest::Approx(b));
  CHECK(rms_error_for_enob(3.0, enob_bits(3.0, 0.01)) == doctest::Approx(0.01));
}
