#include "lumac/nn/dense.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "lumac/core/error.hpp"
#include "lumac/core/gemm.hpp"
#include "lumac/nn/parallel.hpp"

namespace lumac::nn {

namespace {

// Calls `f(first_column, columns)` for every run of consecutive global sample indices among
// batch rows [first_row, first_row + count).
template <class F>
void for_each_run(const Pass& pass, int first_row, int count, F&& f) {
  int start = 0;
  for (int j = 1; j <= count; ++j) {
    if (j == count || pass.sample(first_row + j) != pass.sample(first_row + j - 1) + 1) {
      f(start, j - start);
      start = j;
    }
  }
}

int chunk_count(int batch) {
  return (batch + dense_chunk_samples - 1) / dense_chunk_samples;
}

}  // namespace

Dense::Dense(std::string name, int in_features, int out_features)
    : MatmulLayer(std::move(name), out_features, in_features) {}

bool Dense::worth_threads(int batch) const {
  return std::int64_t{batch} * fan_in() * outputs() >= parallel_min_macs;
}

std::string Dense::describe() const {
  return fmt::format("dense {} {}->{}", name_, in_features(), out_features());
}

Shape Dense::output_shape(const Shape& input) const {
  if (input.empty() || input.back() != in_features())
    fail("dense layer '{}' expects {} input features on its last axis, got shape {}{}", name_,
         in_features(), shape_string(input), input.size() == 1 ? "" : " (add a flatten layer?)");
  Shape out = input;
  out.back() = out_features();
  return out;
}

int Dense::positions(const Shape& input) const {
  std::int64_t p = 1;
  for (std::size_t k = 0; k + 1 < input.size(); ++k) p *= input[k];
  return checked_axis(p, "dense positions");
}

void Dense::forward_positions(const Tensor& in, Tensor& out, const Pass& pass) const {
  const int n_in = in_features(), n_out = out_features();
  const int cols = positions(in.shape);
  const bool threads = std::int64_t{in.batch} * cols * n_in * n_out >= parallel_min_macs;
  parallel_for(in.batch, threads, [&](int s) {
    const ConstMatrixMap x(in.sample(s), n_in, cols);
    MatrixMap y(out.sample(s), n_out, cols);
    gemm(weight_, GemmOp::none, x, GemmOp::none, y, false, GemmColumns::fixed);
    if (pass.hook) {
      MatmulView v{.layer = matmul_index_,
                   .first_sample = pass.sample(s),
                   .per_position = true,
                   .W = ConstMatrixMap(weight_.data(), n_out, n_in),
                   .X = x,
                   .Y = y};
      pass.hook->forward(v);
    }
    y.colwise() += bias_;
  });
}

void Dense::backward_positions(const Tensor& in, const Tensor& grad_out, Tensor* grad_in,
                               std::span<std::vector<float>> grads, const Pass& pass) const {
  const int n_in = in_features(), n_out = out_features();
  const int cols = positions(in.shape);
  const bool threads = std::int64_t{in.batch} * cols * n_in * n_out >= parallel_min_macs;
  const bool want_params = !grads.empty();
  if (grad_in) grad_in->resize(in.batch, in.shape);
  // Parameter gradients per chunk of samples, summed in chunk order: independent of threads.
  const int chunks = chunk_count(in.batch);
  std::vector<Eigen::MatrixXf> dw(want_params ? chunks : 0);
  std::vector<Eigen::VectorXf> db(want_params ? chunks : 0);
  parallel_for(chunks, threads, [&](int c) {
    const int first = c * dense_chunk_samples;
    const int count = std::min(dense_chunk_samples, in.batch - first);
    if (want_params) {
      dw[c].setZero(n_out, n_in);
      db[c].setZero(n_out);
    }
    for (int s = first; s < first + count; ++s) {
      const ConstMatrixMap x(in.sample(s), n_in, cols);
      const ConstMatrixMap dy(grad_out.sample(s), n_out, cols);
      MatrixMap dx(grad_in ? grad_in->sample(s) : nullptr, n_in, cols);
      if (grad_in)
        gemm(weight_, GemmOp::transpose, dy, GemmOp::none, dx, false, GemmColumns::fixed);
      if (pass.hook) {
        // The view's Y is dL/dY, which the hook only reads.
        const MatmulView v{.layer = matmul_index_,
                           .first_sample = pass.sample(s),
                           .per_position = true,
                           .W = ConstMatrixMap(weight_.data(), n_out, n_in),
                           .X = x,
                           .Y = MatrixMap(const_cast<float*>(dy.data()), n_out, cols)};
        pass.hook->backward(v, grad_in ? &dx : nullptr);
      }
      if (want_params) {
        gemm(dy, GemmOp::none, x, GemmOp::transpose, dw[c], true, GemmColumns::fixed);
        db[c] += dy.rowwise().sum();
      }
    }
  });
  if (!want_params) return;
  grads[0].assign(static_cast<std::size_t>(weight_.size()), 0.0f);
  grads[1].assign(static_cast<std::size_t>(bias_.size()), 0.0f);
  Eigen::Map<Eigen::MatrixXf> gw(grads[0].data(), n_out, n_in);
  Eigen::Map<Eigen::VectorXf> gb(grads[1].data(), n_out);
  for (int c = 0; c < chunks; ++c) {
    gw += dw[c];
    gb += db[c];
  }
}

void Dense::forward(const Tensor& in, Tensor& out, const Pass& pass) const {
  const int n_in = in_features(), n_out = out_features();
  out.resize(in.batch, output_shape(in.shape));
  if (in.shape.size() > 1) return forward_positions(in, out, pass);
  const int chunks = chunk_count(in.batch);
  parallel_for(chunks, worth_threads(in.batch), [&](int c) {
    const int first = c * dense_chunk_samples;
    const int count = std::min(dense_chunk_samples, in.batch - first);
    thread_local Eigen::MatrixXf x, y;
    x.resize(n_in, dense_chunk_samples);
    x.leftCols(count) = Eigen::Map<const Eigen::MatrixXf>(in.sample(first), n_in, count);
    x.rightCols(dense_chunk_samples - count).setZero();
    y.resize(n_out, dense_chunk_samples);
    gemm(weight_, GemmOp::none, x, GemmOp::none, y, false, GemmColumns::batch);
    if (pass.hook) {
      for_each_run(pass, first, count, [&](int j0, int cols) {
        MatmulView v{
            .layer = matmul_index_,
            .first_sample = pass.sample(first + j0),
            .per_position = false,
            .W = ConstMatrixMap(weight_.data(), n_out, n_in),
            .X = ConstMatrixMap(x.data() + static_cast<Eigen::Index>(j0) * n_in, n_in, cols),
            .Y = MatrixMap(y.data() + static_cast<Eigen::Index>(j0) * n_out, n_out, cols)};
        pass.hook->forward(v);
      });
    }
    Eigen::Map<Eigen::MatrixXf>(out.sample(first), n_out, count) =
        y.leftCols(count).colwise() + bias_;
  });
}

void Dense::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                     std::span<std::vector<float>> grads, const Pass& pass) const {
  if (in.shape.size() > 1) return backward_positions(in, grad_out, grad_in, grads, pass);
  const int n_in = in_features(), n_out = out_features();
  const int chunks = chunk_count(in.batch);
  const bool want_params = !grads.empty();
  if (grad_in) grad_in->resize(in.batch, in.shape);
  // Per-chunk parameter gradients, summed in chunk order below: the result does not depend on
  // the thread count.
  std::vector<Eigen::MatrixXf> dw(want_params ? chunks : 0);
  std::vector<Eigen::VectorXf> db(want_params ? chunks : 0);
  parallel_for(chunks, worth_threads(in.batch), [&](int c) {
    const int first = c * dense_chunk_samples;
    const int count = std::min(dense_chunk_samples, in.batch - first);
    const Eigen::Map<const Eigen::MatrixXf> x(in.sample(first), n_in, count);
    thread_local Eigen::MatrixXf dy;
    dy = Eigen::Map<const Eigen::MatrixXf>(grad_out.sample(first), n_out, count);
    if (grad_in) {
      Eigen::Map<Eigen::MatrixXf> dx(grad_in->sample(first), n_in, count);
      gemm(weight_, GemmOp::transpose, dy, GemmOp::none, dx, false, GemmColumns::batch);
    }
    if (pass.hook) {
      for_each_run(pass, first, count, [&](int j0, int cols) {
        const MatmulView v{
            .layer = matmul_index_,
            .first_sample = pass.sample(first + j0),
            .per_position = false,
            .W = ConstMatrixMap(weight_.data(), n_out, n_in),
            .X = ConstMatrixMap(x.data() + static_cast<Eigen::Index>(j0) * n_in, n_in, cols),
            .Y = MatrixMap(dy.data() + static_cast<Eigen::Index>(j0) * n_out, n_out, cols)};
        MatrixMap dx(grad_in ? grad_in->sample(first + j0) : nullptr, n_in, cols);
        pass.hook->backward(v, grad_in ? &dx : nullptr);
      });
    }
    if (want_params) {
      dw[c].resize(n_out, n_in);
      gemm(dy, GemmOp::none, x, GemmOp::transpose, dw[c], false, GemmColumns::batch);
      db[c] = dy.rowwise().sum();
    }
  });
  if (!want_params) return;
  grads[0].resize(static_cast<std::size_t>(weight_.size()));
  grads[1].resize(static_cast<std::size_t>(bias_.size()));
  Eigen::Map<Eigen::MatrixXf> gw(grads[0].data(), n_out, n_in);
  Eigen::Map<Eigen::VectorXf> gb(grads[1].data(), n_out);
  gw.setZero();
  gb.setZero();
  for (int c = 0; c < chunks; ++c) {
    gw += dw[c];
    gb += db[c];
  }
}

}  // namespace lumac::nn
