// An exact, order-independent sum of doubles, for the statistics of the analog executor
// (nn/analog.cpp): a 128-bit fixed-point integer in units of 2^-64. Integer addition is
// associative, so a sum does not depend on the order of its terms: the noise report is the same
// for any thread count and batch size as long as each term (one output column's statistics) is.
// Each term is rounded down to a multiple of 2^-64 (5e-20) when added; a term beyond 2^62 in
// magnitude saturates (the statistics of one sample never come near); a NaN term makes the sum
// NaN.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>

namespace lumac::nn {

class ExactSum {
 public:
  void add(double x) {
    if (!(std::abs(x) < 0x1p62)) {
      if (std::isnan(x)) {
        nan_ = true;
        return;
      }
      x = std::copysign(0x1p62, x);
    }
    // x = h + f with h = floor(x) and f in [0, 1), both exact; f 2^64 < 2^64 is exact too, and
    // its conversion drops what lies below 2^-64.
    const double h = std::floor(x);
    const double f = (x - h) * 0x1p64;
    sum_ += static_cast<Int>(static_cast<std::int64_t>(h)) * (Int{1} << 64) +
            static_cast<Int>(static_cast<std::uint64_t>(f));
  }
  ExactSum& operator+=(const ExactSum& o) {
    sum_ += o.sum_;
    nan_ = nan_ || o.nan_;
    return *this;
  }
  double value() const {
    return nan_ ? std::numeric_limits<double>::quiet_NaN() : static_cast<double>(sum_) * 0x1p-64;
  }

 private:
  __extension__ typedef __int128 Int;
  Int sum_ = 0;
  bool nan_ = false;
};

// Sums the per-column values of one matrix product into an ExactSum so that its terms are per
// sample, whatever the batch: a convolution's product is one sample (its columns are the
// positions), summed in column order and added once; a dense product's columns are samples,
// added one by one.
class SampleSums {
 public:
  SampleSums(ExactSum& into, bool per_position) : into_(into), per_position_(per_position) {}
  SampleSums(const SampleSums&) = delete;
  SampleSums& operator=(const SampleSums&) = delete;
  ~SampleSums() {
    if (per_position_) into_.add(partial_);
  }
  void add(double column_value) {
    if (per_position_)
      partial_ += column_value;
    else
      into_.add(column_value);
  }

 private:
  ExactSum& into_;
  bool per_position_;
  double partial_ = 0;
};

}  // namespace lumac::nn
