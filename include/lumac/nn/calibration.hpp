// Calibration of a trained model's matrix-product layers on a fixed subset of the training set
// (the first `samples` images, default 1000): for each layer, in order, the 0.01% and 99.99%
// percentiles of its input values (the elements of its input tensor) and of its pre-bias
// products Y = W X, and the range of its weights (a product of two activations: the percentiles of
// its second operand). These are the full-scale values x_fs, w_fs of
// the analog encoding (PHYSICS.md §2) and the output range R of a layer's ENOB (PHYSICS.md §3).
#pragma once

#include <cstdint>
#include <vector>

#include "lumac/nn/dataset.hpp"
#include "lumac/nn/model.hpp"

namespace lumac::nn {

inline constexpr std::int64_t default_calibration_samples = 1000;

// Percentile (in percent, 0..100) of `values` with linear interpolation between order
// statistics (numpy's default): position p / 100 * (n - 1). Reorders `values`.
// lumac::Error for an empty set or p outside [0, 100].
double percentile(std::vector<float>& values, double percent);

// Calibrates on the first min(samples, data.size()) samples of `data` (a training set).
Calibration calibrate(const Model& model, const Dataset& data,
                      std::int64_t samples = default_calibration_samples);

}  // namespace lumac::nn
