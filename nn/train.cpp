#include "lumac/nn/train.hpp"
#include "lumac/core/interrupt.hpp"

#include <algorithm>
#include <chrono>
#include <numeric>

#include "lumac/core/error.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/nn/loss.hpp"

namespace lumac::nn {

namespace {

void check_fits(const Model& model, const Dataset& data) {
  if (data.size() == 0) fail("the {} {} set is empty", data.name, data.split);
  if (data.sample_shape != model.input_shape())
    fail("{} images are {}, the model expects {}", data.name, shape_string(data.sample_shape),
         shape_string(model.input_shape()));
  if (data.classes != model.classes())
    fail("{} has {} classes, the model {} outputs", data.name, data.classes, model.classes());
}

}  // namespace

TrainResult train(Model& model, const Dataset& data, const TrainOptions& options) {
  if (options.epochs < 1) fail("epochs = {}: must be >= 1", options.epochs);
  if (options.batch < 1) fail("batch = {}: must be >= 1", options.batch);
  check_fits(model, data);
  Optimizer optimizer(options.optimizer, model.parameter_sizes());
  const RandomStream rng(options.seed, Stream::training);
  const auto start = std::chrono::steady_clock::now();
  const std::int64_t n = data.size();
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  Tape tape;
  Tensor grad_logits;
  Gradients grads;
  TrainResult result;
  for (int epoch = 1; epoch <= options.epochs; ++epoch) {
    std::iota(order.begin(), order.end(), std::int64_t{0});
    for (std::int64_t i = n - 1; i > 0; --i) {
      const double u =
          rng.uniform(1, static_cast<std::uint64_t>(epoch), static_cast<std::uint64_t>(i), 0);
      const auto j =
          std::min<std::int64_t>(i, static_cast<std::int64_t>(u * static_cast<double>(i + 1)));
      std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
    }
    double loss_sum = 0;
    std::int64_t correct = 0;
    for (std::int64_t first = 0; first < n; first += options.batch) {
      throw_if_stop_requested("training");
      const auto count = static_cast<std::size_t>(std::min<std::int64_t>(options.batch, n - first));
      const Batch b = make_batch(data, std::span<const std::int64_t>(order).subspan(
                                           static_cast<std::size_t>(first), count));
      const Pass pass{.samples = b.samples, .hook = nullptr};
      model.forward(b.images, pass, tape);
      const LossResult loss = softmax_cross_entropy(tape.logits(), b.labels, &grad_logits);
      model.backward(tape, grad_logits, pass, &grads, nullptr);
      optimizer.step(model.parameters(), grads);
      loss_sum += loss.loss * static_cast<double>(count);
      correct += loss.correct;
    }
    EpochStats s;
    s.epoch = epoch;
    s.epochs = options.epochs;
    s.train_loss = loss_sum / static_cast<double>(n);
    s.train_accuracy = static_cast<double>(correct) / static_cast<double>(n);
    s.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    result.epochs.push_back(s);
    if (options.on_epoch) options.on_epoch(s);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

}  // namespace lumac::nn
