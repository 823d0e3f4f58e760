// Precision arithmetic in one place (DESIGN.md convention 7): bits to resolution, and the
// effective number of bits of PHYSICS.md §3,
//   ENOB = log2( R / (sqrt(12) sigma) ),
// for an output of full-scale range R (max - min) and RMS error sigma against the ideal result:
// the noise equals the quantization noise of a uniform quantizer with step R / 2^ENOB. This is
// the quantization-noise convention, not the sine-wave (SINAD - 1.76) / 6.02 one.
#pragma once

#include <cmath>

namespace lumac {

// Step of a uniform quantizer with 2^bits levels over `range` (mid-rise).
inline double lsb_mid_rise(double range, int bits) {
  return range / std::ldexp(1.0, bits);
}
// Step of a symmetric mid-tread quantizer with 2^bits - 1 levels over `range` (0 is a level).
inline double lsb_mid_tread(double range, int bits) {
  return range / (std::ldexp(1.0, bits) - 2);
}

// ENOB of an output of range R with RMS error sigma. Infinite when sigma is 0.
inline double enob_bits(double range, double rms_error) {
  return std::log2(range / (std::sqrt(12.0) * rms_error));
}

// The RMS error that gives `enob` bits over range R (the inverse of enob_bits).
inline double rms_error_for_enob(double range, double enob) {
  return range / (std::sqrt(12.0) * std::exp2(enob));
}

}  // namespace lumac
