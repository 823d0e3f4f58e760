// A feed-forward network: a directed acyclic graph of nodes (layers) on a fixed per-sample input
// shape, in topological order, with what the
// rest of lumac needs to know about it: its matrix-product layers (fan-in D, outputs, output
// positions and MACs per sample, PHYSICS.md §5 and §7), their calibrated ranges (the full-scale
// values of the analog encoding and the output range R of the layer's ENOB, PHYSICS.md §2-3),
// and how it was trained. Forward and backward over a batch; the backward pass works with frozen
// weights (input gradients only) for precision learning.
//
// Values: value 0 is the model input, value i + 1 the output of node i. Node i reads the values
// listed in node_inputs(i), all produced before it (so the graph has no cycle by construction);
// a sequential model is the graph in which node i reads value i. The model's outputs are
// values too (by default the last node's). A value read by several nodes receives the sum of
// their gradients in the backward pass, in node order; a sequential model sums nothing, so its
// results are those of the layer chain it is.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lumac/core/config.hpp"
#include "lumac/nn/layer.hpp"
#include "lumac/nn/tensor.hpp"

namespace lumac::nn {

// A matrix-product layer as the hardware model sees it.
struct MatmulLayerInfo {
  std::string name;  // "conv1", "fc1", ...
  LayerType type = LayerType::dense;
  int layer_index = 0;  // position in the model's node list
  int input_value = 0;  // the value the node reads (0: the model input)
  // A product of two activations (nn/act_matmul.hpp): the value of its second operand (W), which
  // the calibration measures as the weight range; -1 for layers with weights.
  int weight_value = -1;
  bool activation_operands() const { return weight_value >= 0; }
  int matmul_index = 0;             // position among the matrix-product layers (MatmulView::layer)
  int fan_in = 0;                   // dot-product length D: in_features, or Cin * kh * kw
  int outputs = 0;                  // out_features, or output channels
  int positions = 0;                // dot products per output and sample: 1, or Ho * Wo
  std::int64_t macs = 0;            // multiply-accumulates per sample: outputs * fan_in * positions
  Shape input_shape, output_shape;  // per sample
};

// Calibrated ranges of one matrix-product layer.
struct LayerCalibration {
  float input_lo = 0, input_hi = 0;    // 0.01% and 99.99% percentiles of the layer's input values
  float output_lo = 0, output_hi = 0;  // same, of its pre-bias products Y = W X
  float weight_lo = 0, weight_hi = 0;  // smallest and largest weight
};

struct Calibration {
  std::string dataset;                   // "fashion-mnist train"
  std::int64_t samples = 0;              // calibration images (the first ones of the set)
  double percentile_lo = 0.01;           // percent
  double percentile_hi = 99.99;          // percent
  std::vector<LayerCalibration> layers;  // one per matrix-product layer, in order
};

// How a model was trained (the model file's /training group).
struct TrainingRecord {
  std::string dataset;    // "fashion-mnist" or "mnist"
  std::string arch;       // "mlp" or "cnn"
  std::string optimizer;  // "sgd" or "adam"
  std::uint64_t seed = 0;
  std::int64_t epochs = 0, batch = 0;
  double learning_rate = 0;
  std::int64_t train_samples = 0, test_samples = 0;
  double train_loss = 0;     // mean cross-entropy of the last epoch (nats)
  double test_accuracy = 0;  // clean (digital float32) accuracy on the test samples
  double seconds = 0;        // training wall time
};

// Where an imported model came from (the model file's /source group).
struct SourceRecord {
  std::string format;      // "onnx"
  std::string name;        // the source file's name
  std::string checksum;    // "crc32 <8 hex digits>, <bytes> bytes" of the source file
  std::string producer;    // producer name and version recorded in the source ("pytorch 1.13.1")
  std::int64_t opset = 0;  // the default domain's opset
  std::string dataset;     // the dataset it was imported and calibrated for
  std::string input_name;  // the graph input
  std::vector<std::string> output_names;  // the graph outputs, in order
};

// The element type of a graph input. Integers (token ids, masks) travel as exact floats; the
// type only says which values the input accepts (int64: integers below 2^24; bool: 0 or 1).
enum class InputType { float32, int64, boolean };

// What a dataset feeds a graph input (studies/network.hpp binds the datasets): the dataset's
// own samples (images, token ids), or, for a token dataset, a mask of its samples' padding:
// attention_mask is 1 where the token is real (Hugging Face's `attention_mask`), padding_mask
// 1 where it is padding (torch's `key_padding_mask`); none: no dataset feeds it (lumac infer
// still runs the model).
enum class InputFeature { sample, attention_mask, padding_mask, none };

// One graph input.
struct ModelInput {
  std::string name = "input";
  Shape shape;  // per sample
  InputType type = InputType::float32;
  InputFeature feature = InputFeature::sample;
};

// Samples a Model runs through all its layers as one unit: the batch is cut into groups of this
// many consecutive rows (the Dense chunk size, so that chunks stay aligned), and the groups run
// in parallel with OpenMP, one parallel region per forward or backward pass, when the batch has
// at least parallel_min_macs multiply-accumulates (nn/parallel.hpp: the MLP from 101 samples).
inline constexpr int model_group_samples = 32;

// Activations kept by a forward pass for the backward pass, stored per group of samples.
class Tape {
 public:
  int batch() const { return batch_; }
  // Value l over the whole batch: 0 is the input, l + 1 the output of node l (assembled).
  Tensor activation(std::size_t l) const;
  Tensor logits() const { return activation(output_); }

 private:
  friend class Model;
  int batch_ = 0;
  std::size_t layers_ = 0;
  std::size_t output_ = 0;
  std::vector<std::vector<Tensor>> groups_;  // [group][value]
};

// Parameter gradients, one array per entry of Model::parameters(), in that order.
using Gradients = std::vector<std::vector<float>>;

class Model {
 public:
  Model() = default;
  // A chain of layers. Checks that the shapes chain (lumac::Error naming the layer otherwise);
  // numbers the matrix-product layers in order.
  Model(Shape input_shape, std::vector<std::unique_ptr<Layer>> layers, std::string arch = "custom");
  // A graph: inputs[i] lists the values node i reads (each < i + 1), names[i] its name (empty:
  // "node<i>"), outputs the model's output values (empty: the last node's). lumac::Error names
  // the node whose inputs or shapes do not fit.
  Model(Shape input_shape, std::vector<std::unique_ptr<Layer>> layers,
        std::vector<std::vector<int>> inputs, std::vector<std::string> names,
        std::vector<int> outputs, std::string arch);
  Model(const Model& other);
  Model& operator=(const Model& other);
  Model(Model&&) = default;
  Model& operator=(Model&&) = default;
  ~Model();

  // The per-sample shape of value 0, the model input. A model of several graph inputs takes
  // them packed: value 0 is flat, the inputs' values one after the other in the order of
  // graph_inputs(), and an InputPart node per input unpacks its part (pack_inputs()).
  const Shape& input_shape() const { return shapes_.front(); }
  // The graph inputs: by default one, named "input", of value 0's shape.
  const std::vector<ModelInput>& graph_inputs() const { return graph_inputs_; }
  // lumac::Error unless the inputs have distinct non-empty names and fill value 0: one input of
  // its shape, or several whose sizes add up to its (flat) size.
  void set_graph_inputs(std::vector<ModelInput> inputs);
  // The model input of `samples` samples from one array per graph input (each samples x its
  // per-sample size values, row-major). lumac::Error on a wrong count or a value its type does
  // not allow (a non-integer id, a mask value other than 0 and 1, a non-finite value).
  Tensor pack_inputs(const std::vector<std::span<const float>>& inputs, int samples) const;
  // The same checks on a packed input of `samples` samples, in place.
  void check_input_types(std::span<const float> x, int samples) const;
  // Length of the (first) output, which must be flat (lumac::Error otherwise: the model does
  // not classify).
  int classes() const;
  const Shape& output_shape(std::size_t k = 0) const { return shapes_.at(outputs_.at(k)); }
  // The output values (value l: 0 the input, l + 1 node l's output).
  const std::vector<int>& outputs() const { return outputs_; }
  const std::vector<int>& node_inputs(std::size_t i) const { return inputs_.at(i); }
  const std::string& node_name(std::size_t i) const { return names_.at(i); }
  // Whether node i reads value i alone for every i, with the last node's output as the output.
  bool sequential() const;
  const std::string& arch() const { return arch_; }
  std::size_t size() const { return layers_.size(); }
  const Layer& layer(std::size_t i) const { return *layers_.at(i); }
  Layer& layer(std::size_t i) { return *layers_.at(i); }
  // Per-sample shape of value i (0: the model input, i + 1: node i's output).
  const Shape& shape(std::size_t i) const { return shapes_.at(i); }

  const std::vector<MatmulLayerInfo>& matmul_layers() const { return matmul_; }
  const MatmulLayer& matmul_layer(int matmul_index) const;
  MatmulLayer& matmul_layer(int matmul_index);
  std::int64_t macs_per_sample() const;
  // Digital operations per sample of the nodes that are not matrix products (Layer::digital_ops).
  double digital_ops_per_sample() const;

  // lumac::Error naming the node and the sample (its global index from `samples` when given)
  // when a node cannot take the input's values (token ids outside an embedding table:
  // Layer::check_input_values); the forward passes call it first.
  void check_input(const Tensor& x, std::span<const std::int64_t> samples = {}) const;
  // Every output of a batch, in the order of outputs().
  std::vector<Tensor> forward_outputs(const Tensor& x, const Pass& pass = {}) const;
  // Logits (the first output) of a batch (x.shape must be input_shape()). The batch runs in groups
  // of model_group_samples samples in parallel; a sample's logits are bitwise the same whatever the
  // batch it is in and the thread count.
  Tensor forward(const Tensor& x, const Pass& pass = {}) const;
  // The same, keeping every activation in `tape` for backward().
  void forward(const Tensor& x, const Pass& pass, Tape& tape) const;
  // Backpropagates dL/dlogits through the activations of `tape` (the forward pass must have had
  // the same `pass`). Fills *grads (one array per parameter) unless null (frozen weights), and
  // dL/dinput into *grad_input unless null. Hooks see dL/dY of every matrix product either way.
  void backward(const Tape& tape, const Tensor& grad_logits, const Pass& pass, Gradients* grads,
                Tensor* grad_input) const;

  // Every trainable array (weights then bias of each matrix-product layer, in order).
  std::vector<std::span<float>> parameters();
  std::vector<std::size_t> parameter_sizes() const;

  bool calibrated() const { return calibration_.has_value(); }
  // lumac::Error if the model has no calibration.
  const Calibration& calibration() const;
  const LayerCalibration& calibration(int matmul_index) const;
  // Must have one entry per matrix-product layer.
  void set_calibration(Calibration calibration);

  const std::optional<TrainingRecord>& training() const { return training_; }
  void set_training(TrainingRecord record) { training_ = std::move(record); }
  const std::optional<SourceRecord>& source() const { return source_; }
  void set_source(SourceRecord record) { source_ = std::move(record); }
  // The dataset the model is for: its training record's, else its source's ("" if neither).
  std::string dataset() const;

  // One line per layer with its shapes (and MACs for matrix products).
  std::string summary() const;

 private:
  void index_layers();
  // Whether a pass over `batch` samples runs its sample groups on several threads.
  bool parallel_groups(int batch) const;
  // Runs the nodes on one group of samples; keeps every value when `keep`, else frees each
  // after its last reader.
  void run_group(std::vector<Tensor>& values, const Pass& pass, bool keep) const;

  std::string arch_ = "custom";
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::vector<int>> inputs_;  // values each node reads
  std::vector<std::string> names_;        // node names
  std::vector<int> outputs_;              // output values
  std::vector<int> last_use_;             // per value: the last node that reads it (-1: none)
  std::vector<Shape> shapes_{Shape{1}};
  std::vector<ModelInput> graph_inputs_;
  std::vector<MatmulLayerInfo> matmul_;
  std::vector<std::size_t> param_offset_;  // first parameter array of each layer
  std::optional<Calibration> calibration_;
  std::optional<TrainingRecord> training_;
  std::optional<SourceRecord> source_;
};

}  // namespace lumac::nn

namespace lumac {
template <>
struct EnumNames<nn::InputType> {
  static constexpr std::array<std::pair<nn::InputType, std::string_view>, 3> values{
      {{nn::InputType::float32, "float"},
       {nn::InputType::int64, "int64"},
       {nn::InputType::boolean, "bool"}}};
};
template <>
struct EnumNames<nn::InputFeature> {
  static constexpr std::array<std::pair<nn::InputFeature, std::string_view>, 4> values{
      {{nn::InputFeature::sample, "sample"},
       {nn::InputFeature::attention_mask, "attention-mask"},
       {nn::InputFeature::padding_mask, "padding-mask"},
       {nn::InputFeature::none, "none"}}};
};
}  // namespace lumac
