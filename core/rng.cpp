#include "core/rng.hpp"

#include <Random123/MicroURNG.hpp>
#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>

#include <Eigen/Core>
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
  // Normals come in chunks of 64 from 8 Philox calls: their 8 x 8 x 32 random bits become 32
  // pairs of uniforms in (0, 1], and Box-Muller runs on the fixed-size chunk in Eigen's
  // vectorised log, sin and cos. Element e of the sequence is element e % 64 of chunk e / 64,
  // computed the same way wherever a fill starts or ends.
  constexpr std::uint64_t chunk = 64, pairs = chunk / 2, calls = chunk / 8;
  using Pairs = Eigen::Array<float, pairs, 1>;
  constexpr float two_pi = 6.283185307179586f;
  constexpr float scale = 5.9604645e-8f;  // 2^-24
  alignas(64) float values[chunk];
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t index = first + i;
    const std::uint64_t c = index / chunk;
    Pairs u1, u2;
    for (std::uint64_t call = 0; call < calls; ++call) {
      const Bits b = bits(c0, c1, c2, c * calls + call);
      for (std::uint64_t k = 0; k < 4; ++k) {
        // 24-bit uniforms (m + 1) 2^-24 from the low and high halves of each word.
        const auto lo = static_cast<std::uint32_t>(b[k]) >> 8;
        const auto hi = static_cast<std::uint32_t>(b[k] >> 32) >> 8;
        u1[static_cast<Eigen::Index>(call * 4 + k)] = (static_cast<float>(lo) + 1.0f) * scale;
        u2[static_cast<Eigen::Index>(call * 4 + k)] = (static_cast<float>(hi) + 1.0f) * scale;
      }
    }
    const Pairs radius = (-2.0f * u1.log()).sqrt();
    const Pairs angle = two_pi * u2;
    Eigen::Map<Pairs> cos_part(values), sin_part(values + pairs);
    cos_part = radius * angle.cos();
    sin_part = radius * angle.sin();
    for (std::uint64_t e = index % chunk; e < chunk && i < out.size(); ++e, ++i) out[i] = values[e];
  }
}

std::int64_t RandomStream::poisson(double mean, std::uint64_t c0, std::uint64_t c1,
                                   std::uint64_t c2) const {
  if (!(mean >= 0) || !std::isfinite(mean))
    fail("Poisson mean = {}: must be finite and >= 0", mean);
  if (mean == 0) return 0;
  // MicroURNG turns one counter into a stream of uniforms (it uses the high 32 bits of the last
  // counter word), so the rejection sampler of std::poisson_distribution stays counter-addressed.
  r123::MicroURNG<Philox> urng(Philox::ctr_type{{c0, c1, c2, 0}}, key_);
  std::poisson_distribution<std::int64_t> dist(mean);
  return dist(urng);
}

}  // namespace lumac
