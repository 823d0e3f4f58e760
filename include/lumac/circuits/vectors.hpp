// Seeded random dot products for circuit studies (lumac enob, trace, sweeps without a model):
// inputs and weights drawn from a stated distribution with full scale 1, from the
// Stream::vectors random stream, so the same seed gives the same vectors.
#pragma once

#include <array>
#include <cstdint>
#include <string_view>
#include <utility>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/config.hpp"

namespace lumac {

// uniform: x, w ~ U[-1, 1]; positive: x ~ U[0, 1] (post-ReLU activations), w ~ U[-1, 1];
// ones: x = w = 1 (every symbol at full scale).
enum class VectorDistribution { uniform, positive, ones };
template <>
struct EnumNames<VectorDistribution> {
  static constexpr std::array<std::pair<VectorDistribution, std::string_view>, 3> values{
      {{VectorDistribution::uniform, "uniform"},
       {VectorDistribution::positive, "positive"},
       {VectorDistribution::ones, "ones"}}};
};

// A dot product of fan-in n (1 <= n <= 10^8) with full scales 1 and the Cauchy-Schwarz range;
// `index` selects one of many pairs for the same seed.
DotProduct random_dot_product(std::int64_t n, VectorDistribution distribution, std::uint64_t seed,
                              std::uint64_t index = 0);

}  // namespace lumac
