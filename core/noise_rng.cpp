// The standard normals of analog noise: ARS-7 random words (Random123's AES-round counter-based
// generator) and an inverse normal CDF evaluated from a table of per-octave polynomials. See
// NoiseSequence in core/rng.hpp for the definition of the sequence.

#include "lumac/core/rng.hpp"

// GCC 12's own AVX-512 intrinsics trip its -Wuninitialized (GCC bug 105593: `__m512 __Y = __Y`
// inside _mm512_undefined_*, fixed in GCC 13).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

#if defined(__GNUC__) && defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#define LUMAC_X86_NOISE_KERNELS 1
#define LUMAC_AVX512_VAES __attribute__((target("avx512f,avx512vl,avx512dq,vaes,aes")))
#define LUMAC_AVX2_AES __attribute__((target("avx2,fma,aes")))
#endif

#include <algorithm>
#include <bit>
#include <cmath>

#include "lumac/core/error.hpp"

namespace lumac {

namespace {

// z(r) = sqrt(2) erfc^-1(r), the normal quantile of upper tail probability r / 2, on octave
// o = 0 .. 31 of r (r = f 2^-(o+1), f in [1, 2)) is a degree-6 polynomial in t = f - 1.5:
// table[k][o] is the coefficient of t^k. Least-squares fits to Boost's erfc_inv in long double,
// rounded to float (scripts/noise_normal_table.cpp makes this table); evaluated in float with
// fused multiply-adds, the largest error over each octave is 7.4e-7 (tests/core/test_rng.cpp
// checks against Boost).
alignas(64) constexpr float table[7][32] = {
    {
        // t^0
        3.186392784e-01f, 8.871464729e-01f, 1.318010807e+00f, 1.675939679e+00f, 1.987427831e+00f,
        2.266226768e+00f, 2.520502090e+00f, 2.755548716e+00f, 2.975020647e+00f, 3.181559563e+00f,
        3.377145767e+00f, 3.563307762e+00f, 3.741252422e+00f, 3.911952972e+00f, 4.076206684e+00f,
        4.234675407e+00f, 4.387917995e+00f, 4.536407948e+00f, 4.680552959e+00f, 4.820705891e+00f,
        4.957174778e+00f, 5.090230942e+00f, 5.220112801e+00f, 5.347034454e+00f, 5.471185684e+00f,
        5.592737198e+00f, 5.711843491e+00f, 5.828644753e+00f, 5.943266869e+00f, 6.055826664e+00f,
        6.166429520e+00f, 6.275172710e+00f,
    },
    {
        // t^1
        -6.592981219e-01f, -4.644159377e-01f, -3.734176159e-01f, -3.190546334e-01f,
        -2.822417915e-01f, -2.553346157e-01f, -2.346282005e-01f, -2.180914730e-01f,
        -2.045100778e-01f, -1.931094229e-01f, -1.833701134e-01f, -1.749295741e-01f,
        -1.675263345e-01f, -1.609665602e-01f, -1.551032960e-01f, -1.498228163e-01f,
        -1.450356543e-01f, -1.406702995e-01f, -1.366688758e-01f, -1.329839975e-01f,
        -1.295764297e-01f, -1.264133602e-01f, -1.234671623e-01f, -1.207143515e-01f,
        -1.181348488e-01f, -1.157113463e-01f, -1.134288609e-01f, -1.112743318e-01f,
        -1.092363298e-01f, -1.073048040e-01f, -1.054708436e-01f, -1.037265807e-01f,
    },
    {
        // t^2
        6.925980747e-02f, 9.567680955e-02f, 9.189724922e-02f, 8.530636132e-02f, 7.916378230e-02f,
        7.387800515e-02f, 6.938088685e-02f, 6.553567946e-02f, 6.221738085e-02f, 5.932522193e-02f,
        5.678051338e-02f, 5.452205613e-02f, 5.250196904e-02f, 5.068242922e-02f, 4.903325438e-02f,
        4.753008857e-02f, 4.615306854e-02f, 4.488584772e-02f, 4.371484742e-02f, 4.262869433e-02f,
        4.161777347e-02f, 4.067392275e-02f, 3.979014233e-02f, 3.896040842e-02f, 3.817949444e-02f,
        3.744285926e-02f, 3.674651310e-02f, 3.608695790e-02f, 3.546109796e-02f, 3.486618772e-02f,
        3.429978341e-02f, 3.375970200e-02f,
    },
    {
        // t^3
        -5.723525211e-02f, -4.276896268e-02f, -3.864044696e-02f, -3.564470261e-02f,
        -3.318335116e-02f, -3.111517429e-02f, -2.935542911e-02f, -2.784099616e-02f,
        -2.652369998e-02f, -2.536660619e-02f, -2.434120327e-02f, -2.342526615e-02f,
        -2.260128409e-02f, -2.185530402e-02f, -2.117608301e-02f, -2.055446617e-02f,
        -1.998293027e-02f, -1.945522986e-02f, -1.896614209e-02f, -1.851125807e-02f,
        -1.808683574e-02f, -1.768967323e-02f, -1.731701568e-02f, -1.696647517e-02f,
        -1.663597859e-02f, -1.632370986e-02f, -1.602807082e-02f, -1.574765518e-02f,
        -1.548121404e-02f, -1.522763446e-02f, -1.498592645e-02f, -1.475519966e-02f,
    },
    {
        // t^4
        1.890698634e-02f, 1.998719014e-02f, 1.844636351e-02f, 1.711243205e-02f, 1.599298790e-02f,
        1.504534204e-02f, 1.423410792e-02f, 1.353197172e-02f, 1.291801501e-02f, 1.237615384e-02f,
        1.189391408e-02f, 1.146151870e-02f, 1.107121632e-02f, 1.071679220e-02f, 1.039321255e-02f,
        1.009635441e-02f, 9.822813794e-03f, 9.569750167e-03f, 9.334778413e-03f, 9.115878493e-03f,
        8.911328390e-03f, 8.719651029e-03f, 8.539568633e-03f, 8.369974792e-03f, 8.209902793e-03f,
        8.058505133e-03f, 7.915033959e-03f, 7.778829895e-03f, 7.649305742e-03f, 7.525939029e-03f,
        7.408261765e-03f, 7.295853458e-03f,
    },
    {
        // t^5
        -1.410762314e-02f, -1.200760901e-02f, -1.108078007e-02f, -1.031502057e-02f,
        -9.670805186e-03f, -9.122663178e-03f, -8.650970645e-03f, -8.240703493e-03f,
        -7.880350575e-03f, -7.561029866e-03f, -7.275820244e-03f, -7.019266486e-03f,
        -6.787021644e-03f, -6.575582549e-03f, -6.382096559e-03f, -6.204217672e-03f,
        -6.039999425e-03f, -5.887812935e-03f, -5.746284500e-03f, -5.614246707e-03f,
        -5.490701180e-03f, -5.374789238e-03f, -5.265767220e-03f, -5.162987392e-03f,
        -5.065884441e-03f, -4.973960109e-03f, -4.886775743e-03f, -4.803942051e-03f,
        -4.725113045e-03f, -4.649979062e-03f, -4.578263499e-03f, -4.509717226e-03f,
    },
    {
        // t^6
        6.967597175e-03f, 6.694528274e-03f, 6.198508199e-03f, 5.783227272e-03f, 5.432648584e-03f,
        5.133315455e-03f, 4.874865059e-03f, 4.649372306e-03f, 4.450756591e-03f, 4.274314269e-03f,
        4.116366152e-03f, 3.974002320e-03f, 3.844897030e-03f, 3.727168543e-03f, 3.619279945e-03f,
        3.519964404e-03f, 3.428166965e-03f, 3.343003569e-03f, 3.263726132e-03f, 3.189697862e-03f,
        3.120373469e-03f, 3.055282403e-03f, 2.994016977e-03f, 2.936221659e-03f, 2.881584922e-03f,
        2.829832723e-03f, 2.780722920e-03f, 2.734040609e-03f, 2.689594170e-03f, 2.647212939e-03f,
        2.606742783e-03f, 2.568046330e-03f,
    },
};

constexpr std::uint64_t weyl0 = 0x9E3779B97F4A7C15u;  // ARS round-key increments (Random123)
constexpr std::uint64_t weyl1 = 0xBB67AE8584CAA73Bu;

// --- scalar: a software AES round, for processors without AES instructions -------------------

struct AesTables {
  std::uint8_t sbox[256];
  AesTables() {
    // The AES S-box: the multiplicative inverse in GF(2^8) (modulo x^8 + x^4 + x^3 + x + 1, with
    // 0 -> 0) followed by the affine map b ^ rotl(b, 1..4) ^ 0x63 (FIPS-197, 5.1.1).
    const auto mul = [](unsigned a, unsigned b) {
      unsigned p = 0;
      for (int i = 0; i < 8; ++i) {
        if (b & 1) p ^= a;
        a = (a << 1) ^ ((a & 0x80) ? 0x11B : 0);
        b >>= 1;
      }
      return p & 0xFF;
    };
    for (unsigned x = 0; x < 256; ++x) {
      unsigned inv = 0;
      for (unsigned y = 1; y < 256 && x != 0; ++y)
        if (mul(x, y) == 1) {
          inv = y;
          break;
        }
      const auto rotl = [](unsigned b, int n) { return ((b << n) | (b >> (8 - n))) & 0xFF; };
      sbox[x] = static_cast<std::uint8_t>(inv ^ rotl(inv, 1) ^ rotl(inv, 2) ^ rotl(inv, 3) ^
                                          rotl(inv, 4) ^ 0x63);
    }
  }
};

const AesTables& aes_tables() {
  static const AesTables t;
  return t;
}

std::uint8_t xtime(std::uint8_t x) {
  return static_cast<std::uint8_t>((x << 1) ^ ((x & 0x80) ? 0x1B : 0));
}

// One AES encryption round as the x86 AESENC / AESENCLAST instructions do it: ShiftRows,
// SubBytes, MixColumns (not in the last round), then the round key added. Byte i of the state
// is row i % 4, column i / 4; byte b of 32-bit word w is state byte 4 w + b.
void aes_round(std::uint8_t s[16], const std::uint8_t key[16], bool last) {
  const std::uint8_t* sbox = aes_tables().sbox;
  std::uint8_t t[16];
  for (int col = 0; col < 4; ++col)
    for (int row = 0; row < 4; ++row) t[row + 4 * col] = sbox[s[row + 4 * ((col + row) % 4)]];
  for (int col = 0; col < 4; ++col) {
    std::uint8_t* a = t + 4 * col;
    if (!last) {
      const std::uint8_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
      a[0] = static_cast<std::uint8_t>(xtime(a0) ^ xtime(a1) ^ a1 ^ a2 ^ a3);
      a[1] = static_cast<std::uint8_t>(a0 ^ xtime(a1) ^ xtime(a2) ^ a2 ^ a3);
      a[2] = static_cast<std::uint8_t>(a0 ^ a1 ^ xtime(a2) ^ xtime(a3) ^ a3);
      a[3] = static_cast<std::uint8_t>(xtime(a0) ^ a0 ^ a1 ^ a2 ^ xtime(a3));
    }
  }
  for (int i = 0; i < 16; ++i) s[i] = static_cast<std::uint8_t>(t[i] ^ key[i]);
}

void to_bytes(std::uint64_t lo, std::uint64_t hi, std::uint8_t out[16]) {
  for (int i = 0; i < 8; ++i) {
    out[i] = static_cast<std::uint8_t>(lo >> (8 * i));
    out[8 + i] = static_cast<std::uint8_t>(hi >> (8 * i));
  }
}

// ARS-7 of counter (block, 0) (two 64-bit words) under key (k0, k1), as r123::ARS4x32.
void ars7_scalar(std::uint64_t block, std::uint64_t k0, std::uint64_t k1, std::uint32_t out[4]) {
  std::uint8_t s[16], key[16];
  to_bytes(block ^ k0, k1, s);
  for (int round = 1; round < 7; ++round) {
    k0 += weyl0;
    k1 += weyl1;
    to_bytes(k0, k1, key);
    aes_round(s, key, false);
  }
  k0 += weyl0;
  k1 += weyl1;
  to_bytes(k0, k1, key);
  aes_round(s, key, true);
  for (int w = 0; w < 4; ++w)
    out[w] = static_cast<std::uint32_t>(s[4 * w]) | static_cast<std::uint32_t>(s[4 * w + 1]) << 8 |
             static_cast<std::uint32_t>(s[4 * w + 2]) << 16 |
             static_cast<std::uint32_t>(s[4 * w + 3]) << 24;
}

// The normal of one word: the top bit is the sign; the other 31, m, give the two-sided tail
// probability r = fma(float(m), 2^-31, 2^-32), kept below 1: (m + 1/2) 2^-31 exactly for
// m < 2^23, float(m) 2^-31 rounded to 24 bits above (the half is below float resolution there;
// the effect on the variance is 2e-9), and z = z(r) from the table. The vector kernels do the same
// operations in the same order, so every kernel gives the same bits.
float normal_of_word(std::uint32_t w) {
  const auto m = static_cast<std::int32_t>(w & 0x7FFFFFFFu);
  const float r = std::min(std::fma(static_cast<float>(m), 0x1p-31f, 0x1p-32f), 0x1.fffffep-1f);
  const auto rb = std::bit_cast<std::uint32_t>(r);
  const auto o = static_cast<std::size_t>(126 - static_cast<int>(rb >> 23));
  const float t = std::bit_cast<float>((rb & 0x007FFFFFu) | 0x3F800000u) - 1.5f;
  float z = table[6][o];
  for (int k = 5; k >= 0; --k) z = std::fma(z, t, table[k][o]);
  return std::bit_cast<float>(std::bit_cast<std::uint32_t>(z) ^ (w & 0x80000000u));
}

// Chunks c .. c + count - 1: element e of the sequence is the normal of word e % 4 of ARS block
// e / 4, so chunk c (16 elements) is blocks 4 c .. 4 c + 3.
void noise_chunks_scalar(std::uint64_t c, std::uint64_t count, std::uint64_t k0, std::uint64_t k1,
                         float* out) {
  for (std::uint64_t b = 4 * c; b < 4 * (c + count); ++b, out += 4) {
    std::uint32_t words[4];
    ars7_scalar(b, k0, k1, words);
    for (int w = 0; w < 4; ++w) out[w] = normal_of_word(words[w]);
  }
}

void noise_words_scalar(const std::uint32_t* w, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = normal_of_word(w[i]);
}

#if defined(LUMAC_X86_NOISE_KERNELS)

// --- AVX2 with AES-NI: one block per AESENC, the table read by permutes (gathers in the tail) --

LUMAC_AVX2_AES inline __m256 noise_normals8(__m256i w) {
  const __m256i m = _mm256_and_si256(w, _mm256_set1_epi32(0x7FFFFFFF));
  __m256 r =
      _mm256_fmadd_ps(_mm256_cvtepi32_ps(m), _mm256_set1_ps(0x1p-31f), _mm256_set1_ps(0x1p-32f));
  r = _mm256_min_ps(r, _mm256_set1_ps(0x1.fffffep-1f));
  const __m256i rb = _mm256_castps_si256(r);
  const __m256i o = _mm256_sub_epi32(_mm256_set1_epi32(126), _mm256_srli_epi32(rb, 23));
  const __m256 t = _mm256_sub_ps(
      _mm256_castsi256_ps(_mm256_or_si256(_mm256_and_si256(rb, _mm256_set1_epi32(0x007FFFFF)),
                                          _mm256_set1_epi32(0x3F800000))),
      _mm256_set1_ps(1.5f));
  __m256 z;
  if (_mm256_movemask_ps(_mm256_castsi256_ps(_mm256_cmpgt_epi32(o, _mm256_set1_epi32(7)))) == 0) {
    // Octaves 0-7 only (r >= 2^-8: all but 1 word in 256): one permute per coefficient.
    z = _mm256_permutevar8x32_ps(_mm256_load_ps(table[6]), o);
    for (int k = 5; k >= 0; --k)
      z = _mm256_fmadd_ps(z, t, _mm256_permutevar8x32_ps(_mm256_load_ps(table[k]), o));
  } else {
    z = _mm256_i32gather_ps(table[6], o, 4);
    for (int k = 5; k >= 0; --k) z = _mm256_fmadd_ps(z, t, _mm256_i32gather_ps(table[k], o, 4));
  }
  return _mm256_castsi256_ps(
      _mm256_xor_si256(_mm256_castps_si256(z),
                       _mm256_and_si256(w, _mm256_set1_epi32(static_cast<int>(0x80000000u)))));
}

// G blocks (G / 4 chunks) from block b on, G independent AES chains so that their latencies
// overlap.
template <int G>
LUMAC_AVX2_AES inline void noise_blocks_avx2(std::uint64_t b, const __m128i (&rk)[8], float* out) {
  __m128i v[G];
  for (int g = 0; g < G; ++g)
    v[g] = _mm_xor_si128(_mm_set_epi64x(0, static_cast<long long>(b + static_cast<unsigned>(g))),
                         rk[0]);
  for (int i = 1; i < 7; ++i)
    for (int g = 0; g < G; ++g) v[g] = _mm_aesenc_si128(v[g], rk[i]);
  for (int g = 0; g < G; ++g) v[g] = _mm_aesenclast_si128(v[g], rk[7]);
  for (int g = 0; g < G; g += 2)
    _mm256_storeu_ps(out + 4 * g, noise_normals8(_mm256_set_m128i(v[g + 1], v[g])));
}

LUMAC_AVX2_AES void noise_chunks_avx2(std::uint64_t c, std::uint64_t count, std::uint64_t k0,
                                      std::uint64_t k1, float* out) {
  __m128i rk[8];
  rk[0] = _mm_set_epi64x(static_cast<long long>(k1), static_cast<long long>(k0));
  const __m128i weyl = _mm_set_epi64x(static_cast<long long>(weyl1), static_cast<long long>(weyl0));
  for (int i = 1; i < 8; ++i) rk[i] = _mm_add_epi64(rk[i - 1], weyl);
  for (std::uint64_t i = 0; i + 2 <= count; i += 2)
    noise_blocks_avx2<8>(4 * (c + i), rk, out + 16 * i);
  if (count % 2 == 1) noise_blocks_avx2<4>(4 * (c + count - 1), rk, out + 16 * (count - 1));
}

// The word-to-normal transforms of the vector kernels, for tests (n a multiple of 16).
LUMAC_AVX2_AES void noise_words_avx2(const std::uint32_t* w, std::size_t n, float* out) {
  for (std::size_t i = 0; i < n; i += 8)
    _mm256_storeu_ps(out + i,
                     noise_normals8(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(w + i))));
}

// --- AVX-512 with VAES: four blocks per instruction, the table in registers ------------------

LUMAC_AVX512_VAES inline __m512 noise_normals16(__m512i w, const __m512 (&lo)[7],
                                                const __m512 (&hi)[7]) {
  const __m512i m = _mm512_and_si512(w, _mm512_set1_epi32(0x7FFFFFFF));
  __m512 r =
      _mm512_fmadd_ps(_mm512_cvtepi32_ps(m), _mm512_set1_ps(0x1p-31f), _mm512_set1_ps(0x1p-32f));
  r = _mm512_min_ps(r, _mm512_set1_ps(0x1.fffffep-1f));
  const __m512i rb = _mm512_castps_si512(r);
  const __m512i o = _mm512_sub_epi32(_mm512_set1_epi32(126), _mm512_srli_epi32(rb, 23));
  const __m512 t = _mm512_sub_ps(
      _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(rb, _mm512_set1_epi32(0x007FFFFF)),
                                          _mm512_set1_epi32(0x3F800000))),
      _mm512_set1_ps(1.5f));
  // The 32-entry table of each coefficient is two registers; one permute looks it up.
  __m512 z = _mm512_permutex2var_ps(lo[6], o, hi[6]);
  for (int k = 5; k >= 0; --k) z = _mm512_fmadd_ps(z, t, _mm512_permutex2var_ps(lo[k], o, hi[k]));
  return _mm512_castsi512_ps(
      _mm512_xor_si512(_mm512_castps_si512(z),
                       _mm512_and_si512(w, _mm512_set1_epi32(static_cast<int>(0x80000000u)))));
}

// G chunks (G registers of four blocks each) from chunk c on.
template <int G>
LUMAC_AVX512_VAES inline void noise_group_avx512(std::uint64_t c, const __m512i (&rk)[8],
                                                 const __m512 (&lo)[7], const __m512 (&hi)[7],
                                                 float* out) {
  // Counter words (block, 0) for blocks 4 c' .. 4 c' + 3 of chunk c'.
  const __m512i lanes = _mm512_set_epi64(0, 3, 0, 2, 0, 1, 0, 0);
  __m512i v[G];
  for (int g = 0; g < G; ++g) {
    const auto first = static_cast<long long>(4 * (c + static_cast<unsigned>(g)));
    v[g] = _mm512_xor_si512(_mm512_maskz_add_epi64(0x55, _mm512_set1_epi64(first), lanes), rk[0]);
  }
  for (int i = 1; i < 7; ++i)
    for (int g = 0; g < G; ++g) v[g] = _mm512_aesenc_epi128(v[g], rk[i]);
  for (int g = 0; g < G; ++g) v[g] = _mm512_aesenclast_epi128(v[g], rk[7]);
  for (int g = 0; g < G; ++g) _mm512_storeu_ps(out + 16 * g, noise_normals16(v[g], lo, hi));
}

LUMAC_AVX512_VAES void noise_chunks_avx512(std::uint64_t c, std::uint64_t count, std::uint64_t k0,
                                           std::uint64_t k1, float* out) {
  __m512 lo[7], hi[7];
  for (int k = 0; k < 7; ++k) {
    lo[k] = _mm512_load_ps(table[k]);
    hi[k] = _mm512_load_ps(table[k] + 16);
  }
  __m512i rk[8];
  rk[0] = _mm512_broadcast_i32x4(
      _mm_set_epi64x(static_cast<long long>(k1), static_cast<long long>(k0)));
  const __m512i weyl = _mm512_broadcast_i32x4(
      _mm_set_epi64x(static_cast<long long>(weyl1), static_cast<long long>(weyl0)));
  for (int i = 1; i < 8; ++i) rk[i] = _mm512_add_epi64(rk[i - 1], weyl);
  for (; count >= 8; count -= 8, c += 8, out += 128) noise_group_avx512<8>(c, rk, lo, hi, out);
  for (; count >= 2; count -= 2, c += 2, out += 32) noise_group_avx512<2>(c, rk, lo, hi, out);
  if (count == 1) noise_group_avx512<1>(c, rk, lo, hi, out);
}

LUMAC_AVX512_VAES void noise_words_avx512(const std::uint32_t* w, std::size_t n, float* out) {
  __m512 lo[7], hi[7];
  for (int k = 0; k < 7; ++k) {
    lo[k] = _mm512_load_ps(table[k]);
    hi[k] = _mm512_load_ps(table[k] + 16);
  }
  for (std::size_t i = 0; i < n; i += 16)
    _mm512_storeu_ps(out + i, noise_normals16(_mm512_loadu_si512(w + i), lo, hi));
}

#endif  // LUMAC_X86_NOISE_KERNELS

using NoiseKernel = void (*)(std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t, float*);

using WordsKernel = void (*)(const std::uint32_t*, std::size_t, float*);

struct NamedKernel {
  const char* name;
  NoiseKernel kernel;
  WordsKernel words;  // its word-to-normal transform alone (tests)
};

// The kernels this processor can run, slowest first.
std::vector<NamedKernel> available_kernels() {
  std::vector<NamedKernel> out{{"scalar", noise_chunks_scalar, noise_words_scalar}};
#if defined(LUMAC_X86_NOISE_KERNELS)
  __builtin_cpu_init();  // needed if this runs before the constructors of libgcc
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("aes"))
    out.push_back({"avx2", noise_chunks_avx2, noise_words_avx2});
  // VAES: CPUID leaf 7, ECX bit 9 (clang 14's __builtin_cpu_supports does not know it); it uses
  // the register state the AVX-512 check has already found the OS to save.
  unsigned a = 0, b = 0, c = 0, d = 0;
  const bool vaes = __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (c & (1u << 9)) != 0;
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("aes") && vaes)
    out.push_back({"avx512", noise_chunks_avx512, noise_words_avx512});
#endif
  return out;
}

// Chosen on first use (a function-local static, so also safe from static initialisers).
NoiseKernel noise_kernel() {
  static const NoiseKernel kernel = available_kernels().back().kernel;
  return kernel;
}

}  // namespace

NoiseSequence::NoiseSequence(const RandomStream& rng, std::uint64_t c0, std::uint64_t c1,
                             std::uint64_t c2) {
  // The counter prefix (c0, c1, c2) and the stream's key (seed, stream) are hashed by one
  // Philox4x64 call into the sequence's 128-bit ARS key. The last counter word differs from
  // NormalSequence's (all ones), so the two never share a key.
  const RandomStream::Bits key = rng.bits(c0, c1, c2, ~std::uint64_t{1});
  k0_ = key[0];
  k1_ = key[1];
}

void NoiseSequence::chunks(std::uint64_t c, std::uint64_t count, float* out) const {
  if (count == 0) return;
  if (c >= max_chunks || count > max_chunks - c)
    fail("noise sequence: chunks {} .. {} are beyond its {} chunks", c, c + (count - 1),
         max_chunks);
  noise_kernel()(c, count, k0_, k1_, out);
}

void NoiseSequence::fill(std::span<float> out, std::uint64_t first) const {
  if (out.empty()) return;
  if (first >= max_chunks * chunk || out.size() > max_chunks * chunk - first)
    fail("noise sequence: elements {} .. {} are beyond its {} chunks", first,
         first + (out.size() - 1), max_chunks);
  alignas(64) float part[chunk];
  std::size_t i = 0;
  // A partial first chunk, whole chunks straight into the output, a partial last chunk.
  if (first % chunk != 0) {
    chunks(first / chunk, 1, part);
    const std::size_t start = first % chunk;
    const std::size_t n = std::min(chunk - start, out.size());
    std::copy(part + start, part + start + n, out.begin());
    i = n;
  }
  const std::size_t whole = (out.size() - i) / chunk;
  chunks((first + i) / chunk, whole, out.data() + i);
  i += whole * chunk;
  if (i < out.size()) {
    chunks((first + i) / chunk, 1, part);
    std::copy(part, part + (out.size() - i), out.begin() + static_cast<std::ptrdiff_t>(i));
  }
}

void ars7_for_test(std::uint64_t block, std::uint64_t k0, std::uint64_t k1, std::uint32_t out[4]) {
  ars7_scalar(block, k0, k1, out);
}

float noise_normal_of_word_for_test(std::uint32_t word) {
  return normal_of_word(word);
}

std::vector<std::string> noise_kernels_for_test() {
  std::vector<std::string> names;
  for (const NamedKernel& k : available_kernels()) names.emplace_back(k.name);
  return names;
}

void noise_words_for_test(const std::string& kernel, const std::uint32_t* words, std::size_t n,
                          float* out) {
  if (n % 16 != 0) fail("noise_words_for_test: {} words (a multiple of 16)", n);
  for (const NamedKernel& k : available_kernels())
    if (kernel == k.name) return k.words(words, n, out);
  fail("no noise kernel '{}' on this machine", kernel);
}

void noise_chunks_for_test(const std::string& kernel, std::uint64_t c, std::uint64_t count,
                           std::uint64_t k0, std::uint64_t k1, float* out) {
  for (const NamedKernel& k : available_kernels())
    if (kernel == k.name) return k.kernel(c, count, k0, k1, out);
  fail("no noise kernel '{}' on this machine", kernel);
}

}  // namespace lumac
