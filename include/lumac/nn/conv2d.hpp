// 2-D convolution (cross-correlation, as in every deep-learning framework) with a common stride
// and zero padding in both directions, computed as im2col + GEMM:
//   cols (Cin*kh*kw x Ho*Wo): column p is the receptive field of output position p, ordered
//                             (channel, ky, kx), padding as zeros
//   Y = W cols                W is Cout x Cin*kh*kw (PyTorch's (Cout, Cin, kh, kw), flattened)
//   out[c, p] = Y[c, p] + b[c]
// with Ho = (H + 2 pad - kh) / stride + 1 (floor), likewise Wo. One GEMM per image, images in
// parallel with OpenMP; every image's product has the same shape, so its result is bitwise
// independent of the batch size and the thread count. With a MatmulHook, each image's Y goes to
// hook->forward (one call per image, columns = output positions) before the bias is added, and
// backward hands the hook dL/dY in the same layout. As for Dense, the views point into
// per-thread scratch buffers valid only during the call.
#pragma once

#include "lumac/nn/layer.hpp"

namespace lumac::nn {

struct Conv2dGeometry {
  int in_channels = 1, out_channels = 1;
  int kernel_h = 1, kernel_w = 1;
  int stride = 1, padding = 0;
};

class Conv2d final : public MatmulLayer {
 public:
  Conv2d(std::string name, const Conv2dGeometry& geometry);

  LayerType type() const override { return LayerType::conv2d; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Conv2d>(*this); }
  std::string describe() const override;
  Shape output_shape(const Shape& input) const override;
  int positions(const Shape& input) const override;

  const Conv2dGeometry& geometry() const { return g_; }

  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  // Fills cols (fan_in x Ho*Wo) from one image of shape {Cin, H, W}.
  void im2col(const float* image, int h, int w, Eigen::MatrixXf& cols) const;
  // What a hook needs to compute receptive-field sums of one image.
  PatchSource patch_source(const float* image, int h, int w) const;
  // Adds cols back onto one image gradient (the adjoint of im2col).
  void col2im(const Eigen::MatrixXf& cols, int h, int w, float* image) const;

  Conv2dGeometry g_;
};

}  // namespace lumac::nn
