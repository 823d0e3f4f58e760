// SGD with momentum and Adam against their update rules (nn/optimizer.hpp), written out in
// double precision, on the quadratic f(p) = sum_i a_i (p_i - t_i)^2 / 2 with gradient
// a_i (p_i - t_i); and convergence to its minimum t.
#include <cmath>

#include "lumac/nn/optimizer.hpp"
#include "tests/support.hpp"

using namespace lumac;

namespace {

const std::vector<double> a{1.0, 4.0, 0.25};
const std::vector<double> target{1.0, -2.0, 0.5};

std::vector<float> gradient(const std::vector<float>& p) {
  std::vector<float> g(p.size());
  for (std::size_t i = 0; i < p.size(); ++i) g[i] = static_cast<float>(a[i] * (p[i] - target[i]));
  return g;
}

}  // namespace

TEST_CASE("nn optimizer: SGD with momentum follows v = mu v + g, p = p - lr v") {
  nn::OptimizerParams params;
  params.kind = nn::OptimizerKind::sgd;
  params.learning_rate = 0.1;
  params.momentum = 0.9;
  std::vector<float> p{0.0f, 0.0f, 0.0f};
  std::vector<double> ref(p.begin(), p.end()), v(3, 0.0);
  nn::Optimizer opt(params, {3});
  // First step by hand: v = g = a (0 - t), so p = 0.1 a t.
  opt.step({std::span<float>(p)}, {gradient(p)});
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(p[i] == doctest::Approx(0.1 * a[i] * target[i]).epsilon(1e-6));
    v[i] = a[i] * (0 - target[i]);
    ref[i] = 0.1 * a[i] * target[i];
  }
  for (int step = 0; step < 4; ++step) {
    const auto g = gradient(p);
    opt.step({std::span<float>(p)}, {g});
    for (std::size_t i = 0; i < 3; ++i) {
      v[i] = 0.9 * v[i] + a[i] * (ref[i] - target[i]);
      ref[i] -= 0.1 * v[i];
      CHECK(p[i] == doctest::Approx(ref[i]).epsilon(1e-5));
    }
  }
  CHECK(opt.steps() == 5);
  for (int step = 0; step < 500; ++step) opt.step({std::span<float>(p)}, {gradient(p)});
  for (std::size_t i = 0; i < 3; ++i) CHECK(p[i] == doctest::Approx(target[i]).epsilon(1e-4));
}

TEST_CASE("nn optimizer: Adam follows its bias-corrected update rule") {
  nn::OptimizerParams params;
  params.kind = nn::OptimizerKind::adam;
  params.learning_rate = 0.01;
  std::vector<float> p{0.0f, 0.0f, 0.0f};
  nn::Optimizer opt(params, {3});
  // Step 1: m_hat = g, v_hat = g^2, so every parameter moves by lr against the sign of g.
  opt.step({std::span<float>(p)}, {gradient(p)});
  for (std::size_t i = 0; i < 3; ++i)
    CHECK(p[i] == doctest::Approx(0.01 * (target[i] > 0 ? 1 : -1)).epsilon(1e-5));
  std::vector<double> ref(p.begin(), p.end()), m(3), v(3);
  for (std::size_t i = 0; i < 3; ++i) {
    const double g0 = a[i] * (0 - target[i]);
    m[i] = 0.1 * g0;
    v[i] = 0.001 * g0 * g0;
  }
  for (int t = 2; t <= 6; ++t) {
    opt.step({std::span<float>(p)}, {gradient(p)});
    for (std::size_t i = 0; i < 3; ++i) {
      const double g = a[i] * (ref[i] - target[i]);
      m[i] = 0.9 * m[i] + 0.1 * g;
      v[i] = 0.999 * v[i] + 0.001 * g * g;
      const double m_hat = m[i] / (1 - std::pow(0.9, t)), v_hat = v[i] / (1 - std::pow(0.999, t));
      ref[i] -= 0.01 * m_hat / (std::sqrt(v_hat) + 1e-8);
      CHECK(p[i] == doctest::Approx(ref[i]).epsilon(1e-4));
    }
  }
  for (int step = 0; step < 3000; ++step) opt.step({std::span<float>(p)}, {gradient(p)});
  for (std::size_t i = 0; i < 3; ++i) CHECK(std::abs(p[i] - target[i]) < 1e-2);
}

TEST_CASE("nn optimizer: bad parameters are rejected with the field named") {
  nn::OptimizerParams p;
  p.learning_rate = 0;
  CHECK_THROWS_WITH_AS(nn::Optimizer(p, {1}), doctest::Contains("optimizer.learning_rate = 0"),
                       Error);
  p.learning_rate = std::nan("");
  CHECK_THROWS_AS(nn::Optimizer(p, {1}), Error);
  p.learning_rate = 0.1;
  p.momentum = 1.0;
  CHECK_THROWS_WITH_AS(nn::Optimizer(p, {1}), doctest::Contains("momentum"), Error);
}
