#include "core/rng.hpp"

#include <Random123/MicroURNG.hpp>
#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>

#include <cmath>
#include <random>

#include "core/error.hpp"

namespace lumac {

namespace {
using Philox = r123::Philox4x64;
}

RandomStream::RandomStream(std::uint64_t seed, std::uint64_t stream) : key_{{seed, stream}} {}

RandomStream::RandomStream(std::uint64_t seed, Stream stream)
    : RandomStream(seed, static_cast<std::uint64_t>(stream)) {}

RandomStream::Bits RandomStream::bits(std::uint64_t c0, std::uint64_t c1, std::uint64_t c2,
                                      std::uint64_t c3) const {
  const Philox::ctr_type r = Philox{}(Philox::ctr_type{{c0, c1, c2, c3}}, key_);
  return {r[0], r[1], r[2], r[3]};
}

double RandomStream::uniform(std::uint64_t c0, std::uint64_t c1, std::uint64_t c2,
                             std::uint64_t c3) const {
  return r123::u01<double>(bits(c0, c1, c2, c3)[0]);
}

double RandomStream::normal(std::uint64_t c0, std::uint64_t c1, std::uint64_t c2,
                            std::uint64_t c3) const {
  const Bits b = bits(c0, c1, c2, c3);
  return r123::boxmuller(b[0], b[1]).x;
}

void RandomStream::fill_normal(std::span<double> out, std::uint64_t c0, std::uint64_t c1,
                               std::uint64_t c2, std::uint64_t first) const {
  // Four normals per Philox call (two Box-Muller pairs from 64-bit uniforms).
  constexpr std::uint64_t per_call = 4;
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t index = first + i;
    const std::uint64_t block = index / per_call;
    const Bits b = bits(c0, c1, c2, block);
    const r123::double2 p = r123::boxmuller(b[0], b[1]);
    const r123::double2 q = r123::boxmuller(b[2], b[3]);
    const double lanes[per_call] = {p.x, p.y, q.x, q.y};
    for (std::uint64_t lane = index % per_call; lane < per_call && i < out.size(); ++lane, ++i)
      out[i] = lanes[lane];
  }
}

void RandomStream::fill_normal(std::span<float> out, std::uint64_t c0, std::uint64_t c1,
                               std::uint64_t c2, std::uint64_t first) const {
  // Eight normals per Philox call (four Box-Muller pairs from 32-bit uniforms).
  constexpr std::uint64_t per_call = 8;
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t index = first + i;
    const Bits b = bits(c0, c1, c2, index / per_call);
    float lanes[per_call];
    for (int k = 0; k < 4; ++k) {
      const auto lo = static_cast<std::uint32_t>(b[k]);
      const auto hi = static_cast<std::uint32_t>(b[k] >> 32);
      const r123::float2 p = r123::boxmuller(lo, hi);
      lanes[2 * k] = p.x;
      lanes[2 * k + 1] = p.y;
    }
    for (std::uint64_t lane = index % per_call; lane < per_call && i < out.size(); ++lane, ++i)
      out[i] = lanes[lane];
  }
}

std::int64_t RandomStream::poisson(double mean, std::uint64_t c0, std::uint64_t c1,
                                   std::uint64_t c2) const {
  if (!(mean >= 0) || !std::isfinite(mean)) fail("Poisson mean = {}: must be finite and >= 0", mean);
  if (mean == 0) return 0;
  // MicroURNG turns one counter into a stream of uniforms (it uses the high 32 bits of the last
  // counter word), so the rejection sampler of std::poisson_distribution stays counter-addressed.
  r123::MicroURNG<Philox> urng(Philox::ctr_type{{c0, c1, c2, 0}}, key_);
  std::poisson_distribution<std::int64_t> dist(mean);
  return dist(urng);
}

}  // namespace lumac
