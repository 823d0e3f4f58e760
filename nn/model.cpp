#include "lumac/nn/model.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "lumac/core/error.hpp"
#include "lumac/nn/parallel.hpp"

namespace lumac::nn {

Model::Model(Shape input_shape, std::vector<std::unique_ptr<Layer>> layers, std::string arch)
    : arch_(std::move(arch)), layers_(std::move(layers)), shapes_{std::move(input_shape)} {
  if (shapes_[0].empty() || shape_size(shapes_[0]) < 1)
    fail("model input shape '{}' is empty", shape_string(shapes_[0]));
  for (int d : shapes_[0])
    if (d < 1) fail("model input shape {} has a dimension < 1", shape_string(shapes_[0]));
  if (layers_.empty()) fail("a model needs at least one layer");
  index_layers();
}

void Model::index_layers() {
  shapes_.resize(1);
  matmul_.clear();
  param_offset_.clear();
  std::size_t params = 0;
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = *layers_[i];
    const Shape in = shapes_.back();
    Shape out;
    try {
      out = l.output_shape(in);
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
      info.matmul_index = m->matmul_index();
      info.fan_in = m->fan_in();
      info.outputs = m->outputs();
      info.positions = m->positions(in);
      info.macs = std::int64_t{info.outputs} * info.fan_in * info.positions;
      info.input_shape = in;
      info.output_shape = out;
      for (const auto& other : matmul_)
        if (other.name == info.name) fail("two matrix-product layers are named '{}'", info.name);
      matmul_.push_back(std::move(info));
    }
    shapes_.push_back(std::move(out));
  }
  if (shapes_.back().size() != 1)
    fail("the last layer must give flat logits, not shape {}", shape_string(shapes_.back()));
}

Model::Model(const Model& other)
    : arch_(other.arch_),
      shapes_(other.shapes_),
      matmul_(other.matmul_),
      param_offset_(other.param_offset_),
      calibration_(other.calibration_),
      training_(other.training_) {
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

bool Model::parallel_groups() const {
  return macs_per_sample() * model_group_samples >= parallel_min_macs;
}

std::int64_t Model::macs_per_sample() const {
  std::int64_t n = 0;
  for (const auto& m : matmul_) n += m.macs;
  return n;
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

Tensor Model::forward(const Tensor& x, const Pass& pass) const {
  check_batch(x, input_shape(), pass);
  Tensor logits;
  logits.resize(x.batch, shapes_.back());
  const int groups = group_count(x.batch);
  parallel_for(groups, parallel_groups(), [&](int g) {
    const int first = g * model_group_samples;
    const int count = std::min(model_group_samples, x.batch - first);
    const GroupPass gp(pass, first, count);
    Tensor a = rows(x, first, count), b;
    for (const auto& l : layers_) {
      l->forward(a, b, gp.pass);
      std::swap(a, b);
    }
    put_rows(a, first, logits);
  });
  return logits;
}

void Model::forward(const Tensor& x, const Pass& pass, Tape& tape) const {
  check_batch(x, input_shape(), pass);
  const int groups = group_count(x.batch);
  tape.batch_ = x.batch;
  tape.layers_ = layers_.size();
  tape.groups_.resize(static_cast<std::size_t>(groups));
  parallel_for(groups, parallel_groups(), [&](int g) {
    const int first = g * model_group_samples;
    const int count = std::min(model_group_samples, x.batch - first);
    const GroupPass gp(pass, first, count);
    auto& act = tape.groups_[static_cast<std::size_t>(g)];
    act.resize(layers_.size() + 1);
    act[0] = rows(x, first, count);
    for (std::size_t i = 0; i < layers_.size(); ++i)
      layers_[i]->forward(act[i], act[i + 1], gp.pass);
  });
}

void Model::backward(const Tape& tape, const Tensor& grad_logits, const Pass& pass,
                     Gradients* grads, Tensor* grad_input) const {
  if (tape.layers_ != layers_.size()) fail("backward: the tape is not from this model");
  if (grad_logits.batch != tape.batch_ || grad_logits.shape != shapes_.back())
    fail("backward: gradient of shape {} x {} for logits of {} x {}", grad_logits.batch,
         shape_string(grad_logits.shape), tape.batch_, shape_string(shapes_.back()));
  if (!pass.samples.empty() && pass.samples.size() != static_cast<std::size_t>(tape.batch_))
    fail("{} sample indices for a batch of {}", pass.samples.size(), tape.batch_);
  const int groups = static_cast<int>(tape.groups_.size());
  const std::size_t n_params = parameter_sizes().size();
  // Parameter gradients of every group, summed in group order below: the result does not
  // depend on the thread count.
  std::vector<Gradients> group_grads(grads ? static_cast<std::size_t>(groups) : 0);
  if (grad_input) grad_input->resize(tape.batch_, input_shape());
  parallel_for(groups, parallel_groups(), [&](int g) {
    const int first = g * model_group_samples;
    const auto& act = tape.groups_[static_cast<std::size_t>(g)];
    const int count = act[0].batch;
    const GroupPass gp(pass, first, count);
    std::span<std::vector<float>> all;
    if (grads) {
      group_grads[static_cast<std::size_t>(g)].resize(n_params);
      all = group_grads[static_cast<std::size_t>(g)];
    }
    Tensor d = rows(grad_logits, first, count), d_prev;
    for (std::size_t i = layers_.size(); i-- > 0;) {
      const Layer& l = *layers_[i];
      std::span<std::vector<float>> pg;
      if (grads) pg = all.subspan(param_offset_[i], l.parameters().size());
      const bool need_input_grad = i > 0 || grad_input != nullptr;
      l.backward(act[i], act[i + 1], d, need_input_grad ? &d_prev : nullptr, pg, gp.pass);
      if (need_input_grad) std::swap(d, d_prev);
    }
    if (grad_input) put_rows(d, first, *grad_input);
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
  std::string s = fmt::format("model '{}': input {}, {} classes, {} MACs per sample\n", arch_,
                              shape_string(input_shape()), classes(), macs_per_sample());
  for (std::size_t i = 0; i < layers_.size(); ++i) {
    s += fmt::format("  {:2}  {:<36} -> {}", i, layers_[i]->describe(),
                     shape_string(shapes_[i + 1]));
    for (const auto& m : matmul_)
      if (m.layer_index == static_cast<int>(i))
        s += fmt::format("   (D = {}, {} positions, {} MACs)", m.fan_in, m.positions, m.macs);
    s += "\n";
  }
  return s;
}

}  // namespace lumac::nn
