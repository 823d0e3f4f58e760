#include "lumac/core/rng.hpp"

// GCC 12's own AVX-512 intrinsics trip its -Wuninitialized (GCC bug 105593: `__m512 __Y = __Y`
// inside _mm512_undefined_*, fixed in GCC 13); the AVX-512 kernel below needs them.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

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

#include "lumac/core/error.hpp"

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

// The float normal sequence of one key (k0, k1): chunk c holds elements 64 c .. 64 c + 63, made
// from Philox4x32-10 blocks 16 c .. 16 c + 15 (counter (block, 0, 0, 0)); element i of a chunk
// is word (i % 32) / 8 of block 16 c + 8 (i / 32) + i % 8. Each 32-bit word gives a 23-bit
// uniform u = (m + 1/2) 2^-23 in (0, 1), and z = sqrt(2) erfinv(2u - 1) by Giles' single-precision
// approximation ("Approximating the erfinv function", GPU Computing Gems, 2011): with
// w = -log(4 u (1 - u)), a degree-8 polynomial in w - 2.5 for w < 5 and one in sqrt(w) - 3 in
// the tail (|z| > 2.8, about 1 value in 300). The log is the Cephes logf polynomial; sqrt(w) in
// the tail is Eigen's vectorised sqrt (the hardware reciprocal square root refined by one Newton
// step, relative error about 1e-7), as when the sequence was first defined.
// Two implementations give bit-identical values (a test checks): AVX2 on 8 lanes, and AVX-512
// on 16 lanes where the processor has it (chosen at run time); without AVX2, a scalar one with
// the same polynomials.

constexpr float giles_central[9] = {2.81022636e-08f,  3.43273939e-07f, -3.5233877e-06f,
                                    -4.39150654e-06f, 0.00021858087f,  -0.00125372503f,
                                    -0.00417768164f,  0.246640727f,    1.50140941f};
constexpr float giles_tail[9] = {-0.000200214257f, 0.000100950558f, 0.00134934322f,
                                 -0.00367342844f,  0.00573950773f,  -0.0076224613f,
                                 0.00943887047f,   1.00167406f,     2.83297682f};
constexpr float cephes_log[9] = {7.0376836292e-2f,  -1.1514610310e-1f, 1.1676998740e-1f,
                                 -1.2420140846e-1f, 1.4249322787e-1f,  -1.6668057665e-1f,
                                 2.0000714765e-1f,  -2.4999993993e-1f, 3.3333331174e-1f};

#if defined(__AVX2__)

inline __m256 horner8(__m256 x, const float (&c)[9]) {
  __m256 p = _mm256_set1_ps(c[0]);
  for (int k = 1; k < 9; ++k) p = _mm256_fmadd_ps(p, x, _mm256_set1_ps(c[k]));
  return p;
}

// Natural log of positive normal floats (no special cases: NaN, zero and infinities are not
// inputs here): x = m 2^e with m in [sqrt(1/2), sqrt(2)), log(m) by the Cephes logf polynomial.
inline __m256 log8(__m256 x) {
  const __m256i bits = _mm256_castps_si256(x);
  __m256 e =
      _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(bits, 23), _mm256_set1_epi32(127)));
  __m256 m = _mm256_castsi256_ps(_mm256_or_si256(
      _mm256_and_si256(bits, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
  const __m256 big = _mm256_cmp_ps(m, _mm256_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm256_blendv_ps(m, _mm256_mul_ps(m, _mm256_set1_ps(0.5f)), big);
  e = _mm256_add_ps(e, _mm256_and_ps(big, _mm256_set1_ps(1.0f)));
  const __m256 t = _mm256_sub_ps(m, _mm256_set1_ps(1.0f));
  const __m256 p = horner8(t, cephes_log);
  const __m256 t2 = _mm256_mul_ps(t, t);
  __m256 y = _mm256_mul_ps(_mm256_mul_ps(p, t2), t);
  y = _mm256_fmadd_ps(e, _mm256_set1_ps(-2.12194440e-4f), y);
  y = _mm256_fnmadd_ps(t2, _mm256_set1_ps(0.5f), y);
  return _mm256_fmadd_ps(e, _mm256_set1_ps(0.693359375f), _mm256_add_ps(t, y));
}

// u = (m + 1/2) 2^-23 from the top 23 bits of each word (exactly representable, as are 1 - u
// and 2u - 1).
inline __m256 uniforms8(__m256i words) {
  const __m256 f =
      _mm256_add_ps(_mm256_cvtepi32_ps(_mm256_srli_epi32(words, 9)), _mm256_set1_ps(0.5f));
  return _mm256_mul_ps(f, _mm256_set1_ps(1.1920929e-7f));
}

// -log(4 u (1 - u)).
inline __m256 giles_w8(__m256 u) {
  const __m256 t =
      _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(4.0f), u), _mm256_sub_ps(_mm256_set1_ps(1.0f), u));
  return _mm256_xor_ps(log8(t), _mm256_set1_ps(-0.0f));
}

// The tail polynomial at w[0..8) (only lanes with w >= 5 are used), with Eigen's vectorised
// sqrt (the hardware reciprocal square root and one Newton step): the arithmetic the sequence
// was defined with, kept bit for bit. Out of line, shared by both kernels (rare: 1 value in 300).
[[gnu::noinline]] void giles_tail8(const float* w, float* out) {
  using V = Eigen::Array<float, 8, 1>;
  const V b = Eigen::Map<const V>(w).sqrt() - 3.0f;
  V tail = V::Constant(giles_tail[0]);
  for (int k = 1; k < 9; ++k) tail = tail * b + giles_tail[k];
  Eigen::Map<V> result(out);
  result = tail;
}

// Eight normals from eight words.
inline __m256 normals8(__m256i words) {
  const __m256 u = uniforms8(words);
  const __m256 w = giles_w8(u);
  __m256 z = horner8(_mm256_sub_ps(w, _mm256_set1_ps(2.5f)), giles_central);
  const __m256 tail = _mm256_cmp_ps(w, _mm256_set1_ps(5.0f), _CMP_GE_OQ);
  if (!_mm256_testz_ps(tail, tail)) {
    alignas(32) float wb[8], tb[8];
    _mm256_store_ps(wb, w);
    giles_tail8(wb, tb);
    z = _mm256_blendv_ps(z, _mm256_load_ps(tb), tail);
  }
  const __m256 x = _mm256_sub_ps(_mm256_mul_ps(_mm256_set1_ps(2.0f), u), _mm256_set1_ps(1.0f));
  return _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(1.41421356f), z), x);
}

// `count` (1 or 2) chunks from chunk c on, AVX2.
void normal_chunks_avx2(std::uint64_t c, int count, std::uint32_t k0, std::uint32_t k1,
                        float* out) {
  for (int n = 0; n < count; ++n) {
    std::uint32_t words[2][4][8];
    philox4x32_blocks<2>(static_cast<std::uint32_t>((c + static_cast<std::uint64_t>(n)) * 16), k0,
                         k1, words);
    for (int g = 0; g < 2; ++g)
      for (int k = 0; k < 4; ++k)
        _mm256_storeu_ps(
            out + 64 * n + 32 * g + 8 * k,
            normals8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(words[g][k]))));
  }
}

#if defined(__GNUC__) && defined(__x86_64__)
#define LUMAC_HAVE_AVX512_KERNEL 1
#define LUMAC_AVX512 __attribute__((target("avx512f,avx512vl,avx512dq")))

LUMAC_AVX512 inline __m512 horner16(__m512 x, const float (&c)[9]) {
  __m512 p = _mm512_set1_ps(c[0]);
  for (int k = 1; k < 9; ++k) p = _mm512_fmadd_ps(p, x, _mm512_set1_ps(c[k]));
  return p;
}

LUMAC_AVX512 inline __m512 log16(__m512 x) {
  const __m512i bits = _mm512_castps_si512(x);
  __m512 e =
      _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(bits, 23), _mm512_set1_epi32(127)));
  __m512 m = _mm512_castsi512_ps(_mm512_or_si512(
      _mm512_and_si512(bits, _mm512_set1_epi32(0x007FFFFF)), _mm512_set1_epi32(0x3F800000)));
  const __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
  m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(e, big, e, _mm512_set1_ps(1.0f));
  const __m512 t = _mm512_sub_ps(m, _mm512_set1_ps(1.0f));
  const __m512 p = horner16(t, cephes_log);
  const __m512 t2 = _mm512_mul_ps(t, t);
  __m512 y = _mm512_mul_ps(_mm512_mul_ps(p, t2), t);
  y = _mm512_fmadd_ps(e, _mm512_set1_ps(-2.12194440e-4f), y);
  y = _mm512_fnmadd_ps(t2, _mm512_set1_ps(0.5f), y);
  return _mm512_fmadd_ps(e, _mm512_set1_ps(0.693359375f), _mm512_add_ps(t, y));
}

LUMAC_AVX512 inline __m512 normals16(__m512i words) {
  const __m512 u = _mm512_mul_ps(
      _mm512_add_ps(_mm512_cvtepi32_ps(_mm512_srli_epi32(words, 9)), _mm512_set1_ps(0.5f)),
      _mm512_set1_ps(1.1920929e-7f));
  const __m512 t =
      _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(4.0f), u), _mm512_sub_ps(_mm512_set1_ps(1.0f), u));
  const __m512 w = _mm512_sub_ps(_mm512_setzero_ps(), log16(t));
  __m512 z = horner16(_mm512_sub_ps(w, _mm512_set1_ps(2.5f)), giles_central);
  const __mmask16 tail = _mm512_cmp_ps_mask(w, _mm512_set1_ps(5.0f), _CMP_GE_OQ);
  if (tail != 0) {
    alignas(64) float wb[16], tb[16];
    _mm512_store_ps(wb, w);
    giles_tail8(wb, tb);
    giles_tail8(wb + 8, tb + 8);
    z = _mm512_mask_mov_ps(z, tail, _mm512_load_ps(tb));
  }
  const __m512 x = _mm512_sub_ps(_mm512_mul_ps(_mm512_set1_ps(2.0f), u), _mm512_set1_ps(1.0f));
  return _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(1.41421356f), z), x);
}

// G (1 or 2) chunks from chunk c on, AVX-512: one 16-lane Philox group per chunk (two
// interleaved when G is 2, so that their round chains overlap).
template <int G>
LUMAC_AVX512 void normal_chunks_avx512_g(std::uint64_t c, std::uint32_t k0, std::uint32_t k1,
                                         float* out) {
  const __m512i m0 = _mm512_set1_epi32(static_cast<int>(0xD2511F53u));
  const __m512i m1 = _mm512_set1_epi32(static_cast<int>(0xCD9E8D57u));
  const __m512i lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  __m512i x0[G], x1[G], x2[G], x3[G];
  for (int g = 0; g < G; ++g) {
    const auto first = static_cast<std::uint32_t>((c + static_cast<std::uint64_t>(g)) * 16);
    x0[g] = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(first)), lanes);
    x1[g] = x2[g] = x3[g] = _mm512_setzero_si512();
  }
  for (int round = 0; round < 10; ++round) {
    const __m512i key0 = _mm512_set1_epi32(static_cast<int>(k0));
    const __m512i key1 = _mm512_set1_epi32(static_cast<int>(k1));
    for (int g = 0; g < G; ++g) {
      const __m512i e0 = _mm512_mul_epu32(x0[g], m0);
      const __m512i o0 = _mm512_mul_epu32(_mm512_srli_epi64(x0[g], 32), m0);
      const __m512i e1 = _mm512_mul_epu32(x2[g], m1);
      const __m512i o1 = _mm512_mul_epu32(_mm512_srli_epi64(x2[g], 32), m1);
      const __m512i hi0 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e0, 32), o0);
      const __m512i lo0 = _mm512_mask_blend_epi32(0xAAAA, e0, _mm512_slli_epi64(o0, 32));
      const __m512i hi1 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e1, 32), o1);
      const __m512i lo1 = _mm512_mask_blend_epi32(0xAAAA, e1, _mm512_slli_epi64(o1, 32));
      x0[g] = _mm512_ternarylogic_epi32(hi1, x1[g], key0, 0x96);  // three-way xor
      x2[g] = _mm512_ternarylogic_epi32(hi0, x3[g], key1, 0x96);
      x1[g] = lo1;
      x3[g] = lo0;
    }
    k0 += 0x9E3779B9u;
    k1 += 0xBB67AE85u;
  }
  for (int g = 0; g < G; ++g) {
    const __m512i word[4] = {x0[g], x1[g], x2[g], x3[g]};
    for (int k = 0; k < 4; ++k) {
      const __m512 z = normals16(word[k]);
      // Lanes 0-7 are blocks 16 c .. 16 c + 7 (first half of the chunk), lanes 8-15 the rest.
      _mm256_storeu_ps(out + 64 * g + 8 * k, _mm512_castps512_ps256(z));
      _mm256_storeu_ps(out + 64 * g + 32 + 8 * k, _mm512_extractf32x8_ps(z, 1));
    }
  }
}
LUMAC_AVX512 void normal_chunks_avx512(std::uint64_t c, int count, std::uint32_t k0,
                                       std::uint32_t k1, float* out) {
  if (count == 2)
    normal_chunks_avx512_g<2>(c, k0, k1, out);
  else
    normal_chunks_avx512_g<1>(c, k0, k1, out);
}
#endif

#endif  // __AVX2__

// Without AVX2: the same polynomials, block by block, but std::log and an exact sqrt, so its
// values differ from the vector kernels' in the last bits (a test bounds the difference); a
// build without AVX2 (LUMAC_NATIVE=OFF, or a processor without it) draws slightly different
// normals.
void normal_chunks_scalar(std::uint64_t c, int count, std::uint32_t k0, std::uint32_t k1,
                          float* out) {
  const auto horner = [](float x, const float(&k)[9]) {
    float p = k[0];
    for (int i = 1; i < 9; ++i) p = std::fma(p, x, k[i]);
    return p;
  };
  for (int n = 0; n < count; ++n)
    for (std::uint32_t b = 0; b < 16; ++b) {
      // Block 16 c + b gives elements 32 (b / 8) + 8 w + b % 8 of its chunk, w = 0..3.
      const auto block = static_cast<std::uint32_t>((c + static_cast<std::uint64_t>(n)) * 16 + b);
      const auto r = r123::Philox4x32{}(r123::Philox4x32::ctr_type{{block, 0, 0, 0}},
                                        r123::Philox4x32::key_type{{k0, k1}});
      for (std::uint32_t w = 0; w < 4; ++w) {
        const float u = (static_cast<float>(r[w] >> 9) + 0.5f) * 1.1920929e-7f;
        const float lw = -std::log((4.0f * u) * (1.0f - u));
        float z = horner(lw - 2.5f, giles_central);
        if (lw >= 5.0f) z = horner(std::sqrt(lw) - 3.0f, giles_tail);
        out[64 * n + 32 * (b / 8) + 8 * w + b % 8] = (1.41421356f * z) * (2.0f * u - 1.0f);
      }
    }
}

using NormalKernel = void (*)(std::uint64_t, int, std::uint32_t, std::uint32_t, float*);

NormalKernel best_kernel() {
#if defined(LUMAC_HAVE_AVX512_KERNEL)
  __builtin_cpu_init();  // needed if this runs before the constructors of libgcc
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    return normal_chunks_avx512;
#endif
#if defined(__AVX2__)
  return normal_chunks_avx2;
#else
  return normal_chunks_scalar;
#endif
}

// Chosen on first use (a function-local static, so also safe from static initialisers).
NormalKernel normal_kernel() {
  static const NormalKernel kernel = best_kernel();
  return kernel;
}

}  // namespace

void philox4x32_x8_for_test(std::uint32_t first, std::uint32_t k0, std::uint32_t k1,
                            std::uint32_t words[4][8]) {
  std::uint32_t blocks[1][4][8];
  philox4x32_blocks<1>(first, k0, k1, blocks);
  std::copy(&blocks[0][0][0], &blocks[0][0][0] + 32, &words[0][0]);
}

std::vector<std::string> normal_kernels_for_test() {
  std::vector<std::string> names{"scalar"};
#if defined(__AVX2__)
  names.emplace_back("avx2");
#endif
#if defined(LUMAC_HAVE_AVX512_KERNEL)
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq"))
    names.emplace_back("avx512");
#endif
  return names;
}

void normal_chunks_for_test(const std::string& kernel, std::uint64_t c, int count, std::uint32_t k0,
                            std::uint32_t k1, float* out) {
  if (kernel == "scalar") return normal_chunks_scalar(c, count, k0, k1, out);
#if defined(__AVX2__)
  if (kernel == "avx2") return normal_chunks_avx2(c, count, k0, k1, out);
#endif
#if defined(LUMAC_HAVE_AVX512_KERNEL)
  if (kernel == "avx512") return normal_chunks_avx512(c, count, k0, k1, out);
#endif
  fail("no normal kernel '{}' on this machine", kernel);
}

NormalSequence::NormalSequence(const RandomStream& rng, std::uint64_t c0, std::uint64_t c1,
                               std::uint64_t c2) {
  // The counter prefix (c0, c1, c2) and the stream's key (seed, stream) are hashed by one
  // Philox4x64 call into the sequence's Philox4x32 key.
  const RandomStream::Bits key = rng.bits(c0, c1, c2, ~std::uint64_t{0});
  k0_ = static_cast<std::uint32_t>(key[0]);
  k1_ = static_cast<std::uint32_t>(key[0] >> 32);
}

void NormalSequence::chunks(std::uint64_t c, int count, float* out) const {
  if (count != 1 && count != 2) fail("normal sequence: {} chunks asked for (1 or 2)", count);
  if (c >= max_chunks || static_cast<std::uint64_t>(count) > max_chunks - c)
    fail("normal sequence: chunk {} is beyond its {} chunks", c + count - 1, max_chunks);
  normal_kernel()(c, count, k0_, k1_, out);
}

void NormalSequence::fill(std::span<float> out, std::uint64_t first) const {
  alignas(64) float values[2 * chunk];
  std::size_t i = 0;
  while (i < out.size()) {
    const std::uint64_t index = first + i;
    const std::uint64_t c = index / chunk, start = index % chunk;
    const std::size_t remaining = out.size() - i;
    if (start == 0 && remaining >= 2 * chunk) {
      // Whole chunks straight into the output.
      chunks(c, 2, out.data() + i);
      i += 2 * chunk;
      continue;
    }
    const int count = start + remaining > chunk ? 2 : 1;
    chunks(c, count, values);
    const std::size_t n = std::min<std::size_t>(count * chunk - start, remaining);
    std::copy(values + start, values + start + n, out.begin() + static_cast<std::ptrdiff_t>(i));
    i += n;
  }
}

void RandomStream::fill_normal(std::span<float> out, std::uint64_t c0, std::uint64_t c1,
                               std::uint64_t c2, std::uint64_t first) const {
  NormalSequence(*this, c0, c1, c2).fill(out, first);
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
