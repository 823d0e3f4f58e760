// Tensors of the network engine: a batch of samples, batch first, each sample a row-major array
// of one per-sample shape ({features}, or {channels, height, width}: NCHW for the whole batch),
// float32. A row-major batch x features tensor is, in memory, the column-major features x batch
// matrix of nn/matmul_hook.hpp (one column per sample), so layers view it with Eigen maps and no
// copies. See shared/DESIGN.md ("nn/").
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <string>
#include <vector>

namespace lumac::nn {

// Per-sample shape: {features} or {channels, height, width}.
using Shape = std::vector<int>;

// Number of values of one sample of the shape. A negative axis or a product past 2^62 is an
// error (lumac::Error), not an overflow.
std::int64_t shape_size(const Shape& shape);
// The largest size of one axis: shape arithmetic (padding, concatenation, kernel extents) is done
// in 64 bits and its result checked against it, so that no sum of axis sizes overflows an int.
inline constexpr std::int64_t max_axis_size = std::int64_t{1} << 30;
// `size` as an axis size; an error naming `what` when it is negative or above max_axis_size.
int checked_axis(std::int64_t size, const char* what);
// "1x28x28".
std::string shape_string(const Shape& shape);

// Row-major matrix, the layout of one NCHW sample seen as channels x positions.
using RowMatrixXf = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct Tensor {
  int batch = 0;
  Shape shape;              // per-sample shape
  std::vector<float> data;  // batch * shape_size(shape) values, sample after sample

  Tensor() = default;
  // Zero-filled.
  Tensor(int batch, Shape shape);

  // Sets batch and shape; keeps the storage when the size allows. Values are unspecified
  // unless `zero`.
  void resize(int new_batch, const Shape& new_shape, bool zero = false);

  std::int64_t sample_size() const { return shape_size(shape); }
  float* sample(int i) { return data.data() + static_cast<std::int64_t>(i) * sample_size(); }
  const float* sample(int i) const {
    return data.data() + static_cast<std::int64_t>(i) * sample_size();
  }
  // Column-major (sample_size x batch) view: column j is sample j.
  Eigen::Map<Eigen::MatrixXf> columns() {
    return {data.data(), static_cast<Eigen::Index>(sample_size()), batch};
  }
  Eigen::Map<const Eigen::MatrixXf> columns() const {
    return {data.data(), static_cast<Eigen::Index>(sample_size()), batch};
  }
};

}  // namespace lumac::nn
