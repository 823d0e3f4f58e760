// Counter-based random numbers (Random123 Philox4x64-10). There is no global generator: a
// RandomStream is keyed by (seed, stream id), and every draw is addressed by an explicit counter
// built from the indices of what it perturbs (sample, layer, output, repeat, ...). The same
// indices give the same numbers whatever the thread count, batch size or call order.
// See shared/DESIGN.md, convention 5.
#pragma once

#include <Random123/philox.h>

#include <array>
#include <cstdint>
#include <span>

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
  // The double version draws Philox4x64 blocks (c0, c1, c2, block); the float version, the hot
  // path of analog execution, hashes (seed, stream, c0, c1, c2) with one Philox4x64 call into a
  // Philox4x32 key and runs vectorised Philox4x32-10 over block counters 0, 1, 2, ....
  void fill_normal(std::span<double> out, std::uint64_t c0, std::uint64_t c1, std::uint64_t c2,
                   std::uint64_t first = 0) const;
  void fill_normal(std::span<float> out, std::uint64_t c0, std::uint64_t c1, std::uint64_t c2,
                   std::uint64_t first = 0) const;

  // Exact Poisson draw of the given mean (>= 0) for counter prefix (c0, c1, c2).
  std::int64_t poisson(double mean, std::uint64_t c0, std::uint64_t c1, std::uint64_t c2) const;

 private:
  r123::Philox4x64::key_type key_;
};

// Eight Philox4x32-10 blocks (exposed for the test that checks them against Random123).
void philox4x32_x8_for_test(std::uint32_t first, std::uint32_t k0, std::uint32_t k1,
                            std::uint32_t words[4][8]);

}  // namespace lumac
