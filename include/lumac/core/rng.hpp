// Counter-based random numbers (Random123: Philox4x64-10 and Philox4x32-10; ARS-7 for the noise
// of analog products). There is no global generator: a RandomStream is keyed by (seed, stream
// id), and every draw is addressed by an explicit counter built from the indices of what it
// perturbs (sample, layer, output, repeat, ...). The same indices give the same numbers whatever
// the thread count, batch size or call order.
// See shared/DESIGN.md, convention 5.
#pragma once

#include <Random123/philox.h>

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace lumac {

// Stream identifiers. Each purpose has its own stream so that, e.g., enabling weight noise does
// not change the shot-noise draws. Device-to-device variation (drawn once) and shot-to-shot
// noise (drawn per call) use different streams (DESIGN.md convention 6).
enum class Stream : std::uint64_t {
  test = 0,
  vectors = 1,          // random input/weight vectors for circuit studies
  shot = 2,             // photon counting noise
  dark = 3,             // dark-current counts
  reset = 4,            // integrator kTC noise
  amplifier = 5,        // amplifier current noise
  rin = 6,              // laser relative intensity noise
  weight_temporal = 7,  // weight (modulator drive) noise, new every repeat
  weight_static = 8,    // weight noise fixed per device (device-to-device variation)
  layer_noise = 9,      // network-level output noise of a matrix product
  training = 10,        // initialisation and shuffling in training
  precision = 11,       // precision learning
  trace = 12,           // time-domain simulation noise increments
  device = 13,          // static device spreads of a chip (drawn once per device)
  phase_noise = 14,     // temporal signal-LO phase noise, new every repeat
};

class RandomStream {
 public:
  using Bits = std::array<std::uint64_t, 4>;

  RandomStream(std::uint64_t seed, Stream stream);
  RandomStream(std::uint64_t seed, std::uint64_t stream);

  // 256 random bits for counter (c0, c1, c2, c3).
  Bits bits(std::uint64_t c0, std::uint64_t c1, std::uint64_t c2, std::uint64_t c3) const;
  // Uniform in (0, 1].
  double uniform(std::uint64_t c0, std::uint64_t c1, std::uint64_t c2, std::uint64_t c3) const;
  // Standard normal.
  double normal(std::uint64_t c0, std::uint64_t c1, std::uint64_t c2, std::uint64_t c3) const;

  // Standard normals: element i of `out` is element (first + i) of the infinite sequence for
  // counter prefix (c0, c1, c2), so a range can be filled in pieces with identical results.
  // The double version draws Philox4x64 blocks (c0, c1, c2, block); the float version (model
  // initialisation; analog noise uses NoiseSequence below) hashes (seed, stream, c0, c1, c2)
  // with one Philox4x64 call into a Philox4x32 key and runs vectorised Philox4x32-10 over block
  // counters 0, 1, 2, ....
  void fill_normal(std::span<double> out, std::uint64_t c0, std::uint64_t c1, std::uint64_t c2,
                   std::uint64_t first = 0) const;
  void fill_normal(std::span<float> out, std::uint64_t c0, std::uint64_t c1, std::uint64_t c2,
                   std::uint64_t first = 0) const;

  // Exact Poisson draw of the given mean (>= 0) for counter prefix (c0, c1, c2).
  std::int64_t poisson(double mean, std::uint64_t c0, std::uint64_t c1, std::uint64_t c2) const;

 private:
  r123::Philox4x64::key_type key_;
};

// The sequence of standard normals (float) of one counter prefix, the form of fill_normal(float)
// that callers use to draw normals in cache-sized pieces next to where they are used. Chunk c
// holds elements 64 c .. 64 c + 63 of the sequence, the same values fill_normal gives there.
class NormalSequence {
 public:
  static constexpr std::size_t chunk = 64;
  static constexpr std::uint64_t max_chunks = std::uint64_t{1} << 28;  // 2^32 Philox blocks

  NormalSequence(const RandomStream& rng, std::uint64_t c0, std::uint64_t c1, std::uint64_t c2);
  // Chunks c .. c + count - 1 (count 1 or 2) into out[0 .. 64 count).
  void chunks(std::uint64_t c, int count, float* out) const;
  // Elements first .. first + out.size() - 1.
  void fill(std::span<float> out, std::uint64_t first = 0) const;

 private:
  std::uint32_t k0_ = 0, k1_ = 0;
};

// The sequence of standard normals (float) of analog noise for one counter prefix: every
// output of every matrix product executed on simulated hardware draws its Gaussian here. Element
// e is made from 32-bit word e % 4 of block e / 4 of ARS-7 (Random123's counter-based generator of
// AES rounds, r123::ARS4x32 with its default 7 rounds; block counter (e / 4, 0) under a 128-bit
// key hashed from (seed, stream, c0, c1, c2) by one Philox4x64 call). The word's top bit is the
// sign; the other 31 bits m give r = (m + 1/2) 2^-31 (rounded to float), and the value is
// sqrt(2) erfc^-1(r) from a degree-6 polynomial per octave of r (largest error 7.4e-7; |z| up
// to 6.34). About four times
// faster than NormalSequence; model initialisation keeps NormalSequence, so the bundled models
// stay reproducible. Kernels: AVX-512 with VAES, AVX2 with AES-NI, and a scalar one with a
// software AES round; all give the same bits (a test checks).
class NoiseSequence {
 public:
  static constexpr std::size_t chunk = 16;  // elements per chunk: four ARS blocks
  static constexpr std::uint64_t max_chunks = std::uint64_t{1} << 58;

  NoiseSequence(const RandomStream& rng, std::uint64_t c0, std::uint64_t c1, std::uint64_t c2);
  // Chunks c .. c + count - 1 into out[0 .. 16 count).
  void chunks(std::uint64_t c, std::uint64_t count, float* out) const;
  // Elements first .. first + out.size() - 1.
  void fill(std::span<float> out, std::uint64_t first = 0) const;

 private:
  std::uint64_t k0_ = 0, k1_ = 0;
};

// For tests: one ARS-7 block from the software AES (checked against Random123's AES-NI one), the
// normal of one word (scalar), and the noise kernels available on this machine by name
// ("scalar", "avx2", "avx512").
void ars7_for_test(std::uint64_t block, std::uint64_t k0, std::uint64_t k1, std::uint32_t out[4]);
float noise_normal_of_word_for_test(std::uint32_t word);
std::vector<std::string> noise_kernels_for_test();
void noise_words_for_test(const std::string& kernel, const std::uint32_t* words, std::size_t n,
                          float* out);
void noise_chunks_for_test(const std::string& kernel, std::uint64_t c, std::uint64_t count,
                           std::uint64_t k0, std::uint64_t k1, float* out);

// For tests: eight Philox4x32-10 blocks from the vectorised code (checked against Random123),
// and the normal kernels available on this machine ("scalar", "avx2", "avx512") by name.
void philox4x32_x8_for_test(std::uint32_t first, std::uint32_t k0, std::uint32_t k1,
                            std::uint32_t words[4][8]);
std::vector<std::string> normal_kernels_for_test();
void normal_chunks_for_test(const std::string& kernel, std::uint64_t c, int count, std::uint32_t k0,
                            std::uint32_t k1, float* out);

}  // namespace lumac
