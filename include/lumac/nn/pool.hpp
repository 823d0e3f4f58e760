// 2-D pooling (ONNX MaxPool and AveragePool, PyTorch's MaxPool2d and AvgPool2d): MaxPool2d (the
// gradient goes to the first maximum of each window, in row-major window order; padding never
// wins) and AvgPool2d (mean of the window: over its cells inside the input, or with
// count_include_pad over its cells inside the padded input, as PyTorch divides). Windows of
// kernel_h x kernel_w cells, a stride and a zero padding per axis and side; the output size is
// (H + pad_top + pad_bottom - kernel_h) / stride_h + 1, rounded down, or up with ceil_mode (a
// last window that would start in the bottom or right padding is dropped, as in PyTorch);
// likewise for the width; channels are kept. Samples run in parallel with OpenMP; each sample's
// result is independent of the batch.
#pragma once

#include "lumac/nn/layer.hpp"

namespace lumac::nn {

struct Pool2dGeometry {
  int kernel_h = 1, kernel_w = 1;
  int stride_h = 1, stride_w = 1;
  int pad_top = 0, pad_left = 0, pad_bottom = 0, pad_right = 0;
  bool ceil_mode = false;
  bool count_include_pad = false;  // AvgPool2d's divisor

  // Anything beyond a square window without padding (the model file then stores the rest).
  bool general() const;
  void record(NodeRecord& r) const;
  static Pool2dGeometry from_record(const NodeRecord& r);
};

class Pool2d : public Layer {
 public:
  int kernel() const { return g_.kernel_h; }
  int stride() const { return g_.stride_h; }
  const Pool2dGeometry& geometry() const { return g_; }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  void record(NodeRecord& r) const override { g_.record(r); }
  // One comparison or addition per window cell of every output.
  double digital_ops(std::span<const Shape>, const Shape& output) const override {
    return static_cast<double>(shape_size(output)) * g_.kernel_h * g_.kernel_w;
  }

 protected:
  // stride 0 means stride = kernel.
  Pool2d(int kernel, int stride);
  explicit Pool2d(const Pool2dGeometry& g);
  // Whether a pass over `in` is long enough for several threads (nn/parallel.hpp).
  bool worth_threads(const Tensor& in) const;
  Pool2dGeometry g_;
};

class MaxPool2d final : public Pool2d {
 public:
  explicit MaxPool2d(int kernel, int stride = 0) : Pool2d(kernel, stride) {}
  explicit MaxPool2d(const Pool2dGeometry& g) : Pool2d(g) {}
  LayerType type() const override { return LayerType::maxpool2d; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<MaxPool2d>(*this); }
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
};

class AvgPool2d final : public Pool2d {
 public:
  explicit AvgPool2d(int kernel, int stride = 0) : Pool2d(kernel, stride) {}
  explicit AvgPool2d(const Pool2dGeometry& g) : Pool2d(g) {}
  LayerType type() const override { return LayerType::avgpool2d; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<AvgPool2d>(*this); }
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
};

}  // namespace lumac::nn
