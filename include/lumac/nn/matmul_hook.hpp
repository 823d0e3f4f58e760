// The seam between the network engine and the analog hardware model. Every matrix-product
// layer (Dense, Conv2d) computes its pre-bias product Y = W X and, when a hook is installed,
// hands it to the hook, which adds the noise of the analog hardware in place (nn/analog.hpp).
// In the backward pass the same layers hand the hook dL/dY and their dL/dX = W^T dL/dY, to which
// the hook adds what its own dependence on X contributes (the noise std of an analog product
// depends on the input), so that precision learning can differentiate through the noise
// (reparameterisation).
//
// Layout (column-major Eigen maps, one column per dot product):
//   W  outputs x fan_in        the layer's weights (Dense: out x in; Conv2d: Cout x Cin*kh*kw)
//   X  fan_in  x vectors       one column per dot-product input vector
//   Y  outputs x vectors       the products, pre-bias
// Dense over a batch: vectors = batch samples, column j belongs to sample first_sample + j,
// position 0. Dense on an input of several axes (tokens x features): one call per sample,
// vectors = the leading positions. Conv2d: one call per image, vectors = output positions
// (Ho*Wo), column p belongs to that image's sample index, position p. ActMatmul (a product of
// two activations): one call per sample and head, W being the second operand.
//
// Thread safety: layers may call a hook concurrently from several threads (different images or
// disjoint column ranges); hooks must be safe for that.
#pragma once

#include <Eigen/Core>
#include <cstdint>

namespace lumac::nn {

using MatrixMap = Eigen::Map<Eigen::MatrixXf>;
using ConstMatrixMap = Eigen::Map<const Eigen::MatrixXf>;

// Conv2d: the image the columns of X are the receptive fields of, so that a hook can compute
// per-column sums of powers of X from the image (box sums) instead of from X.
struct PatchSource {
  const float* image = nullptr;  // channels x height x width, row-major
  int channels = 1, height = 1, width = 1;
  int kernel_h = 1, kernel_w = 1, stride = 1, padding = 0;
};

// For every output position p (column p of X), the sums over its receptive field of x^2 into
// s2 and, when s4 is not null, of x^4 into *s4: the column sums of X∘X and X∘X∘X∘X up to float
// rounding (padding counts as zeros; a field of zeros gives exactly 0). Stride 1 (separable
// passes over the flat padded grid): O(C H W + (H + 2 pad)(W + 2 pad)(kh + kw)) instead of
// O(C kh kw Ho Wo); other strides: O(C H W + kh kw Ho Wo).
void receptive_field_sums(const PatchSource& src, Eigen::VectorXf& s2, Eigen::VectorXf* s4);

struct MatmulView {
  int layer = 0;                  // index of the layer among the matrix-product layers
  std::int64_t first_sample = 0;  // global sample index of column 0 (dataset index)
  bool per_position = false;      // false: column j is sample first_sample + j (Dense);
                                  // true: all columns are sample first_sample, column = position
  ConstMatrixMap W{nullptr, 0, 0};
  // Forward of a Conv2d whose hook said it does not read the patch matrix
  // (MatmulHook::reads_patch_matrix) and whose `patches` is set: X has its shape, but its data
  // pointer is null.
  ConstMatrixMap X{nullptr, 0, 0};
  MatrixMap Y{nullptr, 0, 0};            // modified in place (forward) / read (backward: dL/dY)
  const PatchSource* patches = nullptr;  // Conv2d: where the columns of X come from
  // The layer's output index of row 0 of W and Y: 0, or a grouped convolution's first output
  // channel of the group (W and Y then hold that group's rows only).
  int output_offset = 0;
  // per_position: the output position of column 0 (a product of two activations, nn/act_matmul.hpp,
  // calls once per head h with first_position = h M; every other layer passes 0).
  std::int64_t first_position = 0;
  // Backward of a product of two activations: dL/dW (W is an activation too), to which the hook
  // adds the gradient of its own contribution through W; null otherwise.
  MatrixMap* dW = nullptr;
  // Global sample index and output position of column j.
  std::int64_t sample_of(Eigen::Index j) const {
    return per_position ? first_sample : first_sample + j;
  }
  std::int64_t position_of(Eigen::Index j) const { return per_position ? first_position + j : 0; }
};

class MatmulHook {
 public:
  virtual ~MatmulHook() = default;
  // Forward: add noise to v.Y (the pre-bias product) in place.
  virtual void forward(MatmulView& v) const = 0;
  // Whether forward() reads v.X of a convolution that also gives v.patches (the hook may take
  // what it needs of X from the image instead). If not, Conv2d computes its product from the
  // patch matrix laid out by position (filled with contiguous copies, which is faster) and does
  // not build the one by receptive field that v.X would point to. Default: it does.
  virtual bool reads_patch_matrix() const { return true; }
  // Backward: v.Y holds dL/dY for the same columns as the forward call (not to be modified);
  // *dx, when not null, holds dL/dX = W^T dL/dY of those columns (fan_in x vectors), to which
  // the hook adds the gradient of its own contribution. Default: nothing.
  virtual void backward(const MatmulView& v, MatrixMap* dx) const {
    (void)v;
    (void)dx;
  }
};

}  // namespace lumac::nn
