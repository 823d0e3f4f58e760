// A product of two activations, as attention computes Q K^T and softmax(.) V: the homodyne MAC
// multiplies two optical fields, so both operands can change with every sample (PHYSICS.md §5;
// issue 17). Per sample, A of per-sample shape (..., M, D) times B of shape (..., D, N) gives
// (..., M, N); the leading axes (heads) of A and B must be equal.
//
// On the hardware (nn/matmul_hook.hpp), each leading index h is one product Y = W X handed to
// the hook with per_position = true: W = B_h^T (N x D, the operand on the local oscillator,
// the "weight" side), X = A_h^T (D x M, one column per row of A), Y = (A_h B_h)^T (N x M).
// Column j of head h is output position h M + j (MatmulView::first_position = h M), output i
// is column i of B. So, for shot noise, sigma of element (j, i) of A B is
// ||a_j|| ||b_i|| / sqrt(D E K), a_j row j of A and b_i column i of B. The layer has no
// weights and no bias; its two operands are both differentiated (input gradients), with the
// hook adding its own dependence on them (MatmulView::dW).
#pragma once

#include "lumac/nn/layer.hpp"

namespace lumac::nn {

class ActMatmul final : public MatmulLayer {
 public:
  // fan_in D and outputs N: what the operands' last two axes must be.
  ActMatmul(std::string name, int fan_in, int outputs);

  LayerType type() const override { return LayerType::matmul; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ActMatmul>(*this); }
  std::string describe() const override;
  bool activation_operands() const override { return true; }
  int arity() const override { return 2; }
  // Rows of A over all leading indices (the shape of A).
  int positions(const Shape& a) const override;

  Shape output_shape(const Shape& input) const override;
  Shape output_shape_n(std::span<const Shape> inputs) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
  void forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass& pass) const override;
  void backward_n(std::span<const Tensor* const> in, const Tensor& out, const Tensor& grad_out,
                  std::span<Tensor* const> grad_in, std::span<std::vector<float>> grads,
                  const Pass& pass) const override;
};

}  // namespace lumac::nn
