// lumac infer: any batch through a model on the simulated hardware, from an HDF5 file of inputs
// to an HDF5 file of outputs (docs/infer_file.md). This is how a user checks lumac
// against their framework, and how the tests check imported models against PyTorch.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "lumac/core/json.hpp"
#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/network.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

struct InferSpec {
  std::string model;    // .h5 model file or .onnx
  std::string dataset;  // an .onnx model's dataset (calibration); needed for the analog modes
  std::string input;    // IN.h5: one dataset per graph input, named after it (or `input`)
  std::string out;      // OUT.h5
  bool force = false;
  int batch = 256;  // samples per forward pass
  std::function<void(const std::string&)> notice;
};

struct InferStudy {
  std::string model, input_dataset;
  std::vector<std::string> output_names;  // the datasets written
  std::vector<nn::Shape> output_shapes;   // per sample
  std::int64_t samples = 0;
  HardwareOptions hardware;
  std::uint64_t seed = 1;
  double seconds = 0;
};

// Runs the model on every sample of the input file with the hardware's noise (seed `seed`; the
// noise of sample i depends only on (seed, i), so any batch gives the same numbers) and writes
// the outputs. lumac::Error for a missing input dataset, a shape that does not fit the model,
// non-finite inputs, or an existing output without `force`.
// Runs `samples` inputs (row-major, each of the model's per-sample input shape) through the model
// under hardware options, `batch` samples per forward pass: one vector per graph output of
// samples x (per-sample output size) values. The noise of sample i depends only on (seed, i), so
// the result does not depend on `batch` or the thread count. lumac::Error for a bad count or
// batch, a non-finite input, or an analog mode on a model without calibration.
std::vector<std::vector<float>> infer_samples(const nn::Model& model, std::span<const float> x,
                                              std::int64_t samples, const HardwareOptions& h,
                                              const Settings& settings, std::uint64_t seed,
                                              int batch = 256);

// The names of the output datasets: `output` for a single output, else the graph's output names.
std::vector<std::string> output_dataset_names(const nn::Model& model);

InferStudy run_infer(const InferSpec& spec, const HardwareSpec& hardware, Settings settings,
                     std::uint64_t seed, const std::string& command_line);
Json to_json(const InferStudy& study);

}  // namespace lumac
