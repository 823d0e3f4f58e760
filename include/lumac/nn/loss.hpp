// Softmax cross-entropy, the training loss of the classifiers:
//   p = softmax(z),  L = mean over the batch of -log p[label],  dL/dz = (p - onehot(label)) / N
// evaluated with the log-sum-exp shift (max subtracted) in double precision; the gradient is
// stored as float32 like every tensor.
#pragma once

#include <span>

#include "lumac/nn/tensor.hpp"

namespace lumac::nn {

struct LossResult {
  double loss = 0;  // mean cross-entropy over the batch (nats)
  int correct = 0;  // samples whose largest logit is their label
};

// `logits` is batch x classes; labels one per sample in [0, classes) (else lumac::Error). Writes
// dL/dlogits into *grad (resized) unless null.
LossResult softmax_cross_entropy(const Tensor& logits, std::span<const int> labels, Tensor* grad);

// Index of the largest of `n` values (the first one on ties).
int argmax(const float* values, int n);

}  // namespace lumac::nn
