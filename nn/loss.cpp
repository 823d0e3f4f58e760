#include "lumac/nn/loss.hpp"

#include <cmath>

#include "lumac/core/error.hpp"

namespace lumac::nn {

int argmax(const float* values, int n) {
  int best = 0;
  for (int i = 1; i < n; ++i)
    if (values[i] > values[best]) best = i;
  return best;
}

LossResult softmax_cross_entropy(const Tensor& logits, std::span<const int> labels, Tensor* grad) {
  if (logits.shape.size() != 1)
    fail("softmax cross-entropy needs flat logits, got shape {}", shape_string(logits.shape));
  if (labels.size() != static_cast<std::size_t>(logits.batch))
    fail("softmax cross-entropy: {} labels for a batch of {}", labels.size(), logits.batch);
  const int classes = logits.shape[0];
  if (grad) grad->resize(logits.batch, logits.shape);
  LossResult r;
  const double inv_n = logits.batch ? 1.0 / logits.batch : 0.0;
  std::vector<double> p(static_cast<std::size_t>(classes));
  for (int i = 0; i < logits.batch; ++i) {
    const int label = labels[static_cast<std::size_t>(i)];
    if (label < 0 || label >= classes)
      fail("label {} of batch row {} is outside [0, {})", label, i, classes);
    const float* z = logits.sample(i);
    const int top = argmax(z, classes);
    r.correct += top == label;
    double sum = 0;
    for (int c = 0; c < classes; ++c)
      sum += p[static_cast<std::size_t>(c)] = std::exp(double(z[c]) - z[top]);
    r.loss += (std::log(sum) - (double(z[label]) - z[top])) * inv_n;
    if (grad) {
      float* g = grad->sample(i);
      for (int c = 0; c < classes; ++c)
        g[c] = static_cast<float>((p[static_cast<std::size_t>(c)] / sum - (c == label)) * inv_n);
    }
  }
  return r;
}

}  // namespace lumac::nn
