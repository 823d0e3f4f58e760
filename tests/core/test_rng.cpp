#include <Random123/ars.h>
#include <Random123/philox.h>

#include <boost/math/special_functions/erf.hpp>
#include <numeric>

#include "lumac/core/error.hpp"
#include "lumac/core/rng.hpp"
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
  // Float: pieces that start and end inside and across the 64-normal chunks.
  std::vector<float> wf(700), pf(700);
  r.fill_normal(wf, 4, 5, 6);
  r.fill_normal(std::span<float>(pf).subspan(0, 11), 4, 5, 6, 0);
  r.fill_normal(std::span<float>(pf).subspan(11, 60), 4, 5, 6, 11);
  r.fill_normal(std::span<float>(pf).subspan(71, 129), 4, 5, 6, 71);
  r.fill_normal(std::span<float>(pf).subspan(200, 300), 4, 5, 6, 200);
  r.fill_normal(std::span<float>(pf).subspan(500), 4, 5, 6, 500);
  CHECK(wf == pf);
  // NormalSequence chunks are the same values.
  const NormalSequence seq(r, 4, 5, 6);
  std::vector<float> chunks(3 * 64);
  seq.chunks(0, 2, chunks.data());
  seq.chunks(2, 1, chunks.data() + 128);
  CHECK(std::equal(chunks.begin(), chunks.end(), wf.begin()));
  CHECK_THROWS_AS(seq.chunks(NormalSequence::max_chunks - 1, 2, chunks.data()), Error);
  CHECK_THROWS_AS(seq.chunks(~std::uint64_t{0}, 2, chunks.data()), Error);  // no wrap-around
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

TEST_CASE("rng: every float normal kernel on this machine gives the same values") {
  // AVX2 and AVX-512 bit for bit (so results do not depend on which one the processor runs);
  // the scalar fallback (std::log, exact sqrt) within float rounding. 4096 chunks = 262,144
  // normals each, so about 870 take the tail branch.
  const std::vector<std::string> kernels = normal_kernels_for_test();
  INFO("kernels: " << kernels.size());
  const int chunks = 4096;
  std::vector<float> reference(64 * chunks), got(64 * chunks);
  const std::string& best = kernels.back();
  for (int c = 0; c < chunks; c += 2)
    normal_chunks_for_test(best, static_cast<std::uint64_t>(c), 2, 0x1234567u, 0x89ABCDEFu,
                           reference.data() + 64 * c);
  for (const std::string& k : kernels) {
    CAPTURE(k);
    for (int c = 0; c < chunks; ++c)
      normal_chunks_for_test(k, static_cast<std::uint64_t>(c), 1, 0x1234567u, 0x89ABCDEFu,
                             got.data() + 64 * c);
    if (k == "scalar") {
      float worst = 0;
      for (std::size_t i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(got[i] - reference[i]) / std::max(1.0f, std::abs(got[i])));
      CHECK(worst < 2e-6f);
    } else {
      CHECK(got == reference);
    }
  }
  CHECK_THROWS_AS(normal_chunks_for_test("sse9", 0, 1, 0, 0, got.data()), Error);
}

TEST_CASE("rng: float normals are sqrt(2) erfinv(2u - 1) of the Philox words, to float precision") {
  // Element i of chunk c is word (i % 32) / 8 of Philox4x32-10 block 16 c + 8 (i / 32) + i % 8,
  // u = (top 23 bits + 1/2) 2^-23; the reference is Boost's double-precision erf_inv.
  const std::uint32_t k0 = 77, k1 = 0xFEEDu;
  const int chunks = 2048;
  std::vector<float> z(64 * chunks);
  normal_chunks_for_test(normal_kernels_for_test().back(), 0, 1, k0, k1, z.data());
  for (int c = 1; c < chunks; ++c)
    normal_chunks_for_test(normal_kernels_for_test().back(), static_cast<std::uint64_t>(c), 1, k0,
                           k1, z.data() + 64 * c);
  double worst = 0, largest = 0;
  for (int c = 0; c < chunks; ++c)
    for (int i = 0; i < 64; ++i) {
      const auto block = static_cast<std::uint32_t>(16 * c + 8 * (i / 32) + i % 8);
      const auto words = r123::Philox4x32{}(r123::Philox4x32::ctr_type{{block, 0, 0, 0}},
                                            r123::Philox4x32::key_type{{k0, k1}});
      const double u =
          (static_cast<double>(words[static_cast<std::size_t>((i % 32) / 8)] >> 9) + 0.5) *
          std::ldexp(1.0, -23);
      const double expected = std::sqrt(2.0) * boost::math::erf_inv(2 * u - 1);
      const double got = z[static_cast<std::size_t>(64 * c + i)];
      worst = std::max(worst, std::abs(got - expected) / std::max(1.0, std::abs(expected)));
      largest = std::max(largest, std::abs(expected));
    }
  INFO("largest |z| " << largest);
  CHECK(largest > 3.5);  // the tail branch was exercised
  // Giles' single-precision approximation with float arithmetic: a few float epsilons.
  CHECK(worst < 1e-6);
}

TEST_CASE("rng: float normals put the right mass beyond 1, 2 and 3 sigma (n = 2^21)") {
  const RandomStream r(21, Stream::test);
  std::vector<float> z(std::size_t{1} << 21);
  r.fill_normal(z, 9, 9, 9);
  const double n = static_cast<double>(z.size());
  for (const double k : {1.0, 2.0, 3.0}) {
    const double p = std::erfc(k / std::sqrt(2.0));  // P(|z| > k)
    const double count = static_cast<double>(
        std::count_if(z.begin(), z.end(), [&](float v) { return std::abs(v) > k; }));
    CAPTURE(k);
    // Binomial: 5 standard deviations of the count.
    CHECK(std::abs(count - n * p) < 5 * std::sqrt(n * p * (1 - p)));
  }
}

// --- NoiseSequence: ARS-7 words and the octave-table inverse CDF ---------------------------------

TEST_CASE("noise rng: the software AES round gives Random123's ARS-7 (AES-NI)") {
#if R123_USE_AES_NI
  REQUIRE(haveAESNI());
  for (const std::uint64_t block :
       {std::uint64_t{0}, std::uint64_t{1}, std::uint64_t{123456789}, ~std::uint64_t{0}}) {
    const std::uint64_t k0 = 0x0123456789ABCDEFu, k1 = 0xFEDCBA9876543210u ^ block;
    std::uint32_t got[4];
    ars7_for_test(block, k0, k1, got);
    const r123::ARS4x32::ctr_type ctr{
        {static_cast<std::uint32_t>(block), static_cast<std::uint32_t>(block >> 32), 0, 0}};
    const r123::ARS4x32::key_type key{
        {static_cast<std::uint32_t>(k0), static_cast<std::uint32_t>(k0 >> 32),
         static_cast<std::uint32_t>(k1), static_cast<std::uint32_t>(k1 >> 32)}};
    const auto expected = r123::ARS4x32{}(ctr, key);
    CAPTURE(block);
    for (int w = 0; w < 4; ++w) CHECK(got[w] == expected[static_cast<std::size_t>(w)]);
  }
#else
  MESSAGE("built without AES-NI: the software AES is checked against the recorded answers only");
#endif
  // Known answers, recorded from r123::ARS4x32 (AES-NI) on an x86 processor, so that builds
  // without AES-NI (and other architectures) are tied to ARS-7 as well.
  struct Known {
    std::uint64_t block, k0, k1;
    std::uint32_t words[4];
  };
  const Known known[] = {
      {0x0u, 0x0u, 0x0u, {0xDACF61FFu, 0xC45798F3u, 0x113C7EEBu, 0x101E27F3u}},
      {0x1u,
       0x0123456789ABCDEFu,
       0xFEDCBA9876543210u,
       {0xBCD45106u, 0x17347F79u, 0xD0672EADu, 0x6C55631Du}},
      {0xFFFFFFFFFFFFFFFFu,
       0xDEADBEEFCAFEF00Du,
       0x2Au,
       {0x9FA6E79Eu, 0x79C8A3DCu, 0xE367D91Eu, 0x308453A5u}},
  };
  for (const Known& k : known) {
    std::uint32_t got[4];
    ars7_for_test(k.block, k.k0, k.k1, got);
    CAPTURE(k.block);
    for (int w = 0; w < 4; ++w) CHECK(got[w] == k.words[w]);
  }
}

TEST_CASE("noise rng: every kernel's transform gives the scalar one's bits on every octave") {
  // 2,048 words per octave of r (o = 0 .. 30, plus m = 0 for o = 31), spread over the octave
  // and including its ends, with both signs: the vector kernels' table lookups (registers,
  // permutes, gathers in the far tail) against the scalar table.
  std::vector<std::uint32_t> words;
  for (int o = 0; o < 31; ++o) {
    const std::uint32_t lo = std::uint32_t{1} << (30 - o), span = lo;  // m in [lo, 2 lo)
    for (std::uint32_t i = 0; i < 1024; ++i) {
      const auto m =
          static_cast<std::uint32_t>(lo + static_cast<std::uint64_t>(span - 1) * i / 1023);
      words.push_back(m);
      words.push_back(m | 0x80000000u);
    }
  }
  while (words.size() % 16 != 0) words.push_back(0);  // m = 0: octave 31
  std::vector<float> reference(words.size()), got(words.size());
  noise_words_for_test("scalar", words.data(), words.size(), reference.data());
  for (const std::string& k : noise_kernels_for_test()) {
    CAPTURE(k);
    noise_words_for_test(k, words.data(), words.size(), got.data());
    CHECK(got == reference);
  }
  CHECK_THROWS_AS(noise_words_for_test("scalar", words.data(), 15, got.data()), Error);
}

TEST_CASE("noise rng: every kernel on this machine gives the same bits") {
  // 3 x 4096 chunks (196,608 normals): the AVX-512 kernel's groups of 8, 2 and 1 chunks, the
  // AVX2 kernel's groups of 2, and the scalar one. Counts that are not multiples of the groups.
  const std::vector<std::string> kernels = noise_kernels_for_test();
  INFO("kernels: " << kernels.size());
  const std::uint64_t k0 = 0x1234567u, k1 = 0x89ABCDEF0123u;
  const std::size_t chunks = 3 * 4096;
  std::vector<float> reference(16 * chunks), got(16 * chunks);
  noise_chunks_for_test("scalar", 0, chunks, k0, k1, reference.data());
  for (const std::string& k : kernels) {
    CAPTURE(k);
    std::fill(got.begin(), got.end(), 0.0f);
    std::size_t c = 0;
    for (const std::size_t count :
         {std::size_t{1}, std::size_t{2}, std::size_t{3}, std::size_t{11}, std::size_t{17}})
      for (; c + count <= chunks; c += count) {
        noise_chunks_for_test(k, c, count, k0, k1, got.data() + 16 * c);
        if (c > chunks / 5 * count) break;
      }
    noise_chunks_for_test(k, c, chunks - c, k0, k1, got.data() + 16 * c);
    CHECK(got == reference);
  }
  CHECK_THROWS_AS(noise_chunks_for_test("sse9", 0, 1, 0, 0, got.data()), Error);
}

TEST_CASE("noise rng: the normal of a word is sqrt(2) erfc^-1(r) to 1e-6") {
  // Every octave of r, its ends and a stride through all 2^31 magnitudes, against Boost's
  // double-precision erfc_inv of the same float r; the sign is the word's top bit.
  double worst = 0;
  std::size_t asymmetric = 0;
  const auto check = [&](std::uint32_t m) {
    const float r =
        std::min(std::fma(static_cast<float>(static_cast<std::int32_t>(m)), 0x1p-31f, 0x1p-32f),
                 0x1.fffffep-1f);
    const double expected = std::sqrt(2.0) * boost::math::erfc_inv(static_cast<double>(r));
    const float z = noise_normal_of_word_for_test(m),
                zn = noise_normal_of_word_for_test(m | 0x80000000u);
    worst = std::max(worst, std::abs(z - expected));
    asymmetric += zn != -z;
  };
  for (std::uint32_t m = 0; m < 0x80000000u; m += 1021) check(m);
  for (int o = 0; o < 31; ++o) {
    const std::uint32_t lo = std::uint32_t{1} << o;
    check(lo - 1);
    check(lo);
    check(lo + 1);
  }
  check(0x7FFFFFFFu);
  CHECK(asymmetric == 0);
  CHECK(worst < 1e-6);
  CHECK(noise_normal_of_word_for_test(0x7FFFFFFFu) == doctest::Approx(0).epsilon(1e-6));
  CHECK(noise_normal_of_word_for_test(0) > 6.2f);  // the largest |z|: r = 2^-32
}

TEST_CASE("noise rng: normals have mean 0, variance 1 and the right tail mass (n = 2^22)") {
  const RandomStream r(21, Stream::test);
  std::vector<float> z(std::size_t{1} << 22);
  NoiseSequence(r, 9, 9, 9).fill(z);
  const double n = static_cast<double>(z.size());
  const Moments m = moments(std::vector<double>(z.begin(), z.end()));
  CHECK(std::abs(m.mean) < mean_tolerance(1, n));
  CHECK(std::abs(m.variance - 1) < variance_tolerance(1, n));
  for (const double k : {1.0, 2.0, 3.0, 4.0}) {
    const double p = std::erfc(k / std::sqrt(2.0));  // P(|z| > k)
    const double count = static_cast<double>(
        std::count_if(z.begin(), z.end(), [&](float v) { return std::abs(v) > k; }));
    CAPTURE(k);
    CHECK(std::abs(count - n * p) < 5 * std::sqrt(n * p * (1 - p)));  // 5 binomial sigma
  }
  // Independent counter prefixes and streams give different sequences.
  std::vector<float> a(64), b(64), c(64);
  NoiseSequence(r, 9, 9, 10).fill(a);
  NoiseSequence(RandomStream(21, Stream::layer_noise), 9, 9, 9).fill(b);
  r.fill_normal(c, 9, 9, 9);  // NormalSequence of the same prefix
  CHECK(a != std::vector<float>(z.begin(), z.begin() + 64));
  CHECK(b != std::vector<float>(z.begin(), z.begin() + 64));
  CHECK(c != std::vector<float>(z.begin(), z.begin() + 64));
}

TEST_CASE("noise rng: a range filled in pieces equals the range filled at once") {
  const RandomStream r(3, Stream::test);
  const NoiseSequence seq(r, 4, 5, 6);
  std::vector<float> whole(700), parts(700), chunks(3 * NoiseSequence::chunk);
  seq.fill(whole);
  std::size_t at = 0;
  for (const std::size_t n : {3, 5, 8, 16, 33, 100, 1, 15, 200}) {
    seq.fill(std::span<float>(parts).subspan(at, n), at);
    at += n;
  }
  seq.fill(std::span<float>(parts).subspan(at), at);
  CHECK(whole == parts);
  seq.chunks(0, 1, chunks.data());
  seq.chunks(1, 2, chunks.data() + NoiseSequence::chunk);
  CHECK(std::equal(chunks.begin(), chunks.end(), whole.begin()));
  seq.fill(std::span<float>{}, 5);  // nothing to do
  CHECK_THROWS_AS(seq.chunks(NoiseSequence::max_chunks - 1, 2, chunks.data()), Error);
  CHECK_THROWS_AS(seq.chunks(~std::uint64_t{0}, 2, chunks.data()), Error);  // no wrap-around
  CHECK_THROWS_AS(seq.fill(std::span<float>(chunks), NoiseSequence::max_chunks * 16 - 4), Error);
  // Up to exactly the end of the sequence: a partial chunk alone, and a partial plus a whole one.
  const std::uint64_t end = NoiseSequence::max_chunks * NoiseSequence::chunk;
  CHECK_NOTHROW(seq.fill(std::span<float>(chunks).subspan(0, 8), end - 8));
  CHECK_NOTHROW(seq.fill(std::span<float>(chunks).subspan(0, 24), end - 24));
  seq.chunks(NoiseSequence::max_chunks, 0, chunks.data());  // nothing, not an error
}
