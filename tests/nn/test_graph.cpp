// The graph engine (nn/model.hpp with several inputs per node, nn/graph_ops.hpp, the general
// convolution and pooling): input and parameter gradients of every node type against central
// differences, gradient accumulation where a value has several readers, the model file's graph
// form, determinism across batches and threads, and the analog noise of every matrix-product
// node of a residual graph against an independent formula.
#include <omp.h>

#include <array>
#include <cmath>
#include <cstring>
#include <limits>

#include "lumac/nn/analog.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/conv2d.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/graph_ops.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/pool.hpp"
#include "lumac/nn/precision.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

using Nodes = std::vector<std::unique_ptr<nn::Layer>>;

// A graph from nodes and their input lists (value 0: the input; v + 1: node v's output).
nn::Model graph_of(nn::Shape input, std::vector<std::unique_ptr<nn::Layer>> nodes,
                   std::vector<std::vector<int>> inputs) {
  return nn::Model(std::move(input), std::move(nodes), std::move(inputs), {}, {}, "test");
}

// Moves every input at least `gap` away from the kinks listed.
void graph_avoid_kinks(nn::Tensor& x, const std::vector<float>& kinks, float gap) {
  for (float& v : x.data)
    for (float k : kinks)
      if (std::abs(v - k) < gap) v = k + (v < k ? -gap : gap);
}

// dL/dinput (and dL/dparameters, when the model has any) of L = sum r_i out_i, checked against
// central differences. Returns the largest relative error.
double graph_gradient_error(nn::Model& m, nn::Tensor x, double h = 1e-2) {
  nn::Tape tape;
  m.forward(x, {}, tape);
  const nn::Tensor out0 = tape.logits();
  std::vector<float> r(out0.data.size());
  fill_normal(r, 7001);
  nn::Tensor grad_out(out0.batch, out0.shape);
  grad_out.data = r;
  nn::Tensor grad_in;
  nn::Gradients grads;
  const bool has_params = !m.parameter_sizes().empty();
  m.backward(tape, grad_out, {}, has_params ? &grads : nullptr, &grad_in);
  auto loss = [&] { return weighted_sum(m.forward(x), r); };
  FdCheck c = central_differences(x.data, grad_in.data, loss, h);
  double worst = c.relative();
  CHECK(c.max_gradient > 0.1);
  auto params = m.parameters();
  for (std::size_t k = 0; k < params.size(); ++k) {
    const FdCheck p = central_differences(params[k], grads[k], loss, h);
    worst = std::max(worst, p.relative());
  }
  return worst;
}

}  // namespace

TEST_CASE("graph: every unary op's input gradient matches central differences") {
  using K = nn::UnaryKind;
  for (K kind : {K::leaky_relu, K::clip, K::sigmoid, K::tanh, K::exp, K::neg, K::sqrt, K::abs,
                 K::erf, K::pow}) {
    CAPTURE(static_cast<int>(kind));
    nn::Tensor x = random_tensor(3, {2, 3, 4}, 7010);
    if (kind == K::sqrt || kind == K::pow)
      for (float& v : x.data) v = std::abs(v) + 0.5f;
    graph_avoid_kinks(x, {0.0f, -0.5f, 0.7f}, 0.05f);
    Nodes nodes;
    const double a = kind == K::clip ? -0.5 : kind == K::pow ? 1.5 : 0.1;
    nodes.push_back(std::make_unique<nn::Unary>(kind, a, 0.7));
    nn::Model m = graph_of({2, 3, 4}, std::move(nodes), {{0}});
    CHECK(graph_gradient_error(m, x) < 2e-3);
  }
}

TEST_CASE("graph: binary ops broadcast, and a value read twice sums both gradients") {
  using K = nn::BinaryKind;
  for (K kind : {K::add, K::sub, K::mul, K::div}) {
    CAPTURE(static_cast<int>(kind));
    // out = x op (mean over the last axis of |x| + 1), the second operand (2x3x1) broadcast.
    Nodes nodes;
    nodes.push_back(std::make_unique<nn::Unary>(nn::UnaryKind::abs));
    nodes.push_back(std::make_unique<nn::BinaryConst>(nn::BinaryKind::add, nn::Shape{},
                                                      std::vector<float>{1.0f}, false));
    nodes.push_back(std::make_unique<nn::ReduceMean>(std::vector<int>{2}, true));
    nodes.push_back(std::make_unique<nn::Binary>(kind));
    nn::Model m = graph_of({2, 3, 4}, std::move(nodes), {{0}, {1}, {2}, {0, 3}});
    CHECK(m.output_shape() == nn::Shape{2, 3, 4});
    nn::Tensor x = random_tensor(2, {2, 3, 4}, 7020);
    graph_avoid_kinks(x, {0.0f}, 0.05f);
    CHECK(graph_gradient_error(m, x) < 2e-3);
  }
  CHECK_THROWS_WITH_AS(nn::broadcast_shape({2, 3}, {4}), doctest::Contains("do not broadcast"),
                       Error);
}

TEST_CASE("graph: constant operands on either side, per-channel affine, concat, pad, slice") {
  using K = nn::BinaryKind;
  for (K kind : {K::add, K::sub, K::mul, K::div})
    for (bool left : {false, true}) {
      CAPTURE(static_cast<int>(kind));
      CAPTURE(left);
      Nodes nodes;
      nodes.push_back(std::make_unique<nn::BinaryConst>(
          kind, nn::Shape{3, 1}, std::vector<float>{0.5f, -2.0f, 1.5f}, left));
      nn::Model m = graph_of({2, 3, 4}, std::move(nodes), {{0}});
      nn::Tensor x = random_tensor(2, {2, 3, 4}, 7030);
      if (kind == K::div && left)
        for (float& v : x.data) v = v < 0 ? v - 0.5f : v + 0.5f;
      CHECK(graph_gradient_error(m, x) < 2e-3);
    }
  Nodes nodes;
  nodes.push_back(std::make_unique<nn::ChannelAffine>(std::vector<float>{0.5f, -1.0f, 2.0f},
                                                      std::vector<float>{0.1f, 0.2f, -0.3f}));
  nodes.push_back(std::make_unique<nn::Transpose>(std::vector<int>{2, 0, 1}));
  nodes.push_back(std::make_unique<nn::Reshape>(nn::Shape{3, 4, 2}));
  nodes.push_back(std::make_unique<nn::Transpose>(std::vector<int>{1, 0, 2}));  // back to 4x3x2
  nodes.push_back(
      std::make_unique<nn::Pad>(std::vector<int>{1, 0, 2}, std::vector<int>{0, 2, 1}, 0.25f));
  nodes.push_back(std::make_unique<nn::Slice>(
      std::vector<int>{4, 1, 4}, std::vector<int>{-2, 1, -1}, std::vector<int>{3, 3, 4}));
  nodes.push_back(std::make_unique<nn::Concat>(1));
  nn::Model m = graph_of({3, 2, 4}, std::move(nodes), {{0}, {1}, {2}, {3}, {4}, {5}, {6, 6}});
  CHECK(m.output_shape() == nn::Shape{3, 6, 4});
  CHECK(graph_gradient_error(m, random_tensor(2, {3, 2, 4}, 7040)) < 2e-3);
}

TEST_CASE("graph: general convolutions and pooling, gradients of inputs and weights") {
  nn::Conv2dGeometry g{4, 6, 3, 2, 2, 1};
  g.stride_w = 1;
  g.pad_left = 2;
  g.pad_bottom = 0;
  g.pad_right = 1;
  g.dilation_h = 2;
  g.groups = 2;
  auto conv = std::make_unique<nn::Conv2d>("conv", g);
  CHECK(conv->fan_in() == 2 * 3 * 2);
  randomize(*conv, 7050);
  nn::Pool2dGeometry p{.kernel_h = 3,
                       .kernel_w = 2,
                       .stride_h = 2,
                       .stride_w = 1,
                       .pad_top = 1,
                       .pad_left = 1,
                       .pad_bottom = 1,
                       .pad_right = 0,
                       .ceil_mode = true,
                       .count_include_pad = true};
  {
    // Convolution and average pooling are linear: central differences are exact up to rounding.
    Nodes nodes;
    nodes.push_back(std::move(conv));
    nodes.push_back(std::make_unique<nn::AvgPool2d>(p));
    nn::Pool2dGeometry q = p;
    q.count_include_pad = false;
    nodes.push_back(std::make_unique<nn::AvgPool2d>(q));
    nodes.push_back(std::make_unique<nn::Concat>(0));
    nn::Model m = graph_of({4, 7, 6}, std::move(nodes), {{0}, {1}, {1}, {2, 3}});
    // Conv: Ho = (7 + 1 + 0 - 2*2 - 1) / 2 + 1 = 2, Wo = (6 + 2 + 1 - 1 - 1) / 1 + 1 = 8; the
    // pools with ceil mode: ceil((2 + 2 - 3) / 2) + 1 = 2 rows (the second window starts at
    // row 1, inside the input, so it is kept), (8 + 1 - 2) / 1 + 1 = 8 columns.
    CHECK(m.shape(1) == nn::Shape{6, 2, 8});
    CHECK(m.output_shape() == nn::Shape{12, 2, 8});
    CHECK(graph_gradient_error(m, random_tensor(2, {4, 7, 6}, 7051)) < 2e-3);
  }
  {
    // Max pooling on inputs 0.05 apart, so that no step of 2h = 0.02 changes a window's maximum.
    Nodes nodes;
    p.count_include_pad = false;
    nodes.push_back(std::make_unique<nn::MaxPool2d>(p));
    nn::Model m = graph_of({3, 5, 4}, std::move(nodes), {{0}});
    nn::Tensor x(2, {3, 5, 4});
    for (std::size_t i = 0; i < x.data.size(); ++i)
      x.data[i] = 0.05f * static_cast<float>((i * 37) % x.data.size()) - 1.0f;
    CHECK(m.output_shape() == nn::Shape{3, 3, 4});
    CHECK(graph_gradient_error(m, x) < 2e-3);
  }
}

TEST_CASE("graph: the model file stores the graph, and a v2 file reads back bit for bit") {
  Nodes nodes;
  nn::Conv2dGeometry g{1, 4, 3, 3, 1, 1};
  g.groups = 1;
  g.dilation_w = 2;
  g.pad_right = 3;
  auto c = std::make_unique<nn::Conv2d>("c1", g);
  randomize(*c, 7060);
  nodes.push_back(std::move(c));
  nodes.push_back(std::make_unique<nn::Unary>(nn::UnaryKind::leaky_relu, 0.1));
  nodes.push_back(std::make_unique<nn::ChannelAffine>(std::vector<float>{1, 2, 3, 4},
                                                      std::vector<float>{0, 1, 0, -1}));
  nodes.push_back(std::make_unique<nn::Binary>(nn::BinaryKind::add));
  nodes.push_back(std::make_unique<nn::ReduceMean>(std::vector<int>{1, 2}, false));
  auto d = std::make_unique<nn::Dense>("fc", 4, 3);
  randomize(*d, 7061);
  nodes.push_back(std::move(d));
  nn::Model m(nn::Shape{1, 5, 5}, std::move(nodes), {{0}, {1}, {2}, {2, 3}, {4}, {5}},
              {"conv", "act", "bn", "skip", "pool", "fc"}, {}, "custom");
  CHECK_FALSE(m.sequential());
  CHECK(m.summary().find("skip <- act, bn") != std::string::npos);
  TempDir tmp;
  nn::save_model(m, tmp / "g.h5", false);
  const nn::Model back = nn::load_model(tmp / "g.h5");
  CHECK(back.size() == m.size());
  CHECK(back.node_inputs(3) == std::vector<int>{2, 3});
  CHECK(back.node_name(3) == "skip");
  const nn::Tensor x = random_tensor(4, {1, 5, 5}, 7062);
  const nn::Tensor a = m.forward(x), b = back.forward(x);
  CHECK(std::memcmp(a.data.data(), b.data.data(), a.data.size() * sizeof(float)) == 0);
  // A node may only read values computed before it.
  Nodes bad;
  bad.push_back(std::make_unique<nn::ReLU>());
  CHECK_THROWS_WITH_AS(graph_of({3}, std::move(bad), {{1}}),
                       doctest::Contains("not computed before it"), Error);
}

namespace {

// A small residual graph: conv -> relu -> {conv a, conv b (identical weights)} ; a + relu1 ;
// concat(a-branch, b) ; reduce over the image ; dense.
nn::Model graph_residual() {
  Nodes nodes;
  auto c1 = std::make_unique<nn::Conv2d>("c1", nn::Conv2dGeometry{1, 3, 3, 3, 1, 1});
  randomize(*c1, 7070);
  auto ca = std::make_unique<nn::Conv2d>("ca", nn::Conv2dGeometry{3, 3, 3, 3, 1, 1});
  randomize(*ca, 7071);
  auto cb = std::make_unique<nn::Conv2d>("cb", nn::Conv2dGeometry{3, 3, 3, 3, 1, 1});
  cb->weight() = ca->weight();
  cb->bias() = ca->bias();
  auto fc = std::make_unique<nn::Dense>("fc", 6, 4);
  randomize(*fc, 7072);
  nodes.push_back(std::move(c1));                                                    // 1
  nodes.push_back(std::make_unique<nn::ReLU>());                                     // 2
  nodes.push_back(std::move(ca));                                                    // 3
  nodes.push_back(std::move(cb));                                                    // 4
  nodes.push_back(std::make_unique<nn::Binary>(nn::BinaryKind::add));                // 5 = 3 + 2
  nodes.push_back(std::make_unique<nn::Concat>(0));                                  // 6 = [5, 4]
  nodes.push_back(std::make_unique<nn::ReduceMean>(std::vector<int>{1, 2}, false));  // 7
  nodes.push_back(std::move(fc));                                                    // 8
  return nn::Model(nn::Shape{1, 6, 6}, std::move(nodes),
                   {{0}, {1}, {2}, {2}, {3, 2}, {5, 4}, {6}, {7}}, {}, {}, "residual");
}

}  // namespace

TEST_CASE("graph: shot noise of every node of a residual graph follows ||w|| ||x|| / sqrt(D E)") {
  const nn::Model m = graph_residual();
  const double photons = 3.0;
  const nn::AnalogExecutor ex(nn::NoiseMode::shot_only, shot_layers(m, photons), CircuitParams{},
                              NoiseSources::all(), 11);
  const GraphNoiseProbe probe(ex, m.matmul_layers().size(), photons);
  nn::Tensor x = random_tensor(64, {1, 6, 6}, 7080);
  m.forward(x, nn::Pass{.samples = {}, .hook = &probe});
  for (std::size_t k = 0; k < m.matmul_layers().size(); ++k) {
    CAPTURE(m.matmul_layers()[k].name);
    const Moments z = moments(probe.z(k));
    const double n = static_cast<double>(probe.z(k).size());
    CHECK(n >= 256);
    // z = noise / formula std is standard normal: mean 0, variance 1 within 5 standard errors.
    CHECK(std::abs(z.mean) < mean_tolerance(1.0, n));
    CHECK(std::abs(z.variance - 1.0) < variance_tolerance(1.0, n));
  }
  // Nodes ca and cb compute the same product of the same inputs: their noise is independent.
  const auto& a = probe.z(1);
  const auto& b = probe.z(2);
  REQUIRE(a.size() == b.size());
  double sab = 0, saa = 0, sbb = 0;
  for (std::size_t i = 0; i < a.size(); ++i) {
    sab += a[i] * b[i];
    saa += a[i] * a[i];
    sbb += b[i] * b[i];
  }
  const double rho = sab / std::sqrt(saa * sbb);
  CHECK(std::abs(rho) < 5.0 / std::sqrt(static_cast<double>(a.size())));
}

TEST_CASE("graph: a residual graph's noisy outputs do not depend on batch size or threads") {
  const nn::Model m = graph_residual();
  const nn::AnalogExecutor ex(nn::NoiseMode::shot_only, shot_layers(m, 2.0), CircuitParams{},
                              NoiseSources::all(), 5);
  nn::Tensor x = random_tensor(70, {1, 6, 6}, 7090);
  const int threads_before = omp_get_max_threads();
  auto run = [&](int batch) {
    std::vector<float> all;
    for (int first = 0; first < x.batch; first += batch) {
      const int count = std::min(batch, x.batch - first);
      nn::Tensor part(count, x.shape);
      std::copy(x.sample(first), x.sample(first) + count * x.sample_size(), part.data.begin());
      std::vector<std::int64_t> s(static_cast<std::size_t>(count));
      for (int j = 0; j < count; ++j) s[static_cast<std::size_t>(j)] = first + j;
      const nn::Tensor out = m.forward(part, nn::Pass{.samples = s, .hook = &ex});
      all.insert(all.end(), out.data.begin(), out.data.end());
    }
    return all;
  };
  omp_set_num_threads(1);
  const auto ref = run(70);
  for (int threads : {1, 2})
    for (int batch : {1, 7, 70}) {
      omp_set_num_threads(threads);
      CAPTURE(threads);
      CAPTURE(batch);
      const auto out = run(batch);
      CHECK(std::memcmp(out.data(), ref.data(), ref.size() * sizeof(float)) == 0);
    }
  omp_set_num_threads(threads_before);
}

namespace {

// A small calibrated residual graph on Fashion-MNIST images: conv -> relu -> {conv, identity}
// -> add -> relu -> maxpool -> {identity, grouped conv} -> concat -> flatten -> dense.
nn::Model graph_fmnist_residual() {
  Nodes nodes;
  auto c1 = std::make_unique<nn::Conv2d>("c1", nn::Conv2dGeometry{1, 4, 3, 3, 2, 1});
  randomize(*c1, 7100, 0.4f);
  auto c2 = std::make_unique<nn::Conv2d>("c2", nn::Conv2dGeometry{4, 4, 3, 3, 1, 1});
  randomize(*c2, 7101, 0.3f);
  nn::Conv2dGeometry g3{4, 2, 1, 1, 1, 0};
  g3.groups = 2;  // a grouped product: two groups of 2 inputs and 1 output
  auto c3 = std::make_unique<nn::Conv2d>("c3", g3);
  randomize(*c3, 7102, 0.3f);
  auto fc = std::make_unique<nn::Dense>("fc", 6 * 7 * 7, 10);
  randomize(*fc, 7103, 0.1f);
  nodes.push_back(std::move(c1));                                      // 1: 4x14x14
  nodes.push_back(std::make_unique<nn::ReLU>());                       // 2
  nodes.push_back(std::move(c2));                                      // 3
  nodes.push_back(std::make_unique<nn::Binary>(nn::BinaryKind::add));  // 4 = 3 + 2
  nodes.push_back(std::make_unique<nn::ReLU>());                       // 5
  nodes.push_back(std::make_unique<nn::MaxPool2d>(2));                 // 6: 4x7x7
  nodes.push_back(std::move(c3));                                      // 7: 2x7x7
  nodes.push_back(std::make_unique<nn::Concat>(0));                    // 8: 6x7x7
  nodes.push_back(std::make_unique<nn::Flatten>());                    // 9
  nodes.push_back(std::move(fc));                                      // 10
  return nn::Model(nn::Shape{1, 28, 28}, std::move(nodes),
                   {{0}, {1}, {2}, {3, 2}, {4}, {5}, {6}, {6, 7}, {8}, {9}}, {}, {}, "residual");
}

}  // namespace

TEST_CASE("graph: precision gradients on a residual graph match central differences") {
  nn::Model m = graph_fmnist_residual();
  const nn::DatasetSplits data = nn::load_fashion_mnist(nn::fashion_mnist_dir());
  m.set_calibration(nn::calibrate(m, data.train, 200));
  const Settings s = load_settings({}, {});
  const nn::Batch batch = nn::make_batch(data.train, 0, 16);
  for (auto mode : {nn::NoiseMode::shot_only, nn::NoiseMode::weight_only}) {
    auto layers = nn::analog_layers(m);
    for (std::size_t l = 0; l < layers.size(); ++l) layers[l].energy = {0.2 + 0.3 * l};
    nn::PrecisionOptions o;
    o.mode = mode;
    o.target_energy = 1e-9;  // the hinge is active: lambda ln E_avg counts too
    o.constrained = false;
    o.lambda = 2;
    o.seed = 3;
    const auto g = nn::precision_gradient(m, batch, layers, s.circuit, NoiseSources::all(), o, 29);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      const double h = 1e-3;
      auto loss_at = [&](double dtheta) {
        auto moved = layers;
        moved[l].energy[0] *= std::exp(dtheta);
        return nn::precision_gradient(m, batch, moved, s.circuit, NoiseSources::all(), o, 29).loss;
      };
      CAPTURE(static_cast<int>(mode));
      CAPTURE(l);
      // Same noise draws (same seed): smooth in ln E apart from ReLU and max kinks, which a step
      // of 1e-3 rarely crosses; 2% covers the central difference's truncation.
      CHECK(g.d_theta[l][0] ==
            doctest::Approx((loss_at(h) - loss_at(-h)) / (2 * h)).epsilon(0.02).scale(1e-3));
    }
  }
}

TEST_CASE("graph: a grouped convolution draws each output's noise as the whole layer would") {
  // enob mode adds sigma z with one sigma per layer: a grouped convolution and the same layer
  // with block-diagonal weights (one product of all outputs) must add the same z to every
  // output, whatever group it belongs to, and shot noise must follow the group's own fan-in.
  nn::Conv2dGeometry g{4, 6, 3, 3, 1, 1};
  g.groups = 2;
  nn::Conv2d grouped("g", g);
  randomize(grouped, 7110);
  nn::Conv2d full("g", nn::Conv2dGeometry{4, 6, 3, 3, 1, 1});
  full.weight().setZero();
  for (int o = 0; o < 6; ++o)  // output o reads input channels of its group only
    for (int k = 0; k < 18; ++k) full.weight()(o, (o / 3) * 18 + k) = grouped.weight()(o, k);
  full.bias() = grouped.bias();
  const nn::Tensor x = random_tensor(3, {4, 5, 5}, 7111);
  nn::Tensor clean_g, clean_f, noisy_g, noisy_f;
  grouped.forward(x, clean_g, {});
  full.forward(x, clean_f, {});
  for (const nn::Tensor* t : {&clean_g, &clean_f}) CHECK(t->data.size() == 3u * 6 * 25);
  std::vector<nn::AnalogLayer> layers(1);
  layers[0].name = "g";
  layers[0].outputs = 6;
  layers[0].output_lo = -1;
  layers[0].output_hi = 1;
  layers[0].enob = 4;
  {
    layers[0].fan_in = 18;
    const nn::AnalogExecutor ex(nn::NoiseMode::enob, layers, CircuitParams{}, NoiseSources::all(),
                                9);
    grouped.forward(x, noisy_g, nn::Pass{.samples = {}, .hook = &ex});
  }
  {
    layers[0].fan_in = 36;
    const nn::AnalogExecutor ex(nn::NoiseMode::enob, layers, CircuitParams{}, NoiseSources::all(),
                                9);
    full.forward(x, noisy_f, nn::Pass{.samples = {}, .hook = &ex});
  }
  double worst = 0;
  for (std::size_t i = 0; i < noisy_g.data.size(); ++i)
    worst = std::max(worst, std::abs(double(noisy_g.data[i] - clean_g.data[i]) -
                                     double(noisy_f.data[i] - clean_f.data[i])));
  CHECK(worst < 1e-5);  // the same normals; the products differ only in rounding
  // Shot noise: var = ||w_i||^2 ||x_j||^2 / (D E) with the group's D = 18 and x_j the group's
  // receptive field.
  layers[0].fan_in = 18;
  layers[0].energy = {2.0};
  const nn::AnalogExecutor shot(nn::NoiseMode::shot_only, layers, CircuitParams{},
                                NoiseSources::all(), 10);
  const GraphNoiseProbe probe(shot, 1, 2.0);
  const nn::Tensor many = random_tensor(100, {4, 5, 5}, 7112);
  nn::Tensor out;
  grouped.forward(many, out, nn::Pass{.samples = {}, .hook = &probe});
  const Moments z = moments(probe.z(0));
  const double n = static_cast<double>(probe.z(0).size());
  CHECK(n == 100.0 * 6 * 25);
  CHECK(std::abs(z.mean) < mean_tolerance(1.0, n));
  CHECK(std::abs(z.variance - 1.0) < variance_tolerance(1.0, n));
}

TEST_CASE("graph: physical noise on a grouped convolution is each group's, on the chip's devices") {
  // A grouped convolution (2 groups, 4 -> 6 channels, a different E per output) under the whole
  // circuit model (every noise source, the chip's static errors and LO phase noise) against, for
  // each group, a convolution of the group's 2 input channels to all 6 outputs whose weights are
  // the group's rows and zero elsewhere: its rows of that group sit on the same weight
  // modulators and detectors, draw the same normals and see the same inputs, so they must read
  // the same outputs (up to the rounding of the products), and so must the backward pass
  // through the noise (precision learning's d/d ln E and d/dX).
  nn::Conv2dGeometry g{4, 6, 3, 3, 1, 1};
  g.groups = 2;
  nn::Conv2d grouped("g", g);
  randomize(grouped, 7120);
  const nn::Tensor x = random_tensor(3, {4, 5, 5}, 7121);
  std::vector<nn::AnalogLayer> layers(1);
  layers[0].name = "g";
  layers[0].fan_in = 18;
  layers[0].outputs = 6;
  layers[0].input_lo = -3;
  layers[0].input_hi = 3;
  layers[0].output_lo = -4;
  layers[0].output_hi = 4;
  layers[0].energy = {0.5, 1.0, 2.0, 4.0, 8.0, 16.0};
  CircuitParams circuit;
  circuit.system.fan_out = 4;  // a tile of 4 outputs: the groups' rows cross its edge
  circuit.system.lo_phase_noise_rad = 0.05;
  circuit.system.lo_phase_error_rad = 0.03;  // static device errors per modulator and detector
  circuit.system.splitter_imbalance = 0.02;
  circuit.modulator.bias_error_rad = 0.02;
  circuit.modulator.v_pi_spread = 0.02;
  circuit.detector.responsivity_mismatch = 0.01;
  const nn::AnalogExecutor ex(nn::NoiseMode::physical, layers, circuit, NoiseSources::all(), 12);
  nn::Tensor y;
  grouped.forward(x, y, nn::Pass{.samples = {}, .hook = &ex});
  const auto by_source = ex.report().at(0).by_source;
  const auto has = [&](const std::string& name) {
    return std::any_of(by_source.begin(), by_source.end(),
                       [&](const auto& e) { return e.first == name && e.second > 0; });
  };
  CHECK(has("static"));  // the chip model ran, with its static errors and phase noise
  CHECK(has("phase_noise"));
  nn::Tensor dy(3, y.shape);
  for (std::size_t e = 0; e < dy.data.size(); ++e) dy.data[e] = std::sin(0.37f * float(e));
  nn::Tensor dx;
  grouped.backward(x, y, dy, &dx, {}, nn::Pass{.samples = {}, .hook = &ex});
  for (int gi = 0; gi < 2; ++gi) {
    CAPTURE(gi);
    nn::Conv2d padded("g", nn::Conv2dGeometry{2, 6, 3, 3, 1, 1});
    padded.weight().setZero();
    padded.weight().middleRows(gi * 3, 3) = grouped.weight().middleRows(gi * 3, 3);
    padded.bias() = grouped.bias();
    nn::Tensor xg(3, {2, 5, 5});
    for (int i = 0; i < 3; ++i) std::copy_n(x.sample(i) + gi * 50, 50, xg.sample(i));
    const nn::AnalogExecutor ex_p(nn::NoiseMode::physical, layers, circuit, NoiseSources::all(),
                                  12);
    nn::Tensor yp, dxp;
    padded.forward(xg, yp, nn::Pass{.samples = {}, .hook = &ex_p});
    padded.backward(xg, yp, dy, &dxp, {}, nn::Pass{.samples = {}, .hook = &ex_p});
    double worst = 0, scale = 0, worst_dx = 0, scale_dx = 0;
    for (int i = 0; i < 3; ++i) {
      for (int e = gi * 75; e < gi * 75 + 75; ++e) {  // the group's 3 channels of 25 positions
        worst = std::max(worst, std::abs(double(yp.sample(i)[e]) - y.sample(i)[e]));
        scale = std::max(scale, std::abs(double(y.sample(i)[e])));
      }
    }
    CHECK(worst < 1e-5 * scale);
    // dL/dx of the group's input channels: only its rows of dy reach them in the grouped
    // layer; the padded layer's zero rows add nothing but their noise's dependence on x, so
    // compare with the other rows' dy set to zero.
    nn::Tensor dy_g = dy;
    for (int i = 0; i < 3; ++i)
      for (int e = 0; e < 150; ++e)
        if (e / 75 != gi) dy_g.sample(i)[e] = 0;
    padded.backward(xg, yp, dy_g, &dxp, {}, nn::Pass{.samples = {}, .hook = &ex_p});
    for (int i = 0; i < 3; ++i)
      for (int e = 0; e < 50; ++e) {
        worst_dx =
            std::max(worst_dx, std::abs(double(dxp.sample(i)[e]) - dx.sample(i)[gi * 50 + e]));
        scale_dx = std::max(scale_dx, std::abs(double(dx.sample(i)[gi * 50 + e])));
      }
    CHECK(worst_dx < 1e-4 * scale_dx);
  }
}

TEST_CASE("graph: calibration measures the input of each product, not the node before it") {
  // Node 2 (conv b) reads the model input, while node 1 (the node before it) is the negated
  // output of conv a: b's input range must be the pixels' range.
  Nodes nodes;
  auto a = std::make_unique<nn::Conv2d>("a", nn::Conv2dGeometry{1, 2, 3, 3, 1, 1});
  randomize(*a, 7110, 0.5f);
  auto b = std::make_unique<nn::Conv2d>("b", nn::Conv2dGeometry{1, 2, 3, 3, 1, 1});
  randomize(*b, 7111, 0.5f);
  nodes.push_back(std::move(a));
  nodes.push_back(std::make_unique<nn::Unary>(nn::UnaryKind::neg));
  nodes.push_back(std::move(b));
  nodes.push_back(std::make_unique<nn::Binary>(nn::BinaryKind::add));
  nodes.push_back(std::make_unique<nn::Flatten>());
  nn::Model m(nn::Shape{1, 28, 28}, std::move(nodes), {{0}, {1}, {0}, {2, 3}, {4}}, {}, {},
              "two_branches");
  REQUIRE(m.matmul_layers()[1].input_value == 0);
  const nn::DatasetSplits data = nn::load_fashion_mnist(nn::fashion_mnist_dir());
  const nn::Calibration c = nn::calibrate(m, data.train, 40);
  const nn::Batch batch = nn::make_batch(data.train, 0, 40);
  std::vector<float> pixels = batch.images.data;
  const double lo = nn::percentile(pixels, c.percentile_lo);
  const double hi = nn::percentile(pixels, c.percentile_hi);
  CHECK(c.layers[1].input_lo == static_cast<float>(lo));
  CHECK(c.layers[1].input_hi == static_cast<float>(hi));
  CHECK(c.layers[1].input_lo >= 0);  // the negated branch would give a negative range
}

TEST_CASE("graph: softmax and layer norm, their input gradients and their stored form") {
  for (int axis : {0, 1, 2}) {
    CAPTURE(axis);
    Nodes nodes;
    nodes.push_back(std::make_unique<nn::Softmax>(axis));
    nn::Model m = graph_of({2, 3, 4}, std::move(nodes), {{0}});
    const nn::Tensor x = random_tensor(2, {2, 3, 4}, 7120, 2.0f);
    const nn::Tensor y = m.forward(x);
    // Every slice along the axis sums to 1.
    const int n = nn::Shape{2, 3, 4}[static_cast<std::size_t>(axis)];
    double total = 0;
    for (float v : y.data) total += v;
    CHECK(total == doctest::Approx(2.0 * 24 / n).epsilon(1e-5));
    CHECK(graph_gradient_error(m, x) < 2e-3);
  }
  for (int axis : {1, 2}) {
    CAPTURE(axis);
    const int inner = axis == 1 ? 12 : 4;
    std::vector<float> scale(static_cast<std::size_t>(inner)), bias(scale.size());
    fill_normal(scale, 7121);
    fill_normal(bias, 7122);
    Nodes nodes;
    nodes.push_back(std::make_unique<nn::LayerNorm>(axis, 1e-5, scale, bias));
    nn::Model m = graph_of({2, 3, 4}, std::move(nodes), {{0}});
    const nn::Tensor x = random_tensor(2, {2, 3, 4}, 7123, 3.0f);
    const nn::Tensor y = m.forward(x);
    // Row 0 of the normalised block against the formula in double.
    double mean = 0, var = 0;
    for (int k = 0; k < inner; ++k) mean += x.data[static_cast<std::size_t>(k)] / inner;
    for (int k = 0; k < inner; ++k)
      var += (x.data[static_cast<std::size_t>(k)] - mean) *
             (x.data[static_cast<std::size_t>(k)] - mean) / inner;
    for (int k = 0; k < inner; ++k) {
      const auto u = static_cast<std::size_t>(k);
      CHECK(y.data[u] ==
            doctest::Approx((x.data[u] - mean) / std::sqrt(var + 1e-5) * scale[u] + bias[u])
                .epsilon(1e-5));
    }
    CHECK(graph_gradient_error(m, x) < 2e-3);
    TempDir tmp;
    nn::save_model(m, tmp / "ln.h5", false);
    const nn::Tensor back = nn::load_model(tmp / "ln.h5").forward(x);
    CHECK(std::memcmp(back.data.data(), y.data.data(), y.data.size() * sizeof(float)) == 0);
  }
  CHECK_THROWS_WITH_AS(nn::LayerNorm(1, 1e-5, {1, 2}, {0}), doctest::Contains("2 scale and 1 bias"),
                       Error);
}

TEST_CASE("graph: token ids through gather, a mask through equal, and reduce_sum") {
  // Ids (4 per sample) pick rows of a 5 x 2 x 3 table; equal(ids, 0) marks the padding;
  // the output is the sum over tokens of each row times (1 - mask), a masked pooling.
  std::vector<float> table(30);
  fill_normal(table, 7130);
  Nodes nodes;
  nodes.push_back(std::make_unique<nn::Gather>(nn::Shape{5, 2, 3}, table));  // 1: (4, 2, 3)
  nodes.push_back(std::make_unique<nn::BinaryConst>(nn::BinaryKind::equal, nn::Shape{},
                                                    std::vector<float>{0.0f}, false));  // 2: (4)
  nodes.push_back(std::make_unique<nn::BinaryConst>(nn::BinaryKind::sub, nn::Shape{},
                                                    std::vector<float>{1.0f}, true));    // 3: 1 - m
  nodes.push_back(std::make_unique<nn::Reshape>(nn::Shape{4, 1, 1}));                    // 4
  nodes.push_back(std::make_unique<nn::Binary>(nn::BinaryKind::mul));                    // 5
  nodes.push_back(std::make_unique<nn::ReduceMean>(std::vector<int>{0}, false, false));  // 6: sum
  nn::Model m = graph_of({4}, std::move(nodes), {{0}, {0}, {2}, {3}, {1, 4}, {5}});
  CHECK(m.output_shape() == nn::Shape{2, 3});
  nn::Tensor ids(2, {4});
  ids.data = {3, 0, 4, 1, 0, 0, 2, 2};
  const nn::Tensor y = m.forward(ids);
  for (int s = 0; s < 2; ++s)
    for (int e = 0; e < 6; ++e) {
      double want = 0;
      for (int t = 0; t < 4; ++t) {
        const int id = static_cast<int>(ids.data[static_cast<std::size_t>(s * 4 + t)]);
        if (id != 0) want += table[static_cast<std::size_t>(id * 6 + e)];
      }
      CHECK(y.data[static_cast<std::size_t>(s * 6 + e)] == doctest::Approx(want).epsilon(1e-6));
    }
  // The ids get a zero gradient; the model file keeps the table and the sum.
  nn::Tape tape;
  m.forward(ids, {}, tape);
  nn::Tensor g(2, {2, 3}), grad_in;
  std::fill(g.data.begin(), g.data.end(), 1.0f);
  m.backward(tape, g, {}, nullptr, &grad_in);
  CHECK(std::all_of(grad_in.data.begin(), grad_in.data.end(), [](float v) { return v == 0; }));
  TempDir tmp;
  nn::save_model(m, tmp / "gather.h5", false);
  const nn::Tensor back = nn::load_model(tmp / "gather.h5").forward(ids);
  CHECK(std::memcmp(back.data.data(), y.data.data(), y.data.size() * sizeof(float)) == 0);
  // An id outside the table, or not an integer, stops the pass before it starts.
  for (float bad : {5.0f, -1.0f, 2.5f}) {
    nn::Tensor b = ids;
    b.data[6] = bad;
    CHECK_THROWS_WITH_AS(m.forward(b), doctest::Contains("node 'node0'"), Error);
    CHECK_THROWS_WITH_AS(m.forward(b), doctest::Contains("sample 1 position 2"), Error);
  }
}

TEST_CASE("graph: reduce_sum's input gradient matches central differences") {
  Nodes nodes;
  nodes.push_back(std::make_unique<nn::ReduceMean>(std::vector<int>{0, 2}, true, false));
  nn::Model m = graph_of({2, 3, 4}, std::move(nodes), {{0}});
  CHECK(m.output_shape() == nn::Shape{1, 3, 1});
  const nn::Tensor x = random_tensor(2, {2, 3, 4}, 7140);
  CHECK(m.forward(x).data[0] == doctest::Approx([&] {
                                  double s = 0;
                                  for (int a = 0; a < 2; ++a)
                                    for (int c = 0; c < 4; ++c)
                                      s += x.data[static_cast<std::size_t>(a * 12 + c)];
                                  return s;
                                }())
                                    .epsilon(1e-6));
  CHECK(graph_gradient_error(m, x) < 2e-3);
}

TEST_CASE("graph: where picks x or y by a mask; gradients follow the pick; constants broadcast") {
  // 1 = tanh(x); 2 = where(a constant (3, 1) mask broadcast, x, tanh(x)); 3 = equal(x, 0), a
  // mask from an activation; 4 = where(3, the constant -1e30, 2), masked_fill's form.
  Nodes nodes;
  nodes.push_back(std::make_unique<nn::Unary>(nn::UnaryKind::tanh));  // 1: (2, 3, 4)
  std::array<nn::Where::Operand, 3> a;
  a[0] = {true, nn::Shape{3, 1}, {1.0f, 0.0f, 1.0f}};
  nodes.push_back(std::make_unique<nn::Where>(a));  // 2: rows 0 and 2 from x, row 1 from tanh
  nodes.push_back(std::make_unique<nn::BinaryConst>(nn::BinaryKind::equal, nn::Shape{},
                                                    std::vector<float>{0.0f}, false));  // 3
  std::array<nn::Where::Operand, 3> b;
  b[1] = {true, nn::Shape{}, {-1e30f}};
  nodes.push_back(std::make_unique<nn::Where>(b));  // 4: where(3, -1e30, 2)
  nn::Model m = graph_of({2, 3, 4}, std::move(nodes), {{0}, {0, 1}, {0}, {3, 2}});
  CHECK(m.output_shape() == nn::Shape{2, 3, 4});
  nn::Tensor x = random_tensor(2, {2, 3, 4}, 7150);
  graph_avoid_kinks(x, {0.0f}, 0.05f);
  const nn::Tensor y = m.forward(x);
  for (std::size_t e = 0; e < x.data.size(); ++e) {
    const bool from_x = (e / 4) % 3 != 1;
    CHECK(y.data[e] == (from_x ? x.data[e] : std::tanh(x.data[e])));
  }
  CHECK(graph_gradient_error(m, x) < 2e-3);
  // A zero picks the constant; the model file keeps both nodes.
  x.data[5] = 0.0f;
  const nn::Tensor z = m.forward(x);
  CHECK(z.data[5] == -1e30f);
  TempDir tmp;
  nn::save_model(m, tmp / "where.h5", false);
  const nn::Tensor back = nn::load_model(tmp / "where.h5").forward(x);
  CHECK(std::memcmp(back.data.data(), z.data.data(), z.data.size() * sizeof(float)) == 0);
  // A non-finite constant is refused (the importer writes -inf as the lowest float).
  std::array<nn::Where::Operand, 3> bad;
  bad[2] = {true, nn::Shape{}, {-std::numeric_limits<float>::infinity()}};
  CHECK_THROWS_WITH_AS(nn::Where{bad}, doctest::Contains("non-finite"), Error);
}
