#include "core/rng.hpp"

#include <Random123/MicroURNG.hpp>
#include <Random123/boxmuller.hpp>
#include <Random123/uniform.hpp>

#include <Eigen/Core>
#if defined(__AVX2__)
#include <immintrin.h>
#endif
#include <algorithm>
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

namespace {

// Philox4x32-10 blocks with counters (c, 0, 0, 0), c = first .. first + 8 G - 1, under key
// (k0, k1), bit-identical to Random123's r123::Philox4x32 (a test checks): G interleaved 8-lane
// AVX2 groups when available (the rounds are a dependency chain, so independent groups keep the
// multipliers busy), else block by block. words[8 g + ...]: word w of block first + 8 g + lane
// is words[g][w][lane].
template <int G>
void philox4x32_blocks(std::uint32_t first, std::uint32_t k0, std::uint32_t k1,
                       std::uint32_t words[G][4][8]) {
#if defined(__AVX2__)
  const __m256i m0 = _mm256_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m256i m1 = _mm256_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  __m256i x0[G], x1[G], x2[G], x3[G];
  for (int g = 0; g < G; ++g) {
    x0[g] = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(first + 8 * g)), lanes);
    x1[g] = x2[g] = x3[g] = _mm256_setzero_si256();
  }
  for (int round = 0; round < 10; ++round) {
    const __m256i key0 = _mm256_set1_epi32(static_cast<int>(k0));
    const __m256i key1 = _mm256_set1_epi32(static_cast<int>(k1));
    for (int g = 0; g < G; ++g) {
      // 32 x 32 -> 64-bit products of the even and odd lanes, split into high and low words.
      const __m256i e0 = _mm256_mul_epu32(x0[g], m0);
      const __m256i o0 = _mm256_mul_epu32(_mm256_srli_epi64(x0[g], 32), m0);
      const __m256i e1 = _mm256_mul_epu32(x2[g], m1);
      const __m256i o1 = _mm256_mul_epu32(_mm256_srli_epi64(x2[g], 32), m1);
      const __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(e0, 32), o0, 0xAA);
      const __m256i lo0 = _mm256_blend_epi32(e0, _mm256_slli_epi64(o0, 32), 0xAA);
      const __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(e1, 32), o1, 0xAA);
      const __m256i lo1 = _mm256_blend_epi32(e1, _mm256_slli_epi64(o1, 32), 0xAA);
      x0[g] = _mm256_xor_si256(_mm256_xor_si256(hi1, x1[g]), key0);
      x2[g] = _mm256_xor_si256(_mm256_xor_si256(hi0, x3[g]), key1);
      x1[g] = lo1;
      x3[g] = lo0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int g = 0; g < G; ++g) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[g][0]), x0[g]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[g][1]), x1[g]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[g][2]), x2[g]);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(words[g][3]), x3[g]);
  }
#else
  for (int g = 0; g < G; ++g)
    for (std::uint32_t l = 0; l < 8; ++l) {
      const auto r = r123::Philox4x32{}(
          r123::Philox4x32::ctr_type{{first + 8 * static_cast<std::uint32_t>(g) + l, 0, 0, 0}},
          r123::Philox4x32::key_type{{k0, k1}});
      for (int w = 0; w < 4; ++w) words[g][w][l] = r[static_cast<std::size_t>(w)];
    }
#endif
}

// Natural log of positive normal floats (no special cases: NaN, zero and infinities are not
// inputs here): x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by the Cephes logf polynomial.
void log_positive(const float* in, float* out, int n) {
#if defined(__AVX2__)
  for (int i = 0; i < n; i += 8) {
    __m256 x = _mm256_loadu_ps(in + i);
    __m256i bits = _mm256_castps_si256(x);
    __m256 e =
        _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
    __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
        _mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
    const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
    e = _mm256_add_ps(e, _mm256_and_ps(big, _mm256_set1_ps(1.0f)));
    const __m256 t = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
    __m256 p = _mm256_set1_ps(7.0376836292e-2f);
    for (const float c : {-1.1514610310e-1f, 1.1676998740e-1f, -1.2420140846e-1f, 1.4249322787e-1f,
                          -1.6668057665e-1f, 2.0000714765e-1f, -2.4999993993e-1f, 3.3333331174e-1f})
      p = _mm256_fmadd_ps(p, t, _mm256_set1_ps(c));
    const __m256 t2 = _mm256_mul_ps(t, t);
    __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, t2), t);
    y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
    y = _mm256_fnmadd_ps(t2, _mm256_set1_ps(0.5f), y);
    x = _mm256_add_ps(t, y);
    x = _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), x);
    _mm256_storeu_ps(out + i, x);
  }
#else
  for (int i = 0; i < n; ++i) out[i] = std::log(in[i]);
#endif
}

// Eight 23-bit uniforms (m + 1/2) 2^-23 in (0, 1) from the top bits of eight words (exactly
// representable, as are 1 - u and 2u - 1).
void to_uniforms(const std::uint32_t words[8], float* out) {
  constexpr float scale = 1.1920929e-7f;  // 2^-23
#if defined(__AVX2__)
  const __m256i w =
      _mm256_srli_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(words)), 9);
  const __m256 f = _mm256_add_ps(_mm256_cvtepi32_ps(w), _mm256_set1_ps(0.5f));
  _mm256_storeu_ps(out, _mm256_mul_ps(f, _mm256_set1_ps(scale)));
#else
  for (int l = 0; l < 8; ++l) out[l] = (static_cast<float>(words[l] >> 9) + 0.5f) * scale;
#endif
}

}  // namespace

void philox4x32_x8_for_test(std::uint32_t first, std::uint32_t k0, std::uint32_t k1,
                            std::uint32_t words[4][8]) {
  std::uint32_t blocks[1][4][8];
  philox4x32_blocks<1>(first, k0, k1, blocks);
  std::copy(&blocks[0][0][0], &blocks[0][0][0] + 32, &words[0][0]);
}

void RandomStream::fill_normal(std::span<float> out, std::uint64_t c0, std::uint64_t c1,
                               std::uint64_t c2, std::uint64_t first) const {
  // The counter prefix (c0, c1, c2) and the key (seed, stream) are hashed by one Philox4x64
  // call into a 64-bit Philox4x32 key; the sequence is then Philox4x32-10 over block counters
  // 0, 1, 2, ... (eight blocks at a time, vectorised). Normals come in chunks of 64 from 16
  // blocks: each 32-bit word gives a 23-bit uniform u = (m + 1/2) 2^-23 in (0, 1), and
  // z = sqrt(2) erfinv(2u - 1) by Giles' single-precision approximation ("Approximating the
  // erfinv function", GPU Computing Gems, 2011): one log and a degree-8 polynomial, evaluated on
  // the fixed-size chunk with Eigen's vectorised arithmetic. Element e of the sequence is
  // element e % 64 of chunk e / 64, computed the same way wherever a fill starts.
  constexpr std::uint64_t chunk = 64;
  using Chunk = Eigen::Array<float, chunk, 1>;
  const Bits key = bits(c0, c1, c2, ~std::uint64_t{0});
  const auto k0 = static_cast<std::uint32_t>(key[0]), k1 = static_cast<std::uint32_t>(key[0] >> 32);
  alignas(64) float u[chunk], w[chunk], values[chunk];
  std::uint32_t words[2][4][8];
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t index = first + i;
    const std::uint64_t c = index / chunk;
    philox4x32_blocks<2>(static_cast<std::uint32_t>(c * 16), k0, k1, words);
    for (int g = 0; g < 2; ++g)
      for (int k = 0; k < 4; ++k) to_uniforms(words[g][k], u + g * 32 + k * 8);
    const Eigen::Map<const Chunk> uu(u);
    // w = -log(1 - x^2) = -log(4 u (1 - u)), x = 2u - 1, exact in its factors for these uniforms.
    Eigen::Map<Chunk> ww(w);
    ww = 4.0f * uu * (1.0f - uu);
    log_positive(w, w, static_cast<int>(chunk));
    ww = -ww;
    const Chunk a = ww - 2.5f;
    Chunk z = Chunk::Constant(2.81022636e-08f);
    for (const float coefficient :
         {3.43273939e-07f, -3.5233877e-06f, -4.39150654e-06f, 0.00021858087f, -0.00125372503f,
          -0.00417768164f, 0.246640727f, 1.50140941f})
      z = z * a + coefficient;
    // The tail branch (w >= 5, |z| > 2.8, about 1 value in 300) only where a chunk needs it.
    if (ww.maxCoeff() >= 5.0f) {
      const Chunk b = ww.sqrt() - 3.0f;
      Chunk tail = Chunk::Constant(-0.000200214257f);
      for (const float coefficient :
           {0.000100950558f, 0.00134934322f, -0.00367342844f, 0.00573950773f, -0.0076224613f,
            0.00943887047f, 1.00167406f, 2.83297682f})
        tail = tail * b + coefficient;
      z = (ww < 5.0f).select(z, tail);
    }
    Eigen::Map<Chunk> result(values);
    result = 1.41421356f * z * (2.0f * uu - 1.0f);
    const std::uint64_t start = index % chunk;
    const std::size_t n = std::min<std::size_t>(chunk - start, out.size() - i);
    std::copy(values + start, values + start + n, out.begin() + static_cast<std::ptrdiff_t>(i));
    i += n;
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
