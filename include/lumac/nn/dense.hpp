// Fully connected layer: out = W x + b for every sample, W of outputs x in_features. An input
// of several per-sample axes (tokens x features, as a transformer's linear layers see it) is
// multiplied along its last axis: each leading index is one output position, and the per-sample
// shape (..., in_features) becomes (..., out_features).
//
// The batch is processed in chunks of dense_chunk_samples samples: each chunk is copied into a
// zero-padded in_features x dense_chunk_samples matrix X and multiplied as one fixed-shape GEMM
// Y = W X. Eigen's GEMM sums in an order that depends on the number of columns (and uses other
// kernels for one or few columns), but not on the position of a column within a product of a
// given shape; fixed-shape chunks therefore make every sample's result bitwise independent of
// the batch size and of the thread count (chunks run in parallel with OpenMP).
//
// With a MatmulHook, Y of each chunk goes to hook->forward before the bias is added, one call
// per run of consecutive global sample indices within the chunk (the whole chunk when the batch
// holds consecutive samples); backward hands the hook dL/dY with the same columns. The views
// point into per-thread scratch buffers that are valid only during the call (a hook must not
// run a network layer from inside it).
#pragma once

#include "lumac/nn/layer.hpp"

namespace lumac::nn {

inline constexpr int dense_chunk_samples = 32;

class Dense final : public MatmulLayer {
 public:
  Dense(std::string name, int in_features, int out_features);

  LayerType type() const override { return LayerType::dense; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Dense>(*this); }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  // Product of the leading per-sample axes (1 for a flat input).
  int positions(const Shape& input) const override;

  int in_features() const { return fan_in(); }
  int out_features() const { return outputs(); }

  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  bool worth_threads(int batch) const;
  // Inputs of several axes: one product W X per sample, X = in_features x positions (the
  // sample's row-major (positions, in_features) array), handed to the hook as one view per
  // sample with per_position = true.
  void forward_positions(const Tensor& in, Tensor& out, const Pass& pass) const;
  void backward_positions(const Tensor& in, const Tensor& grad_out, Tensor* grad_in,
                          std::span<std::vector<float>> grads, const Pass& pass) const;
};

}  // namespace lumac::nn
