// Model files: a Model (architecture, weights, calibration, training record) in HDF5, schema
// version 3, documented in docs/model_file.md. Written through h5::OutputFile (temporary name,
// renamed on completion); reading validates kind, version, every dataset's presence and shape
// and the chaining of the layers, and reports the first problem as one lumac::Error naming the
// file. Weights are stored as float32, so a save/load round trip is bitwise exact.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "lumac/core/config.hpp"
#include "lumac/nn/model.hpp"

namespace lumac::nn {

inline constexpr const char* model_file_kind = "lumac-model";
// Version 2 (graphs): every node group has `inputs` (the values it reads) and `node_name`, the
// root an `outputs` dataset, graph ops their `op` attribute and `int.*`, `real.*`, `array.*`
// datasets. Version 3 adds the group `/inputs` (the graph inputs: name, type, feature, shape;
// Model::graph_inputs()). Version 1 and 2 files still load, with one float input.
inline constexpr std::int64_t model_schema_version = 3;

// The effective configuration of the run that wrote the file (stored as root attributes, see
// h5::write_config); optional.
struct ModelFileConfig {
  std::vector<KeyInfo> keys;
  std::string toml;
};

void save_model(const Model& model, const std::filesystem::path& path, bool force,
                const ModelFileConfig* config = nullptr);
Model load_model(const std::filesystem::path& path);

}  // namespace lumac::nn
