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

#include "lumac/nn/dataset.hpp"
#include "lumac/nn/model.hpp"

namespace lumac {

// Which network to run and on which images.
struct NetworkSpec {
  std::string model;       // model file (.h5)
  std::string dataset;     // default: the dataset the model was trained on
  std::int64_t limit = 0;  // the first `limit` test images (0: all)
  int batch = 256;         // images per forward pass, in [1, 65536]
};

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
double clean_accuracy(const LoadedNetwork& net);

// Mean and sample standard deviation (0 for one value) of accuracies over seeds.
struct AccuracyStats {
  double mean = 0, std = 0;
};
AccuracyStats accuracy_stats(const std::vector<double>& accuracy);

// lumac::Error unless 1 <= seeds <= 10000 (the one rule for every study over seeds).
void check_seeds(int seeds);

}  // namespace lumac
