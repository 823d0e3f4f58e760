// Network physical mode against the circuit (issue 15 item 6): the extinction error and its
// shot photons, inputs clipped at the calibrated full scale, outputs clipped at the ADC span,
// and the weight full scale per output row.
#include <cmath>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/nn/analog.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/nn/nn_support.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::nn;
using namespace lumac::test;

namespace {

// A layer with input full scale 1, weight full scale max|W| and a wide output range.
AnalogLayer layer_for(const Eigen::MatrixXf& w) {
  AnalogLayer a;
  a.name = "fc";
  a.fan_in = w.cols();
  a.outputs = w.rows();
  a.input_lo = -1;
  a.input_hi = 1;
  a.output_lo = -100;
  a.output_hi = 100;
  a.weight_lo = w.minCoeff();
  a.weight_hi = w.maxCoeff();
  return a;
}

MatmulView view_of(const Eigen::MatrixXf& w, const Eigen::MatrixXf& x, Eigen::MatrixXf& y,
                   bool per_position = false, const PatchSource* patches = nullptr) {
  return MatmulView{.layer = 0,
                    .first_sample = 7,
                    .per_position = per_position,
                    .W = ConstMatrixMap(w.data(), w.rows(), w.cols()),
                    .X = ConstMatrixMap(x.data(), x.rows(), x.cols()),
                    .Y = MatrixMap(y.data(), y.rows(), y.cols()),
                    .patches = patches};
}

DotProduct dot_product(const Eigen::MatrixXf& w, const Eigen::MatrixXf& x, Eigen::Index i,
                       Eigen::Index j, double w_scale) {
  DotProduct dp;
  for (Eigen::Index k = 0; k < w.cols(); ++k) {
    dp.x.push_back(x(k, j));
    dp.w.push_back(w(i, k));
  }
  dp.x_full_scale = 1;
  dp.w_full_scale = w_scale;
  dp.range = 200;
  return dp;
}

double max_abs(const Eigen::MatrixXf& m) {
  return m.cwiseAbs().maxCoeff();
}

}  // namespace

TEST_CASE("analog physics: the extinction error equals the circuit's, in both layouts") {
  CircuitParams c = load_settings({}, {}).circuit;
  c.modulator.extinction_ratio_dB = 20;  // d^2 = 0.01: an error well above float rounding
  const NoiseSources only = NoiseSources::none().with(NoiseSource::extinction);
  const Eigen::MatrixXf w = uniform_matrix(4, 30, 1, -0.7f, 0.7f);
  const Eigen::MatrixXf x = uniform_matrix(30, 5, 2, -0.9f, 0.9f);
  const HomodyneMac mac(c, only);
  REQUIRE(mac.extinction_residual() == doctest::Approx(0.1));
  const double ws = max_abs(w);
  for (const bool per_position : {false, true}) {
    CAPTURE(per_position);
    const AnalogExecutor ex(NoiseMode::physical, {layer_for(w)}, c, only, 3);
    const Eigen::MatrixXf clean = w * x;
    Eigen::MatrixXf y = clean;
    MatmulView v = view_of(w, x, y, per_position);
    ex.forward(v);
    double sum_sq = 0;
    for (Eigen::Index i = 0; i < w.rows(); ++i)
      for (Eigen::Index j = 0; j < x.cols(); ++j) {
        const NoiseBudget b = mac.analyze(dot_product(w, x, i, j, ws));
        const double err = b.expected - b.ideal;  // the extinction term alone
        CHECK(std::abs(err) == doctest::Approx(b.term("extinction")).epsilon(1e-12));
        // d^2 m_x m_w sum (sqrt(1 - v^2) - 1) sqrt(1 - u^2) after offset calibration: clearly
        // non-zero (and negative).
        CHECK(err < -0.01);
        CHECK(y(i, j) - clean(i, j) == doctest::Approx(err).epsilon(2e-5));
        sum_sq += err * err;
      }
    const auto rep = ex.report();
    REQUIRE(rep[0].by_source.back().first == "extinction");
    CHECK(rep[0].by_source.back().second ==
          doctest::Approx(std::sqrt(sum_sq / static_cast<double>(clean.size()))).epsilon(1e-5));
    CHECK(rep[0].noise_std == 0);  // deterministic: not noise
  }
}

TEST_CASE("analog physics: extinction's shot photons enter the noise as in the circuit") {
  CircuitParams c = load_settings({}, {}).circuit;
  c.modulator.extinction_ratio_dB = 15;
  c.laser.power_W = 2e-5;
  const NoiseSources sources =
      NoiseSources::none().with(NoiseSource::shot).with(NoiseSource::extinction);
  const Eigen::MatrixXf w = uniform_matrix(3, 40, 3, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(40, 2, 4, -1, 1);
  const AnalogExecutor ex(NoiseMode::physical, {layer_for(w)}, c, sources, 3);
  const HomodyneMac mac(c, sources), dark_fields(c, NoiseSources::none().with(NoiseSource::shot));
  Eigen::MatrixXf y = w * x, sigma;
  ex.noise_std(view_of(w, x, y), sigma, nullptr);
  for (Eigen::Index i = 0; i < 3; ++i)
    for (Eigen::Index j = 0; j < 2; ++j) {
      const DotProduct dp = dot_product(w, x, i, j, max_abs(w));
      CHECK(sigma(i, j) == doctest::Approx(mac.analyze(dp).noise_std).epsilon(1e-5));
      // and it is more than without extinction (d^2 = 0.032 of the dark fields' photons)
      CHECK(sigma(i, j) > 1.001 * dark_fields.analyze(dp).noise_std);
    }
}

TEST_CASE("analog physics: inputs beyond the full scale act as full scale; the ADC clips Y") {
  const CircuitParams c = load_settings({}, {}).circuit;
  const Eigen::MatrixXf w = uniform_matrix(6, 30, 5, -1, 1);
  Eigen::MatrixXf x = uniform_matrix(30, 2, 6, -0.9f, 0.9f);
  x.col(1) = x.col(0);
  x(3, 0) = 2.5f;  // beyond the full scale 1 ...
  x(7, 0) = -4;
  x(3, 1) = 1;  // ... and at it
  x(7, 1) = -1;
  {
    const AnalogExecutor ex(NoiseMode::physical, {layer_for(w)}, c, NoiseSources::none(), 1);
    Eigen::MatrixXf y = w * x;
    MatmulView v = view_of(w, x, y);
    ex.forward(v);
    CHECK(max_abs(y.col(0) - y.col(1)) < 1e-5f);
    CHECK(max_abs(y.col(0) - (w * x.col(0)).eval()) > 0.1f);  // the clip did change the product
    const auto rep = ex.report();
    CHECK(rep[0].input_clipped_fraction == doctest::Approx(2.0 / 60));
    CHECK(rep[0].inputs_seen == 60);
    CHECK(rep[0].output_clipped_fraction == 0);
    // The same noise as for the inputs at full scale (shot noise on).
    const AnalogExecutor shot(NoiseMode::physical, {layer_for(w)}, c, NoiseSources::all(), 1);
    Eigen::MatrixXf sigma;
    shot.noise_std(view_of(w, x, y), sigma, nullptr);
    CHECK(max_abs(sigma.col(0) - sigma.col(1)) <= 1e-6f * max_abs(sigma));
  }
  // An asymmetric calibrated range [0, 2]: range_scale 1 spans [0, 2]; 1.5 spans [-0.5, 2.5].
  for (const double range_scale : {1.0, 1.5}) {
    CircuitParams cr = c;
    cr.adc.range_scale = range_scale;
    AnalogLayer a = layer_for(w);
    a.output_lo = 0;
    a.output_hi = 2;
    const double lo = 1 - range_scale, hi = 1 + range_scale;
    const AnalogExecutor ex(NoiseMode::physical, {a}, cr, NoiseSources::none(), 1);
    const Eigen::MatrixXf xs = uniform_matrix(30, 50, 8, -0.9f, 0.9f);
    const Eigen::MatrixXf clean = w * xs;
    Eigen::MatrixXf y = clean;
    MatmulView v = view_of(w, xs, y);
    ex.forward(v);
    const Eigen::MatrixXf expected =
        clean.cwiseMax(static_cast<float>(lo)).cwiseMin(static_cast<float>(hi));
    CHECK(y == expected);
    const auto outside = static_cast<double>(
        (clean.array() < static_cast<float>(lo) || clean.array() > static_cast<float>(hi)).count());
    CHECK(outside > 20);
    CHECK(ex.report()[0].output_clipped_fraction == outside / static_cast<double>(clean.size()));
    CHECK(ex.report()[0].input_clipped_fraction == 0);
  }
}

TEST_CASE("analog physics: a convolution's clipped image gives the clipped columns' noise") {
  // One 3x3 field of a 2-channel image (one output position): X is the field, column-major
  // in the order of the image (c, y, x), and the box sums come from the clipped image.
  const CircuitParams c = load_settings({}, {}).circuit;
  Eigen::MatrixXf image = uniform_matrix(18, 1, 9, -1.5f, 1.5f);
  const Eigen::MatrixXf w = uniform_matrix(4, 18, 10, -1, 1);
  const PatchSource src{.image = image.data(),
                        .channels = 2,
                        .height = 3,
                        .width = 3,
                        .kernel_h = 3,
                        .kernel_w = 3,
                        .stride = 1,
                        .padding = 0};
  const Eigen::MatrixXf& x = image;
  REQUIRE(max_abs(x) > 1);
  const AnalogExecutor ex(NoiseMode::physical, {layer_for(w)}, c, NoiseSources::all(), 1);
  Eigen::MatrixXf y = w * x, from_image, from_columns;
  ex.noise_std(view_of(w, x, y, true, &src), from_image, nullptr);
  ex.noise_std(view_of(w, x, y, true, nullptr), from_columns, nullptr);
  CHECK(max_abs(from_image - from_columns) <= 1e-5f * max_abs(from_columns));
  const Eigen::MatrixXf at_scale = x.cwiseMax(-1.0f).cwiseMin(1.0f);
  Eigen::MatrixXf unclipped;
  ex.noise_std(view_of(w, at_scale, y, true, nullptr), unclipped, nullptr);
  CHECK(max_abs(from_columns - unclipped) <= 1e-6f * max_abs(unclipped));
}

TEST_CASE("analog physics: clipped inputs and outputs have zero gradient") {
  CircuitParams c = load_settings({}, {}).circuit;
  c.laser.power_W = 1e-5;
  const Eigen::MatrixXf w = uniform_matrix(5, 20, 11, -1, 1);
  Eigen::MatrixXf x = uniform_matrix(20, 3, 12, -0.9f, 0.9f);
  x(2, 0) = 3;
  x(5, 1) = -2;
  AnalogLayer a = layer_for(w);
  a.output_lo = -3;
  a.output_hi = 3;
  const AnalogExecutor ex(NoiseMode::physical, {a}, c, NoiseSources::all(), 1);
  Eigen::MatrixXf y = w * x;
  MatmulView fwd = view_of(w, x, y);
  ex.forward(fwd);
  const Eigen::MatrixXf yf = y;
  Eigen::MatrixXf dy = Eigen::MatrixXf::Ones(5, 3);
  Eigen::MatrixXf dx = w.transpose() * dy;  // what the layer hands over
  MatrixMap dxm(dx.data(), 20, 3);
  ex.backward(view_of(w, x, dy), &dxm);
  CHECK(dx(2, 0) == 0);
  CHECK(dx(5, 1) == 0);
  CHECK(dx(3, 0) != 0);
  // With every output clipped (a range far from them), nothing reaches X.
  a.output_lo = 50;
  a.output_hi = 60;
  const AnalogExecutor far(NoiseMode::physical, {a}, c, NoiseSources::all(), 1);
  y = w * x;
  MatmulView fwd2 = view_of(w, x, y);
  far.forward(fwd2);
  CHECK(y.minCoeff() == 50);
  CHECK(far.report()[0].output_clipped_fraction == 1);
  dx = w.transpose() * dy;
  Eigen::VectorXd d_log_e;
  far.backward_noise(view_of(w, x, dy), &dxm, &d_log_e);
  CHECK(max_abs(dx) <= 1e-5f * max_abs((w.transpose() * dy).eval()));
  CHECK(d_log_e.cwiseAbs().maxCoeff() == 0);
}

TEST_CASE("analog physics: a row full scale lowers the other rows' signal shot noise") {
  // Shot noise only. In units of y, var_i = (eta n_s s + eta n_L u_i) / (K G_i^2) with
  // G_i = 2 eta sqrt(n_s n_L) / (m_x m_w,i) and u_i = ||w_i||^2 / m_w,i^2, so
  //   var_i = m_x^2 (m_w,i^2 n_s s + n_L ||w_i||^2) / (4 eta n_s n_L K):
  // the signal photons' part scales as m_w,i^2, the LO's part does not depend on m_w,i.
  CircuitParams c = load_settings({}, {}).circuit;
  c.laser.power_W = 2e-5;
  const NoiseSources shot = NoiseSources::none().with(NoiseSource::shot);
  Eigen::MatrixXf w = uniform_matrix(4, 25, 13, -0.5f, 0.5f);
  w(2, 7) = 8;  // the outlier sets the layer's full scale
  const Eigen::MatrixXf x = uniform_matrix(25, 1, 14, -1, 1);
  const AnalogLayer a = layer_for(w);
  const AnalogExecutor layer_ex(NoiseMode::physical, {a}, c, shot, 1);
  c.system.weight_full_scale = WeightFullScale::row;
  const AnalogExecutor row_ex(NoiseMode::physical, {a}, c, shot, 1);
  Eigen::MatrixXf y = w * x, s_layer, s_row;
  layer_ex.noise_std(view_of(w, x, y), s_layer, nullptr);
  row_ex.noise_std(view_of(w, x, y), s_row, nullptr);
  const HomodyneMac mac(c, shot);
  const double eta = c.detector.quantum_efficiency;
  const double ns = mac.link().signal_photons_per_symbol(), nl = mac.link().lo_photons_per_symbol();
  const double s = x.squaredNorm(), m_layer = 8;
  auto oracle = [&](Eigen::Index i, double m_w) {
    return std::sqrt((m_w * m_w * ns * s + nl * w.row(i).squaredNorm()) / (4 * eta * ns * nl));
  };
  for (Eigen::Index i = 0; i < 4; ++i) {
    CAPTURE(i);
    const double m_row = w.row(i).cwiseAbs().maxCoeff();
    CHECK(s_layer(i, 0) == doctest::Approx(oracle(i, m_layer)).epsilon(1e-5));
    CHECK(s_row(i, 0) == doctest::Approx(oracle(i, m_row)).epsilon(1e-5));
    // and layer_noise at the row's full scale gives it
    const LayerNoiseModel m = mac.layer_noise(25, 1, m_row, a.output_range());
    const double u = w.row(i).squaredNorm() / (m_row * m_row);
    CHECK(s_row(i, 0) == doctest::Approx(std::sqrt(m.total(s, u, 0, 0, 0))).epsilon(1e-5));
    if (i == 2) {
      CHECK(s_row(i, 0) == doctest::Approx(s_layer(i, 0)).epsilon(1e-6));  // its own max
    } else {
      // The signal part falls by (m_row / m_layer)^2 (here by more than 100).
      const double signal_layer = m_layer * m_layer * ns * s, signal_row = m_row * m_row * ns * s;
      CHECK(signal_layer / signal_row > 100);
      CHECK(s_row(i, 0) < 0.5 * s_layer(i, 0));
    }
  }
}

TEST_CASE("analog physics: extinction and clipping do not depend on how samples are batched") {
  // 40 samples at once against 3 + 37 (the extinction product is a GEMM: its bits must not
  // depend on the column count), with inputs and outputs clipped.
  CircuitParams c = load_settings({}, {}).circuit;
  c.laser.power_W = 2e-5;
  const Eigen::MatrixXf w = uniform_matrix(50, 60, 15, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(60, 40, 16, -1.2f, 1.2f);
  AnalogLayer a = layer_for(w);
  a.output_lo = -4;
  a.output_hi = 4;
  const AnalogExecutor ex(NoiseMode::physical, {a}, c, NoiseSources::all(), 5);
  const Eigen::MatrixXf clean = w * x;
  Eigen::MatrixXf whole = clean;
  MatmulView v = view_of(w, x, whole);
  ex.forward(v);
  const Eigen::MatrixXf xa = x.leftCols(3), xb = x.rightCols(37);
  Eigen::MatrixXf ya = clean.leftCols(3), yb = clean.rightCols(37);
  MatmulView va = view_of(w, xa, ya), vb = view_of(w, xb, yb);
  vb.first_sample = va.first_sample + 3;
  ex.forward(vb);
  ex.forward(va);
  CHECK(whole.leftCols(3) == ya);
  CHECK(whole.rightCols(37) == yb);
  const auto rep = ex.report();
  CHECK(rep[0].input_clipped_fraction > 0);
  CHECK(rep[0].output_clipped_fraction > 0);
}

TEST_CASE("analog physics: the extinction term's input gradient matches central differences") {
  // Extinction the only source (no noise): Y = W x + E(x), E the extinction error, trimmed by
  // offset calibration or not. The executor's backward adds dE/dx to what the layer hands over;
  // against (E(x + h) - E(x - h)) / 2h of the forward, with ER = 20 dB (d^2 = 0.01).
  CircuitParams c = load_settings({}, {}).circuit;
  c.modulator.extinction_ratio_dB = 20;
  const auto only = NoiseSources::none().with(NoiseSource::extinction);
  const Eigen::MatrixXf w = uniform_matrix(4, 12, 21, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(12, 1, 22, -0.8f, 0.8f);
  const Eigen::MatrixXf dy = uniform_matrix(4, 1, 23, -1, 1);
  for (const bool trim : {true, false}) {
    CAPTURE(trim);
    c.system.offset_calibration = trim;
    const AnalogExecutor ex(NoiseMode::physical, {layer_for(w)}, c, only, 1);
    auto loss = [&](const Eigen::MatrixXf& xs) {
      Eigen::MatrixXf y = w * xs;
      MatmulView v = view_of(w, xs, y);
      ex.forward(v);
      return static_cast<double>((dy.array() * (y - w * xs).array()).sum());  // dy . E(x)
    };
    Eigen::MatrixXf dx = Eigen::MatrixXf::Zero(12, 1);
    MatrixMap dxm(dx.data(), 12, 1);
    Eigen::MatrixXf dyc = dy;
    ex.backward(view_of(w, x, dyc), &dxm);
    double largest = 0;
    for (Eigen::Index k = 0; k < 12; ++k) {
      const float h = 1e-2f;
      Eigen::MatrixXf up = x, down = x;
      up(k, 0) += h;
      down(k, 0) -= h;
      const double fd = (loss(up) - loss(down)) / (2 * static_cast<double>(h));
      CAPTURE(k);
      CHECK(dx(k, 0) == doctest::Approx(fd).epsilon(0.02).scale(1e-3));
      largest = std::max(largest, std::abs(fd));
    }
    CHECK(largest > 1e-3);  // the term is there to be checked
  }
}
