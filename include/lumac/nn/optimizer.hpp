// Optimizers of the training loop, updating flat parameter arrays from their gradients g:
//   SGD with momentum (PyTorch's form):  v <- mu v + g;   p <- p - lr v
//   Adam (Kingma and Ba 2015):           m <- b1 m + (1 - b1) g;   v <- b2 v + (1 - b2) g^2
//                                        p <- p - lr (m / (1 - b1^t)) / (sqrt(v / (1 - b2^t)) +
//                                        eps)
// with t the step number from 1. State is float32 like the parameters.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string_view>
#include <utility>
#include <vector>

#include "lumac/core/config.hpp"

namespace lumac::nn {

enum class OptimizerKind { sgd, adam };

struct OptimizerParams {
  OptimizerKind kind = OptimizerKind::adam;
  double learning_rate = 1e-3;  // lr
  double momentum = 0.9;        // mu (SGD)
  double beta1 = 0.9;           // b1 (Adam)
  double beta2 = 0.999;         // b2 (Adam)
  double epsilon = 1e-8;        // eps (Adam)
};

// Rejects a non-positive or non-finite learning rate, momentum outside [0, 1), betas outside
// [0, 1), epsilon <= 0, naming the field.
void validate(const OptimizerParams& params);

class Optimizer {
 public:
  // `sizes`: the number of values of every parameter array, in the order step() receives them.
  Optimizer(const OptimizerParams& params, const std::vector<std::size_t>& sizes);

  // One update of every parameter array from its gradient (same order and sizes as construction).
  void step(const std::vector<std::span<float>>& params,
            const std::vector<std::vector<float>>& grads);

  std::int64_t steps() const { return t_; }
  const OptimizerParams& params() const { return p_; }

 private:
  OptimizerParams p_;
  std::int64_t t_ = 0;
  std::vector<std::vector<float>> m_, v_;
};

}  // namespace lumac::nn

namespace lumac {
template <>
struct EnumNames<nn::OptimizerKind> {
  static constexpr std::array<std::pair<nn::OptimizerKind, std::string_view>, 2> values{
      {{nn::OptimizerKind::sgd, "sgd"}, {nn::OptimizerKind::adam, "adam"}}};
};
}  // namespace lumac
