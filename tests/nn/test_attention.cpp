// Products of two activations (nn/act_matmul.hpp), as attention computes them: shot noise of
// every element against the formula ||a_j|| ||b_i|| / sqrt(D E) computed here from the operands,
// independence of the noise across elements and heads, gradients through both operands (with
// the noise) and through ln E against central differences, the calibration of the second
// operand's range, the energy account, the model file, and physical noise with both operands
// clipped at their full scales.
#include <algorithm>
#include <cstring>

#include "lumac/energy/energy_model.hpp"
#include "lumac/nn/act_matmul.hpp"
#include "lumac/nn/analog.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/graph_ops.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/onnx_import.hpp"
#include "lumac/nn/precision.hpp"
#include "lumac/studies/network_work.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

using Nodes = std::vector<std::unique_ptr<nn::Layer>>;

constexpr int heads = 2, rows = 3, depth = 4;  // A is heads x M x D per sample

// Y = A A^T per head: value 0 is A (heads x M x D), node 0 its transpose B = A^T (D x M per
// head), node 1 the product (heads x M x M); with `classes`, a flatten and a dense classifier
// follow.
nn::Model self_product(int classes = 0) {
  Nodes nodes;
  nodes.push_back(std::make_unique<nn::Transpose>(std::vector<int>{0, 2, 1}));
  nodes.push_back(std::make_unique<nn::ActMatmul>("qk", depth, rows));
  std::vector<std::vector<int>> inputs{{0}, {0, 1}};
  if (classes > 0) {
    nodes.push_back(std::make_unique<nn::Flatten>());
    auto fc = std::make_unique<nn::Dense>("fc", heads * rows * rows, classes);
    randomize(*fc, 7201, 0.3f);
    nodes.push_back(std::move(fc));
    inputs.push_back({2});
    inputs.push_back({3});
  }
  return nn::Model(nn::Shape{heads, rows, depth}, std::move(nodes), std::move(inputs), {}, {},
                   "attention_test");
}

// dL/dA of L = sum r_i out_i (the backward through both operands of the product and the
// pass's hook) against central differences with step 1e-2: the largest relative error.
double input_gradient_error(const nn::Model& m, nn::Tensor& a, const nn::Pass& pass,
                            const std::vector<float>& r) {
  nn::Tape tape;
  m.forward(a, pass, tape);
  nn::Tensor grad_out(a.batch, m.output_shape());
  std::copy(r.begin(), r.end(), grad_out.data.begin());
  nn::Tensor grad_in;
  m.backward(tape, grad_out, pass, nullptr, &grad_in);
  return central_differences(
             a.data, grad_in.data, [&] { return weighted_sum(m.forward_outputs(a, pass)[0], r); },
             1e-2)
      .relative();
}

// Row j of head h of sample s of A: its squared norm.
double row_norm2(const nn::Tensor& a, int s, int h, int j) {
  double n = 0;
  for (int k = 0; k < depth; ++k) {
    const double v = a.sample(s)[(h * rows + j) * depth + k];
    n += v * v;
  }
  return n;
}

}  // namespace

TEST_CASE("attention: the product of two activations is exact without noise") {
  const nn::Model m = self_product();
  REQUIRE(m.matmul_layers().size() == 1);
  const auto& info = m.matmul_layers()[0];
  CHECK(info.activation_operands());
  CHECK(info.weight_value == 1);
  CHECK(info.fan_in == depth);
  CHECK(info.outputs == rows);
  CHECK(info.positions == heads * rows);
  CHECK(info.macs == std::int64_t{heads} * rows * rows * depth);
  CHECK(m.matmul_layer(0).parameters().empty());
  const nn::Tensor a = random_tensor(3, {heads, rows, depth}, 7200);
  const nn::Tensor y = m.forward_outputs(a)[0];
  REQUIRE(y.shape == nn::Shape{heads, rows, rows});
  for (int s = 0; s < 3; ++s)
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < rows; ++j)
        for (int i = 0; i < rows; ++i) {
          double dot = 0;
          for (int k = 0; k < depth; ++k)
            dot += double(a.sample(s)[(h * rows + j) * depth + k]) *
                   a.sample(s)[(h * rows + i) * depth + k];
          CHECK(y.sample(s)[(h * rows + j) * rows + i] == doctest::Approx(dot).epsilon(1e-5));
        }
}

TEST_CASE(
    "attention: shot noise of A B follows ||a_j|| ||b_i|| / sqrt(D E), independent per element") {
  const nn::Model m = self_product();
  const double photons = 2.5;
  const nn::AnalogExecutor ex(nn::NoiseMode::shot_only, shot_layers(m, photons), CircuitParams{},
                              NoiseSources::all(), 17);
  const int n = 3000;
  const nn::Tensor a = random_tensor(n, {heads, rows, depth}, 7202);
  const nn::Tensor clean = m.forward_outputs(a)[0];
  const nn::Tensor noisy = m.forward_outputs(a, nn::Pass{.samples = {}, .hook = &ex})[0];
  // z of every element (s, h, j, i): noise / (||a_j|| ||a_i|| / sqrt(D E)), the formula from
  // the operands themselves (b_i, column i of B = A^T, is row i of A).
  std::vector<double> z, z_head0, z_head1, z_ji, z_ij;
  for (int s = 0; s < n; ++s)
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < rows; ++j)
        for (int i = 0; i < rows; ++i) {
          const std::int64_t e = (h * rows + j) * rows + i;
          const double sigma =
              std::sqrt(row_norm2(a, s, h, j) * row_norm2(a, s, h, i) / (depth * photons));
          const double v = (double(noisy.sample(s)[e]) - clean.sample(s)[e]) / sigma;
          z.push_back(v);
          if (j == 0 && i == 1) (h == 0 ? z_head0 : z_head1).push_back(v);
          if (h == 0 && j == 0 && i == 2) z_ji.push_back(v);
          if (h == 0 && j == 2 && i == 0) z_ij.push_back(v);
        }
  const Moments mz = moments(z);
  const double count = static_cast<double>(z.size());
  CHECK(std::abs(mz.mean) < mean_tolerance(1.0, count));
  CHECK(std::abs(mz.variance - 1.0) < variance_tolerance(1.0, count));
  // The same element of two heads, and the two mirror elements (j, i) and (i, j) of A A^T (equal
  // products): uncorrelated noise.
  auto rho = [](const std::vector<double>& x, const std::vector<double>& y) {
    double sxy = 0, sxx = 0, syy = 0;
    for (std::size_t k = 0; k < x.size(); ++k) {
      sxy += x[k] * y[k];
      sxx += x[k] * x[k];
      syy += y[k] * y[k];
    }
    return sxy / std::sqrt(sxx * syy);
  };
  CHECK(std::abs(rho(z_head0, z_head1)) < 5.0 / std::sqrt(double(n)));
  CHECK(std::abs(rho(z_ji, z_ij)) < 5.0 / std::sqrt(double(n)));
  // A sample's noise does not depend on the batch it runs in.
  nn::Tensor one(1, a.shape);
  std::copy(a.sample(41), a.sample(42), one.data.begin());
  const std::vector<std::int64_t> index{41};
  const nn::Tensor y1 = m.forward_outputs(one, nn::Pass{.samples = index, .hook = &ex})[0];
  CHECK(std::memcmp(y1.data.data(), noisy.sample(41), y1.data.size() * sizeof(float)) == 0);
}

TEST_CASE(
    "attention: gradients through both operands and the shot noise match central differences") {
  const nn::Model m = self_product();
  nn::Tensor a = random_tensor(2, {heads, rows, depth}, 7203);
  std::vector<float> r(static_cast<std::size_t>(2 * heads * rows * rows));
  fill_normal(r, 7204);
  for (const bool noisy : {false, true}) {
    CAPTURE(noisy);
    const nn::AnalogExecutor ex(nn::NoiseMode::shot_only, shot_layers(m, 0.5), CircuitParams{},
                                NoiseSources::all(), 23);
    const nn::Pass pass{.samples = {}, .hook = noisy ? &ex : nullptr};
    // The noise is a smooth function of the operands' norms (same draws every pass).
    CHECK(input_gradient_error(m, a, pass, r) < 2e-3);
  }
}

TEST_CASE(
    "attention: physical-mode gradients through both clipped operands match central differences") {
  // Full scales 1 (A) and 1.2 (B = A^T) below the largest values: both clips are active. Only
  // the shot source, so that the read-out is smooth (no DAC rounding), at a laser 100 times the
  // preset's, so that the noise's dependence on W (left out of the backward) is negligible.
  const nn::Model m = self_product();
  auto layers = shot_layers(m, 100.0);
  layers[0].input_lo = -1;
  layers[0].input_hi = 1;
  layers[0].weight_lo = -1.2;
  layers[0].weight_hi = 1.2;
  layers[0].output_lo = -12;
  layers[0].output_hi = 12;
  const Settings s = load_settings({}, {});
  const nn::AnalogExecutor ex(nn::NoiseMode::physical, layers, s.circuit,
                              NoiseSources::parse("shot"), 29);
  nn::Tensor a = random_tensor(2, {heads, rows, depth}, 7209, 1.3f);
  // Away from the clip edges by more than the finite-difference step.
  for (float& v : a.data)
    for (float edge : {1.0f, 1.2f})
      if (std::abs(std::abs(v) - edge) < 0.03f) v = std::copysign(edge + 0.05f, v);
  int clipped = 0;
  for (float v : a.data) clipped += std::abs(v) > 1.0f ? 1 : 0;
  REQUIRE(clipped >= 4);
  std::vector<float> r(static_cast<std::size_t>(2 * heads * rows * rows));
  fill_normal(r, 7210);
  CHECK(input_gradient_error(m, a, nn::Pass{.samples = {}, .hook = &ex}, r) < 5e-3);
}

TEST_CASE("attention: precision gradients in ln E match central differences") {
  const nn::Model m = self_product(5);
  nn::Batch batch;
  batch.images = random_tensor(16, {heads, rows, depth}, 7205);
  for (int i = 0; i < 16; ++i) {
    batch.labels.push_back(i % 5);
    batch.samples.push_back(i);
  }
  const Settings s = load_settings({}, {});
  for (auto mode : {nn::NoiseMode::shot_only, nn::NoiseMode::weight_only,
                    nn::NoiseMode::thermal_only, nn::NoiseMode::physical}) {
    CAPTURE(static_cast<int>(mode));
    auto layers = shot_layers(m, 1.0);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      layers[l].energy = {0.3 + 0.4 * l};
      layers[l].input_lo = -2;
      layers[l].input_hi = 2;
      layers[l].weight_lo = -1.5;
      layers[l].weight_hi = 1.5;
      layers[l].output_lo = -12;  // wide enough that the ADC clips nothing
      layers[l].output_hi = 12;
      if (mode == nn::NoiseMode::physical) layers[l].energy = {(0.3 + 0.4 * l) * 1e-4};
    }
    nn::PrecisionOptions o;
    o.mode = mode;
    o.target_energy = 1e-9;
    o.constrained = false;
    o.lambda = 2;
    const auto g = nn::precision_gradient(m, batch, layers, s.circuit, NoiseSources::all(), o, 31);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      CAPTURE(l);
      const double h = 1e-3;
      auto loss_at = [&](double dtheta) {
        auto moved = layers;
        moved[l].energy[0] *= std::exp(dtheta);
        return nn::precision_gradient(m, batch, moved, s.circuit, NoiseSources::all(), o, 31).loss;
      };
      CHECK(g.d_theta[l][0] ==
            doctest::Approx((loss_at(h) - loss_at(-h)) / (2 * h)).epsilon(0.02).scale(1e-3));
    }
  }
}

TEST_CASE("attention: calibration measures the second operand, and the model file keeps the node") {
  nn::Model m = self_product(5);
  nn::Dataset data;
  data.name = "random";
  data.split = "train";
  data.sample_shape = {heads, rows, depth};
  data.classes = 5;
  const int n = 50;
  const nn::Tensor a = random_tensor(n, data.sample_shape, 7206);
  data.pixels = a.data;
  for (int i = 0; i < n; ++i) data.labels.push_back(i % 5);
  const nn::Calibration c = nn::calibrate(m, data, n);
  // B = A^T holds the same values as A: the same percentiles.
  std::vector<float> values = a.data;
  const float lo = static_cast<float>(nn::percentile(values, c.percentile_lo));
  const float hi = static_cast<float>(nn::percentile(values, c.percentile_hi));
  CHECK(c.layers[0].weight_lo == lo);
  CHECK(c.layers[0].weight_hi == hi);
  CHECK(c.layers[0].input_lo == lo);
  CHECK(c.layers[0].input_hi == hi);
  CHECK(c.layers[0].output_lo < 0);
  m.set_calibration(c);
  const auto layers = nn::analog_layers(m);
  CHECK(layers[0].activation_operands);
  CHECK_FALSE(layers[1].activation_operands);

  TempDir tmp;
  nn::save_model(m, tmp / "att.h5", false);
  const nn::Model back = nn::load_model(tmp / "att.h5");
  REQUIRE(back.matmul_layers().size() == 2);
  CHECK(back.matmul_layers()[0].activation_operands());
  CHECK(back.calibration(0).weight_hi == hi);
  const nn::AnalogExecutor ex(nn::NoiseMode::shot_only, shot_layers(m, 3.0), CircuitParams{},
                              NoiseSources::all(), 5);
  const nn::Pass pass{.samples = {}, .hook = &ex};
  const nn::Tensor y0 = m.forward(a, pass), y1 = back.forward(a, pass);
  CHECK(std::memcmp(y0.data.data(), y1.data.data(), y0.data.size() * sizeof(float)) == 0);
}

TEST_CASE(
    "attention: physical noise runs the chip model on both operands, clipped at their full "
    "scales") {
  const nn::Model m = self_product();
  auto layers = shot_layers(m, 1.0);
  layers[0].input_lo = -1;
  layers[0].input_hi = 1;  // full scales below the operands' largest values: some are clipped
  layers[0].weight_lo = -1.2;
  layers[0].weight_hi = 1.2;
  layers[0].output_lo = -6;
  layers[0].output_hi = 6;
  const Settings s = load_settings({}, {});
  const nn::AnalogExecutor ex(nn::NoiseMode::physical, layers, s.circuit, NoiseSources::all(), 5);
  const nn::Tensor a = random_tensor(64, {heads, rows, depth}, 7207);
  const nn::Tensor y = m.forward_outputs(a, nn::Pass{.samples = {}, .hook = &ex})[0];
  for (float v : y.data) REQUIRE(std::isfinite(v));
  const auto r = ex.report();
  CHECK(r[0].outputs_seen == 64.0 * heads * rows * rows);
  CHECK(r[0].input_clipped_fraction > 0);
  CHECK(r[0].noise_std > 0);
  // The read-out is the product of the operands clipped at their full scales (A at 1, B = A^T
  // at 1.2), plus the noise and the chip's small deterministic errors.
  double diff2 = 0, ref2 = 0;
  for (int sample = 0; sample < 64; ++sample)
    for (int h = 0; h < heads; ++h)
      for (int j = 0; j < rows; ++j)
        for (int i = 0; i < rows; ++i) {
          double ref = 0;
          for (int k = 0; k < depth; ++k) {
            const float aj = a.sample(sample)[(h * rows + j) * depth + k];
            const float bi = a.sample(sample)[(h * rows + i) * depth + k];
            ref += std::clamp(aj, -1.0f, 1.0f) * std::clamp(bi, -1.2f, 1.2f);
          }
          const double d = y.sample(sample)[(h * rows + j) * rows + i] - ref;
          diff2 += d * d;
          ref2 += ref * ref;
        }
  const double n = 64.0 * heads * rows * rows;
  MESSAGE("rms error ", std::sqrt(diff2 / n), ", noise std ", r[0].noise_std, ", rms product ",
          std::sqrt(ref2 / n));
  // The noise of 1152 outputs: its rms within a few percent of the reported std (the chip's
  // deterministic errors add a little).
  CHECK(std::sqrt(diff2 / n) > 0.8 * r[0].noise_std);
  CHECK(std::sqrt(diff2 / n) < 1.5 * r[0].noise_std);
}

TEST_CASE(
    "attention: both operands pay modulators and DACs; weight symbols serve one head's rows") {
  const nn::Model m = self_product(5);
  const auto work = network_work(m, {}, {2.0, 2.0}, {});
  REQUIRE(work.size() == 2);
  CHECK(work[0].weights == 0);
  CHECK(work[0].weight_rows == rows);
  CHECK(work[1].weights == std::int64_t{heads} * rows * rows * 5);
  CHECK(work[1].weight_rows == 0);
  Settings s = load_settings({}, {});
  s.circuit.system.batch = 8;
  const EnergyReport r = energy_report(s.circuit, s.energy, work);
  const double drive = r.layers[0].components_J[2] / r.layers[0].macs;  // weight modulators
  const double drive_dense = r.layers[1].components_J[2] / r.layers[1].macs;
  // The same modulator energy per symbol: a weight symbol of the attention product serves M = 3
  // rows, the classifier's B.
  CHECK(drive / drive_dense == doctest::Approx(s.circuit.system.batch / double(rows)));
}

TEST_CASE(
    "attention: every product of an imported attention block has the shot noise of its formula") {
  // tests/data/onnx/attention.onnx (scripts/make_onnx_test_models.py): token-wise linear layers
  // on (6 tokens x 8 features), two heads, Q K^T and softmax(.) V, output projection, classifier.
  const nn::OnnxImport imp =
      nn::import_onnx(source_dir() / "tests" / "data" / "onnx" / "attention.onnx");
  const nn::Model& m = imp.model;
  std::vector<std::string> names;
  int products = 0;
  for (const auto& info : m.matmul_layers()) {
    names.push_back(info.name);
    products += info.activation_operands() ? 1 : 0;
  }
  CAPTURE(names.size());
  CHECK(products == 2);
  CHECK(m.matmul_layers().size() == 7);  // q, k, v, Q K^T, A V, o, fc
  const double photons = 4.0;
  const nn::AnalogExecutor ex(nn::NoiseMode::shot_only, shot_layers(m, photons), CircuitParams{},
                              NoiseSources::all(), 19);
  const GraphNoiseProbe probe(ex, m.matmul_layers().size(), photons);
  const nn::Tensor x = random_tensor(200, m.input_shape(), 7208);
  m.forward(x, nn::Pass{.samples = {}, .hook = &probe});
  for (std::size_t k = 0; k < m.matmul_layers().size(); ++k) {
    CAPTURE(m.matmul_layers()[k].name);
    const Moments z = moments(probe.z(k));
    const double n = static_cast<double>(probe.z(k).size());
    CHECK(n >= 1000);
    CHECK(std::abs(z.mean) < mean_tolerance(1.0, n));
    CHECK(std::abs(z.variance - 1.0) < variance_tolerance(1.0, n));
  }
}
