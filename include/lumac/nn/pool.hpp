// 2-D pooling over square windows without padding: MaxPool2d (the gradient goes to the first
// maximum of each window, in row-major window order) and AvgPool2d (mean of the window). Output
// size (H - kernel) / stride + 1 (floor), likewise for the width; channels are kept. Samples run
// in parallel with OpenMP; each sample's result is independent of the batch.
#pragma once

#include "lumac/nn/layer.hpp"

namespace lumac::nn {

class Pool2d : public Layer {
 public:
  int kernel() const { return kernel_; }
  int stride() const { return stride_; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;

 protected:
  // stride 0 means stride = kernel.
  Pool2d(int kernel, int stride);
  // Whether a pass over `in` is long enough for several threads (nn/parallel.hpp).
  bool worth_threads(const Tensor& in) const;
  int kernel_, stride_;
};

class MaxPool2d final : public Pool2d {
 public:
  explicit MaxPool2d(int kernel, int stride = 0) : Pool2d(kernel, stride) {}
  LayerType type() const override { return LayerType::maxpool2d; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<MaxPool2d>(*this); }
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
};

class AvgPool2d final : public Pool2d {
 public:
  explicit AvgPool2d(int kernel, int stride = 0) : Pool2d(kernel, stride) {}
  LayerType type() const override { return LayerType::avgpool2d; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<AvgPool2d>(*this); }
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
};

}  // namespace lumac::nn
