// Training of a classifier by mini-batch gradient descent on the softmax cross-entropy
// (nn/loss.hpp) with SGD-momentum or Adam (nn/optimizer.hpp). Every epoch visits the training
// set in a new order, a Fisher-Yates shuffle drawn from the Philox stream Stream::training with
// counters (1, epoch, i, 0); with the seeded initialisation of nn/architectures.hpp the same
// options give the same model. Mini-batches carry their samples' global indices.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lumac/nn/dataset.hpp"
#include "lumac/nn/model.hpp"
#include "lumac/nn/optimizer.hpp"

namespace lumac::nn {

struct EpochStats {
  int epoch = 0;              // 1-based
  int epochs = 0;             // of the run
  double train_loss = 0;      // mean cross-entropy over the epoch's mini-batches (nats)
  double train_accuracy = 0;  // fraction of training samples classified right during the epoch
  double seconds = 0;         // since the start of training
};

struct TrainOptions {
  OptimizerParams optimizer;
  int epochs = 1;
  int batch = 64;          // samples per mini-batch (the last one of an epoch may be smaller)
  std::uint64_t seed = 1;  // shuffling
  std::function<void(const EpochStats&)> on_epoch;  // progress report; may be empty
};

struct TrainResult {
  std::vector<EpochStats> epochs;
  double seconds = 0;
};

// Trains `model` in place on `data`. lumac::Error for epochs < 1, batch < 1, an empty dataset,
// a sample shape or class count that does not fit the model, or bad optimizer parameters.
TrainResult train(Model& model, const Dataset& data, const TrainOptions& options);

}  // namespace lumac::nn
