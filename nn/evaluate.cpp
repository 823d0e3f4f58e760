#include "lumac/nn/evaluate.hpp"

#include <algorithm>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/nn/loss.hpp"

namespace lumac::nn {

EvalResult evaluate(const Model& model, const Dataset& data, const EvalOptions& options) {
  if (options.batch < 1) fail("evaluation batch = {}: must be >= 1", options.batch);
  if (options.limit < 0) fail("evaluation limit = {}: must be >= 0", options.limit);
  if (options.begin < 0) fail("evaluation begin = {}: must be >= 0", options.begin);
  if (data.sample_shape != model.input_shape())
    fail("{} images are {}, the model expects {}", data.name, shape_string(data.sample_shape),
         shape_string(model.input_shape()));
  const std::int64_t n = options.limit > 0 ? std::min(options.limit, data.size()) : data.size();
  const std::int64_t begin = std::min(options.begin, n);
  EvalResult r;
  r.samples = n - begin;
  r.predictions.reserve(static_cast<std::size_t>(r.samples));
  for (std::int64_t first = begin; first < n; first += options.batch) {
    throw_if_stop_requested("evaluation");
    const int count = static_cast<int>(std::min<std::int64_t>(options.batch, n - first));
    const Batch b = make_batch(data, first, count);
    const Tensor logits = model.forward(b.images, Pass{.samples = b.samples, .hook = options.hook});
    const LossResult loss = softmax_cross_entropy(logits, b.labels, nullptr);
    r.loss += loss.loss * count;
    r.correct += loss.correct;
    for (int j = 0; j < count; ++j)
      r.predictions.push_back(argmax(logits.sample(j), logits.shape[0]));
  }
  if (r.samples > 0) {
    r.accuracy = static_cast<double>(r.correct) / static_cast<double>(r.samples);
    r.loss /= static_cast<double>(r.samples);
  }
  return r;
}

}  // namespace lumac::nn
