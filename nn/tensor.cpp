#include "lumac/nn/tensor.hpp"

#include <algorithm>
#include <cassert>

#include "lumac/core/error.hpp"

namespace lumac::nn {

std::int64_t shape_size(const Shape& shape) {
  std::int64_t n = 1;
  for (int d : shape) {
    if (d < 0) fail("shape {} has a negative axis", shape_string(shape));
    if (d > 0 && n > (std::int64_t{1} << 62) / d)
      fail("shape {} has more than 2^62 values", shape_string(shape));
    n *= d;
  }
  return n;
}

int checked_axis(std::int64_t size, const char* what) {
  if (size < 0 || size > max_axis_size)
    fail("{}: an axis of size {} (axes hold 0 to 2^30 values)", what, size);
  return static_cast<int>(size);
}

std::string shape_string(const Shape& shape) {
  std::string s;
  for (int d : shape) s += (s.empty() ? "" : "x") + std::to_string(d);
  return s;
}

Tensor::Tensor(int batch_, Shape shape_) : batch(batch_), shape(std::move(shape_)) {
  assert(batch >= 0);
  data.assign(static_cast<std::size_t>(batch * shape_size(shape)), 0.0f);
}

void Tensor::resize(int new_batch, const Shape& new_shape, bool zero) {
  assert(new_batch >= 0);
  batch = new_batch;
  shape = new_shape;
  const auto n = static_cast<std::size_t>(batch * shape_size(shape));
  if (zero)
    data.assign(n, 0.0f);
  else
    data.resize(n);
}

}  // namespace lumac::nn
