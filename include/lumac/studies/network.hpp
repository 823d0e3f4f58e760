// Loading a network for a study: a calibrated model file and the test (and, for precision
// learning, training) split of its dataset, checked against each other.
//
// Studies see a network only through nn::Model's narrow interface (matmul_layers(),
// input_shape(), classes(), training(), calibrated()) and the free functions of nn/ that take
// it (evaluate, analog_layers, learn_precision, mean_energy); a later model type that keeps
// that interface replaces the model under studies/ without touching it.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "lumac/core/json.hpp"

#include "lumac/nn/calibration.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/model.hpp"

namespace lumac {

// Which network to run and on which images.
struct NetworkSpec {
  std::string model;       // model file (.h5), or an ONNX model (.onnx) imported on the fly
  std::string dataset;     // default: the dataset the model was trained or imported for
  std::int64_t limit = 0;  // the first `limit` test images (0: all)
  int batch = 256;         // images per forward pass, in [1, 65536]
  // Where a shell wants notices (an ONNX model imported and calibrated on the fly); may be empty.
  std::function<void(const std::string&)> notice;
};

// A model to run: a model file (.h5), or an ONNX file (.onnx) imported and calibrated on the
// first `calibration_samples` training images of `dataset` (the same default as lumac train's)
// (which it then needs), said through `notice` (without a dataset and `need_calibration` false, it
// stays uncalibrated). lumac::Error as nn::load_model and nn::import_onnx.
nn::Model load_model_file(const std::string& path, const std::string& dataset,
                          const std::function<void(const std::string&)>& notice = {},
                          std::int64_t calibration_samples = nn::default_calibration_samples,
                          bool need_calibration = true);

// lumac import: an ONNX model imported, checked and calibrated.
struct ImportSpec {
  std::string onnx;     // the .onnx file
  std::string dataset;  // the dataset it is for (calibration and later evaluation)
  std::int64_t calibration_samples = nn::default_calibration_samples;
  // "NAME=FEATURE": what the dataset feeds graph input NAME (nn::InputFeature's names), over
  // the importer's choice (the first input the samples, inputs named *attention_mask and
  // *padding_mask those masks).
  std::vector<std::string> bind;
};

// A dataset split as the model's (packed) input: each graph input gets its feature
// (nn::InputFeature) of the dataset's samples. A model of one input whose feature is the
// samples takes the split as it is. lumac::Error naming the input when a feature does not fit
// (a mask of a dataset without padding, a shape that differs, an input nothing feeds).
nn::Dataset bind_inputs(nn::Dataset data, const nn::Model& model);
// Applies "NAME=FEATURE" bindings to the model's graph inputs; lumac::Error for an unknown
// input or feature.
void bind_features(nn::Model& model, const std::vector<std::string>& bind);
struct ImportStudy {
  nn::Model model;                 // calibrated, its source() naming the file and dataset
  std::vector<std::string> notes;  // what the import folded
  double clean_accuracy = 0;       // on the dataset's test split, without noise
  std::int64_t test_samples = 0;
  double seconds = 0;  // import and calibration, wall time
};
ImportStudy run_import(const ImportSpec& spec);
Json to_json(const ImportStudy& study, const std::string& out);

struct LoadedNetwork {
  nn::Model model;
  std::string path;
  std::string dataset;
  nn::Dataset test;                  // the first `limit` test samples
  std::optional<nn::Dataset> train;  // when asked for
  int batch = 256;
};

// lumac::Error for a missing or corrupt model, a missing dataset, a model without calibration,
// a model whose input does not fit the dataset, or a bad limit or batch. `check_model` runs on
// the model before the (slower) dataset is read, so option errors come first.
LoadedNetwork load_network(const NetworkSpec& spec, bool need_train = false,
                           const std::function<void(const nn::Model&)>& check_model = {});

// Accuracy of the network without noise on its test images.
// A model with its dataset's test split (the first `limit`, 0: all) and, when asked, its train
// split, under the checks of load_network: the dataset's image shape, class scores, the class
// count, the limit. `dataset` empty: the one the model names.
LoadedNetwork network_with_dataset(nn::Model model, const std::string& path,
                                   const std::string& dataset, std::int64_t limit, int batch,
                                   bool need_train = false);

// A model with given samples as its test split (dataset name "samples"): `inputs` holds
// labels.size() inputs of the model's per-sample shape, row-major; every label a class of the
// model, every input finite.
LoadedNetwork network_with_samples(nn::Model model, const std::string& path,
                                   std::vector<float> inputs, std::vector<int> labels,
                                   int batch = 256);

double clean_accuracy(const LoadedNetwork& net);

// Mean and sample standard deviation (0 for one value) of accuracies over seeds.
struct AccuracyStats {
  double mean = 0, std = 0;
};
AccuracyStats accuracy_stats(const std::vector<double>& accuracy);

// lumac::Error unless 1 <= seeds <= 10000 (the one rule for every study over seeds).
void check_seeds(int seeds);

}  // namespace lumac
