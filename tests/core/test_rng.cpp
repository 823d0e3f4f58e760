#include <numeric>

#include "core/error.hpp"
#include "core/rng.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

TEST_CASE("rng: counter addressing is reproducible and streams are independent") {
  const RandomStream a(7, Stream::shot), b(7, Stream::shot), c(7, Stream::dark), d(8, Stream::shot);
  CHECK(a.bits(1, 2, 3, 4) == b.bits(1, 2, 3, 4));
  CHECK(a.bits(1, 2, 3, 4) != a.bits(1, 2, 3, 5));
  CHECK(a.bits(1, 2, 3, 4) != c.bits(1, 2, 3, 4));
  CHECK(a.bits(1, 2, 3, 4) != d.bits(1, 2, 3, 4));
}

TEST_CASE("rng: a range filled in pieces equals the range filled at once") {
  const RandomStream r(3, Stream::test);
  std::vector<double> whole(37), parts(37);
  r.fill_normal(whole, 1, 2, 3);
  r.fill_normal(std::span<double>(parts).subspan(0, 5), 1, 2, 3, 0);
  r.fill_normal(std::span<double>(parts).subspan(5, 22), 1, 2, 3, 5);
  r.fill_normal(std::span<double>(parts).subspan(27), 1, 2, 3, 27);
  CHECK(whole == parts);
  std::vector<float> wf(29), pf(29);
  r.fill_normal(wf, 4, 5, 6);
  r.fill_normal(std::span<float>(pf).subspan(0, 11), 4, 5, 6, 0);
  r.fill_normal(std::span<float>(pf).subspan(11), 4, 5, 6, 11);
  CHECK(wf == pf);
}

TEST_CASE("rng: standard normals have mean 0 and variance 1 (seeded, n = 1e6)") {
  const double n = 1e6;
  const RandomStream r(11, Stream::test);
  std::vector<double> x(static_cast<std::size_t>(n));
  r.fill_normal(x, 0, 0, 0);
  const Moments m = moments(x);
  CHECK(std::abs(m.mean) < mean_tolerance(1, n));
  CHECK(std::abs(m.variance - 1) < variance_tolerance(1, n));
  std::vector<float> f(static_cast<std::size_t>(n));
  r.fill_normal(f, 0, 0, 1);
  const Moments mf = moments(std::vector<double>(f.begin(), f.end()));
  CHECK(std::abs(mf.mean) < mean_tolerance(1, n));
  CHECK(std::abs(mf.variance - 1) < variance_tolerance(1, n));
}

TEST_CASE(
    "rng: uniforms lie in the half-open unit interval with mean 1/2 and variance 1/12 (n = 2e5)") {
  const RandomStream r(5, Stream::test);
  const int n = 200000;
  std::vector<double> u(n);
  for (int i = 0; i < n; ++i) {
    u[i] = r.uniform(static_cast<std::uint64_t>(i), 0, 0, 0);
    REQUIRE(u[i] > 0);
    REQUIRE(u[i] <= 1);
  }
  const Moments m = moments(u);
  CHECK(std::abs(m.mean - 0.5) < mean_tolerance(std::sqrt(1.0 / 12), n));
  // Var(s^2) of a uniform: (mu4 - sigma^4) / n with mu4 = 1/80.
  CHECK(std::abs(m.variance - 1.0 / 12) < 5 * std::sqrt((1.0 / 80 - 1.0 / 144) / n));
}

TEST_CASE("rng: Poisson draws have the right mean and variance (n = 2e5)") {
  const RandomStream r(9, Stream::shot);
  const int n = 200000;
  for (double mean : {0.3, 3.7, 40.0, 1e4}) {
    std::vector<double> k(n);
    for (int i = 0; i < n; ++i)
      k[i] = static_cast<double>(r.poisson(mean, static_cast<std::uint64_t>(i), 1, 2));
    const Moments m = moments(k);
    CAPTURE(mean);
    CHECK(std::abs(m.mean - mean) < mean_tolerance(std::sqrt(mean), n));
    // Var(s^2) of a Poisson variable: (mu4 - sigma^4) / n, mu4 = mean (1 + 3 mean).
    const double sd_var = std::sqrt((mean * (1 + 3 * mean) - mean * mean) / n);
    CHECK(std::abs(m.variance - mean) < 5 * sd_var);
  }
  CHECK(r.poisson(0, 1, 2, 3) == 0);
  CHECK_THROWS_AS(r.poisson(-1, 1, 2, 3), Error);
}

TEST_CASE("rng: the vectorised Philox4x32 blocks are Random123's Philox4x32-10") {
  std::uint32_t words[4][8];
  philox4x32_x8_for_test(1000, 0xDEADBEEF, 12345, words);
  const r123::Philox4x32 reference;
  for (std::uint32_t lane = 0; lane < 8; ++lane) {
    const auto r = reference(r123::Philox4x32::ctr_type{{1000 + lane, 0, 0, 0}},
                             r123::Philox4x32::key_type{{0xDEADBEEF, 12345}});
    for (int w = 0; w < 4; ++w) CHECK(words[w][lane] == r[static_cast<std::size_t>(w)]);
  }
}
