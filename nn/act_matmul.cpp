#include "lumac/nn/act_matmul.hpp"

#include <fmt/format.h>

#include "lumac/core/error.hpp"
#include "lumac/core/gemm.hpp"
#include "lumac/nn/parallel.hpp"

namespace lumac::nn {

ActMatmul::ActMatmul(std::string name, int fan_in, int outputs)
    : MatmulLayer(std::move(name), outputs, fan_in, false) {}

std::string ActMatmul::describe() const {
  return fmt::format("matmul {} (activations, K = {}, N = {})", name_, fan_in(), outputs());
}

int ActMatmul::positions(const Shape& a) const {
  std::int64_t p = 1;
  for (std::size_t k = 0; k + 1 < a.size(); ++k) p *= a[k];
  return checked_axis(p, "matmul positions");
}

Shape ActMatmul::output_shape(const Shape&) const {
  fail("matmul '{}' takes two inputs", name_);
}

Shape ActMatmul::output_shape_n(std::span<const Shape> in) const {
  if (in.size() != 2) fail("matmul '{}' takes two inputs, not {}", name_, in.size());
  const Shape &a = in[0], &b = in[1];
  if (a.size() < 2 || a.size() != b.size())
    fail("matmul '{}': operands of per-sample shapes {} and {} (both of the same rank >= 2)", name_,
         shape_string(a), shape_string(b));
  const std::size_t r = a.size();
  for (std::size_t k = 0; k + 2 < r; ++k)
    if (a[k] != b[k])
      fail("matmul '{}': leading axes of {} and {} differ (no broadcasting)", name_,
           shape_string(a), shape_string(b));
  if (a[r - 1] != fan_in() || b[r - 2] != fan_in() || b[r - 1] != outputs())
    fail("matmul '{}': {} x {} does not fit K = {}, N = {}", name_, shape_string(a),
         shape_string(b), fan_in(), outputs());
  Shape out = a;
  out[r - 1] = outputs();
  return out;
}

void ActMatmul::forward(const Tensor&, Tensor&, const Pass&) const {
  fail("matmul '{}' takes two inputs", name_);
}

void ActMatmul::backward(const Tensor&, const Tensor&, const Tensor&, Tensor*,
                         std::span<std::vector<float>>, const Pass&) const {
  fail("matmul '{}' takes two inputs", name_);
}

namespace {

// Calls f(s, h, a_offset, b_offset, y_offset) for every sample s and head h of operands of
// per-sample shapes a (..., M, K) and b (..., K, N), samples in parallel when the product is
// large enough. Offsets are in floats within the sample.
template <class F>
void for_each_head(const Tensor& a, int k, int n, int positions, F&& f) {
  const int m = a.shape[a.shape.size() - 2];
  const int heads = positions / m;
  const bool threads = std::int64_t{a.batch} * positions * k * n >= parallel_min_macs;
  parallel_for(a.batch, threads, [&](int s) {
    for (int h = 0; h < heads; ++h)
      f(s, h, m, std::int64_t{h} * m * k, std::int64_t{h} * k * n, std::int64_t{h} * m * n);
  });
}

}  // namespace

void ActMatmul::forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass& pass) const {
  const Tensor &a = *in[0], &b = *in[1];
  out.resize(a.batch, output_shape_n(std::vector<Shape>{a.shape, b.shape}));
  const int d = fan_in(), n = outputs();
  for_each_head(a, d, n, positions(a.shape),
                [&](int s, int h, int m, std::int64_t ao, std::int64_t bo, std::int64_t yo) {
                  const ConstMatrixMap x(a.sample(s) + ao, d, m);
                  const ConstMatrixMap w(b.sample(s) + bo, n, d);
                  MatrixMap y(out.sample(s) + yo, n, m);
                  gemm(w, GemmOp::none, x, GemmOp::none, y, false, GemmColumns::fixed);
                  if (!pass.hook) return;
                  MatmulView v{.layer = matmul_index_,
                               .first_sample = pass.sample(s),
                               .per_position = true,
                               .W = w,
                               .X = x,
                               .Y = y,
                               .first_position = std::int64_t{h} * m};
                  pass.hook->forward(v);
                });
}

void ActMatmul::backward_n(std::span<const Tensor* const> in, const Tensor&, const Tensor& grad_out,
                           std::span<Tensor* const> grad_in, std::span<std::vector<float>>,
                           const Pass& pass) const {
  const Tensor &a = *in[0], &b = *in[1];
  Tensor *ga = grad_in[0], *gb = grad_in[1];
  if (ga) ga->resize(a.batch, a.shape);
  if (gb) gb->resize(b.batch, b.shape);
  // Without gradients to compute the hook still sees dL/dY (precision learning reads it).
  if (!ga && !gb && !pass.hook) return;
  const int d = fan_in(), n = outputs();
  for_each_head(a, d, n, positions(a.shape),
                [&](int s, int h, int m, std::int64_t ao, std::int64_t bo, std::int64_t yo) {
                  const ConstMatrixMap x(a.sample(s) + ao, d, m);
                  const ConstMatrixMap w(b.sample(s) + bo, n, d);
                  const ConstMatrixMap dy(grad_out.sample(s) + yo, n, m);
                  MatrixMap dx(ga ? ga->sample(s) + ao : nullptr, d, m);
                  MatrixMap dw(gb ? gb->sample(s) + bo : nullptr, n, d);
                  if (ga)
                    gemm(w, GemmOp::transpose, dy, GemmOp::none, dx, false,
                         GemmColumns::fixed);  // dX = W^T dY
                  if (gb)
                    gemm(dy, GemmOp::none, x, GemmOp::transpose, dw, false,
                         GemmColumns::fixed);  // dW = dY X^T
                  if (!pass.hook) return;
                  const MatmulView v{.layer = matmul_index_,
                                     .first_sample = pass.sample(s),
                                     .per_position = true,
                                     .W = w,
                                     .X = x,
                                     .Y = MatrixMap(const_cast<float*>(dy.data()), n, m),
                                     .first_position = std::int64_t{h} * m,
                                     .dW = gb ? &dw : nullptr};
                  pass.hook->backward(v, ga ? &dx : nullptr);
                });
}

}  // namespace lumac::nn
