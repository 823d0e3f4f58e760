// ONNX import (docs/models.md): an ONNX file -> a lumac graph (nn/model.hpp), through Debian's
// libonnx (protobuf model classes, the checker and shape inference).
//
// The file is parsed, its external-data tensors read from their files beside it, checked with
// onnx::checker and given shapes by onnx::shape_inference; then its nodes are walked in
// topological order. Every ONNX tensor is batch first: axis 0 of every activation is the batch
// (symbolic or fixed) and never moves; lumac keeps the per-sample rest. Everything whose inputs
// are known at load time is folded into constants (the Shape, Gather, Unsqueeze, Concat, ...
// subgraphs of a dynamic batch axis, Constant nodes, arithmetic on initializers), with the batch
// size as a marker value that a Reshape recognises. Conv, Gemm and MatMul by a constant become
// the matrix-product nodes (nn/conv2d.hpp, nn/dense.hpp) the analog hardware runs; a
// BatchNormalization, Add or Sub of a per-channel constant right after one of them (its only
// reader) is folded into its weights and bias; every other node is digital
// (nn/graph_ops.hpp). Anything outside the supported set is one lumac::Error naming the op type,
// the node and docs/models.md.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "lumac/nn/model.hpp"

namespace lumac::nn {

struct OnnxImport {
  Model model;                     // uncalibrated; its source() filled in (dataset empty)
  std::vector<std::string> notes;  // what the import folded or changed, one line each
};

// Imports an ONNX file. lumac::Error (one line, naming the file) for a missing, corrupt or
// truncated file, a missing external-data file, a checker or shape-inference failure, an
// unsupported opset, operator or attribute, a non-float input, an input shape that is not
// fully known past the batch axis, or a graph with a cycle.
OnnxImport import_onnx(const std::filesystem::path& path);

// The same from the bytes of a model (`name` stands for the file in messages; external data is
// looked for in `dir`). The fuzz harness's entry point.
OnnxImport import_onnx_bytes(const std::string& bytes, const std::string& name,
                             const std::filesystem::path& dir);

// "crc32 <8 hex digits>, <n> bytes" of a byte string (zlib's CRC-32).
std::string content_checksum(const std::string& bytes);

}  // namespace lumac::nn
