#include "lumac/nn/layer.hpp"

#include "lumac/core/error.hpp"

namespace lumac::nn {

std::string_view layer_type_name(LayerType type) {
  switch (type) {
    case LayerType::dense:
      return "dense";
    case LayerType::conv2d:
      return "conv2d";
    case LayerType::matmul:
      return "matmul";
    case LayerType::relu:
      return "relu";
    case LayerType::maxpool2d:
      return "maxpool2d";
    case LayerType::avgpool2d:
      return "avgpool2d";
    case LayerType::flatten:
      return "flatten";
    case LayerType::op:
      return "op";
  }
  return "?";
}

namespace {

template <class List>
const auto& find_key(const List& list, const std::string& key, const std::string& op,
                     const char* what) {
  for (const auto& [k, v] : list)
    if (k == key) return v;
  fail("node '{}' has no {} '{}'", op, what, key);
}

}  // namespace

const std::vector<std::int64_t>& NodeRecord::get(const std::string& key) const {
  return find_key(ints, key, op, "integer attribute");
}

const std::vector<double>& NodeRecord::get_real(const std::string& key) const {
  return find_key(reals, key, op, "real attribute");
}

const NodeRecord::Array& NodeRecord::get_array(const std::string& key) const {
  return find_key(arrays, key, op, "array");
}

Shape Layer::output_shape_n(std::span<const Shape> inputs) const {
  if (inputs.size() != 1) fail("{} takes one input, not {}", op_name(), inputs.size());
  return output_shape(inputs[0]);
}

void Layer::forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass& pass) const {
  forward(*in[0], out, pass);
}

void Layer::backward_n(std::span<const Tensor* const> in, const Tensor& out, const Tensor& grad_out,
                       std::span<Tensor* const> grad_in, std::span<std::vector<float>> grads,
                       const Pass& pass) const {
  backward(*in[0], out, grad_out, grad_in[0], grads, pass);
}

void Layer::forward_via_n(const Tensor& in, Tensor& out, const Pass& pass) const {
  const Tensor* p = &in;
  forward_n(std::span<const Tensor* const>(&p, 1), out, pass);
}

void Layer::backward_via_n(const Tensor& in, const Tensor& out, const Tensor& grad_out,
                           Tensor* grad_in, std::span<std::vector<float>> grads,
                           const Pass& pass) const {
  const Tensor* p = &in;
  backward_n(std::span<const Tensor* const>(&p, 1), out, grad_out,
             std::span<Tensor* const>(&grad_in, 1), grads, pass);
}

std::vector<std::span<const float>> Layer::parameters() const {
  std::vector<std::span<const float>> out;
  for (auto s : const_cast<Layer*>(this)->parameters()) out.emplace_back(s.data(), s.size());
  return out;
}

MatmulLayer::MatmulLayer(std::string name, int outputs, int fan_in, bool weights)
    : name_(std::move(name)), fan_in_(fan_in), outputs_(outputs) {
  if (outputs < 1 || fan_in < 1)
    fail("layer '{}': outputs = {} and fan-in = {} must be >= 1", name_, outputs, fan_in);
  if (weights) {
    weight_.setZero(outputs, fan_in);
    bias_.setZero(outputs);
  }
}

std::vector<std::span<float>> MatmulLayer::parameters() {
  if (activation_operands()) return {};
  return {std::span<float>(weight_.data(), static_cast<std::size_t>(weight_.size())),
          std::span<float>(bias_.data(), static_cast<std::size_t>(bias_.size()))};
}

void ReLU::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, in.shape);
  const auto n = static_cast<Eigen::Index>(in.data.size());
  Eigen::Map<Eigen::ArrayXf>(out.data.data(), n) =
      Eigen::Map<const Eigen::ArrayXf>(in.data.data(), n).max(0.0f);
}

void ReLU::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                    std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape);
  const auto n = static_cast<Eigen::Index>(in.data.size());
  const Eigen::Map<const Eigen::ArrayXf> x(in.data.data(), n);
  const Eigen::Map<const Eigen::ArrayXf> g(grad_out.data.data(), n);
  Eigen::Map<Eigen::ArrayXf>(grad_in->data.data(), n) = (x > 0.0f).select(g, 0.0f);
}

Shape Flatten::output_shape(const Shape& input) const {
  return {static_cast<int>(shape_size(input))};
}

void Flatten::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.batch = in.batch;
  out.shape = output_shape(in.shape);
  out.data = in.data;
}

void Flatten::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                       std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->batch = in.batch;
  grad_in->shape = in.shape;
  grad_in->data = grad_out.data;
}

}  // namespace lumac::nn
