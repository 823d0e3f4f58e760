// Layers of the network engine: the interface every layer implements (forward and backward over
// a batch, parameters), the base of the matrix-product layers (Dense, Conv2d) that the analog
// hardware model executes through nn/matmul_hook.hpp, and the parameter-free layers ReLU and
// Flatten. Layers hold only their parameters: activations live in the caller's tape, gradients
// in the caller's buffers, so a const network can run on several threads and be differentiated
// with frozen weights (precision learning, PHYSICS.md §5). See shared/DESIGN.md ("nn/").
#pragma once

#include <Eigen/Core>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lumac/nn/matmul_hook.hpp"
#include "lumac/nn/tensor.hpp"

namespace lumac::nn {

// What one forward or backward pass over a batch needs besides the tensors.
struct Pass {
  // Global dataset index of every batch row (the hooks' RNG counters); empty means 0..batch-1.
  std::span<const std::int64_t> samples;
  // Analog execution of every matrix product (nullptr: exact digital products).
  const MatmulHook* hook = nullptr;

  std::int64_t sample(int row) const { return samples.empty() ? row : samples[row]; }
};

// The built-in layers; every other node of a graph (nn/graph_ops.hpp) is `op` and names itself
// through Layer::op_name().
enum class LayerType { dense, conv2d, matmul, relu, maxpool2d, avgpool2d, flatten, op };

// "dense", "conv2d", "matmul", "relu", "maxpool2d", "avgpool2d", "flatten", "op" (the model file's
// names).
std::string_view layer_type_name(LayerType type);

// What the model file stores of a node besides its type: integer and real hyperparameters and
// constant float tensors (with their dimensions). Graph ops (nn/graph_ops.hpp) write and read
// themselves through it.
struct NodeRecord {
  std::string op;
  std::vector<std::pair<std::string, std::vector<std::int64_t>>> ints;
  std::vector<std::pair<std::string, std::vector<double>>> reals;
  struct Array {
    std::vector<int> dims;
    std::vector<float> values;
  };
  std::vector<std::pair<std::string, Array>> arrays;

  void put(std::string key, std::vector<std::int64_t> v) {
    ints.emplace_back(std::move(key), std::move(v));
  }
  void put_real(std::string key, std::vector<double> v) {
    reals.emplace_back(std::move(key), std::move(v));
  }
  void put_array(std::string key, std::vector<int> dims, std::vector<float> values) {
    arrays.emplace_back(std::move(key), Array{std::move(dims), std::move(values)});
  }
  // lumac::Error naming the key when it is missing.
  const std::vector<std::int64_t>& get(const std::string& key) const;
  const std::vector<double>& get_real(const std::string& key) const;
  const Array& get_array(const std::string& key) const;
};

class Layer {
 public:
  virtual ~Layer() = default;
  virtual LayerType type() const = 0;
  virtual std::unique_ptr<Layer> clone() const = 0;
  // One line with the type and every hyperparameter ("conv2d conv1 1->16 5x5 stride 1 pad 2").
  virtual std::string describe() const = 0;
  // Per-sample output shape for a per-sample input shape; lumac::Error if the input does not fit.
  virtual Shape output_shape(const Shape& input) const = 0;

  // Graph nodes: how many inputs the node takes (-1: any number >= 1), and the multi-input
  // forms of output_shape, forward and backward. The defaults forward a single input to the
  // one-input forms above; nodes of several inputs override these (and their one-input forms
  // throw). grad_in[k] may be null (that input needs no gradient).
  virtual int arity() const { return 1; }
  virtual Shape output_shape_n(std::span<const Shape> inputs) const;
  virtual void forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass& pass) const;
  virtual void backward_n(std::span<const Tensor* const> in, const Tensor& out,
                          const Tensor& grad_out, std::span<Tensor* const> grad_in,
                          std::span<std::vector<float>> grads, const Pass& pass) const;
  // Graph ops: their name and stored form (nn/graph_ops.hpp); built-in layers are written by
  // nn/model_file.cpp.
  virtual std::string op_name() const { return std::string(layer_type_name(type())); }
  // Digital operations per sample this node costs in the energy account (docs/energy.md): by
  // default one per output value; matrix products, ReLU (counted as each product's activation)
  // and nodes that only move data (flatten, reshape, transpose, concat, slice, pad) count 0.
  virtual double digital_ops(std::span<const Shape> inputs, const Shape& output) const {
    (void)inputs;
    return static_cast<double>(shape_size(output));
  }
  virtual void record(NodeRecord& r) const { r.op = op_name(); }
  // Checks the values a node reads from the model input (its input k) before a forward pass
  // runs (which cannot stop once started): lumac::Error naming what is wrong, e.g. a Gather's
  // token id outside its table. `samples` gives the global index of every row (empty: the row
  // index). By default every value is accepted.
  // Whether check_input_values checks anything (Model::check_input skips the other nodes).
  virtual bool checks_input_values() const { return false; }
  virtual void check_input_values(std::size_t k, const Tensor& in,
                                  std::span<const std::int64_t> samples) const {
    (void)k;
    (void)in;
    (void)samples;
  }

  // out = layer(in) over the batch (out is resized).
  virtual void forward(const Tensor& in, Tensor& out, const Pass& pass) const = 0;

  // Given the forward tensors `in` and `out` and grad_out = dL/dout, writes dL/din into
  // *grad_in (resized; skipped when null) and dL/dparameter into grads[k] (one vector per
  // parameter, in the order of parameters(), resized; skipped when `grads` is empty: frozen
  // weights).
  virtual void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out,
                        Tensor* grad_in, std::span<std::vector<float>> grads,
                        const Pass& pass) const = 0;

  // The trainable parameters as flat arrays (empty for parameter-free layers).
  virtual std::vector<std::span<float>> parameters() { return {}; }
  std::vector<std::span<const float>> parameters() const;

 protected:
  // For a node of several inputs (arity() != 1) that is given one: its one-input forward and
  // backward through forward_n and backward_n.
  void forward_via_n(const Tensor& in, Tensor& out, const Pass& pass) const;
  void backward_via_n(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                      std::span<std::vector<float>> grads, const Pass& pass) const;
};

// A layer whose core is one matrix product Y = W X per batch chunk or image (nn/matmul_hook.hpp
// gives the layout), followed by a per-output bias.
class MatmulLayer : public Layer {
 public:
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }
  // Index among the model's matrix-product layers (MatmulView::layer); set by the Model.
  int matmul_index() const { return matmul_index_; }
  void set_matmul_index(int index) { matmul_index_ = index; }

  int fan_in() const { return fan_in_; }
  int outputs() const { return outputs_; }
  // Whether the product's second operand is an activation too (ActMatmul: attention's Q K^T and
  // softmax(.) V), which the hardware modulates at every use: the layer then has no weights
  // and no bias, and its node reads the two operands as inputs 0 and 1.
  virtual bool activation_operands() const { return false; }
  // Dot products per output and per sample (Dense: 1; Conv2d: output positions Ho*Wo).
  virtual int positions(const Shape& input) const = 0;

  // W, outputs x fan_in (column-major), and the bias, one per output.
  const Eigen::MatrixXf& weight() const { return weight_; }
  Eigen::MatrixXf& weight() { return weight_; }
  const Eigen::VectorXf& bias() const { return bias_; }
  Eigen::VectorXf& bias() { return bias_; }

  // {weight, bias}.
  std::vector<std::span<float>> parameters() override;
  // Bias and activation are in the product's own energy (energy/energy_model.hpp).
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  using Layer::parameters;

 protected:
  // `weights`: whether the layer holds W (outputs x fan_in) and a bias (false: ActMatmul).
  MatmulLayer(std::string name, int outputs, int fan_in, bool weights = true);

  std::string name_;
  int matmul_index_ = 0;
  int fan_in_ = 0, outputs_ = 0;
  Eigen::MatrixXf weight_;
  Eigen::VectorXf bias_;
};

// max(x, 0) elementwise.
class ReLU final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  LayerType type() const override { return LayerType::relu; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<ReLU>(*this); }
  std::string describe() const override { return "relu"; }
  Shape output_shape(const Shape& input) const override { return input; }
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
};

// {C, H, W} -> {C*H*W}; the values do not move.
class Flatten final : public Layer {
 public:
  double digital_ops(std::span<const Shape>, const Shape&) const override { return 0; }
  LayerType type() const override { return LayerType::flatten; }
  std::unique_ptr<Layer> clone() const override { return std::make_unique<Flatten>(*this); }
  std::string describe() const override { return "flatten"; }
  Shape output_shape(const Shape& input) const override;
  void forward(const Tensor& in, Tensor& out, const Pass& pass) const override;
  void backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                std::span<std::vector<float>> grads, const Pass& pass) const override;
};

}  // namespace lumac::nn
