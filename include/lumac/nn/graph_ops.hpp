// The digital nodes of a graph besides the built-in layers (nn/layer.hpp, nn/pool.hpp): what an
// imported ONNX model (nn/onnx_import.hpp) needs around its matrix products. All of them act on
// the per-sample part of a tensor (the batch is axis 0 of every ONNX tensor and never moves), run
// exactly in float32 and have input gradients (none has parameters: weights are constants
// frozen into the node). docs/models.md lists how each ONNX operator maps onto them.
//
//   unary       leaky_relu (alpha), clip (lo, hi), sigmoid, tanh, exp, neg, sqrt, abs, erf,
//               pow (a constant exponent)
//   binary      add, sub, mul, div, equal of two values, NumPy broadcasting of their per-sample
//               shapes
//   binary_const  the same with a constant operand (left or right), broadcast likewise
//   channel_affine  y = x * scale[c] + shift[c] over axis 0 (BatchNormalization executed)
//   reduce_mean over some per-sample axes, keepdims or not (GlobalAveragePool, ReduceMean);
//               reduce_sum likewise (ReduceSum)
//   gather      rows of a constant table picked by integer ids (embeddings: Gather on token ids)
//   concat      along a per-sample axis, any number of inputs
//   reshape     to a per-sample shape (values do not move)
//   transpose   a permutation of the per-sample axes
//   pad         constant padding, a begin and end count per per-sample axis
//   slice       a strided window of every per-sample axis (start, step, count)
//   softmax     exp(x - max) / sum exp(x - max) along one per-sample axis (attention)
//   layer_norm  (x - mean) / sqrt(var + eps) * scale + bias over the trailing per-sample axes
//   where       cond ? x : y elementwise, NumPy broadcasting of the three per-sample shapes; any
//               of the three may be a constant held by the node (masked_fill's fill value, a
//               causal mask)
#pragma once

#include <array>
#include <memory>
#include <string>
#include <vector>

#include "lumac/nn/layer.hpp"

namespace lumac::nn {

// A node of nn/graph_ops.hpp from its stored form (lumac::Error naming an unknown op).
std::unique_ptr<Layer> make_graph_op(const NodeRecord& r);

enum class UnaryKind { leaky_relu, clip, sigmoid, tanh, exp, neg, sqrt, abs, erf, pow };
// equal gives 1 where the operands are equal and 0 elsewhere (a mask; its gradient is 0).
enum class BinaryKind { add, sub, mul, div, equal };

// Per-sample output shape of a NumPy broadcast of a and b (lumac::Error if they do not fit).
Shape broadcast_shape(const Shape& a, const Shape& b);
// For every element of `out` (row-major), the index of the element of `in` it reads under that
// broadcast (in right-aligned); empty when in == out.
std::vector<std::int64_t> broadcast_index(const Shape& out, const Shape& in);

class Unary final : public Layer {
 public:
  Unary(UnaryKind kind, double a = 0, double b = 0);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Unary>(*this); }
  std::string describe() const override;
  std::string op_name() const override;
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override { return input; }
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  UnaryKind kind_;
  float a_, b_;  // leaky_relu: alpha; clip: lo, hi; pow: the exponent
};

class Binary final : public Layer {
 public:
  explicit Binary(BinaryKind kind) : kind_(kind) {}
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Binary>(*this); }
  std::string describe() const override { return op_name(); }
  std::string op_name() const override;
  int arity() const override { return 2; }
  Shape output_shape(const Shape& input) const override;
  Shape output_shape_n(std::span<const Shape> inputs) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
  void forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass& pass) const override;
  void backward_n(std::span<const Tensor* const> in, const Tensor& out, const Tensor& grad_out,
                  std::span<Tensor* const> grad_in, std::span<std::vector<float>> grads,
                  const Pass& pass) const override;

 private:
  BinaryKind kind_;
};

// x op c (constant on the right) or c op x (on the left).
class BinaryConst final : public Layer {
 public:
  BinaryConst(BinaryKind kind, Shape shape, std::vector<float> values, bool constant_left);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<BinaryConst>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "binary_const"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  BinaryKind kind_;
  Shape shape_;
  std::vector<float> values_;
  bool left_;
};

class ChannelAffine final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape& out) const override {
    return 2.0 * static_cast<double>(shape_size(out));
  }
  ChannelAffine(std::vector<float> scale, std::vector<float> shift);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ChannelAffine>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "channel_affine"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
  const std::vector<float>& scale() const { return scale_; }
  const std::vector<float>& shift() const { return shift_; }

 private:
  std::vector<float> scale_, shift_;
};

class ReduceMean final : public Layer {
 public:
  double digital_ops(std::span<const Shape> in, const Shape&) const override {
    return static_cast<double>(shape_size(in[0]));
  }
  // mean false: the sum (ReduceSum).
  ReduceMean(std::vector<int> axes, bool keepdims, bool mean = true);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ReduceMean>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return mean_ ? "reduce_mean" : "reduce_sum"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  std::vector<int> axes_;  // per-sample axes, sorted
  bool keepdims_;
  bool mean_;
};

// Embedding lookup: out[..., :] = table[id] for every integer id of the input (token ids, stored
// exactly as floats below 2^24). The table (rows x row shape) is a frozen constant; the ids have
// no gradient. An id that is not an integer in [0, rows) is refused by check_input_values before
// a pass, and gives a row of NaN if it reaches forward by another path.
class Gather final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  Gather(Shape table_shape, std::vector<float> table);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Gather>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "gather"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  bool checks_input_values() const override { return true; }
  void check_input_values(std::size_t k, const Tensor& in,
                          std::span<const std::int64_t> samples) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
  int rows() const { return table_shape_.at(0); }

 private:
  Shape table_shape_;  // rows, then the shape of one row
  std::vector<float> table_;
};

class Concat final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  explicit Concat(int axis);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Concat>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "concat"; }
  void record(NodeRecord& r) const override;
  int arity() const override { return -1; }
  Shape output_shape(const Shape& input) const override { return input; }
  Shape output_shape_n(std::span<const Shape> inputs) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
  void forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass& pass) const override;
  void backward_n(std::span<const Tensor* const> in, const Tensor& out, const Tensor& grad_out,
                  std::span<Tensor* const> grad_in, std::span<std::vector<float>> grads,
                  const Pass& pass) const override;

 private:
  int axis_;  // per-sample axis
};

class Reshape final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  explicit Reshape(Shape shape);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Reshape>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "reshape"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  Shape shape_;
};

class Transpose final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  explicit Transpose(std::vector<int> perm);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Transpose>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "transpose"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  std::vector<int> perm_;
};

class Pad final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  // begin[k] and end[k] zero-or-more cells added before and after per-sample axis k.
  Pad(std::vector<int> begin, std::vector<int> end, float value);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Pad>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "pad"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  std::vector<int> begin_, end_;
  float value_;
};

// One graph input of a model of several (Model::graph_inputs()): its per-sample values, `shape`,
// taken from `offset` on in the flat packed model input. Moves values only.
class InputPart final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  InputPart(std::int64_t offset, Shape shape);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<InputPart>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "input_part"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
  std::int64_t offset() const { return offset_; }

 private:
  std::int64_t offset_;
  Shape shape_;
};

class Slice final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  // Per per-sample axis: the first index, the step (non-zero) and the number of elements taken.
  Slice(std::vector<int> start, std::vector<int> step, std::vector<int> count);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Slice>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "slice"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  std::vector<std::int64_t> index(const Shape& input) const;
  std::vector<int> start_, step_, count_;
};

class LayerNorm final : public Layer {
 public:
  // Mean (1), variance (2), normalisation and affine (4) per value.
  double digital_ops(std::span<const Shape>, const Shape& out) const override {
    return 7.0 * static_cast<double>(shape_size(out));
  }
  // Normalises over the per-sample axes from `axis` on; scale and bias hold one value per
  // element of that trailing block (ONNX LayerNormalization, stash_type float).
  LayerNorm(int axis, double epsilon, std::vector<float> scale, std::vector<float> bias);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<LayerNorm>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "layer_norm"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  int axis_;
  float epsilon_;
  std::vector<float> scale_, bias_;
};

class Softmax final : public Layer {
 public:
  // exp, sum and division: 3 operations per value.
  double digital_ops(std::span<const Shape>, const Shape& out) const override {
    return 3.0 * static_cast<double>(shape_size(out));
  }
  explicit Softmax(int axis);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Softmax>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "softmax"; }
  void record(NodeRecord& r) const override;
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;

 private:
  int axis_;  // per-sample axis
};

// where: out = cond != 0 ? x : y (ONNX Where; the mask arrives as 0/1 floats). Operand k (0 cond,
// 1 x, 2 y) is either a graph input of the node, in that order, or a constant of the node;
// arity() counts the inputs. A constant must be finite: the importer writes the -inf of
// masked_fill as the lowest finite float (after which a softmax gives a masked position exactly
// 0, and a row masked entirely a uniform row where PyTorch gives NaN). The gradient goes to x
// where cond holds and to y elsewhere; cond gets none.
class Where final : public Layer {
 public:
  struct Operand {
    bool constant = false;
    Shape shape;                // per-sample shape of a constant (right-aligned broadcast)
    std::vector<float> values;  // its values, row-major
  };
  explicit Where(std::array<Operand, 3> operands);
  LayerType type() const override { return LayerType::op; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Where>(*this); }
  std::string describe() const override;
  std::string op_name() const override { return "where"; }
  void record(NodeRecord& r) const override;
  int arity() const override;
  Shape output_shape(const Shape& input) const override;
  Shape output_shape_n(std::span<const Shape> inputs) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
  void forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass& pass) const override;
  void backward_n(std::span<const Tensor* const> in, const Tensor& out, const Tensor& grad_out,
                  std::span<Tensor* const> grad_in, std::span<std::vector<float>> grads,
                  const Pass& pass) const override;

 private:
  // The shapes of the three operands given the shapes of the node's inputs.
  std::array<Shape, 3> shapes(std::span<const Shape> inputs) const;
  std::array<Operand, 3> ops_;
};

}  // namespace lumac::nn
