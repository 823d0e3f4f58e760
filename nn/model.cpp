#include "lumac/nn/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

#include "lumac/core/error.hpp"
#include "lumac/nn/graph_ops.hpp"
#include "lumac/nn/parallel.hpp"

namespace lumac::nn {

Model::Model(Shape input_shape, std::vector<std::unique_ptr<Layer>> layers, std::string arch)
    : Model(std::move(input_shape), std::move(layers), {}, {}, {}, std::move(arch)) {}

Model::Model(Shape input_shape, std::vector<std::unique_ptr<Layer>> layers,
             std::vector<std::vector<int>> inputs, std::vector<std::string> names,
             std::vector<int> outputs, std::string arch)
    : arch_(std::move(arch)),
      layers_(std::move(layers)),
      inputs_(std::move(inputs)),
      names_(std::move(names)),
      outputs_(std::move(outputs)),
      shapes_{std::move(input_shape)} {
  if (shapes_[0].empty() || shape_size(shapes_[0]) < 1)
    fail("model input shape '{}' is empty", shape_string(shapes_[0]));
  for (int d : shapes_[0])
    if (d < 1) fail("model input shape {} has a dimension < 1", shape_string(shapes_[0]));
  if (layers_.empty()) fail("a model needs at least one layer");
  const std::size_t n = layers_.size();
  if (inputs_.empty())
    for (std::size_t i = 0; i < n; ++i) inputs_.push_back({static_cast<int>(i)});
  if (inputs_.size() != n) fail("{} input lists for {} nodes", inputs_.size(), n);
  names_.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    if (names_[i].empty()) {
      const auto* m = dynamic_cast<const MatmulLayer*>(layers_[i].get());
      names_[i] = m ? m->name() : fmt::format("node{}", i);
    }
    for (int v : inputs_[i])
      if (v < 0 || v > static_cast<int>(i))
        fail("node {} ('{}') reads value {}, which is not computed before it", i, names_[i], v);
  }
  if (outputs_.empty()) outputs_.push_back(static_cast<int>(n));
  for (int v : outputs_)
    if (v < 0 || v > static_cast<int>(n)) fail("model output value {} does not exist", v);
  graph_inputs_ = {ModelInput{"input", shapes_[0], InputType::float32, InputFeature::sample}};
  index_layers();
}

void Model::set_graph_inputs(std::vector<ModelInput> inputs) {
  if (inputs.empty()) fail("a model needs at least one graph input");
  std::int64_t total = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const ModelInput& in = inputs[k];
    if (in.name.empty()) fail("graph input {} has no name", k);
    for (std::size_t j = 0; j < k; ++j)
      if (inputs[j].name == in.name) fail("two graph inputs are named '{}'", in.name);
    if (in.shape.empty()) fail("graph input '{}' has an empty shape", in.name);
    for (int d : in.shape)
      if (d < 1) fail("graph input '{}' has shape {}", in.name, shape_string(in.shape));
    total += shape_size(in.shape);
  }
  if (inputs.size() == 1 && inputs[0].shape != input_shape())
    fail("graph input '{}' has shape {}, the model input {}", inputs[0].name,
         shape_string(inputs[0].shape), shape_string(input_shape()));
  if (inputs.size() > 1 && input_shape() != Shape{static_cast<int>(total)})
    fail("{} graph inputs of {} values in all, packed into a model input of shape {}",
         inputs.size(), total, shape_string(input_shape()));
  graph_inputs_ = std::move(inputs);
}

void Model::check_input_types(std::span<const float> x, int samples) const {
  const std::int64_t stride = shape_size(input_shape());
  if (samples < 0 || static_cast<std::int64_t>(x.size()) != stride * samples)
    fail("{} input values for {} samples of shape {}", x.size(), samples,
         shape_string(input_shape()));
  std::int64_t offset = 0;
  for (const ModelInput& g : graph_inputs_) {
    const std::int64_t n = shape_size(g.shape);
    for (int i = 0; i < samples; ++i) {
      const float* v = x.data() + i * stride + offset;
      for (std::int64_t e = 0; e < n; ++e) {
        const bool ok =
            g.type == InputType::float32 ? std::isfinite(v[e])
            : g.type == InputType::int64
                ? std::isfinite(v[e]) && v[e] == std::floor(v[e]) && std::fabs(v[e]) <= 16777216.0f
                : v[e] == 0.0f || v[e] == 1.0f;
        if (!ok)
          fail("graph input '{}', sample {} position {}: {} is {}", g.name, i, e, v[e],
               g.type == InputType::float32 ? "a non-finite value"
               : g.type == InputType::int64 ? "not an integer of at most 2^24 in magnitude"
                                            : "not a bool (0 or 1)");
      }
    }
    offset += n;
  }
}

Tensor Model::pack_inputs(const std::vector<std::span<const float>>& inputs, int samples) const {
  if (inputs.size() != graph_inputs_.size())
    fail("{} input arrays for a model of {} graph inputs", inputs.size(), graph_inputs_.size());
  if (samples < 0) fail("{} samples", samples);
  Tensor x(samples, input_shape());
  std::int64_t offset = 0;
  for (std::size_t k = 0; k < inputs.size(); ++k) {
    const ModelInput& g = graph_inputs_[k];
    const std::int64_t n = shape_size(g.shape);
    if (static_cast<std::int64_t>(inputs[k].size()) != n * samples)
      fail("graph input '{}': {} values for {} samples of shape {}", g.name, inputs[k].size(),
           samples, shape_string(g.shape));
    for (int i = 0; i < samples; ++i)
      std::copy_n(inputs[k].data() + i * n, n, x.sample(i) + offset);
    offset += n;
  }
  check_input_types(x.data, samples);
  return x;
}

void Model::index_layers() {
  shapes_.resize(1);
  matmul_.clear();
  param_offset_.clear();
  last_use_.assign(layers_.size() + 1, -1);
  std::size_t params = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = *layers_[i];
    const std::vector<int>& ids = inputs_[i];
    if (l.arity() >= 0 && static_cast<int>(ids.size()) != l.arity())
      fail("node {} ('{}', {}) takes {} input(s), not {}", i, names_[i], l.describe(), l.arity(),
           ids.size());
    if (ids.empty()) fail("node {} ('{}') reads no value", i, names_[i]);
    std::vector<Shape> in;
    for (int v : ids) {
      in.push_back(shapes_[static_cast<std::size_t>(v)]);
      last_use_[static_cast<std::size_t>(v)] = static_cast<int>(i);
    }
    Shape out;
    try {
      out = l.output_shape_n(in);
    } catch (const Error& e) {
      fail("layer {} ({}): {}", i, l.describe(), e.what());
    }
    param_offset_.push_back(params);
    params += l.parameters().size();
    if (auto* m = dynamic_cast<MatmulLayer*>(&l)) {
      m->set_matmul_index(static_cast<int>(matmul_.size()));
      MatmulLayerInfo info;
      info.name = m->name();
      info.type = m->type();
      info.layer_index = static_cast<int>(i);
      info.input_value = ids[0];
      if (m->activation_operands()) info.weight_value = ids.at(1);
      info.matmul_index = m->matmul_index();
      info.fan_in = m->fan_in();
      info.outputs = m->outputs();
      info.positions = m->positions(in[0]);
      info.macs = std::int64_t{info.outputs} * info.fan_in * info.positions;
      info.input_shape = in[0];
      info.output_shape = out;
      for (const auto& other : matmul_)
        if (other.name == info.name) fail("two matrix-product layers are named '{}'", info.name);
      matmul_.push_back(std::move(info));
    }
    shapes_.push_back(std::move(out));
  }
  // Outputs live to the end.
  for (int v : outputs_) last_use_[static_cast<std::size_t>(v)] = static_cast<int>(layers_.size());
}

bool Model::sequential() const {
  for (std::size_t i = 0; i < inputs_.size(); ++i)
    if (inputs_[i].size() != 1 || inputs_[i][0] != static_cast<int>(i)) return false;
  return outputs_.size() == 1 && outputs_[0] == static_cast<int>(layers_.size());
}

int Model::classes() const {
  const Shape& s = output_shape();
  if (s.size() != 1)
    fail("the model's output has shape {}, not a flat vector of class scores", shape_string(s));
  return s[0];
}

Model::Model(const Model& other)
    : arch_(other.arch_),
      inputs_(other.inputs_),
      names_(other.names_),
      outputs_(other.outputs_),
      last_use_(other.last_use_),
      shapes_(other.shapes_),
      matmul_(other.matmul_),
      param_offset_(other.param_offset_),
      calibration_(other.calibration_),
      training_(other.training_),
      source_(other.source_) {
  graph_inputs_ = other.graph_inputs_;
  for (const auto& l : other.layers_) layers_.push_back(l->clone());
}

Model& Model::operator=(const Model& other) {
  if (this != &other) *this = Model(other);
  return *this;
}

Model::~Model() = default;

const MatmulLayer& Model::matmul_layer(int matmul_index) const {
  return dynamic_cast<const MatmulLayer&>(*layers_.at(
      static_cast<std::size_t>(matmul_.at(static_cast<std::size_t>(matmul_index)).layer_index)));
}

MatmulLayer& Model::matmul_layer(int matmul_index) {
  return const_cast<MatmulLayer&>(std::as_const(*this).matmul_layer(matmul_index));
}

bool Model::parallel_groups(int batch) const {
  // One parallel region per pass: its start-up is paid once for the whole batch.
  return macs_per_sample() * batch >= parallel_min_macs;
}

std::int64_t Model::macs_per_sample() const {
  std::int64_t n = 0;
  for (const auto& m : matmul_) n += m.macs;
  return n;
}

double Model::digital_ops_per_sample() const {
  double ops = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::vector<Shape> in;
    for (int v : inputs_[i]) in.push_back(shapes_[static_cast<std::size_t>(v)]);
    ops += layers_[i]->digital_ops(in, shapes_[i + 1]);
  }
  return ops;
}

namespace {

void check_batch(const Tensor& x, const Shape& input_shape, const Pass& pass) {
  if (x.shape != input_shape)
    fail("model input has shape {}, the model expects {}", shape_string(x.shape),
         shape_string(input_shape));
  if (!pass.samples.empty() && pass.samples.size() != static_cast<std::size_t>(x.batch))
    fail("{} sample indices for a batch of {}", pass.samples.size(), x.batch);
}

int group_count(int batch) {
  return (batch + model_group_samples - 1) / model_group_samples;
}

// Rows [first, first + count) of a batch tensor.
Tensor rows(const Tensor& t, int first, int count) {
  Tensor out;
  out.resize(count, t.shape);
  std::copy(t.sample(first), t.sample(first) + count * t.sample_size(), out.data.begin());
  return out;
}

void put_rows(const Tensor& part, int first, Tensor& t) {
  std::copy(part.data.begin(), part.data.end(), t.sample(first));
}

// The global sample indices of a group: a slice of pass.samples, or first.. when that is empty.
struct GroupPass {
  std::vector<std::int64_t> own;
  Pass pass;
  GroupPass(const Pass& whole, int first, int count) {
    if (whole.samples.empty()) {
      own.resize(static_cast<std::size_t>(count));
      for (int j = 0; j < count; ++j) own[static_cast<std::size_t>(j)] = first + j;
      pass.samples = own;
    } else {
      pass.samples =
          whole.samples.subspan(static_cast<std::size_t>(first), static_cast<std::size_t>(count));
    }
    pass.hook = whole.hook;
  }
};

}  // namespace

Tensor Tape::activation(std::size_t l) const {
  Tensor out;
  if (groups_.empty()) return out;
  out.resize(batch_, groups_[0].at(l).shape);
  int first = 0;
  for (const auto& g : groups_) {
    put_rows(g[l], first, out);
    first += g[l].batch;
  }
  return out;
}

void Model::run_group(std::vector<Tensor>& values, const Pass& pass, bool keep) const {
  std::vector<const Tensor*> in;
  std::vector<std::vector<float>> spare;  // storage of freed values, reused
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    in.clear();
    for (int v : inputs_[i]) in.push_back(&values[static_cast<std::size_t>(v)]);
    Tensor& out = values[i + 1];
    if (!keep && !spare.empty()) {
      out.data = std::move(spare.back());
      spare.pop_back();
    }
    layers_[i]->forward_n(in, out, pass);
    if (keep) continue;
    for (int v : inputs_[i]) {
      const auto u = static_cast<std::size_t>(v);
      if (last_use_[u] == static_cast<int>(i) && !values[u].data.empty()) {
        spare.push_back(std::move(values[u].data));
        values[u].data.clear();
      }
    }
  }
}

void Model::check_input(const Tensor& x, std::span<const std::int64_t> samples) const {
  // The nodes that check their input values (embeddings) and read the model input: value 0, or
  // a graph input that an InputPart node unpacks from it (unpacked here for them only).
  Tensor part;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    if (!layers_[i]->checks_input_values()) continue;
    for (std::size_t k = 0; k < inputs_[i].size(); ++k) {
      const int v = inputs_[i][k];
      const Tensor* values = &x;
      std::string name = graph_inputs_.size() == 1 ? graph_inputs_[0].name : "input";
      if (v != 0) {
        const auto* p =
            dynamic_cast<const InputPart*>(layers_[static_cast<std::size_t>(v - 1)].get());
        if (!p || inputs_[static_cast<std::size_t>(v - 1)][0] != 0) continue;
        p->forward(x, part, Pass{});
        values = &part;
        std::int64_t offset = 0;
        for (const ModelInput& g : graph_inputs_) {
          if (offset == p->offset()) name = g.name;
          offset += shape_size(g.shape);
        }
      }
      try {
        layers_[i]->check_input_values(k, *values, samples);
      } catch (const Error& e) {
        fail("graph input '{}' read by node '{}': {}", name, names_[i], e.what());
      }
    }
  }
}

std::vector<Tensor> Model::forward_outputs(const Tensor& x, const Pass& pass) const {
  check_batch(x, input_shape(), pass);
  check_input(x, pass.samples);
  std::vector<Tensor> outs(outputs_.size());
  for (std::size_t k = 0; k < outputs_.size(); ++k)
    outs[k].resize(x.batch, shapes_[static_cast<std::size_t>(outputs_[k])]);
  const int groups = group_count(x.batch);
  parallel_for(groups, parallel_groups(x.batch), [&](int g) {
    const int first = g * model_group_samples;
    const int count = std::min(model_group_samples, x.batch - first);
    const GroupPass gp(pass, first, count);
    std::vector<Tensor> values(layers_.size() + 1);
    values[0] = rows(x, first, count);
    run_group(values, gp.pass, false);
    for (std::size_t k = 0; k < outputs_.size(); ++k)
      put_rows(values[static_cast<std::size_t>(outputs_[k])], first, outs[k]);
  });
  return outs;
}

Tensor Model::forward(const Tensor& x, const Pass& pass) const {
  // With several outputs the others are computed all the same.
  return std::move(forward_outputs(x, pass)[0]);
}

void Model::forward(const Tensor& x, const Pass& pass, Tape& tape) const {
  check_batch(x, input_shape(), pass);
  check_input(x, pass.samples);
  const int groups = group_count(x.batch);
  tape.batch_ = x.batch;
  tape.layers_ = layers_.size();
  tape.output_ = static_cast<std::size_t>(outputs_[0]);
  tape.groups_.resize(static_cast<std::size_t>(groups));
  parallel_for(groups, parallel_groups(x.batch), [&](int g) {
    const int first = g * model_group_samples;
    const int count = std::min(model_group_samples, x.batch - first);
    const GroupPass gp(pass, first, count);
    auto& act = tape.groups_[static_cast<std::size_t>(g)];
    act.resize(layers_.size() + 1);
    act[0] = rows(x, first, count);
    run_group(act, gp.pass, true);
  });
}

void Model::backward(const Tape& tape, const Tensor& grad_logits, const Pass& pass,
                     Gradients* grads, Tensor* grad_input) const {
  if (tape.layers_ != layers_.size()) fail("backward: the tape is not from this model");
  if (grad_logits.batch != tape.batch_ || grad_logits.shape != output_shape())
    fail("backward: gradient of shape {} x {} for logits of {} x {}", grad_logits.batch,
         shape_string(grad_logits.shape), tape.batch_, shape_string(output_shape()));
  if (!pass.samples.empty() && pass.samples.size() != static_cast<std::size_t>(tape.batch_))
    fail("{} sample indices for a batch of {}", pass.samples.size(), tape.batch_);
  const int groups = static_cast<int>(tape.groups_.size());
  const std::size_t n_params = parameter_sizes().size();
  // Parameter gradients of every group, summed in group order below: the result does not
  // depend on the thread count.
  std::vector<Gradients> group_grads(grads ? static_cast<std::size_t>(groups) : 0);
  if (grad_input) grad_input->resize(tape.batch_, input_shape());
  parallel_for(groups, parallel_groups(tape.batch_), [&](int g) {
    const int first = g * model_group_samples;
    const auto& act = tape.groups_[static_cast<std::size_t>(g)];
    const int count = act[0].batch;
    const GroupPass gp(pass, first, count);
    std::span<std::vector<float>> all;
    if (grads) {
      group_grads[static_cast<std::size_t>(g)].resize(n_params);
      all = group_grads[static_cast<std::size_t>(g)];
    }
    // d[v]: dL/d(value v), summed over the nodes that read v; `has` says whether any did.
    std::vector<Tensor> d(layers_.size() + 1);
    std::vector<char> has(layers_.size() + 1, 0);
    const auto out = static_cast<std::size_t>(outputs_[0]);
    d[out] = rows(grad_logits, first, count);
    has[out] = 1;
    std::vector<const Tensor*> in;
    std::vector<Tensor> part;
    std::vector<Tensor*> part_ptr;
    for (std::size_t i = layers_.size(); i-- > 0;) {
      if (!has[i + 1]) continue;  // nothing downstream of node i reaches the output
      const Layer& l = *layers_[i];
      std::span<std::vector<float>> pg;
      if (grads) pg = all.subspan(param_offset_[i], l.parameters().size());
      const std::vector<int>& ids = inputs_[i];
      in.clear();
      part.resize(ids.size());
      part_ptr.assign(ids.size(), nullptr);
      for (std::size_t k = 0; k < ids.size(); ++k) {
        in.push_back(&act[static_cast<std::size_t>(ids[k])]);
        if (ids[k] > 0 || grad_input != nullptr) part_ptr[k] = &part[k];
      }
      l.backward_n(in, act[i + 1], d[i + 1], part_ptr, pg, gp.pass);
      d[i + 1] = Tensor();  // no longer needed
      for (std::size_t k = 0; k < ids.size(); ++k) {
        if (!part_ptr[k]) continue;
        const auto v = static_cast<std::size_t>(ids[k]);
        if (!has[v]) {
          d[v] = std::move(part[k]);
          part[k] = Tensor();
          has[v] = 1;
        } else {
          const auto n = static_cast<Eigen::Index>(d[v].data.size());
          Eigen::Map<Eigen::ArrayXf>(d[v].data.data(), n) +=
              Eigen::Map<const Eigen::ArrayXf>(part[k].data.data(), n);
        }
      }
    }
    if (grad_input) {
      if (!has[0]) d[0].resize(count, input_shape(), true);
      put_rows(d[0], first, *grad_input);
    }
  });
  if (!grads) return;
  const auto sizes = parameter_sizes();
  grads->resize(n_params);
  for (std::size_t k = 0; k < n_params; ++k) {
    std::vector<float>& sum = (*grads)[k];
    sum.assign(sizes[k], 0.0f);
    for (const auto& gg : group_grads)
      for (std::size_t i = 0; i < sizes[k]; ++i) sum[i] += gg[k][i];
  }
}

std::vector<std::span<float>> Model::parameters() {
  std::vector<std::span<float>> out;
  for (auto& l : layers_)
    for (auto s : l->parameters()) out.push_back(s);
  return out;
}

std::vector<std::size_t> Model::parameter_sizes() const {
  std::vector<std::size_t> out;
  for (const auto& l : layers_)
    for (auto s : std::as_const(*l).parameters()) out.push_back(s.size());
  return out;
}

std::string Model::dataset() const {
  if (training_) return training_->dataset;
  if (source_) return source_->dataset;
  return "";
}

const Calibration& Model::calibration() const {
  if (!calibration_) fail("the model has no calibration (train it with lumac train)");
  return *calibration_;
}

const LayerCalibration& Model::calibration(int matmul_index) const {
  return calibration().layers.at(static_cast<std::size_t>(matmul_index));
}

void Model::set_calibration(Calibration calibration) {
  if (calibration.layers.size() != matmul_.size())
    fail("calibration has {} layers, the model {} matrix-product layers", calibration.layers.size(),
         matmul_.size());
  calibration_ = std::move(calibration);
}

std::string Model::summary() const {
  const Shape& o = output_shape();
  const std::string out =
      o.size() == 1 ? fmt::format("{} classes", o[0]) : fmt::format("output {}", shape_string(o));
  std::string s = fmt::format("model '{}': input {}, {}, {} MACs per sample\n", arch_,
                              shape_string(input_shape()), out, macs_per_sample());
  const bool seq = sequential();
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    std::string reads;
    if (!seq) {
      for (int v : inputs_[i])
        reads += (reads.empty() ? "" : ", ") +
                 (v == 0 ? std::string("input") : names_[static_cast<std::size_t>(v - 1)]);
      reads = fmt::format("{} <- {}: ", names_[i], reads);
    }
    s += fmt::format("  {:2}  {}{:<36} -> {}", i, reads, layers_[i]->describe(),
                     shape_string(shapes_[i + 1]));
    for (const auto& m : matmul_)
      if (m.layer_index == static_cast<int>(i))
        s += fmt::format("   (D = {}, {} positions, {} MACs)", m.fan_in, m.positions, m.macs);
    s += "\n";
  }
  return s;
}

}  // namespace lumac::nn
