#include "lumac/nn/onnx_import.hpp"

#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/defs/schema.h>
#include <onnx/onnx_pb.h>
#include <onnx/proto_utils.h>
#include <onnx/shape_inference/implementation.h>
#include <zlib.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <fstream>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>

#include "lumac/core/error.hpp"
#include "lumac/nn/act_matmul.hpp"
#include "lumac/nn/conv2d.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/graph_ops.hpp"
#include "lumac/nn/pool.hpp"
#include "nn/onnx_fold.hpp"

namespace lumac::nn {

namespace fs = std::filesystem;
using onnx_detail::Const;

namespace {

constexpr int min_opset = 13, max_opset = 17;

std::string first_line(const std::string& s) {
  const auto end = s.find('\n');
  return end == std::string::npos ? s : s.substr(0, end);
}

// A value of the ONNX graph as the importer knows it: an activation (a value of the lumac
// graph) or a constant.
// Where an activation's batch axis is. torch writes nn.MultiheadAttention through (L, N, E),
// (L, N*H, d) and (N*H, L, d) tensors: ONNX axis `axis` holds outer x N x inner elements
// (row-major, N the batch), every other factor being per sample. lumac's per-sample tensor is
// the ONNX tensor at one n: the ONNX shape without that axis when outer * inner == 1, else with
// that axis of size outer * inner. Batch first is {0, 1, 1}.
struct Layout {
  int axis = 0;
  std::int64_t outer = 1, inner = 1;
  // The ONNX tensor is (N) alone: its per-sample shape {1} stands for no axis at all.
  bool scalar = false;
  bool merged() const { return outer * inner != 1; }
  bool batch_first() const { return axis == 0 && !merged(); }
  bool operator==(const Layout&) const = default;
};

struct Val {
  bool act = false;
  int id = 0;  // activation: the lumac value
  Const c;     // constant
  // An activation of integers (int64 token ids, a bool mask), carried as exact floats: only
  // Gather (as ids), Equal, Cast and shape-only ops read it.
  bool integer = false;
  Layout lay;  // activation: where its batch axis is
};

// Operators that follow an activation's batch axis wherever it is (every other one needs it
// first): element-wise ones, and those whose axes the importer maps.
bool follows_batch_axis(const std::string& op) {
  static const std::set<std::string> ops{"Relu",       "LeakyRelu", "Clip",    "Sigmoid",
                                         "Tanh",       "Exp",       "Neg",     "Sqrt",
                                         "Abs",        "Erf",       "Pow",     "Identity",
                                         "Dropout",    "Cast",      "Not",     "Shape",
                                         "Transpose",  "Reshape",   "MatMul",  "Gemm",
                                         "Add",        "Sub",       "Mul",     "Div",
                                         "Equal",      "Where",     "Softmax", "LayerNormalization",
                                         "ReduceMean", "ReduceSum", "Slice",   "Expand"};
  return ops.count(op) > 0;
}

// Short node names: torch's scoped "/layer1/layer1.0/conv1/Conv" becomes "layer1.0.conv1".
std::string short_name(const onnx::NodeProto& n, std::size_t index) {
  const std::string& full = n.name();
  if (full.empty()) return fmt::format("{}_{}", n.op_type(), index);
  if (full.find('/') == std::string::npos) return full;
  std::vector<std::string> parts;
  std::stringstream ss(full);
  for (std::string p; std::getline(ss, p, '/');)
    if (!p.empty()) parts.push_back(p);
  if (parts.size() <= 1) return parts.empty() ? full : parts[0];
  const std::string op = parts.back();
  parts.pop_back();
  std::vector<std::string> kept;
  for (const auto& p : parts) {
    if (!kept.empty() && p.rfind(kept.back() + ".", 0) == 0) kept.pop_back();
    kept.push_back(p);
  }
  std::string out;
  for (const auto& p : kept) out += (out.empty() ? "" : ".") + p;
  // Several ops of one module (Add, Relu, ...) keep the op's own name to stay apart.
  return out + (n.op_type() == "Conv" || n.op_type() == "Gemm" || n.op_type() == "MatMul"
                    ? ""
                    : "." + op);
}

class Importer {
 public:
  Importer(onnx::ModelProto& m, std::string file) : m_(m), file_(std::move(file)) {}
  OnnxImport run();

 private:
  [[noreturn]] void refuse(const std::string& what) const;
  const Val& value(const std::string& name) const;
  const Val& act_input(std::size_t k) const;
  std::optional<Const> const_input(std::size_t k) const;
  const Const& need_const(std::size_t k, const char* what) const;
  int add(std::unique_ptr<Layer> layer, std::vector<int> in);
  // The node's output k becomes lumac value id; its batch axis is `lay`, by default that of the
  // node's first activation input (element-wise ops).
  void set_act(std::size_t output, int id, bool integer = false,
               std::optional<Layout> lay = std::nullopt);
  // ONNX rank of an activation, and the per-sample axis of its ONNX axis `axis` (negative:
  // from the end); refused, naming `what`, when that is the batch axis.
  int onnx_rank(const Val& v) const;
  int sample_axis(const Val& v, std::int64_t axis, const char* what) const;
  // Refused unless the activation's batch axis is first (`what`: the operand).
  void need_batch_first(const Val& v, const char* what) const;
  // Refused when a constant that reaches the values (not a shape) holds the batch size.
  void no_batch_size(const Const& c, const char* what) const;
  // Whether the node being imported only moves values (so that it may read integers).
  bool shape_only_op() const;
  void gather();
  void gather_positions();
  const Shape& shape(int id) const { return shapes_.at(static_cast<std::size_t>(id)); }
  std::string unique(std::string name);
  // The per-sample shape of a constant broadcast against activation `act` (right-aligned
  // against its ONNX shape; the constant must be 1 along the batch axis).
  Shape per_sample_const_shape(const Const& c, const Val& act) const;
  MatmulLayer* foldable_matmul(const std::string& value_name) const;

  void sort_nodes();
  void check_before_inference();
  void read_input();
  void node(const onnx::NodeProto& n, std::size_t index);
  void conv();
  void gemm();
  void matmul();
  void batchnorm();
  void binary(BinaryKind kind);
  void pool(bool max);
  void reshape();
  void reduce_mean(std::vector<int> axes, bool keepdims, bool mean = true);
  void where();
  void split();
  void expand();
  void check_shapes();

  onnx::ModelProto& m_;
  std::string file_;
  std::vector<const onnx::NodeProto*> order_;
  const onnx::NodeProto* n_ = nullptr;  // the node being imported
  std::string name_;                    // its short name
  std::int64_t static_batch_ = -1;      // the inputs' fixed batch size, if any
  std::vector<ModelInput> graph_inputs_;
  std::set<int> input_ids_;  // the lumac values that hold a graph input
  std::unordered_map<std::string, Val> vals_;
  std::unordered_map<std::string, int> readers_;
  std::set<std::string> names_used_;
  std::vector<std::unique_ptr<Layer>> layers_;
  std::vector<std::vector<int>> inputs_;
  std::vector<std::string> names_;
  std::vector<Shape> shapes_;
  std::vector<std::string> notes_;
  int folded_ = 0, bn_folded_ = 0, bias_folded_ = 0;
};

void Importer::refuse(const std::string& what) const {
  if (n_)
    fail("{}: node '{}' ({}): {} (supported operators: docs/models.md)", file_, n_->name(),
         n_->op_type(), what);
  fail("{}: {}", file_, what);
}

const Val& Importer::value(const std::string& name) const {
  const auto it = vals_.find(name);
  if (it == vals_.end()) refuse(fmt::format("input '{}' is not defined", name));
  return it->second;
}

const Val& Importer::act_input(std::size_t k) const {
  if (static_cast<int>(k) >= n_->input_size() || n_->input(static_cast<int>(k)).empty())
    refuse(fmt::format("input {} is missing", k));
  const Val& v = value(n_->input(static_cast<int>(k)));
  if (!v.act) refuse(fmt::format("input {} must be an activation, not a constant", k));
  if (!follows_batch_axis(n_->op_type())) need_batch_first(v, "its input");
  if (v.integer && !shape_only_op())
    refuse(fmt::format("input {} holds integers (token ids or a mask) where floats are needed", k));
  return v;
}

std::optional<Const> Importer::const_input(std::size_t k) const {
  if (static_cast<int>(k) >= n_->input_size() || n_->input(static_cast<int>(k)).empty())
    return std::nullopt;
  const Val& v = value(n_->input(static_cast<int>(k)));
  if (v.act) refuse(fmt::format("input {} must be a constant (an initializer)", k));
  return v.c;
}

const Const& Importer::need_const(std::size_t k, const char* what) const {
  if (static_cast<int>(k) >= n_->input_size() || n_->input(static_cast<int>(k)).empty())
    refuse(fmt::format("the {} (input {}) is missing", what, k));
  const Val& v = value(n_->input(static_cast<int>(k)));
  if (v.act) refuse(fmt::format("the {} (input {}) must be a constant", what, k));
  return v.c;
}

std::string Importer::unique(std::string name) {
  std::string out = name;
  for (int k = 2; names_used_.count(out); ++k) out = fmt::format("{}_{}", name, k);
  names_used_.insert(out);
  return out;
}

int Importer::add(std::unique_ptr<Layer> layer, std::vector<int> in) {
  std::vector<Shape> in_shapes;
  for (int v : in) in_shapes.push_back(shape(v));
  Shape out;
  try {
    out = layer->output_shape_n(in_shapes);
  } catch (const Error& e) {
    refuse(e.what());
  }
  layers_.push_back(std::move(layer));
  inputs_.push_back(std::move(in));
  names_.push_back(name_);
  shapes_.push_back(std::move(out));
  return static_cast<int>(layers_.size());
}

void Importer::set_act(std::size_t output, int id, bool integer, std::optional<Layout> lay) {
  if (static_cast<int>(output) >= n_->output_size()) return;
  // Ops that only move values keep integers integers (Cast makes them floats).
  if (shape_only_op() && n_->op_type() != "Cast" && n_->input_size() > 0)
    integer = integer || value(n_->input(0)).integer;
  if (!lay) {
    lay = Layout{};
    for (const auto& in : n_->input())
      if (!in.empty() && value(in).act) {
        lay = value(in).lay;
        break;
      }
  }
  vals_[n_->output(static_cast<int>(output))] = Val{true, id, {}, integer, *lay};
}

int Importer::onnx_rank(const Val& v) const {
  if (v.lay.scalar) return 1;
  return static_cast<int>(shape(v.id).size()) + (v.lay.merged() ? 0 : 1);
}

void Importer::no_batch_size(const Const& c, const char* what) const {
  // Shape writes the batch size as a marker (times the other factors of its axis): a value
  // that is a multiple of it was computed from x.shape[0] or the like.
  const auto m = static_cast<double>(onnx_detail::batch_marker);
  for (const double v : c.v)
    if (std::abs(v) >= m && std::abs(v) < 1e15 && std::fmod(std::abs(v), m) == 0)
      refuse(fmt::format(
          "{} is computed from the batch size (x.shape[0] or the like); lumac runs every sample "
          "alone, so a model's values may not depend on how many samples a batch holds",
          what));
}

int Importer::sample_axis(const Val& v, std::int64_t axis, const char* what) const {
  const int rank = onnx_rank(v);
  if (axis < -rank || axis >= rank) refuse(fmt::format("axis {} of a rank-{} tensor", axis, rank));
  if (axis < 0) axis += rank;
  if (axis == v.lay.axis) refuse(fmt::format("{} over the batch axis", what));
  return static_cast<int>(axis < v.lay.axis || v.lay.merged() ? axis : axis - 1);
}

void Importer::need_batch_first(const Val& v, const char* what) const {
  if (!v.lay.batch_first())
    refuse(fmt::format(
        "{} has its batch axis at ONNX axis {}{}; lumac runs {} only on tensors "
        "whose batch axis is first",
        what, v.lay.axis, v.lay.merged() ? " (merged with other axes)" : "", n_->op_type()));
}

bool Importer::shape_only_op() const {
  return onnx_detail::moves_integers(n_->op_type());
}

void Importer::gather() {
  const Val& data = value(n_->input(0));
  const Val& ids = value(n_->input(1));
  if (data.act && !ids.act) return gather_positions();
  if (data.act)
    refuse(
        "Gather from an activation by indices that are activations (lumac gathers rows of a "
        "constant table by token ids, or fixed positions of an activation)");
  if (!ids.integer || !input_ids_.count(ids.id))
    refuse("Gather's indices must be an int64 graph input (token ids)");
  if (onnx_detail::attr_int(*n_, "axis", 0) != 0) refuse("Gather along an axis other than 0");
  const Const& t = data.c;
  if (t.integer) refuse("Gather from an integer table");
  if (t.dims.empty()) refuse("Gather from a scalar");
  Shape table(t.dims.begin(), t.dims.end());
  try {
    set_act(0, add(std::make_unique<Gather>(table, t.floats()), {ids.id}));
  } catch (const Error& e) {
    refuse(e.what());
  }
}

// The constant operand of an element-wise op as a per-sample shape: a leading batch axis of 1
// is dropped; one that would broadcast over the batch is refused.
Shape Importer::per_sample_const_shape(const Const& c, const Val& act) const {
  const std::size_t act_rank = static_cast<std::size_t>(onnx_rank(act));
  if (c.dims.size() > act_rank)
    refuse(fmt::format("a constant of shape {} is of higher rank than the activation",
                       shape_string(c.dims)));
  const std::size_t pad = act_rank - c.dims.size();
  Shape out;
  for (std::size_t k = pad; k < act_rank; ++k) {
    const int d = c.dims[k - pad];
    if (static_cast<int>(k) == act.lay.axis) {
      if (d != 1)
        refuse(fmt::format("a constant of shape {} would act across the batch axis",
                           shape_string(c.dims)));
      if (act.lay.merged()) out.push_back(1);
      continue;
    }
    out.push_back(d);
  }
  return out;
}

MatmulLayer* Importer::foldable_matmul(const std::string& value_name) const {
  const Val& v = value(value_name);
  if (!v.act || v.id == 0) return nullptr;
  const auto it = readers_.find(value_name);
  if (it == readers_.end() || it->second != 1) return nullptr;
  auto* m = dynamic_cast<MatmulLayer*>(layers_.at(static_cast<std::size_t>(v.id - 1)).get());
  // A product of two activations has no bias to fold a constant into.
  return m && !m->activation_operands() ? m : nullptr;
}

void Importer::sort_nodes() {
  const auto& g = m_.graph();
  std::set<std::string> known;
  for (const auto& t : g.initializer()) known.insert(t.name());
  for (const auto& i : g.input()) known.insert(i.name());
  std::vector<char> done(static_cast<std::size_t>(g.node_size()), 0);
  std::size_t remaining = done.size();
  while (remaining > 0) {
    bool progress = false;
    for (int k = 0; k < g.node_size(); ++k) {
      if (done[static_cast<std::size_t>(k)]) continue;
      const auto& n = g.node(k);
      bool ready = true;
      for (const auto& in : n.input())
        if (!in.empty() && !known.count(in)) ready = false;
      if (!ready) continue;
      for (const auto& out : n.output()) known.insert(out);
      order_.push_back(&n);
      done[static_cast<std::size_t>(k)] = 1;
      --remaining;
      progress = true;
    }
    if (!progress) {
      for (int k = 0; k < g.node_size(); ++k)
        if (!done[static_cast<std::size_t>(k)])
          for (const auto& in : g.node(k).input())
            if (!in.empty() && !known.count(in))
              fail(
                  "{}: the graph has a cycle or an undefined value: node '{}' ({}) reads '{}', "
                  "which no node computes before it",
                  file_, g.node(k).name(), g.node(k).op_type(), in);
    }
  }
  for (const auto& n : order_)
    for (const auto& in : n->input()) ++readers_[in];
  for (const auto& o : g.output()) ++readers_[o.name()];
}

// Runs before the ONNX checker and shape inference. Besides naming an unknown operator first,
// it keeps libonnx 1.12's shape inference away from what it trusts without checking: a zero
// stride divides by zero there (SIGFPE, found by tests/fuzz/fuzz_onnx), and a Conv kernel read
// from a weight of another rank than the input indexes past the strides and dilations.
void Importer::check_before_inference() {
  // An operator lumac has no case for is named before any other node's problem: a recurrent
  // layer's shape subgraph, folded first, would otherwise fail on its own terms (an LSTM's
  // initial state built for the batch-size marker).
  static const std::set<std::string> known{"Abs",
                                           "Add",
                                           "AveragePool",
                                           "BatchNormalization",
                                           "Cast",
                                           "Clip",
                                           "Concat",
                                           "Constant",
                                           "ConstantOfShape",
                                           "Conv",
                                           "Div",
                                           "Dropout",
                                           "Equal",
                                           "Erf",
                                           "Exp",
                                           "Expand",
                                           "Flatten",
                                           "Gather",
                                           "Gemm",
                                           "GlobalAveragePool",
                                           "Identity",
                                           "LayerNormalization",
                                           "LeakyRelu",
                                           "MatMul",
                                           "MaxPool",
                                           "Mul",
                                           "Neg",
                                           "Not",
                                           "Pad",
                                           "Pow",
                                           "Range",
                                           "Reciprocal",
                                           "ReduceMean",
                                           "ReduceSum",
                                           "Relu",
                                           "Reshape",
                                           "Shape",
                                           "Sigmoid",
                                           "Slice",
                                           "Softmax",
                                           "Split",
                                           "Sqrt",
                                           "Squeeze",
                                           "Sub",
                                           "Tanh",
                                           "Transpose",
                                           "Trilu",
                                           "Unsqueeze",
                                           "Where"};
  for (const onnx::NodeProto* n : order_) {
    n_ = n;
    if (!n->domain().empty() && n->domain() != "ai.onnx")
      refuse(fmt::format("operator domain '{}' is not supported", n->domain()));
    if (!known.count(n->op_type())) refuse("this operator is not supported");
  }
  // Geometry: every size at least 1, pads not negative, none absurd (the int geometry of
  // nn/conv.hpp would overflow). A Conv without kernel_shape gets it from its weight, so that
  // shape inference compares its length with the input's rank instead of trusting it.
  constexpr std::int64_t max_geometry = 1 << 20;
  std::map<std::string, const onnx::TensorProto*> constants;
  for (const auto& t : m_.graph().initializer()) constants[t.name()] = &t;
  for (const auto& n : m_.graph().node())
    if (n.op_type() == "Constant" && n.output_size() == 1)
      for (const auto& a : n.attribute())
        if (a.name() == "value" && a.has_t()) constants[n.output(0)] = &a.t();
  for (auto& n : *m_.mutable_graph()->mutable_node()) {
    const std::string& op = n.op_type();
    if (op != "Conv" && op != "MaxPool" && op != "AveragePool") continue;
    n_ = &n;
    for (const auto& a : n.attribute()) {
      const std::int64_t low = a.name() == "pads" ? 0 : 1;
      if (a.name() != "pads" && a.name() != "strides" && a.name() != "dilations" &&
          a.name() != "kernel_shape")
        continue;
      for (const std::int64_t v : a.ints())
        if (v < low || v > max_geometry)
          refuse(fmt::format("{} holds {}; each must be between {} and {}", a.name(), v, low,
                             max_geometry));
    }
    if (op != "Conv" || onnx_detail::attr_ints(n, "kernel_shape")) continue;
    const auto w = n.input_size() > 1 ? constants.find(n.input(1)) : constants.end();
    if (w == constants.end())
      refuse("the weight is not a constant (an initializer or a Constant node)");
    if (w->second->dims_size() < 3)
      refuse(fmt::format("a weight of rank {}; a convolution's has rank 3 or more",
                         w->second->dims_size()));
    auto* k = n.add_attribute();
    k->set_name("kernel_shape");
    k->set_type(onnx::AttributeProto::INTS);
    for (int d = 2; d < w->second->dims_size(); ++d) {
      const std::int64_t v = w->second->dims(d);
      if (v < 1 || v > max_geometry)
        refuse(fmt::format("the weight's kernel size {} is not between 1 and {}", v, max_geometry));
      k->add_ints(v);
    }
  }
  n_ = nullptr;
}

void Importer::read_input() {
  const auto& g = m_.graph();
  std::set<std::string> inits;
  for (const auto& t : g.initializer()) {
    inits.insert(t.name());
    try {
      vals_[t.name()] = Val{false, 0, onnx_detail::tensor_const(t), false, {}};
    } catch (const Error& e) {
      fail("{}: initializer '{}': {}", file_, t.name(), e.what());
    }
  }
  std::vector<const onnx::ValueInfoProto*> inputs;
  for (const auto& i : g.input())
    if (!inits.count(i.name())) inputs.push_back(&i);
  if (inputs.empty()) fail("{}: the graph has no input", file_);
  if (inputs.size() > 64) fail("{}: the graph has {} inputs, more than 64", file_, inputs.size());
  std::vector<ModelInput> graph_inputs;
  std::int64_t total = 0;
  for (const onnx::ValueInfoProto* input : inputs) {
    const auto& type = input->type();
    if (!type.has_tensor_type()) fail("{}: input '{}' is not a tensor", file_, input->name());
    // Its element type was checked by run(), before the checker.
    const auto& dims = type.tensor_type().shape().dim();
    if (dims.size() < 2)
      fail("{}: input '{}' must be batch first with a per-sample shape (rank >= 2), has rank {}",
           file_, input->name(), dims.size());
    ModelInput in;
    in.name = input->name();
    const auto elem = type.tensor_type().elem_type();
    in.type = elem == onnx::TensorProto::INT64  ? InputType::int64
              : elem == onnx::TensorProto::BOOL ? InputType::boolean
                                                : InputType::float32;
    for (int k = 1; k < dims.size(); ++k) {
      if (!dims[k].has_dim_value() || dims[k].dim_value() < 1)
        fail("{}: input '{}' axis {} has no fixed size: lumac needs the per-sample shape", file_,
             input->name(), k);
      if (dims[k].dim_value() > 1000000)
        fail("{}: input '{}' axis {} has size {}, too large", file_, input->name(), k,
             dims[k].dim_value());
      in.shape.push_back(static_cast<int>(dims[k].dim_value()));
    }
    // What a dataset feeds it: the first input the samples, a later one a mask named as
    // Hugging Face or torch name theirs (lumac import --bind overrides).
    if (graph_inputs.empty())
      in.feature = InputFeature::sample;
    else if (in.name.find("padding_mask") != std::string::npos)
      in.feature = InputFeature::padding_mask;
    else if (in.name.find("attention_mask") != std::string::npos)
      in.feature = InputFeature::attention_mask;
    else
      in.feature = InputFeature::none;
    total += shape_size(in.shape);
    if (total > 1000000) fail("{}: the inputs hold more than 1000000 values per sample", file_);
    if (dims[0].has_dim_value()) {
      if (static_batch_ >= 0 && static_batch_ != dims[0].dim_value())
        fail("{}: inputs '{}' and '{}' have batch sizes {} and {}", file_, inputs[0]->name(),
             input->name(), static_batch_, dims[0].dim_value());
      static_batch_ = dims[0].dim_value();
    }
    graph_inputs.push_back(std::move(in));
  }
  // One input is value 0 itself; several are packed into a flat value 0, and an InputPart node
  // per input unpacks its values (Model::input_shape()).
  if (graph_inputs.size() == 1) {
    shapes_.push_back(graph_inputs[0].shape);
    vals_[graph_inputs[0].name] = Val{true, 0, {}, graph_inputs[0].type != InputType::float32, {}};
    input_ids_.insert(0);
  } else {
    shapes_.push_back(Shape{static_cast<int>(total)});
    std::int64_t offset = 0;
    for (const ModelInput& in : graph_inputs) {
      name_ = unique(in.name);
      const int id = add(std::make_unique<InputPart>(offset, in.shape), {0});
      vals_[in.name] = Val{true, id, {}, in.type != InputType::float32, {}};
      input_ids_.insert(id);
      offset += shape_size(in.shape);
    }
  }
  graph_inputs_ = std::move(graph_inputs);
}

void Importer::conv() {
  const Val& x = act_input(0);
  const Const& w = need_const(1, "weight");
  const auto b = const_input(2);
  const Shape& in = shape(x.id);
  if (in.size() != 3 || w.dims.size() != 4)
    refuse(fmt::format("only 2-D convolutions are supported (input {}, weight {})",
                       shape_string(in), shape_string(w.dims)));
  Conv2dGeometry g;
  g.out_channels = w.dims[0];
  g.groups = static_cast<int>(onnx_detail::attr_int(*n_, "group", 1));
  g.in_channels = in[0];
  if (g.groups < 1 || w.dims[1] * g.groups != in[0])
    refuse(fmt::format("weight {} with {} groups does not fit {} input channels",
                       shape_string(w.dims), g.groups, in[0]));
  g.kernel_h = w.dims[2];
  g.kernel_w = w.dims[3];
  if (auto k = onnx_detail::attr_ints(*n_, "kernel_shape"))
    if (k->size() != 2 || (*k)[0] != g.kernel_h || (*k)[1] != g.kernel_w)
      refuse("kernel_shape does not match the weight");
  const auto s = onnx_detail::attr_ints(*n_, "strides").value_or(std::vector<std::int64_t>{1, 1});
  const auto d = onnx_detail::attr_ints(*n_, "dilations").value_or(std::vector<std::int64_t>{1, 1});
  auto p = onnx_detail::attr_ints(*n_, "pads").value_or(std::vector<std::int64_t>{0, 0, 0, 0});
  if (s.size() != 2 || d.size() != 2 || p.size() != 4)
    refuse("strides, dilations or pads of the wrong length");
  for (auto v : {s[0], s[1], d[0], d[1]})
    if (v < 1) refuse("strides and dilations must be >= 1");
  const std::string auto_pad = onnx_detail::attr_string(*n_, "auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    p = {0, 0, 0, 0};
  } else if (auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER") {
    const int ks[2] = {g.kernel_h, g.kernel_w};
    for (int a = 0; a < 2; ++a) {
      const std::int64_t size = in[static_cast<std::size_t>(a + 1)], out = (size + s[a] - 1) / s[a];
      const std::int64_t total =
          std::max<std::int64_t>(0, (out - 1) * s[a] + (ks[a] - 1) * d[a] + 1 - size);
      const std::int64_t small = total / 2;
      p[a] = auto_pad == "SAME_UPPER" ? small : total - small;
      p[a + 2] = total - p[a];
    }
  } else if (auto_pad != "NOTSET") {
    refuse(fmt::format("auto_pad '{}'", auto_pad));
  }
  for (auto v : p)
    if (v < 0) refuse("negative pads");
  g.stride = static_cast<int>(s[0]);
  g.stride_w = static_cast<int>(s[1]);
  g.padding = static_cast<int>(p[0]);
  g.pad_left = static_cast<int>(p[1]);
  g.pad_bottom = static_cast<int>(p[2]);
  g.pad_right = static_cast<int>(p[3]);
  g.dilation_h = static_cast<int>(d[0]);
  g.dilation_w = static_cast<int>(d[1]);
  auto c = std::make_unique<Conv2d>(name_, g);
  c->weight() = Eigen::Map<const RowMatrixXf>(w.floats().data(), c->outputs(), c->fan_in());
  if (b) {
    if (b->size() != g.out_channels) refuse("the bias does not have one value per output channel");
    c->bias() = Eigen::Map<const Eigen::VectorXf>(b->floats().data(), g.out_channels);
  }
  set_act(0, add(std::move(c), {x.id}));
}

void Importer::gemm() {
  const Val& a = act_input(0);
  const Const& bm = need_const(1, "matrix B");
  const auto c = const_input(2);
  if (onnx_detail::attr_int(*n_, "transA", 0) != 0) refuse("transA = 1 (the batch would move)");
  const bool trans_b = onnx_detail::attr_int(*n_, "transB", 0) != 0;
  const double alpha = onnx_detail::attr_float(*n_, "alpha", 1.0);
  const double beta = onnx_detail::attr_float(*n_, "beta", 1.0);
  const Shape& in = shape(a.id);
  // A is (batch, K), or (rows x batch x ..., K) as torch's multi-head attention writes its output
  // projection: a token-wise product per sample.
  if (a.lay.axis != 0) refuse("a product over the batch axis (A's batch axis is not its rows)");
  const bool rows = a.lay.merged() && in.size() == 2;
  if (in.size() != 1 && !rows)
    refuse(fmt::format("input A must be (batch, K), has per-sample shape {}", shape_string(in)));
  if (bm.dims.size() != 2) refuse("B must be a matrix");
  const int k = trans_b ? bm.dims[1] : bm.dims[0], m = trans_b ? bm.dims[0] : bm.dims[1];
  if (k != in.back())
    refuse(fmt::format("B of shape {} does not fit {} input features", shape_string(bm.dims),
                       in.back()));
  auto d = std::make_unique<Dense>(name_, k, m);
  const auto bv = bm.floats();
  if (trans_b)
    d->weight() = Eigen::Map<const RowMatrixXf>(bv.data(), m, k);
  else
    d->weight() = Eigen::Map<const RowMatrixXf>(bv.data(), k, m).transpose();
  if (alpha != 1.0) d->weight() *= static_cast<float>(alpha);
  if (c) {
    const Shape cs = c->dims;
    const bool vector = c->size() == m && (cs.size() == 1 || (cs.size() == 2 && cs[0] == 1));
    if (!vector && c->size() != 1)
      refuse(fmt::format("C of shape {} is not a per-output bias", shape_string(cs)));
    for (int i = 0; i < m; ++i)
      d->bias()[i] = static_cast<float>(beta * c->v[vector ? static_cast<std::size_t>(i) : 0]);
  }
  set_act(0, add(std::move(d), {a.id}));
}

void Importer::matmul() {
  const Val& a = act_input(0);
  const Val& bv = value(n_->input(1));
  if (bv.act && bv.integer)
    refuse("input 1 holds integers (token ids or a mask) where floats are needed");
  if (bv.act) {
    // Both operands are activations (attention): a product on the hardware with both operands
    // modulated at every use.
    const Shape &sa = shape(a.id), &sb = shape(bv.id);
    if (!(a.lay == bv.lay)) refuse("the operands' batch axes are in different places");
    if (a.lay.axis >= onnx_rank(a) - 2)
      refuse("the batch axis is one of the two axes the product multiplies");
    if (sa.size() < 2 || sa.size() != sb.size())
      refuse(fmt::format(
          "a product of two activations needs per-sample operands of the same rank >= 2, not {} x "
          "{}",
          shape_string(sa), shape_string(sb)));
    for (std::size_t k = 0; k + 2 < sa.size(); ++k)
      if (sa[k] != sb[k])
        refuse(fmt::format("operands {} x {}: broadcasting of leading axes is not supported",
                           shape_string(sa), shape_string(sb)));
    if (sa.back() != sb[sb.size() - 2])
      refuse(fmt::format("operands {} x {} do not fit", shape_string(sa), shape_string(sb)));
    set_act(0, add(std::make_unique<ActMatmul>(name_, sa.back(), sb.back()), {a.id, bv.id}));
    return;
  }
  const Const& bm = bv.c;
  const Shape& in = shape(a.id);
  sample_axis(a, -1, "a product");  // the contracted axis may not hold the batch
  if (in.empty() || bm.dims.size() != 2)
    refuse(
        fmt::format("only (batch, ..., K) x (K, M) products are supported, not per-sample {} x {}",
                    shape_string(in), shape_string(bm.dims)));
  if (bm.dims[0] != in.back())
    refuse(fmt::format("B of shape {} does not fit {} input features", shape_string(bm.dims),
                       in.back()));
  auto d = std::make_unique<Dense>(name_, bm.dims[0], bm.dims[1]);
  const auto w = bm.floats();
  d->weight() = Eigen::Map<const RowMatrixXf>(w.data(), bm.dims[0], bm.dims[1]).transpose();
  set_act(0, add(std::move(d), {a.id}));
}

void Importer::batchnorm() {
  const Val& x = act_input(0);
  if (onnx_detail::attr_int(*n_, "training_mode", 0) != 0) refuse("training_mode = 1");
  if (n_->output_size() > 1)
    for (int k = 1; k < n_->output_size(); ++k)
      if (!n_->output(k).empty() && readers_[n_->output(k)] > 0)
        refuse("running statistics outputs are read");
  const Const &gamma = need_const(1, "scale"), &beta = need_const(2, "bias"),
              &mean = need_const(3, "mean"), &var = need_const(4, "variance");
  const double eps = onnx_detail::attr_float(*n_, "epsilon", 1e-5);
  const Shape& in = shape(x.id);
  const int c = in.empty() ? 0 : in[0];
  for (const Const* t : {&gamma, &beta, &mean, &var})
    if (t->size() != c)
      refuse(fmt::format("parameters of {} values for {} channels", t->size(), c));
  std::vector<float> scale(static_cast<std::size_t>(c)), shift(static_cast<std::size_t>(c));
  for (std::size_t k = 0; k < scale.size(); ++k) {
    const float s = static_cast<float>(
        gamma.v[k] / std::sqrt(static_cast<float>(var.v[k]) + static_cast<float>(eps)));
    scale[k] = s;
    shift[k] = static_cast<float>(beta.v[k] - mean.v[k] * s);
  }
  // Channels are axis 1 of the tensor: a convolution's outputs, or a flat dense layer's.
  if (MatmulLayer* m = foldable_matmul(n_->input(0));
      m && m->outputs() == c && (m->type() == LayerType::conv2d || in.size() == 1)) {
    for (int k = 0; k < c; ++k) {
      m->weight().row(k) *= scale[static_cast<std::size_t>(k)];
      m->bias()[k] =
          m->bias()[k] * scale[static_cast<std::size_t>(k)] + shift[static_cast<std::size_t>(k)];
    }
    ++bn_folded_;
    set_act(0, x.id);
    return;
  }
  set_act(0, add(std::make_unique<ChannelAffine>(scale, shift), {x.id}));
}

void Importer::binary(BinaryKind kind) {
  const Val& a = value(n_->input(0));
  const Val& b = value(n_->input(1));
  const bool equal = kind == BinaryKind::equal;  // integers in, a mask (bool) out
  if (!equal && (a.integer || b.integer))
    refuse("an operand holds integers (token ids or a mask) where floats are needed");
  if (a.act && b.act) {
    if (!(a.lay == b.lay))
      refuse("the operands' batch axes are in different places (a transpose or reshape apart)");
    if (shape(a.id).size() != shape(b.id).size())
      refuse(fmt::format("activations of per-sample shapes {} and {} differ in rank",
                         shape_string(shape(a.id)), shape_string(shape(b.id))));
    set_act(0, add(std::make_unique<Binary>(kind), {a.id, b.id}), equal);
    return;
  }
  const bool left = !a.act;
  const Val& x = left ? b : a;
  const Const& c = left ? a.c : b.c;
  const Shape& xs = shape(x.id);
  const Shape cs = per_sample_const_shape(c, x);
  // A per-output constant added to (or subtracted from) a matrix product becomes its bias.
  if ((kind == BinaryKind::add || (kind == BinaryKind::sub && !left))) {
    if (MatmulLayer* m = foldable_matmul(left ? n_->input(1) : n_->input(0))) {
      const int outs = m->outputs();
      bool per_output = c.size() == 1;
      if (!per_output && m->type() == LayerType::dense) {
        // Along the last axis: (outs), or (1, ..., 1, outs) of at most the input's rank.
        per_output = !cs.empty() && cs.back() == outs && shape_size(cs) == outs;
      }
      if (!per_output && m->type() == LayerType::conv2d && xs.size() == 3)
        per_output = cs == Shape{outs, 1, 1} ||
                     (cs.size() == 4 && cs[1] == outs && cs[2] == 1 && cs[3] == 1);
      if (per_output && cs.size() <= xs.size()) {
        const float sign = kind == BinaryKind::sub ? -1.0f : 1.0f;
        for (int k = 0; k < outs; ++k)
          m->bias()[k] +=
              sign * static_cast<float>(c.v[c.size() == 1 ? 0 : static_cast<std::size_t>(k)]);
        ++bias_folded_;
        set_act(0, x.id);
        return;
      }
    }
  }
  no_batch_size(c, "the constant operand");
  std::vector<float> values = c.floats();
  for (float& v : values) {
    if (std::isnan(v)) refuse("the constant operand holds NaN");
    // An additive mask of -inf (nn.Transformer's generate_square_subsequent_mask): the lowest
    // finite float, after which a softmax gives a masked position 0 as with -inf.
    if (std::isinf(v) && (kind == BinaryKind::add || kind == BinaryKind::sub))
      v = v < 0 ? std::numeric_limits<float>::lowest() : std::numeric_limits<float>::max();
  }
  std::unique_ptr<Layer> layer;
  try {
    layer = std::make_unique<BinaryConst>(kind, cs, std::move(values), left);
  } catch (const Error& e) {
    refuse(e.what());
  }
  set_act(0, add(std::move(layer), {x.id}), equal);
}

void Importer::gather_positions() {
  // Fixed positions of an activation along a per-sample axis, as BERT's pooler takes the first
  // token (hidden[:, 0]): a strided slice, reshaped to Gather's output shape.
  const Val& x = value(n_->input(0));
  need_batch_first(x, "Gather's data");
  const Const& idx = need_const(1, "indices");
  const int a = sample_axis(x, onnx_detail::attr_int(*n_, "axis", 0), "Gather");
  const Shape& in = shape(x.id);
  const int dim = in[static_cast<std::size_t>(a)];
  std::vector<int> picks;
  for (const double v : idx.v) {
    const double k = v < 0 ? v + dim : v;
    if (k < 0 || k >= dim)
      refuse(fmt::format("Gather index {} outside an axis of {} elements", v, dim));
    picks.push_back(static_cast<int>(k));
  }
  if (picks.empty()) refuse("Gather of no index");
  const int step = picks.size() > 1 ? picks[1] - picks[0] : 1;
  for (std::size_t k = 1; k < picks.size(); ++k)
    if (step == 0 || picks[k] - picks[k - 1] != step)
      refuse("Gather of positions that are not evenly spaced (lumac takes them as a slice)");
  std::vector<int> start(in.size(), 0), steps(in.size(), 1), count(in.begin(), in.end());
  start[static_cast<std::size_t>(a)] = picks[0];
  steps[static_cast<std::size_t>(a)] = step;
  count[static_cast<std::size_t>(a)] = static_cast<int>(picks.size());
  int id = add(std::make_unique<Slice>(start, steps, count), {x.id});
  // ONNX's output shape: the indices' shape in place of the axis (none for a scalar index).
  Shape out(in.begin(), in.begin() + a);
  out.insert(out.end(), idx.dims.begin(), idx.dims.end());
  out.insert(out.end(), in.begin() + a + 1, in.end());
  Layout lay = x.lay;
  if (out.empty()) {  // (N) alone
    out.push_back(1);
    lay.scalar = true;
  }
  if (out != shape(id)) {
    name_ = unique(name_ + ".reshape");
    id = add(std::make_unique<Reshape>(out), {id});
  }
  set_act(0, id, x.integer, lay);
}

void Importer::expand() {
  // Broadcasting an activation to a shape (torch expands a key-padding mask over the heads):
  // the activation times ones of that shape, which is exact. The shape's batch entry (the
  // batch-size marker, or 1) stays the batch axis.
  const Val& x = act_input(0);
  const Const& target = need_const(1, "shape");
  const auto m = static_cast<double>(onnx_detail::batch_marker);
  Const ones;
  for (const double v : target.v) {
    const bool batch = std::abs(v) >= m && std::fmod(std::abs(v), m) == 0;
    if (!batch && (v < 1 || v > 1000000)) refuse(fmt::format("Expand to a dimension of {}", v));
    ones.dims.push_back(batch ? 1 : static_cast<int>(v));
  }
  if (static_cast<int>(ones.dims.size()) > onnx_rank(x))
    refuse(fmt::format("Expand to rank {} adds axes in front of the batch axis", ones.dims.size()));
  ones.v.assign(static_cast<std::size_t>(shape_size(ones.dims)), 1.0);
  if (ones.dims.empty()) ones.v.assign(1, 1.0);
  const Shape cs = per_sample_const_shape(ones, x);
  std::unique_ptr<Layer> layer;
  try {
    layer = std::make_unique<BinaryConst>(BinaryKind::mul, cs, ones.floats(), false);
  } catch (const Error& e) {
    refuse(e.what());
  }
  set_act(0, add(std::move(layer), {x.id}), x.integer);
}

void Importer::where() {
  std::array<const Val*, 3> v{};
  for (int k = 0; k < 3; ++k) {
    if (k >= n_->input_size() || n_->input(k).empty())
      refuse(fmt::format("input {} is missing", k));
    v[static_cast<std::size_t>(k)] = &value(n_->input(k));
  }
  if (v[1]->integer || v[2]->integer)
    refuse("Where chooses between integers (token ids or a mask); lumac chooses between floats");
  // Activations share the batch axis: their ONNX ranks must agree; constants broadcast in.
  const Val* first = nullptr;
  std::vector<int> ids;
  for (const Val* x : v) {
    if (!x->act) continue;
    if (first && (onnx_rank(*x) != onnx_rank(*first) || !(x->lay == first->lay)))
      refuse("activations of different ranks or batch axes");
    if (!first) first = x;
    ids.push_back(x->id);
  }
  std::array<Where::Operand, 3> ops;
  for (std::size_t k = 0; k < 3; ++k) {
    if (v[k]->act) continue;
    ops[k].constant = true;
    ops[k].shape = per_sample_const_shape(v[k]->c, *first);
    no_batch_size(v[k]->c, "a constant operand");
    for (const double d : v[k]->c.v) {
      if (std::isnan(d)) refuse(fmt::format("input {} holds NaN", k));
      // masked_fill(-inf): the lowest finite float (docs/models.md)
      ops[k].values.push_back(static_cast<float>(std::clamp<double>(
          d, std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max())));
    }
  }
  std::unique_ptr<Layer> layer;
  try {
    layer = std::make_unique<Where>(std::move(ops));
  } catch (const Error& e) {
    refuse(e.what());
  }
  set_act(0, add(std::move(layer), ids));
}

void Importer::split() {
  const Val& x = act_input(0);
  const Shape in = shape(x.id);  // a copy: add() below grows the table of shapes
  const int rank = static_cast<int>(in.size()) + 1;
  std::int64_t axis = onnx_detail::attr_int(*n_, "axis", 0);
  if (axis < -rank || axis >= rank) refuse(fmt::format("axis {} of a rank-{} tensor", axis, rank));
  if (axis < 0) axis += rank;
  if (axis == 0) refuse("a split of the batch axis");
  std::vector<std::int64_t> given;
  if (auto c = const_input(1)) given = c->ints();
  std::vector<std::int64_t> sizes;
  try {
    sizes = onnx_detail::split_sizes(*n_, in[static_cast<std::size_t>(axis - 1)],
                                     const_input(1) ? &given : nullptr);
  } catch (const Error& e) {
    refuse(e.what());
  }
  const std::string base = name_;
  std::int64_t start = 0;
  for (std::size_t k = 0; k < sizes.size(); ++k) {
    if (sizes[k] == 0) refuse(fmt::format("output {} is empty", k));
    std::vector<int> b(in.size(), 0), step(in.size(), 1), count(in.begin(), in.end());
    b[static_cast<std::size_t>(axis - 1)] = static_cast<int>(start);
    count[static_cast<std::size_t>(axis - 1)] = static_cast<int>(sizes[k]);
    start += sizes[k];
    if (k > 0) name_ = unique(fmt::format("{}_{}", base, k));
    if (sizes.size() == 1) {
      set_act(k, x.id);
      continue;
    }
    set_act(k, add(std::make_unique<Slice>(b, step, count), {x.id}));
  }
}

void Importer::pool(bool max) {
  const Val& x = act_input(0);
  const Shape& in = shape(x.id);
  if (in.size() != 3) refuse("only 2-D pooling is supported");
  const auto k = onnx_detail::attr_ints(*n_, "kernel_shape");
  if (!k || k->size() != 2) refuse("kernel_shape must list 2 sizes");
  const auto s = onnx_detail::attr_ints(*n_, "strides").value_or(std::vector<std::int64_t>{1, 1});
  auto p = onnx_detail::attr_ints(*n_, "pads").value_or(std::vector<std::int64_t>{0, 0, 0, 0});
  if (s.size() != 2 || p.size() != 4) refuse("strides or pads of the wrong length");
  if (auto d = onnx_detail::attr_ints(*n_, "dilations"))
    for (auto v : *d)
      if (v != 1) refuse("dilated pooling");
  if (onnx_detail::attr_int(*n_, "storage_order", 0) != 0) refuse("storage_order = 1");
  if (n_->output_size() > 1 && !n_->output(1).empty()) refuse("the Indices output");
  const std::string auto_pad = onnx_detail::attr_string(*n_, "auto_pad", "NOTSET");
  if (auto_pad == "VALID") {
    p = {0, 0, 0, 0};
  } else if (auto_pad != "NOTSET") {
    refuse(fmt::format("auto_pad '{}'", auto_pad));
  }
  Pool2dGeometry g;
  g.kernel_h = static_cast<int>((*k)[0]);
  g.kernel_w = static_cast<int>((*k)[1]);
  g.stride_h = static_cast<int>(s[0]);
  g.stride_w = static_cast<int>(s[1]);
  g.pad_top = static_cast<int>(p[0]);
  g.pad_left = static_cast<int>(p[1]);
  g.pad_bottom = static_cast<int>(p[2]);
  g.pad_right = static_cast<int>(p[3]);
  g.ceil_mode = onnx_detail::attr_int(*n_, "ceil_mode", 0) != 0;
  g.count_include_pad = onnx_detail::attr_int(*n_, "count_include_pad", 0) != 0;
  std::unique_ptr<Layer> layer;  // built here, so that add's own refusal is not wrapped twice
  try {
    if (max)
      layer = std::make_unique<MaxPool2d>(g);
    else
      layer = std::make_unique<AvgPool2d>(g);
  } catch (const Error& e) {
    refuse(e.what());
  }
  set_act(0, add(std::move(layer), {x.id}));
}

void Importer::reshape() {
  const Val& x = act_input(0);
  const auto t = need_const(1, "shape").ints();
  if (onnx_detail::attr_int(*n_, "allowzero", 0) != 0) refuse("allowzero = 1");
  const Shape in = shape(x.id);
  const int rank = onnx_rank(x);
  const std::int64_t marker = onnx_detail::batch_marker;
  // A model exported with a fixed batch size writes it as a literal: lumac cannot tell it from
  // other sizes (the TransformerEncoderLayer's (L, N*H, d) reshapes).
  const auto refuse_target = [&](const std::string& what) {
    refuse(static_batch_ > 0 ? what +
                                   "; the model was exported with a fixed batch size: export it "
                                   "with a dynamic batch axis (torch.onnx.export's dynamic_axes)"
                             : what);
  };
  // The source's ONNX axes without the batch factor, and the product of the factors that come
  // before the batch in row-major order.
  std::vector<std::int64_t> src;
  for (int k = 0, j = 0; k < rank; ++k) {
    if (k == x.lay.axis) {
      src.push_back(x.lay.outer * x.lay.inner);
      j += x.lay.merged() ? 1 : 0;
      continue;
    }
    src.push_back(in[static_cast<std::size_t>(j++)]);
  }
  std::int64_t before = x.lay.outer;
  for (int k = 0; k < x.lay.axis; ++k) before *= src[static_cast<std::size_t>(k)];
  // The target's axes without the batch factor; the batch is the axis whose size is a multiple
  // of the marker (the folded shape arithmetic: N, N * heads, tokens * N), a 0 that copies the
  // source's batch axis, or else the -1.
  std::vector<std::int64_t> coef(t.size(), 1);
  int batch = -1, infer = -1;
  std::int64_t known = 1;
  for (std::size_t k = 0; k < t.size(); ++k) {
    std::int64_t d = t[k];
    bool holds_batch = false;
    if (d == 0) {
      if (static_cast<int>(k) >= rank) refuse("a 0 in the target shape past the input's rank");
      holds_batch = static_cast<int>(k) == x.lay.axis;
      d = src[k];
    } else if (d == -1) {
      if (infer >= 0) refuse("the target shape has more than one unknown size");
      infer = static_cast<int>(k);
      continue;
    } else if (k == 0 && static_batch_ > 0 && d == static_batch_ && x.lay.batch_first()) {
      holds_batch = true;  // a traced fixed batch size
      d = 1;
    } else if (d >= marker && d % marker == 0) {
      holds_batch = true;
      d /= marker;
    } else if (d < 1) {
      refuse(fmt::format("target size {} is not positive", d));
    }
    if (holds_batch) {
      if (batch >= 0) refuse("the target shape holds the batch size twice");
      batch = static_cast<int>(k);
    }
    if (d > max_axis_size || known > (std::int64_t{1} << 62) / d)
      refuse(fmt::format("target size {} is too large", d));
    coef[k] = d;
    known *= d;
  }
  const std::int64_t total = shape_size(in);
  if (infer >= 0) {
    if (total % known != 0) refuse_target("the sizes do not fit");
    coef[static_cast<std::size_t>(infer)] = total / known;
    if (batch < 0) batch = infer;
  } else if (known != total) {
    refuse_target("the sizes do not fit");
  }
  if (batch < 0)
    refuse_target("the target shape has no batch axis (it merges the batch with constants)");
  // Each sample's values keep their order only if the batch keeps its place among the factors.
  std::int64_t prefix = 1;
  for (int k = 0; k < batch; ++k) prefix *= coef[static_cast<std::size_t>(k)];
  const auto cb = coef[static_cast<std::size_t>(batch)];
  if (before % prefix != 0 || cb % (before / prefix) != 0)
    refuse_target("the target shape moves the batch axis across other axes (samples would mix)");
  Layout lay{batch, before / prefix, cb / (before / prefix)};
  Shape out;
  for (std::size_t k = 0; k < coef.size(); ++k)
    if (static_cast<int>(k) != batch || lay.merged()) out.push_back(static_cast<int>(coef[k]));
  if (out.empty()) {
    out.push_back(1);
    lay.scalar = true;
  }
  if (out == in) return set_act(0, x.id, false, lay);
  set_act(0, add(std::make_unique<Reshape>(out), {x.id}), false, lay);
}

void Importer::reduce_mean(std::vector<int> axes, bool keepdims, bool mean) {
  const Val& x = act_input(0);
  const int rank = onnx_rank(x);
  std::vector<int> per_sample;
  Layout lay = x.lay;
  for (int a : axes) {
    per_sample.push_back(sample_axis(x, a, "a reduction"));
    // Without keepdims, each axis reduced before the batch axis moves it down by one.
    if (!keepdims && (a < 0 ? a + rank : a) < x.lay.axis) --lay.axis;
  }
  if (per_sample.empty()) refuse("a reduction over every axis, the batch one included");
  // Every per-sample axis reduced away: the result is (N) alone.
  if (!keepdims && !x.lay.merged()) {
    const std::set<int> distinct(per_sample.begin(), per_sample.end());
    if (distinct.size() == shape(x.id).size() && !x.lay.scalar) lay.scalar = true;
  }
  std::unique_ptr<Layer> layer;
  try {
    layer = std::make_unique<ReduceMean>(per_sample, keepdims, mean);
  } catch (const Error& e) {
    refuse(e.what());
  }
  set_act(0, add(std::move(layer), {x.id}), false, lay);
}

void Importer::node(const onnx::NodeProto& n, std::size_t index) {
  n_ = &n;
  const std::string& op = n.op_type();
  if (!n.domain().empty() && n.domain() != "ai.onnx")
    refuse(fmt::format("operator domain '{}' is not supported", n.domain()));
  // Fold what is known at load time.
  bool all_const = true;
  std::vector<std::optional<Const>> cin;
  for (const auto& in : n.input()) {
    if (in.empty()) {
      cin.emplace_back();
      continue;
    }
    const Val& v = value(in);
    if (v.act) all_const = false;
    cin.emplace_back(v.act ? std::nullopt : std::optional<Const>(v.c));
  }
  if (all_const) {
    std::optional<std::vector<Const>> out;
    try {
      out = onnx_detail::fold_node(n, cin);
    } catch (const Error& e) {
      refuse(e.what());
    }
    if (!out) refuse("lumac cannot evaluate this operator on constants");
    for (std::size_t k = 0; k < out->size() && static_cast<int>(k) < n.output_size(); ++k)
      vals_[n.output(static_cast<int>(k))] = Val{false, 0, (*out)[k], false, {}};
    ++folded_;
    return;
  }
  name_ = unique(short_name(n, index));
  if (op == "Conv") return conv();
  if (op == "Gemm") return gemm();
  if (op == "MatMul") return matmul();
  if (op == "BatchNormalization") return batchnorm();
  if (op == "Add") return binary(BinaryKind::add);
  if (op == "Sub") return binary(BinaryKind::sub);
  if (op == "Mul") return binary(BinaryKind::mul);
  if (op == "Div") return binary(BinaryKind::div);
  if (op == "Equal") return binary(BinaryKind::equal);
  if (op == "Gather") return gather();
  if (op == "MaxPool") return pool(true);
  if (op == "AveragePool") return pool(false);
  if (op == "Reshape") return reshape();
  if (op == "Where") return where();
  if (op == "Split") return split();
  if (op == "Expand") return expand();
  if (op == "Not") {  // of a mask (ONNX Not reads bool): 1 - mask
    const Val& m = value(n.input(0));
    if (!m.integer) refuse("Not of an input that is not a mask");
    return set_act(
        0,
        add(std::make_unique<BinaryConst>(BinaryKind::sub, Shape{}, std::vector<float>{1.0f}, true),
            {m.id}),
        true);
  }
  const Val& x = act_input(0);
  const Shape& in = shape(x.id);
  const int rank = onnx_rank(x);  // in.size() + 1 when the batch axis is first
  if (op == "Relu") return set_act(0, add(std::make_unique<ReLU>(), {x.id}));
  if (op == "LeakyRelu")
    return set_act(0, add(std::make_unique<Unary>(UnaryKind::leaky_relu,
                                                  onnx_detail::attr_float(n, "alpha", 0.01)),
                          {x.id}));
  if (op == "Clip") {
    const auto lo = const_input(1), hi = const_input(2);
    if (lo) no_batch_size(*lo, "the lower bound");
    if (hi) no_batch_size(*hi, "the upper bound");
    const double l = lo ? lo->v.at(0) : -std::numeric_limits<float>::infinity();
    const double h = hi ? hi->v.at(0) : std::numeric_limits<float>::infinity();
    return set_act(0, add(std::make_unique<Unary>(UnaryKind::clip, l, h), {x.id}));
  }
  const std::map<std::string, UnaryKind> unary{
      {"Sigmoid", UnaryKind::sigmoid}, {"Tanh", UnaryKind::tanh}, {"Exp", UnaryKind::exp},
      {"Neg", UnaryKind::neg},         {"Sqrt", UnaryKind::sqrt}, {"Abs", UnaryKind::abs},
      {"Erf", UnaryKind::erf}};
  if (const auto it = unary.find(op); it != unary.end())
    return set_act(0, add(std::make_unique<Unary>(it->second), {x.id}));
  if (op == "Identity") return set_act(0, x.id);
  if (op == "Pow") {
    const auto e = const_input(1);
    if (!e || e->size() != 1) refuse("the exponent must be one constant");
    return set_act(0, add(std::make_unique<Unary>(UnaryKind::pow, e->v[0]), {x.id}));
  }
  if (op == "LayerNormalization") {
    auto onnx_axis = onnx_detail::attr_int(n, "axis", -1);
    const int axis = sample_axis(x, onnx_axis, "a normalisation");
    if (x.lay.axis > (onnx_axis < 0 ? onnx_axis + rank : onnx_axis))
      refuse("a normalisation over the batch axis");
    if (onnx_detail::attr_int(n, "stash_type", 1) != 1) refuse("stash_type other than float");
    for (int k = 1; k < n.output_size(); ++k)
      if (!n.output(k).empty() && readers_[n.output(k)] > 0)
        refuse("the Mean or InvStdDev output is read");
    std::int64_t inner = 1;
    for (std::size_t k = static_cast<std::size_t>(axis); k < in.size(); ++k) inner *= in[k];
    auto values = [&](std::size_t k, float fallback) {
      std::vector<float> v(static_cast<std::size_t>(inner), fallback);
      if (k >= static_cast<std::size_t>(n.input_size()) || n.input(static_cast<int>(k)).empty())
        return v;
      const Const& c = need_const(k, k == 1 ? "scale" : "bias");
      if (c.size() == inner) return c.floats();
      if (c.size() == 1) return std::vector<float>(v.size(), c.floats()[0]);
      refuse(fmt::format("{} of {} values for {} normalised values", k == 1 ? "scale" : "bias",
                         c.size(), inner));
    };
    auto scale = values(1, 1.0f), bias = values(2, 0.0f);
    return set_act(
        0, add(std::make_unique<LayerNorm>(axis, onnx_detail::attr_float(n, "epsilon", 1e-5),
                                           std::move(scale), std::move(bias)),
               {x.id}));
  }
  if (op == "Softmax") {
    const int axis = sample_axis(x, onnx_detail::attr_int(n, "axis", -1), "a softmax");
    return set_act(0, add(std::make_unique<Softmax>(axis), {x.id}));
  }
  if (op == "Dropout") {
    if (n.output_size() > 1 && !n.output(1).empty() && readers_[n.output(1)] > 0)
      refuse("the dropout mask output is read");
    if (const auto t = const_input(2); t && t->v.at(0) != 0) refuse("training_mode = true");
    return set_act(0, x.id);
  }
  if (op == "Cast") {
    const auto to = onnx_detail::attr_int(n, "to", 0);
    if (to == onnx::TensorProto::FLOAT)
      return set_act(0, x.id);  // integers and masks are exact floats already
    if (to == onnx::TensorProto::INT64 && x.integer) return set_act(0, x.id, true);
    if (to == onnx::TensorProto::BOOL) {
      // x != 0 (a mask stays the mask; token ids become "id != 0"): 1 - (x == 0), two
      // digital nodes.
      const int zero = add(std::make_unique<BinaryConst>(BinaryKind::equal, Shape{},
                                                         std::vector<float>{0.0f}, false),
                           {x.id});
      name_ = unique(name_ + ".not");
      return set_act(0,
                     add(std::make_unique<BinaryConst>(BinaryKind::sub, Shape{},
                                                       std::vector<float>{1.0f}, true),
                         {zero}),
                     true);
    }
    refuse(
        fmt::format("a cast of an activation to ONNX type {} (lumac casts activations to "
                    "float, and masks to bool or int64)",
                    to));
  }

  if (op == "Shape") {
    // The ONNX shape, the batch size being the marker (times the other factors of its axis).
    Const c{{rank}, {}, true};
    for (int k = 0, j = 0; k < rank; ++k) {
      if (k == x.lay.axis) {
        c.v.push_back(static_cast<double>(onnx_detail::batch_marker * x.lay.outer * x.lay.inner));
        j += x.lay.merged() ? 1 : 0;
        continue;
      }
      c.v.push_back(in[static_cast<std::size_t>(j++)]);
    }
    const std::int64_t start = onnx_detail::attr_int(n, "start", 0),
                       end = onnx_detail::attr_int(n, "end", rank);
    if (start != 0 || end != rank) {  // Shape's start and end (opset 15) on the known shape
      const auto r = static_cast<std::int64_t>(rank);
      std::int64_t s0 = start < 0 ? start + r : start, e0 = end < 0 ? end + r : end;
      s0 = std::clamp<std::int64_t>(s0, 0, r);
      e0 = std::clamp<std::int64_t>(e0, s0, r);
      c = Const{{static_cast<int>(e0 - s0)}, {c.v.begin() + s0, c.v.begin() + e0}, true};
    }
    vals_[n.output(0)] = Val{false, 0, c, false, {}};
    ++folded_;
    return;
  }
  if (op == "Flatten") {
    std::int64_t axis = onnx_detail::attr_int(n, "axis", 1);
    if (axis < 0) axis += rank;
    if (axis != 1)
      refuse(
          fmt::format("Flatten at axis {} merges the batch axis (lumac flattens at axis 1)", axis));
    if (in.size() == 1) return set_act(0, x.id);
    return set_act(0, add(std::make_unique<Flatten>(), {x.id}));
  }
  if (op == "Transpose") {
    // The batch axis may move (torch's multi-head attention works on (L, N, E)): the per-sample
    // axes are permuted as the ONNX ones, and the batch axis goes where perm takes it.
    auto perm = onnx_detail::attr_ints(n, "perm");
    if (!perm) {  // default: reverse the axes
      perm = std::vector<std::int64_t>();
      for (int k = rank - 1; k >= 0; --k) perm->push_back(k);
    }
    if (perm->size() != static_cast<std::size_t>(rank)) refuse("perm of the wrong length");
    std::vector<int> seen(static_cast<std::size_t>(rank), 0);
    for (const auto v : *perm)
      if (v < 0 || v >= rank || seen[static_cast<std::size_t>(v)]++)
        refuse("perm is not a permutation");
    Layout lay = x.lay;
    std::vector<int> p;
    bool identity = true;
    for (int j = 0; j < rank; ++j) {
      const auto src = (*perm)[static_cast<std::size_t>(j)];
      if (src == x.lay.axis) {
        lay.axis = j;
        if (!x.lay.merged()) continue;
      }
      const int from =
          src < x.lay.axis || x.lay.merged() ? static_cast<int>(src) : static_cast<int>(src) - 1;
      identity = identity && from == static_cast<int>(p.size());
      p.push_back(from);
    }
    if (identity) return set_act(0, x.id, false, lay);
    return set_act(0, add(std::make_unique<Transpose>(p), {x.id}), false, lay);
  }
  if (op == "Concat") {
    std::vector<int> ids;
    for (int k = 0; k < n.input_size(); ++k) {
      const Val& v = value(n.input(k));
      if (!v.act) refuse("a concatenation of activations and constants");
      need_batch_first(v, fmt::format("input {}", k).c_str());
      if (v.integer) refuse("a concatenation of integers (token ids or a mask)");
      ids.push_back(v.id);
    }
    std::int64_t axis = onnx_detail::attr_int(n, "axis", 0);
    if (axis < 0) axis += rank;
    if (axis <= 0 || axis >= rank)
      refuse(fmt::format("concatenation along axis {} (the batch axis or none)", axis));
    return set_act(0, add(std::make_unique<Concat>(static_cast<int>(axis - 1)), ids));
  }
  if (op == "Pad") {
    if (onnx_detail::attr_string(n, "mode", "constant") != "constant")
      refuse("only constant padding is supported");
    const auto pads = need_const(1, "pads").ints();
    const auto value = const_input(2);
    if (n.input_size() > 3 && !n.input(3).empty()) refuse("the axes input");
    if (pads.size() != static_cast<std::size_t>(2 * rank)) refuse("pads of the wrong length");
    if (pads[0] != 0 || pads[static_cast<std::size_t>(rank)] != 0)
      refuse("padding of the batch axis");
    for (const std::int64_t p : pads)
      if (p < 0 || p > max_axis_size)
        refuse(
            fmt::format("pads hold {}; each must be between 0 and 2^30 (cropping is not "
                        "supported)",
                        p));
    std::vector<int> b, e;
    for (int k = 1; k < rank; ++k) {
      b.push_back(static_cast<int>(pads[static_cast<std::size_t>(k)]));
      e.push_back(static_cast<int>(pads[static_cast<std::size_t>(k + rank)]));
    }
    std::unique_ptr<Layer> layer;
    try {
      layer = std::make_unique<Pad>(b, e, value ? static_cast<float>(value->v.at(0)) : 0.0f);
    } catch (const Error& err) {
      refuse(err.what());
    }
    return set_act(0, add(std::move(layer), {x.id}));
  }
  if (op == "Slice") {
    no_batch_size(need_const(1, "starts"), "a start");
    no_batch_size(need_const(2, "ends"), "an end");
    const auto starts = need_const(1, "starts").ints(), ends = need_const(2, "ends").ints();
    std::vector<std::int64_t> axes, steps;
    if (auto a = const_input(3)) axes = a->ints();
    if (auto st = const_input(4)) steps = st->ints();
    if (axes.empty())
      for (std::size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<std::int64_t>(k));
    if (steps.empty()) steps.assign(starts.size(), 1);
    if (ends.size() != starts.size() || axes.size() != starts.size() ||
        steps.size() != starts.size())
      refuse("starts, ends, axes and steps differ in length");
    std::vector<int> b(in.size(), 0), step(in.size(), 1), count(in.begin(), in.end());
    for (std::size_t k = 0; k < starts.size(); ++k) {
      std::int64_t a = axes[k] < 0 ? axes[k] + rank : axes[k];
      if (a < 0 || a >= rank) refuse(fmt::format("axis {} of a rank-{} tensor", axes[k], rank));
      std::int64_t st = steps[k];
      if (st == 0) refuse("a step of 0");
      if (a == x.lay.axis) {
        if (st == 1 && starts[k] == 0 && ends[k] >= std::numeric_limits<int>::max()) continue;
        refuse("a slice of the batch axis");
      }
      a = sample_axis(x, a, "a slice");
      const std::int64_t dim = in[static_cast<std::size_t>(a)];
      // A step longer than the axis takes at most one element, as a step of dim + 1 does (and
      // keeps the arithmetic below in range).
      st = std::clamp<std::int64_t>(st, -(dim + 1), dim + 1);
      std::int64_t s0 = starts[k] < 0 ? starts[k] + dim : starts[k];
      std::int64_t e0 = ends[k] < 0 ? ends[k] + dim : ends[k];
      if (st > 0) {
        s0 = std::clamp<std::int64_t>(s0, 0, dim);
        e0 = std::clamp<std::int64_t>(e0, 0, dim);
      } else {
        s0 = std::clamp<std::int64_t>(s0, 0, dim - 1);
        e0 = std::clamp<std::int64_t>(e0, -1, dim - 1);
      }
      const std::int64_t n = st > 0 ? (e0 - s0 + st - 1) / st : (s0 - e0 - st - 1) / -st;
      if (n < 1) refuse("an empty slice");
      b[static_cast<std::size_t>(a)] = static_cast<int>(s0);
      step[static_cast<std::size_t>(a)] = static_cast<int>(st);
      count[static_cast<std::size_t>(a)] = static_cast<int>(n);
    }
    if (Shape(count.begin(), count.end()) == in &&
        std::all_of(step.begin(), step.end(), [](int v) { return v == 1; }))
      return set_act(0, x.id);
    return set_act(0, add(std::make_unique<Slice>(b, step, count), {x.id}));
  }
  if (op == "GlobalAveragePool") {
    if (in.size() != 3) refuse("GlobalAveragePool of a non-image input");
    return set_act(0, add(std::make_unique<ReduceMean>(std::vector<int>{1, 2}, true), {x.id}));
  }
  if (op == "ReduceMean") {
    const auto axes = onnx_detail::attr_ints(n, "axes");
    if (!axes) refuse("a reduction without axes (over the batch axis too)");
    return reduce_mean({axes->begin(), axes->end()}, onnx_detail::attr_int(n, "keepdims", 1) != 0);
  }
  if (op == "ReduceSum") {  // opset 13: the axes are input 1
    const auto axes = const_input(1);
    if (!axes || axes->size() == 0) refuse("a reduction without axes (over the batch axis too)");
    const auto a = axes->ints();
    return reduce_mean({a.begin(), a.end()}, onnx_detail::attr_int(n, "keepdims", 1) != 0, false);
  }
  if (op == "Squeeze" || op == "Unsqueeze") {
    std::vector<std::int64_t> axes;
    if (auto a = const_input(1)) axes = a->ints();
    Shape full{1};
    if (!x.lay.scalar) full.insert(full.end(), in.begin(), in.end());
    Shape out;
    if (op == "Squeeze") {
      for (auto& a : axes) a = a < 0 ? a + rank : a;
      for (int k = 0; k < rank; ++k) {
        const bool listed = std::find(axes.begin(), axes.end(), k) != axes.end();
        if (k == 0 && (listed || axes.empty())) {
          if (listed) refuse("squeezing the batch axis");
          out.push_back(1);
          continue;
        }
        if (!(listed || (axes.empty() && full[static_cast<std::size_t>(k)] == 1)))
          out.push_back(full[static_cast<std::size_t>(k)]);
        else if (full[static_cast<std::size_t>(k)] != 1)
          refuse("squeezing an axis of extent > 1");
      }
    } else {
      const int r = rank + static_cast<int>(axes.size());
      for (auto& a : axes) a = a < 0 ? a + r : a;
      std::size_t src = 0;
      for (int k = 0; k < r; ++k) {
        if (std::find(axes.begin(), axes.end(), k) != axes.end()) {
          if (k == 0) refuse("a new axis before the batch axis");
          out.push_back(1);
        } else {
          out.push_back(full.at(src++));
        }
      }
    }
    Shape per(out.begin() + 1, out.end());
    Layout lay;
    if (per.empty()) {
      per.push_back(1);
      lay.scalar = true;
    }
    if (per == in) return set_act(0, x.id, false, lay);
    return set_act(0, add(std::make_unique<Reshape>(per), {x.id}), false, lay);
  }
  refuse("this operator is not supported");
}

void Importer::check_shapes() {
  // Where ONNX shape inference knows a value's shape past the batch axis, lumac's must agree.
  for (const auto& vi : m_.graph().value_info()) {
    const auto it = vals_.find(vi.name());
    if (it == vals_.end() || !it->second.act || !vi.type().has_tensor_type()) continue;
    const auto& dims = vi.type().tensor_type().shape().dim();
    const Val& v = it->second;
    const Shape& ours = shape(v.id);
    if (dims.size() == 0 || dims.size() != onnx_rank(v)) continue;
    for (int k = 0, j = 0; k < dims.size(); ++k) {
      if (k == v.lay.axis) {  // holds the batch: only the other factors are known
        j += v.lay.merged() ? 1 : 0;
        continue;
      }
      const int d = ours[static_cast<std::size_t>(j++)];
      if (dims[k].has_dim_value() && dims[k].dim_value() != d)
        fail(
            "{}: value '{}': lumac's per-sample shape {} differs from ONNX shape inference's "
            "(axis {} = {})",
            file_, vi.name(), shape_string(ours), k, dims[k].dim_value());
    }
  }
}

OnnxImport Importer::run() {
  int opset = -1;
  for (const auto& o : m_.opset_import())
    if (o.domain().empty() || o.domain() == "ai.onnx") opset = static_cast<int>(o.version());
  if (opset < min_opset || opset > max_opset)
    fail("{}: opset {} of the default domain; lumac imports opsets {} to {} (docs/models.md)",
         file_, opset, min_opset, max_opset);
  sort_nodes();
  check_before_inference();
  // The input's element type first: the checker and shape inference would report a non-float
  // input only as a type clash somewhere downstream.
  {
    std::set<std::string> inits;
    for (const auto& t : m_.graph().initializer()) inits.insert(t.name());
    for (const auto& i : m_.graph().input())
      if (!inits.count(i.name()) && i.type().has_tensor_type() &&
          i.type().tensor_type().elem_type() != onnx::TensorProto::FLOAT &&
          i.type().tensor_type().elem_type() != onnx::TensorProto::INT64 &&
          i.type().tensor_type().elem_type() != onnx::TensorProto::BOOL)
        fail(
            "{}: input '{}' has ONNX element type {}; lumac imports float (type 1), int64 "
            "(type 7: token ids, masks) and bool (type 9: masks) inputs",
            file_, i.name(), i.type().tensor_type().elem_type());
    // Token ids go to embeddings, masks and shape ops; anything else needs floats (named here,
    // before shape inference reports it as a type clash).
    for (const auto& i : m_.graph().input()) {
      if (inits.count(i.name()) || !i.type().has_tensor_type() ||
          i.type().tensor_type().elem_type() == onnx::TensorProto::FLOAT)
        continue;
      const bool is_bool = i.type().tensor_type().elem_type() == onnx::TensorProto::BOOL;
      for (const onnx::NodeProto* n : order_)
        for (int k = 0; k < n->input_size(); ++k)
          if (n->input(k) == i.name() && !onnx_detail::moves_integers(n->op_type()) &&
              n->op_type() != "Equal" && !(n->op_type() == "Gather" && k == 1 && !is_bool) &&
              !(is_bool && (n->op_type() == "Not" || (n->op_type() == "Where" && k == 0))))
            fail(
                "{}: node '{}' ({}) reads the {} input '{}' where floats are needed; lumac "
                "reads int64 token ids with Gather (embeddings), and integer and bool masks with "
                "Equal, Cast, Not, Where (as the condition) and shape operators",
                file_, n->name(), n->op_type(), is_bool ? "bool" : "int64", i.name());
    }
  }
  try {
    onnx::checker::check_model(m_);
  } catch (const std::exception& e) {
    fail("{}: the ONNX checker rejects the model: {}", file_, first_line(e.what()));
  }
  try {
    onnx::shape_inference::InferShapes(m_);
  } catch (const std::exception& e) {
    fail("{}: ONNX shape inference fails: {}", file_, first_line(e.what()));
  }
  read_input();
  for (std::size_t k = 0; k < order_.size(); ++k) node(*order_[k], k);
  n_ = nullptr;
  std::vector<int> outputs;
  SourceRecord src;
  for (const auto& o : m_.graph().output()) {
    const Val& v = value(o.name());
    if (!v.act) fail("{}: graph output '{}' is a constant", file_, o.name());
    if (input_ids_.count(v.id)) fail("{}: graph output '{}' is an input itself", file_, o.name());
    if (!v.lay.batch_first())
      fail(
          "{}: graph output '{}' has its batch axis at ONNX axis {}{}; lumac's outputs are batch "
          "first, the batch axis alone",
          file_, o.name(), v.lay.axis,
          v.lay.merged()
              ? fmt::format(" merged with other axes ({} x N x {})", v.lay.outer, v.lay.inner)
              : "");
    outputs.push_back(v.id);
    src.output_names.push_back(o.name());
  }
  if (outputs.empty()) fail("{}: the graph has no output", file_);
  if (layers_.empty()) fail("{}: the graph computes nothing", file_);
  check_shapes();
  // Nodes no output depends on are dropped.
  std::vector<char> live(layers_.size() + 1, 0);
  for (int v : outputs) live[static_cast<std::size_t>(v)] = 1;
  for (std::size_t i = layers_.size(); i-- > 0;)
    if (live[i + 1])
      for (int v : inputs_[i]) live[static_cast<std::size_t>(v)] = 1;
  std::vector<int> remap(layers_.size() + 1, -1);
  remap[0] = 0;
  std::vector<std::unique_ptr<Layer>> layers;
  std::vector<std::vector<int>> inputs;
  std::vector<std::string> names;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (!live[i + 1]) continue;
    for (int& v : inputs_[i]) v = remap[static_cast<std::size_t>(v)];
    layers.push_back(std::move(layers_[i]));
    inputs.push_back(std::move(inputs_[i]));
    names.push_back(names_[i]);
    remap[i + 1] = static_cast<int>(layers.size());
  }
  for (int& v : outputs) v = remap[static_cast<std::size_t>(v)];
  const std::size_t dropped = layers_.size() - layers.size();
  src.input_name = graph_inputs_.front().name;
  src.format = "onnx";
  src.producer = (m_.producer_name() + " " + m_.producer_version());
  src.opset = opset;
  OnnxImport out{Model(shapes_[0], std::move(layers), std::move(inputs), std::move(names),
                       std::move(outputs), "onnx"),
                 {}};
  out.model.set_graph_inputs(graph_inputs_);
  out.model.set_source(src);
  out.notes.push_back(fmt::format(
      "{} ONNX nodes -> {} lumac nodes ({} matrix products); folded: {} constant nodes, {} "
      "batch norms and {} biases into their products{}",
      order_.size(), out.model.size(), out.model.matmul_layers().size(), folded_, bn_folded_,
      bias_folded_, dropped ? fmt::format("; {} unused nodes dropped", dropped) : ""));
  return out;
}

// Reads external-data tensors into the model (their files beside it).
void load_external_data(onnx::ModelProto& m, const fs::path& dir, const std::string& file) {
  for (auto& t : *m.mutable_graph()->mutable_initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) continue;
    std::string location;
    std::int64_t offset = 0, length = -1;
    for (const auto& e : t.external_data()) {
      if (e.key() == "location")
        location = e.value();
      else if (e.key() == "offset" || e.key() == "length") {
        std::int64_t v = 0;
        try {
          v = std::stoll(e.value());
        } catch (const std::exception&) {
          fail("{}: tensor '{}' has external-data {} '{}'", file, t.name(), e.key(), e.value());
        }
        (e.key() == "offset" ? offset : length) = v;
      }
    }
    if (location.empty())
      fail("{}: tensor '{}' has external data without a location", file, t.name());
    const fs::path path = dir / location;
    std::ifstream in(path, std::ios::binary);
    if (!in)
      fail("{}: the external-data file '{}' of tensor '{}' is missing", file, path.string(),
           t.name());
    in.seekg(0, std::ios::end);
    const std::int64_t size = in.tellg();
    if (length < 0) length = size - offset;
    if (offset < 0 || length < 0 || offset + length > size)
      fail("{}: the external-data file '{}' is too short for tensor '{}'", file, path.string(),
           t.name());
    std::string bytes(static_cast<std::size_t>(length), '\0');
    in.seekg(offset);
    in.read(bytes.data(), length);
    t.set_raw_data(bytes);
    t.clear_external_data();
    t.set_data_location(onnx::TensorProto::DEFAULT);
  }
}

}  // namespace

std::string content_checksum(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  std::size_t done = 0;
  while (done < bytes.size()) {
    const auto chunk = static_cast<uInt>(std::min<std::size_t>(bytes.size() - done, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + done), chunk);
    done += chunk;
  }
  return fmt::format("crc32 {:08x}, {} bytes", crc, bytes.size());
}

OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& name,
                             const fs::path& dir) {
  onnx::ModelProto m;
  if (bytes.empty()) fail("{}: the file is empty", name);
  if (!onnx::ParseProtoFromBytes(&m, bytes.data(), bytes.size()))
    fail("{}: not an ONNX model (the protobuf does not parse: corrupt or truncated)", name);
  if (!m.has_graph()) fail("{}: not an ONNX model (no graph)", name);
  load_external_data(m, dir, name);
  std::optional<OnnxImport> imported;
  try {
    imported.emplace(Importer(m, name).run());
  } catch (const Error&) {
    throw;
  } catch (const std::bad_alloc&) {
    throw;
  } catch (const std::exception& e) {
    // A malformed model that slipped past the checks above (an index out of range, ...).
    fail("{}: malformed model: {}", name, first_line(e.what()));
  }
  OnnxImport out = std::move(*imported);
  SourceRecord src = *out.model.source();
  src.name = fs::path(name).filename().string();
  src.checksum = content_checksum(bytes);
  out.model.set_source(src);
  return out;
}

OnnxImport import_onnx(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    fail_file("ONNX model '{}' does not exist or is not a file", path.string());
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_file("cannot read ONNX model '{}'", path.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return import_onnx_bytes(ss.str(), path.string(), path.parent_path());
}

}  // namespace lumac::nn
