// Forward values and backward passes of every layer, checked against direct computations and
// central differences (tolerances derived in tests/nn/nn_support.hpp).
#include <cmath>
#include <limits>

#include "lumac/nn/conv2d.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/loss.hpp"
#include "lumac/nn/model.hpp"
#include "lumac/nn/pool.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

constexpr double h = 0.01;
constexpr double rel_tolerance = 2e-3;

// Checks dL/din and dL/dparameters of `layer` at input x for L = sum r_i out_i.
void check_layer_gradients(nn::Layer& layer, nn::Tensor x, std::uint64_t key) {
  nn::Tensor out;
  layer.forward(x, out, {});
  std::vector<float> r(out.data.size());
  fill_normal(r, key);
  auto loss = [&] {
    nn::Tensor o;
    layer.forward(x, o, {});
    return weighted_sum(o, r);
  };
  nn::Tensor grad_out = out;
  grad_out.data = r;
  nn::Tensor grad_in;
  const auto params = layer.parameters();
  std::vector<std::vector<float>> grads(params.size());
  layer.backward(x, out, grad_out, &grad_in, grads, {});
  REQUIRE(grad_in.data.size() == x.data.size());
  CHECK(grad_in.shape == x.shape);
  const FdCheck cx = central_differences(x.data, grad_in.data, loss, h);
  CAPTURE(layer.describe());
  CHECK(cx.max_gradient > 0.1);
  CHECK(cx.relative() < rel_tolerance);
  for (std::size_t k = 0; k < params.size(); ++k) {
    CAPTURE(k);
    REQUIRE(grads[k].size() == params[k].size());
    const FdCheck cp = central_differences(params[k], grads[k], loss, h);
    CHECK(cp.max_gradient > 0.1);
    CHECK(cp.relative() < rel_tolerance);
  }
  // Frozen weights: the input gradient alone, identical, and no parameter gradients.
  nn::Tensor grad_in_frozen;
  layer.backward(x, out, grad_out, &grad_in_frozen, {}, {});
  CHECK(grad_in_frozen.data == grad_in.data);
}

// Values spaced 0.1 apart in a seeded order: no ties and no kink within 2h of any value.
nn::Tensor spaced_values(int batch, const nn::Shape& shape, std::uint64_t key) {
  nn::Tensor t = random_tensor(batch, shape, key);
  std::vector<std::size_t> order(t.data.size());
  for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](auto a, auto b) { return t.data[a] < t.data[b]; });
  for (std::size_t rank = 0; rank < order.size(); ++rank)
    t.data[order[rank]] =
        0.1f * (static_cast<float>(rank) - static_cast<float>(order.size()) / 2) + 0.05f;
  return t;
}

}  // namespace

TEST_CASE("nn layers: dense forward is W x + b and backward matches central differences") {
  nn::Dense d("fc", 6, 4);
  randomize(d, 1);
  // 40 samples: two chunks of the batch, so the chunked weight gradient sum is exercised.
  const nn::Tensor x = random_tensor(40, {6}, 10);
  nn::Tensor out;
  d.forward(x, out, {});
  REQUIRE(out.shape == nn::Shape{4});
  for (int i = 0; i < x.batch; i += 13) {
    const Eigen::VectorXf ref =
        d.weight() * Eigen::Map<const Eigen::VectorXf>(x.sample(i), 6) + d.bias();
    for (int o = 0; o < 4; ++o) CHECK(out.sample(i)[o] == doctest::Approx(ref[o]).epsilon(1e-5));
  }
  check_layer_gradients(d, x, 11);
  CHECK_THROWS_AS(d.output_shape({5}), Error);
  CHECK_THROWS_AS(d.output_shape({1, 2, 3}), Error);
}

TEST_CASE("nn layers: conv2d forward equals a direct convolution") {
  const nn::Conv2dGeometry g{2, 3, 3, 2, 2, 1};
  nn::Conv2d c("conv", g);
  randomize(c, 2);
  const nn::Tensor x = random_tensor(3, {2, 7, 6}, 20);
  nn::Tensor out;
  c.forward(x, out, {});
  // Ho = (7 + 2 - 3) / 2 + 1 = 4, Wo = (6 + 2 - 2) / 2 + 1 = 4.
  REQUIRE(out.shape == nn::Shape{3, 4, 4});
  CHECK(c.positions({2, 7, 6}) == 16);
  for (int i = 0; i < 3; ++i)
    for (int co = 0; co < 3; ++co)
      for (int oy = 0; oy < 4; ++oy)
        for (int ox = 0; ox < 4; ++ox) {
          double s = c.bias()[co];
          for (int ci = 0; ci < 2; ++ci)
            for (int ky = 0; ky < 3; ++ky)
              for (int kx = 0; kx < 2; ++kx) {
                const int iy = oy * 2 - 1 + ky, ix = ox * 2 - 1 + kx;
                if (iy < 0 || iy >= 7 || ix < 0 || ix >= 6) continue;
                s += double(c.weight()(co, (ci * 3 + ky) * 2 + kx)) *
                     x.sample(i)[(ci * 7 + iy) * 6 + ix];
              }
          CHECK(out.sample(i)[(co * 4 + oy) * 4 + ox] == doctest::Approx(s).epsilon(1e-5));
        }
  CHECK_THROWS_AS(c.output_shape({3, 7, 6}), Error);
  CHECK_THROWS_AS(c.output_shape({2, 0, 6}), Error);
  CHECK_THROWS_AS(nn::Conv2d("bad", nn::Conv2dGeometry{1, 1, 3, 3, 0, 0}), Error);
}

TEST_CASE("nn layers: conv2d backward matches central differences") {
  SUBCASE("3x2 kernel, stride 2, padding 1, 5 images") {
    nn::Conv2d c("conv", nn::Conv2dGeometry{2, 3, 3, 2, 2, 1});
    randomize(c, 3);
    check_layer_gradients(c, random_tensor(5, {2, 7, 6}, 30), 31);
  }
  SUBCASE("2x3 kernel, stride 1, no padding") {
    nn::Conv2d c("conv", nn::Conv2dGeometry{3, 2, 2, 3, 1, 0});
    randomize(c, 4);
    check_layer_gradients(c, random_tensor(2, {3, 5, 6}, 40), 41);
  }
}

TEST_CASE("nn layers: relu forward and backward") {
  // Inputs at least 0.1 away from the kink at 0.
  nn::Tensor x = random_tensor(4, {3, 2, 2}, 50);
  for (float& v : x.data) v = std::copysign(0.1f + std::abs(v), v);
  nn::ReLU relu;
  nn::Tensor out;
  relu.forward(x, out, {});
  for (std::size_t i = 0; i < x.data.size(); ++i) CHECK(out.data[i] == std::max(x.data[i], 0.0f));
  check_layer_gradients(relu, x, 51);
}

TEST_CASE("nn layers: max and average pooling on a known input") {
  // One 4x4 plane 0..15 row-major; 2x2 windows, stride 2.
  nn::Tensor x(1, {1, 4, 4});
  for (int i = 0; i < 16; ++i) x.data[static_cast<std::size_t>(i)] = static_cast<float>(i);
  nn::Tensor out;
  nn::MaxPool2d(2).forward(x, out, {});
  CHECK(out.shape == nn::Shape{1, 2, 2});
  CHECK(out.data == std::vector<float>{5, 7, 13, 15});
  nn::AvgPool2d(2).forward(x, out, {});
  CHECK(out.data == std::vector<float>{2.5f, 4.5f, 10.5f, 12.5f});
  // 3x3 windows with stride 1: (4 - 3) / 1 + 1 = 2.
  nn::MaxPool2d(3, 1).forward(x, out, {});
  CHECK(out.data == std::vector<float>{10, 11, 14, 15});
  CHECK_THROWS_AS(nn::MaxPool2d(5).output_shape({1, 4, 4}), Error);
  CHECK_THROWS_AS(nn::MaxPool2d(0), Error);
}

TEST_CASE("nn layers: max pooling keeps the first maximum's rule for NaN, on both paths") {
  // The value is the one at the first maximum of the window, as the backward pass's argmax:
  // a NaN in a window's first cell is the result, a NaN elsewhere loses to the others. The
  // unrolled 2x2 path (stride 2) and the general path (3x3, padded) must agree on that.
  const float nan = std::numeric_limits<float>::quiet_NaN();
  nn::Tensor x(1, {1, 4, 4});
  x.data = {nan, 1,  2,  nan,  //
            3,   4,  5,  6,    //
            7,   8,  9,  10,   //
            11,  12, 13, 14};
  nn::Tensor out;
  nn::MaxPool2d(2).forward(x, out, {});
  REQUIRE(out.data.size() == 4);
  CHECK(std::isnan(out.data[0]));  // first cell NaN
  CHECK(out.data[1] == 6);         // NaN in the window's second cell: max of the rest
  CHECK(out.data[2] == 12);
  CHECK(out.data[3] == 14);
  nn::Pool2dGeometry g{.kernel_h = 3, .kernel_w = 3, .stride_h = 3, .stride_w = 3};
  g.pad_top = g.pad_left = g.pad_bottom = g.pad_right = 1;
  nn::MaxPool2d(g).forward(x, out, {});  // windows rows/cols -1..1 and 2..4, clipped to the input
  REQUIRE(out.data.size() == 4);
  CHECK(std::isnan(out.data[0]));  // the window's first cell inside the input is NaN
  CHECK(out.data[1] == 6);         // cells (0..1, 2..3): NaN at (0, 3) is not first
  CHECK(out.data[2] == 12);
  CHECK(out.data[3] == 14);
}

TEST_CASE("nn layers: pooling and flatten backward match central differences") {
  SUBCASE("maxpool 2x2 stride 2") {
    nn::MaxPool2d p(2);
    check_layer_gradients(p, spaced_values(3, {2, 6, 6}, 60), 61);
  }
  SUBCASE("maxpool 3x3 stride 2, overlapping windows") {
    nn::MaxPool2d p(3, 2);
    check_layer_gradients(p, spaced_values(2, {1, 7, 7}, 62), 63);
  }
  SUBCASE("avgpool 2x2 stride 2") {
    nn::AvgPool2d p(2);
    check_layer_gradients(p, random_tensor(3, {2, 6, 4}, 64), 65);
  }
  SUBCASE("avgpool 3x3 stride 1") {
    nn::AvgPool2d p(3, 1);
    check_layer_gradients(p, random_tensor(2, {1, 5, 5}, 66), 67);
  }
  SUBCASE("flatten") {
    nn::Flatten f;
    CHECK(f.output_shape({2, 3, 4}) == nn::Shape{24});
    check_layer_gradients(f, random_tensor(2, {2, 3, 4}, 68), 69);
  }
}

TEST_CASE("nn loss: softmax cross-entropy value and gradient") {
  // Equal logits: p = 1/10 for every class, L = ln 10, dL/dz = (0.1 - onehot) / N.
  nn::Tensor z(2, {10});
  const std::vector<int> labels{3, 7};
  nn::Tensor g;
  const nn::LossResult r = nn::softmax_cross_entropy(z, labels, &g);
  CHECK(r.loss == doctest::Approx(std::log(10.0)).epsilon(1e-12));
  CHECK(g.sample(0)[3] == doctest::Approx((0.1 - 1) / 2));
  CHECK(g.sample(1)[0] == doctest::Approx(0.1 / 2));
  // A large shift does not overflow (log-sum-exp): logits 1000 and 0 -> L = ln(1 + e^-1000) ~ 0.
  nn::Tensor big(1, {2});
  big.data = {1000.0f, 0.0f};
  CHECK(nn::softmax_cross_entropy(big, std::vector<int>{0}, nullptr).loss == doctest::Approx(0.0));
  CHECK(nn::softmax_cross_entropy(big, std::vector<int>{1}, nullptr).loss ==
        doctest::Approx(1000.0));
  // Central differences on random logits.
  nn::Tensor x = random_tensor(5, {10}, 70, 2.0f);
  const std::vector<int> y{0, 9, 4, 4, 1};
  nn::softmax_cross_entropy(x, y, &g);
  const FdCheck c = central_differences(
      x.data, g.data, [&] { return nn::softmax_cross_entropy(x, y, nullptr).loss; }, 1e-2);
  CHECK(c.max_gradient > 0.1);
  CHECK(c.relative() < rel_tolerance);
  CHECK_THROWS_AS(nn::softmax_cross_entropy(x, std::vector<int>{0, 9, 4, 4, 10}, nullptr), Error);
  CHECK_THROWS_AS(nn::softmax_cross_entropy(x, std::vector<int>{0}, nullptr), Error);
}

TEST_CASE("nn model: backward through every layer type matches central differences") {
  std::vector<std::unique_ptr<nn::Layer>> l;
  l.push_back(std::make_unique<nn::Conv2d>("conv1", nn::Conv2dGeometry{1, 2, 3, 3, 1, 1}));
  l.push_back(std::make_unique<nn::ReLU>());
  l.push_back(std::make_unique<nn::MaxPool2d>(2));
  l.push_back(std::make_unique<nn::Conv2d>("conv2", nn::Conv2dGeometry{2, 3, 2, 2, 1, 0}));
  l.push_back(std::make_unique<nn::ReLU>());
  l.push_back(std::make_unique<nn::AvgPool2d>(2));
  l.push_back(std::make_unique<nn::Flatten>());
  l.push_back(std::make_unique<nn::Dense>("fc1", 3, 4));
  l.push_back(std::make_unique<nn::ReLU>());
  l.push_back(std::make_unique<nn::Dense>("fc2", 4, 3));
  nn::Model m({1, 6, 6}, std::move(l));
  CHECK(m.classes() == 3);
  REQUIRE(m.matmul_layers().size() == 4);
  CHECK(m.matmul_layers()[1].positions == 4);
  CHECK(m.matmul_layers()[1].fan_in == 8);
  CHECK(m.matmul_layers()[1].macs == 3 * 8 * 4);
  // (Keys chosen so that the random network is not dead: the check below requires gradients.)
  for (std::size_t i = 0; i < m.size(); ++i) randomize(m.layer(i), 300 + 10 * i, 0.8f);
  nn::Tensor x = random_tensor(6, {1, 6, 6}, 80);
  const std::vector<int> y{0, 1, 2, 0, 1, 2};
  nn::Tape tape;
  m.forward(x, {}, tape);
  nn::Tensor g, grad_x;
  nn::softmax_cross_entropy(tape.logits(), y, &g);
  nn::Gradients grads;
  m.backward(tape, g, {}, &grads, &grad_x);
  auto loss = [&] { return nn::softmax_cross_entropy(m.forward(x), y, nullptr).loss; };
  // A smaller step: perturbations of the whole network move many ReLU and max-pool inputs, and
  // the softmax is curved; measured errors are below 1e-3 of the largest gradient.
  const FdCheck cx = central_differences(x.data, grad_x.data, loss, 1e-3);
  CHECK(cx.max_gradient > 0.05);
  CHECK(cx.relative() < 1e-2);
  auto params = m.parameters();
  REQUIRE(grads.size() == params.size());
  for (std::size_t k = 0; k < params.size(); ++k) {
    CAPTURE(k);
    const FdCheck c = central_differences(params[k], grads[k], loss, 1e-3);
    CHECK(c.relative() < 1e-2);
  }
  // Frozen weights give the same input gradient.
  nn::Tensor grad_x_frozen;
  m.backward(tape, g, {}, nullptr, &grad_x_frozen);
  CHECK(grad_x_frozen.data == grad_x.data);
}
