// 2-D convolution (cross-correlation, as in every deep-learning framework) with a stride and
// zero padding per axis and side, dilation and groups (ONNX Conv), computed as im2col + GEMM:
//   cols (Cin*kh*kw x Ho*Wo): column p is the receptive field of output position p, ordered
//                             (channel, ky, kx), padding as zeros
//   Y = W cols                W is Cout x Cin*kh*kw (PyTorch's (Cout, Cin, kh, kw), flattened)
//   out[c, p] = Y[c, p] + b[c]
// with Ho = (H + pad_top + pad_bottom - dilation (kh - 1) - 1) / stride + 1 (floor), likewise Wo.
// With G groups, group g's outputs read only its Cin / G input channels: one product per group
// (W's rows of the group times that group's columns; fan-in Cin / G * kh * kw), handed to a hook
// with MatmulView::output_offset = the group's first output channel. One GEMM per image, images in
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
  int stride = 1, padding = 0;  // the stride and zero padding of both axes (height, top)
  // ONNX's general convolution (all default to the plain one above):
  int stride_w = 0;                                    // 0: = stride
  int pad_left = -1, pad_bottom = -1, pad_right = -1;  // -1: = padding
  int dilation_h = 1, dilation_w = 1;
  int groups = 1;  // in and out channels split into groups; depthwise: groups = in_channels

  int sh() const { return stride; }
  int sw() const { return stride_w > 0 ? stride_w : stride; }
  int pt() const { return padding; }
  int pl() const { return pad_left >= 0 ? pad_left : padding; }
  int pb() const { return pad_bottom >= 0 ? pad_bottom : padding; }
  int pr() const { return pad_right >= 0 ? pad_right : padding; }
  // Whether anything beyond one stride and one padding is used (then the model file stores
  // the rest, and the analog hook computes receptive-field sums from the columns).
  bool general() const;
  // The general part as `int.*` entries, and back.
  void record(NodeRecord& r) const;
  void read_extra(const NodeRecord& r);
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
  void record(NodeRecord& r) const override { g_.record(r); }

 private:
  // Fills cols (fan_in x Ho*Wo) from the channels of group `group` of one image {Cin, H, W}.
  void im2col(const float* image, int h, int w, Eigen::MatrixXf& cols, int group = 0) const;
  // The same matrix transposed: rows (Ho*Wo x fan_in), each receptive-field entry (c, ky, kx) a
  // column of contiguous positions, copied from input rows in runs. W rows^T has the bits of
  // W cols on both GEMM kernels (the same packed panels; gemm_kernel_transpose_exact).
  void im2row(const float* image, int h, int w, Eigen::MatrixXf& rows, int group = 0) const;
  // What a hook needs to compute receptive-field sums of one image.
  PatchSource patch_source(const float* image, int h, int w) const;
  // Adds cols back onto one image gradient (the adjoint of im2col).
  void col2im(const Eigen::MatrixXf& cols, int h, int w, float* image, int group = 0) const;

  Conv2dGeometry g_;
};

}  // namespace lumac::nn
