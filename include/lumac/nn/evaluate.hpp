// Evaluation of a classifier on a dataset: accuracy, mean cross-entropy and the prediction of
// every sample, in batches, optionally with every matrix product executed through a MatmulHook
// (the analog hardware, nn/matmul_hook.hpp). Samples keep their global dataset index, so a
// hook's random numbers do not depend on the batch size.
#pragma once

#include <cstdint>
#include <vector>

#include "lumac/nn/dataset.hpp"
#include "lumac/nn/matmul_hook.hpp"
#include "lumac/nn/model.hpp"

namespace lumac::nn {

struct EvalOptions {
  int batch = 256;                   // samples per forward pass
  std::int64_t begin = 0;            // the first sample evaluated
  std::int64_t limit = 0;            // stop before sample `limit` (0: at the end)
  const MatmulHook* hook = nullptr;  // nullptr: exact float32 products
};

struct EvalResult {
  double accuracy = 0;  // correct / samples
  double loss = 0;      // mean cross-entropy (nats)
  std::int64_t samples = 0, correct = 0;
  std::vector<int> predictions;  // predicted class of samples begin .. begin + samples - 1
};

// lumac::Error for batch < 1, begin < 0, limit < 0, or a dataset that does not fit the model.
EvalResult evaluate(const Model& model, const Dataset& data, const EvalOptions& options = {});

}  // namespace lumac::nn
