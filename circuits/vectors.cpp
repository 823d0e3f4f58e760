#include "lumac/circuits/vectors.hpp"

#include <Random123/uniform.hpp>
#include "lumac/core/error.hpp"

#include "lumac/core/rng.hpp"

namespace lumac {

DotProduct random_dot_product(std::int64_t n, VectorDistribution distribution, std::uint64_t seed,
                              std::uint64_t index) {
  if (n < 1 || n > 100'000'000) fail("fan-in = {}: must be in [1, 1e8]", n);
  const RandomStream r(seed, Stream::vectors);
  DotProduct dp;
  dp.x.resize(static_cast<std::size_t>(n));
  dp.w.resize(static_cast<std::size_t>(n));
  for (std::int64_t j = 0; j < n; ++j) {
    const auto u = static_cast<std::uint64_t>(j);
    const RandomStream::Bits b = r.bits(index, u, 0, 0);
    const double ux = r123::u01<double>(b[0]), uw = r123::u01<double>(b[1]);
    switch (distribution) {
      case VectorDistribution::uniform:
        dp.x[u] = 2 * ux - 1;
        dp.w[u] = 2 * uw - 1;
        break;
      case VectorDistribution::positive:
        dp.x[u] = ux;
        dp.w[u] = 2 * uw - 1;
        break;
      case VectorDistribution::ones:
        dp.x[u] = 1;
        dp.w[u] = 1;
        break;
    }
  }
  return dp;
}

}  // namespace lumac
