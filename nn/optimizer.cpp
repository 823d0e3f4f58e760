#include "lumac/nn/optimizer.hpp"

#include <cassert>
#include <cmath>

#include "lumac/core/error.hpp"

namespace lumac::nn {

void validate(const OptimizerParams& p) {
  const FieldCheck check("optimizer");
  check.positive("learning_rate", p.learning_rate);
  if (!(p.momentum >= 0 && p.momentum < 1))
    check.reject("momentum", p.momentum, "must be in [0, 1)");
  if (!(p.beta1 >= 0 && p.beta1 < 1)) check.reject("beta1", p.beta1, "must be in [0, 1)");
  if (!(p.beta2 >= 0 && p.beta2 < 1)) check.reject("beta2", p.beta2, "must be in [0, 1)");
  check.positive("epsilon", p.epsilon);
}

Optimizer::Optimizer(const OptimizerParams& params, const std::vector<std::size_t>& sizes)
    : p_(params) {
  validate(p_);
  for (std::size_t n : sizes) {
    m_.emplace_back(n, 0.0f);
    if (p_.kind == OptimizerKind::adam) v_.emplace_back(n, 0.0f);
  }
}

void Optimizer::step(const std::vector<std::span<float>>& params,
                     const std::vector<std::vector<float>>& grads) {
  assert(params.size() == m_.size() && grads.size() == m_.size());
  ++t_;
  const auto lr = static_cast<float>(p_.learning_rate);
  if (p_.kind == OptimizerKind::sgd) {
    const auto mu = static_cast<float>(p_.momentum);
    for (std::size_t k = 0; k < params.size(); ++k) {
      assert(params[k].size() == m_[k].size() && grads[k].size() == m_[k].size());
      float* p = params[k].data();
      float* v = m_[k].data();
      const float* g = grads[k].data();
      for (std::size_t i = 0; i < m_[k].size(); ++i) {
        v[i] = mu * v[i] + g[i];
        p[i] -= lr * v[i];
      }
    }
    return;
  }
  const auto b1 = static_cast<float>(p_.beta1), b2 = static_cast<float>(p_.beta2);
  const auto eps = static_cast<float>(p_.epsilon);
  const double t = static_cast<double>(t_);
  const auto c1 = static_cast<float>(1.0 / (1.0 - std::pow(p_.beta1, t)));
  const auto c2 = static_cast<float>(1.0 / (1.0 - std::pow(p_.beta2, t)));
  for (std::size_t k = 0; k < params.size(); ++k) {
    assert(params[k].size() == m_[k].size() && grads[k].size() == m_[k].size());
    float* p = params[k].data();
    float* m = m_[k].data();
    float* v = v_[k].data();
    const float* g = grads[k].data();
    for (std::size_t i = 0; i < m_[k].size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      p[i] -= lr * (m[i] * c1) / (std::sqrt(v[i] * c2) + eps);
    }
  }
}

}  // namespace lumac::nn
