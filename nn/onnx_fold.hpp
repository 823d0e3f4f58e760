// Internal to the ONNX importer (nn/onnx_import.cpp): constant tensors as the importer holds
// them, reading them from TensorProto and AttributeProto, and folding a node whose inputs are
// all constants.
#pragma once

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "lumac/nn/tensor.hpp"

namespace lumac::nn::onnx_detail {

// The batch size inside folded shape computations: Shape of an activation gives it as axis 0,
// and Reshape recognises it. A prime no real shape uses.
inline constexpr std::int64_t batch_marker = 1000003;

// Operators that only move values (or, Shape, read only the shape), which may therefore read
// integer activations (token ids, masks) and keep them integers (Cast makes them floats).
inline bool moves_integers(const std::string& op) {
  return op == "Reshape" || op == "Squeeze" || op == "Unsqueeze" || op == "Identity" ||
         op == "Flatten" || op == "Transpose" || op == "Cast" || op == "Shape" || op == "Split" ||
         op == "Expand";
}

// The sizes of Split's outputs along an axis of extent `dim` (opsets 13 to 17): the `split`
// input when given (non-negative, summing to dim), else dim cut into as many equal parts as
// the node has outputs. lumac::Error naming the problem otherwise.
std::vector<std::int64_t> split_sizes(const onnx::NodeProto& n, std::int64_t dim,
                                      const std::vector<std::int64_t>* split);

struct Const {
  Shape dims;             // full ONNX shape ({} for a scalar)
  std::vector<double> v;  // row-major values (int64 held exactly up to 2^53)
  bool integer = false;   // int64, int32 or bool in the source
  std::int64_t size() const { return shape_size(dims); }
  std::vector<std::int64_t> ints() const;
  std::vector<float> floats() const;
};

// lumac::Error for a type lumac does not read (float16, strings, ...) or an inconsistent size.
Const tensor_const(const onnx::TensorProto& t);

// Attribute helpers: the value, or `fallback` when the node lacks it.
std::int64_t attr_int(const onnx::NodeProto& n, const std::string& name, std::int64_t fallback);
double attr_float(const onnx::NodeProto& n, const std::string& name, double fallback);
std::string attr_string(const onnx::NodeProto& n, const std::string& name,
                        const std::string& fallback);
std::optional<std::vector<std::int64_t>> attr_ints(const onnx::NodeProto& n,
                                                   const std::string& name);
bool has_attr(const onnx::NodeProto& n, const std::string& name);

// Folds a node whose inputs are all constants (absent optional inputs are nullopt); nullopt if
// lumac does not fold this op type. lumac::Error for attributes or inputs that do not fit.
std::optional<std::vector<Const>> fold_node(const onnx::NodeProto& n,
                                            const std::vector<std::optional<Const>>& in);

}  // namespace lumac::nn::onnx_detail
