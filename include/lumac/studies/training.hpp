// Training a bundled architecture (lumac train): an MLP or CNN on Fashion-MNIST or MNIST,
// evaluated, calibrated for analog execution and written as a model file (docs/model_file.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>

#include "lumac/core/json.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/model.hpp"
#include "lumac/nn/train.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

struct TrainSpec {
  std::string dataset;                  // fashion-mnist | mnist
  std::string arch;                     // mlp | cnn
  std::string optimizer = "adam";       // adam | sgd
  int epochs = 0;                       // >= 1
  int batch = 64;                       // >= 1
  std::optional<double> learning_rate;  // default 1e-3 (adam), 0.05 (sgd)
  std::int64_t limit = 0;               // the first N training and test samples (0: all)
  std::uint64_t seed = 1;
  std::function<void(const nn::EpochStats&)> on_epoch;  // progress
};

// lumac::Error for a bad spec; runs before any data are read.
void check_train_spec(const TrainSpec& spec);

struct TrainStudy {
  nn::Model model;  // trained, calibrated, with its training record
  nn::TrainResult trained;
  nn::EvalResult test;
};

TrainStudy run_train_study(const TrainSpec& spec);
// Writes the model file with the effective config.
void write_model_file(const TrainStudy& study, const Settings& settings,
                      const std::filesystem::path& path, bool force);
Json to_json(const TrainStudy& study, const std::string& out);

}  // namespace lumac
