// Calibration of a trained model's matrix-product layers on a fixed subset of the training set
// (the first `samples` images, default 1000): for each layer, in order, the 0.01% and 99.99%
// percentiles of its input values (the elements of its input tensor) and of its pre-bias
// products Y = W X, and the range of its weights (a product of two activations: the percentiles of
// its second operand). These are the full-scale values x_fs, w_fs of
// the analog encoding (PHYSICS.md §2) and the output range R of a layer's ENOB (PHYSICS.md §3).
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "lumac/nn/dataset.hpp"
#include "lumac/nn/model.hpp"

namespace lumac::nn {

inline constexpr std::int64_t default_calibration_samples = 1000;

// Percentile (in percent, 0..100) of `values` with linear interpolation between order
// statistics (numpy's default): position p / 100 * (n - 1). Reorders `values`.
// lumac::Error for an empty set or p outside [0, 100].
double percentile(std::vector<float>& values, double percent);

// Exact percentiles of values that arrive in parts, in bounded memory, for data too large to
// keep: the values are shown twice, in the same order or not. The first pass (count) counts
// them in 2^16 bins by the top 16 bits of their order-preserving key; the second (refine)
// counts, in the few bins that hold the needed order statistics, the low 16 bits, which with
// the bin name each value exactly. result() then equals percentile() of all the values, bit
// for bit (-0 and +0 aside). About 0.5 MiB, then 0.5 MiB per bin kept (at most two per
// percentile).
// lumac::Error for a NaN, an empty set, a second pass that differs in size, or calls out of
// order.
class StreamPercentiles {
 public:
  explicit StreamPercentiles(std::vector<double> percents);
  void count(std::span<const float> values);
  void finish_first_pass();
  void refine(std::span<const float> values);
  std::vector<double> result() const;  // one per percent, in order

 private:
  struct Target {
    std::uint64_t order;  // the order statistic (0: the smallest value)
    std::uint32_t bin;
    std::uint64_t rank;  // its rank within the bin
  };
  std::vector<double> percents_;
  int pass_ = 1;
  std::uint64_t n_ = 0, seen_ = 0;
  std::vector<std::uint64_t> high_;  // first pass: counts per bin
  std::vector<Target> targets_;      // the order statistics the percentiles need, ascending
  std::map<std::uint32_t, std::vector<std::uint64_t>> low_;  // second pass: counts per low bits
};

// Values calibration keeps per sample when it keeps them all: every product's input, output
// and second operand (4 bytes each).
std::int64_t calibration_values_per_sample(const Model& model);

// Calibrates on the first min(samples, data.size()) samples of `data` (a training set). When
// all the values would take more than `memory_budget` bytes, the percentiles come from two
// passes over the samples (StreamPercentiles: the same result, twice the time); the forward
// passes run fewer samples at a time when the graph's values for 250 would pass a quarter of
// the budget.
inline constexpr std::int64_t default_calibration_budget = std::int64_t{512} << 20;
Calibration calibrate(const Model& model, const Dataset& data,
                      std::int64_t samples = default_calibration_samples,
                      std::int64_t memory_budget = default_calibration_budget);

}  // namespace lumac::nn
