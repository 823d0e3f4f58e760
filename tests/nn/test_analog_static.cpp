// Network physical mode on a chip (issue 15 items 4 and 5, nn/analog_chip.hpp): static device
// errors drawn once per chip and the same for every sample and position, the weight DAC and the
// static programming error applied to W, the chip's read-out against the circuit's on the same
// devices, and the temporal LO phase noise.
#include <algorithm>
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

// Input full scale 1, weight full scale max|W|, an output range no output leaves.
AnalogLayer chip_layer_for(const Eigen::MatrixXf& w, int repeats = 1) {
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
  a.repeats = repeats;
  return a;
}

double weight_scale(const Eigen::MatrixXf& w) {
  return w.cwiseAbs().maxCoeff();
}

// Dense (one sample per column from `first`) or a convolution's positions of sample `first`.
MatmulView chip_view_of(const Eigen::MatrixXf& w, const Eigen::MatrixXf& x, Eigen::MatrixXf& y,
                        std::int64_t first = 7, bool per_position = false) {
  return MatmulView{.layer = 0,
                    .first_sample = first,
                    .per_position = per_position,
                    .W = ConstMatrixMap(w.data(), w.rows(), w.cols()),
                    .X = ConstMatrixMap(x.data(), x.rows(), x.cols()),
                    .Y = MatrixMap(y.data(), y.rows(), y.cols()),
                    .patches = nullptr};
}

// The executor's output for the product `y` = W x (forward).
Eigen::MatrixXf run_on(const AnalogExecutor& ex, const Eigen::MatrixXf& w, const Eigen::MatrixXf& x,
                       Eigen::MatrixXf y, std::int64_t first = 7, bool per_position = false) {
  MatmulView v = chip_view_of(w, x, y, first, per_position);
  ex.forward(v);
  return y;
}

Eigen::MatrixXf run(const AnalogExecutor& ex, const Eigen::MatrixXf& w, const Eigen::MatrixXf& x,
                    std::int64_t first = 7, bool per_position = false) {
  return run_on(ex, w, x, w * x, first, per_position);
}

double source(const LayerNoiseReport& r, const std::string& name) {
  for (const auto& [n, v] : r.by_source)
    if (n == name) return v;
  FAIL("no source " << name);
  return 0;
}

bool has_source(const LayerNoiseReport& r, const std::string& name) {
  return std::any_of(r.by_source.begin(), r.by_source.end(),
                     [&](const auto& s) { return s.first == name; });
}

// A tile of M = 4 outputs and B = 2 rows whose devices have every static error.
CircuitParams spread_chip() {
  CircuitParams c = load_settings({}, {}).circuit;
  c.system.fan_out = 4;
  c.system.batch = 2;
  c.system.device_seed = 11;
  c.modulator.bias_error_rad = 0.05;
  c.modulator.v_pi_spread = 0.05;
  c.system.lo_phase_error_rad = 0.05;
  c.detector.responsivity_mismatch = 0.02;
  c.system.splitter_imbalance = 0.02;
  return c;
}

const NoiseSources static_sources = NoiseSources::none()
                                        .with(NoiseSource::bias)
                                        .with(NoiseSource::spread)
                                        .with(NoiseSource::phase)
                                        .with(NoiseSource::mismatch);

// The circuit's calibrated mean read-out of W_i . x_j (units of y) on the devices of row b and
// output o of chip `device_seed`: HomodyneMac's own field model, in double precision.
double circuit_readout(const CircuitParams& c, NoiseSources sources, const Eigen::MatrixXf& w,
                       const Eigen::MatrixXf& x, Eigen::Index i, Eigen::Index j, std::uint64_t b,
                       std::uint64_t o) {
  CircuitParams cf = c;
  cf.system.encoding = Encoding::full_scale;
  const HomodyneMac mac(cf, sources);
  DotProduct dp;
  for (Eigen::Index k = 0; k < w.cols(); ++k) {
    dp.x.push_back(x(k, j));
    dp.w.push_back(w(i, k));
  }
  dp.x_full_scale = 1;
  dp.w_full_scale = weight_scale(w);
  const EncodedDotProduct e = mac.encode(dp);
  const RandomStream chip(static_cast<std::uint64_t>(c.system.device_seed), Stream::device);
  const DeviceErrors dev = draw_device(cf, sources, chip, 0, b, o);
  return (mac.mean_charge(mac.window(e, {}, dev), dev) - mac.zero_input_offset(e, dev)) /
         mac.gain_electrons_per_unit(e);
}

}  // namespace

TEST_CASE("analog chip: the read-out equals the circuit's on the same devices, every error on") {
  // Bias, V_pi, LO phase, mismatch, splitter and extinction (ER 20 dB, d = 0.1) together, with
  // and without offset calibration: output i runs on output o = i % 4, sample s on row s % 2.
  // The circuit computes the same fields in double; the executor in float, its products of
  // fan-in 30 rounding to a few 1e-7 of outputs of order 3 (tolerance 2e-5 (1 + |y|), 1e-4).
  // Nearly every output moves by ten times that or more, the RMS by 1e-2 (checked), so a
  // missing or misplaced term fails.
  CircuitParams c = spread_chip();
  c.modulator.extinction_ratio_dB = 20;
  const NoiseSources sources = static_sources.with(NoiseSource::extinction);
  const Eigen::MatrixXf w = uniform_matrix(6, 30, 31, -0.8f, 0.8f);
  const Eigen::MatrixXf x = uniform_matrix(30, 3, 32, -1, 1);
  for (const bool calibration : {true, false}) {
    CAPTURE(calibration);
    c.system.offset_calibration = calibration;
    const AnalogExecutor ex(NoiseMode::physical, {chip_layer_for(w)}, c, sources, 99);
    const Eigen::MatrixXf y = run(ex, w, x, 7);
    const Eigen::MatrixXf clean = w * x;
    int moved = 0;
    double sum_sq = 0;
    for (Eigen::Index i = 0; i < w.rows(); ++i)
      for (Eigen::Index j = 0; j < x.cols(); ++j) {
        CAPTURE(i);
        CAPTURE(j);
        const auto b = static_cast<std::uint64_t>((7 + j) % 2),
                   o = static_cast<std::uint64_t>(i % 4);
        const double expected = circuit_readout(c, sources, w, x, i, j, b, o);
        CHECK(y(i, j) == doctest::Approx(expected).epsilon(2e-5).scale(1));
        moved += std::abs(expected - clean(i, j)) > 1e-3 ? 1 : 0;
        sum_sq += std::pow(expected - clean(i, j), 2);
      }
    CHECK(moved >= 16);  // of 18
    CHECK(std::sqrt(sum_sq / 18) > 1e-2);
    // The report: the extinction term and the static error (deterministic, not noise).
    const LayerNoiseReport r = ex.report()[0];
    CHECK(source(r, "static") > 1e-2);
    CHECK(source(r, "extinction") > 1e-3);
    CHECK(!has_source(r, "phase_noise"));
    CHECK(r.noise_std == 0);
  }
}

TEST_CASE("analog chip: static errors are the same for every sample and position of a row") {
  // Static errors only (no noise): identical inputs on the same tile row give identical
  // outputs, bit for bit; on the other row (other input modulator, other splitter powers) they
  // differ. Dense: samples 7 and 9 share row 1, 8 is on row 0. Convolution: positions 0 and 2
  // share row 0, position 1 is on row 1.
  const CircuitParams c = spread_chip();
  const Eigen::MatrixXf w = uniform_matrix(6, 20, 33, -1, 1);
  Eigen::MatrixXf x = uniform_matrix(20, 3, 34, -1, 1);
  x.col(1) = x.col(0);
  x.col(2) = x.col(0);
  const AnalogExecutor ex(NoiseMode::physical, {chip_layer_for(w)}, c, static_sources, 1);
  const Eigen::MatrixXf clean = w * x;
  for (const bool per_position : {false, true}) {
    CAPTURE(per_position);
    const Eigen::MatrixXf y = run(ex, w, x, 7, per_position);
    CHECK(y.col(0) == y.col(2));
    CHECK((y.col(0) - y.col(1)).cwiseAbs().maxCoeff() > 1e-4f);
    CHECK((y.col(0) - clean.col(0)).cwiseAbs().maxCoeff() > 1e-2f);
    // The same columns in another call (another sample of the test set) on the same row.
    const Eigen::MatrixXf again = run(ex, w, x, 7 + 2 * 1000, per_position);
    CHECK(again == y);
  }
  // One tile row: every sample and position on the same devices.
  CircuitParams one = c;
  one.system.batch = 1;
  const AnalogExecutor ex1(NoiseMode::physical, {chip_layer_for(w)}, one, static_sources, 1);
  for (const bool per_position : {false, true}) {
    const Eigen::MatrixXf y = run(ex1, w, x, 7, per_position);
    CHECK(y.col(0) == y.col(1));
    CHECK(y.col(0) == y.col(2));
  }
}

TEST_CASE("analog chip: the device seed picks the chip; 0 follows the noise seed") {
  CircuitParams c = spread_chip();
  const Eigen::MatrixXf w = uniform_matrix(5, 20, 35, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(20, 4, 36, -1, 1);
  auto output = [&](int device_seed, std::uint64_t noise_seed) {
    c.system.device_seed = device_seed;
    return run(
        AnalogExecutor(NoiseMode::physical, {chip_layer_for(w)}, c, static_sources, noise_seed), w,
        x);
  };
  CHECK(output(5, 1) == output(5, 2));  // the chip, whatever the noise seed
  CHECK((output(5, 1) - output(6, 1)).cwiseAbs().maxCoeff() > 1e-3f);
  CHECK(output(0, 3) == output(0, 3));
  CHECK((output(0, 3) - output(0, 4)).cwiseAbs().maxCoeff() > 1e-3f);
  CHECK(output(0, 3) == output(3, 8));  // device seed 0: the chip of the noise seed
}

TEST_CASE("analog chip: a small bias error's first-order term") {
  // Bias errors delta of std 1e-3 on the input modulator of the row and the weight modulator of
  // the output (d = 0; calibration subtracts m_x sin delta_x sum W1): to first order
  //   Y - W x = m_x m_w sum_k [delta_w v_k sqrt(1 - u_k^2) + delta_x (sqrt(1 - v_k^2) - 1) u_k].
  // The remainder: each sine's second-order term is at most delta^2 / 2 and the product of the
  // two first-order terms at most delta_x delta_w, so |R| <= 2 N delta_max^2 m_x m_w; plus the
  // float rounding of the outputs (1e-6).
  CircuitParams c = load_settings({}, {}).circuit;
  c.system.fan_out = 3;
  c.system.batch = 2;
  c.system.device_seed = 21;
  c.modulator.bias_error_rad = 1e-3;
  const NoiseSources bias = NoiseSources::none().with(NoiseSource::bias);
  const Eigen::MatrixXf w = uniform_matrix(6, 30, 37, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(30, 4, 38, -0.95f, 0.95f);
  const AnalogExecutor ex(NoiseMode::physical, {chip_layer_for(w)}, c, bias, 1);
  const Eigen::MatrixXf y = run(ex, w, x, 0), clean = w * x;
  const RandomStream chip(21, Stream::device);
  const double mw = weight_scale(w), n = 30;
  const double bound = 2 * n * std::pow(3e-3, 2) * mw + 1e-6;
  double largest_delta = 0, largest_term = 0;
  for (Eigen::Index i = 0; i < 6; ++i)
    for (Eigen::Index j = 0; j < 4; ++j) {
      const DeviceErrors dev = draw_device(c, bias, chip, 0, static_cast<std::uint64_t>(j % 2),
                                           static_cast<std::uint64_t>(i % 3));
      const double dx = dev.input.bias_rad, dw = dev.weight.bias_rad;
      largest_delta = std::max({largest_delta, std::abs(dx), std::abs(dw)});
      double first = 0;
      for (Eigen::Index k = 0; k < 30; ++k) {
        const double v = x(k, j), u = w(i, k) / mw;
        first += dw * v * std::sqrt(1 - u * u) + dx * (std::sqrt(1 - v * v) - 1) * u;
      }
      first *= mw;
      CAPTURE(i);
      CAPTURE(j);
      CHECK(std::abs(y(i, j) - clean(i, j) - first) <= bound);
      largest_term = std::max(largest_term, std::abs(first));
    }
  REQUIRE(largest_delta < 3e-3);    // the bound's delta_max (3 standard deviations)
  CHECK(largest_term > 5 * bound);  // the first-order term stands well above the remainder
}

TEST_CASE("analog chip: the responsivity mismatch leaks (m / 4) m_x m_w r sum v^2") {
  // Mismatch m_bo of the pair at detector (row b, output o) only, d = 0; B = 2 rows, sample s
  // on row s % 2. With calibration the LO's leak (input-independent) is removed and
  // Y - W x = (m_o / 4) m_x m_w sqrt(n_s / n_L) sum_k v_kj^2; without, the LO's
  // (m_o / 4) m_x m_w sqrt(n_L / n_s) sum_k u_ik^2 stays too. Float: the outputs (below 8)
  // round to 5e-7, the leak to 1e-7 of itself: 1e-6.
  CircuitParams c = load_settings({}, {}).circuit;
  c.system.fan_out = 4;
  c.system.batch = 2;
  c.system.device_seed = 3;
  c.detector.responsivity_mismatch = 0.03;
  const NoiseSources mismatch = NoiseSources::none().with(NoiseSource::mismatch);
  const Eigen::MatrixXf w = uniform_matrix(8, 25, 39, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(25, 3, 40, -1, 1);
  const HomodyneMac mac(c, mismatch);
  const double r =
      std::sqrt(mac.link().signal_photons_per_symbol() / mac.link().lo_photons_per_symbol());
  const double mw = weight_scale(w);
  const RandomStream chip(3, Stream::device);
  double largest = 0;
  for (const bool calibration : {true, false}) {
    CAPTURE(calibration);
    c.system.offset_calibration = calibration;
    const AnalogExecutor ex(NoiseMode::physical, {chip_layer_for(w)}, c, mismatch, 1);
    const Eigen::MatrixXf y = run(ex, w, x), clean = w * x;
    for (Eigen::Index i = 0; i < 8; ++i) {
      const double u2 = (w.row(i) / mw).squaredNorm();
      for (Eigen::Index j = 0; j < 3; ++j) {
        const double m = draw_device(c, mismatch, chip, 0, static_cast<std::uint64_t>((7 + j) % 2),
                                     static_cast<std::uint64_t>(i % 4))
                             .responsivity_mismatch;
        REQUIRE(m != 0);
        const double leak = m / 4 * mw * (r * x.col(j).squaredNorm() + (calibration ? 0 : u2 / r));
        CHECK(std::abs(y(i, j) - clean(i, j) - leak) <= 1e-6);
        largest = std::max(largest, std::abs(leak));
      }
    }
  }
  CHECK(largest > 1e-2);
}

TEST_CASE("analog chip: the weight DAC is applied to W; only the input DAC stays noise") {
  // dac the only source: Y = (m_w quantized_drive(W / m_w)) X + sigma z, z the normals of
  // (sample, layer) (test_analog.cpp) and sigma the input DAC's noise alone, var = k (u - c)
  // with c ~ s u / D, k = (pi / 2)^2 LSB^2 / 12 m_x^2 m_w^2 (the weight DAC's k (s - c) is
  // gone). Float: W X + (W_q - W) X against W_q X, fan-in 30, outputs below 10: 1e-5.
  CircuitParams c = load_settings({}, {}).circuit;
  c.dac.bits = 5;  // an error well above float rounding
  const NoiseSources dac = NoiseSources::none().with(NoiseSource::dac);
  const Eigen::MatrixXf w = uniform_matrix(5, 30, 41, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(30, 4, 42, -1, 1);
  const double mw = weight_scale(w);
  const std::uint64_t seed = 8;
  Eigen::MatrixXf z(5, 4);
  for (Eigen::Index j = 0; j < 4; ++j)
    NoiseSequence(RandomStream(seed, Stream::layer_noise), static_cast<std::uint64_t>(7 + j), 0, 0)
        .fill(std::span<float>(z.col(j).data(), 5));
  const double lsb = 1.0 / 15;  // 5 bits: 1 / (2^4 - 1)
  const double k = std::pow(std::acos(-1.0) / 2, 2) * lsb * lsb / 12 * mw * mw;
  for (const bool pre : {true, false}) {
    CAPTURE(pre);
    c.modulator.predistortion = pre;
    const AnalogExecutor ex(NoiseMode::physical, {chip_layer_for(w)}, c, dac, seed);
    Eigen::MatrixXf wq = w;
    for (Eigen::Index e = 0; e < w.size(); ++e) {
      const double u = w.data()[e] / mw;
      // Without pre-distortion networks leave the sine transfer out: the DAC's part alone.
      const double field = pre ? quantized_drive(u, 5, true)
                               : u + quantized_drive(u, 5, false) - quantized_drive(u, 0, false);
      wq.data()[e] = static_cast<float>(mw * field);
    }
    Eigen::MatrixXf sigma, y0 = w * x;
    ex.noise_std(chip_view_of(w, x, y0), sigma, nullptr);
    for (Eigen::Index i = 0; i < 5; ++i)
      for (Eigen::Index j = 0; j < 4; ++j) {
        const double u = (w.row(i) / mw).squaredNorm(), s2 = x.col(j).squaredNorm();
        CHECK(sigma(i, j) ==
              doctest::Approx(std::sqrt(k * (u - s2 * u / 30))).epsilon(1e-5).scale(0));
      }
    const Eigen::MatrixXf y = run(ex, w, x);
    const Eigen::MatrixXf expected = wq * x + sigma.cwiseProduct(z);
    CHECK((y - expected).cwiseAbs().maxCoeff() <= 1e-5f);
    CHECK((wq * x - w * x).cwiseAbs().maxCoeff() > 0.05f);
    const LayerNoiseReport r = ex.report()[0];
    CHECK(source(r, "static") > 0.02);
    CHECK(source(r, "dac") ==
          doctest::Approx(std::sqrt(sigma.cast<double>().squaredNorm() / 20)).epsilon(1e-5));
  }
}

TEST_CASE("analog chip: the static programming error is fixed per weight and per chip") {
  // weight noise sigma_w = 0.01, static, the only source: Y - W x = sigma_w m_w sum_k z_ik x_k
  // with z the normals of RandomStream(chip, weight_static) at (layer, row i, element k), the
  // same for every sample and position, other for another chip; no noise is left.
  CircuitParams c = load_settings({}, {}).circuit;
  c.modulator.weight_noise_std = 0.01;
  c.modulator.weight_noise_kind = WeightNoiseKind::static_;
  c.system.device_seed = 17;
  const NoiseSources weight = NoiseSources::none().with(NoiseSource::weight);
  const Eigen::MatrixXf w = uniform_matrix(2000, 40, 43, -0.9f, 0.9f);
  Eigen::MatrixXf x = uniform_matrix(40, 3, 44, -1, 1);
  x.col(2) = x.col(0);
  const double mw = weight_scale(w), sigma_w = 0.01;
  const AnalogExecutor ex(NoiseMode::physical, {chip_layer_for(w)}, c, weight, 1);
  const Eigen::MatrixXf y = run(ex, w, x), clean = w * x;
  CHECK(y.col(0) == y.col(2));
  // As positions of one image: the same weights (one product instead of blocks: rounding).
  CHECK((run(ex, w, x, 7, true) - y).cwiseAbs().maxCoeff() <= 1e-5f);
  // Exactly the drawn errors (the first rows). Float: the sum with outputs below 8 rounds to
  // 5e-7, the fan-in-40 product of the errors to 1e-5 of its terms' sum (below 0.1): 2e-6.
  const RandomStream programming(17, Stream::weight_static);
  std::vector<double> z(40);
  for (Eigen::Index i = 0; i < 20; ++i) {
    programming.fill_normal(z, 0, static_cast<std::uint64_t>(i), 0);
    for (Eigen::Index j = 0; j < 3; ++j) {
      double e = 0;
      for (Eigen::Index k = 0; k < 40; ++k)
        e += sigma_w * mw * z[static_cast<std::size_t>(k)] * x(k, j);
      CHECK(std::abs(y(i, j) - clean(i, j) - e) <= 2e-6);
    }
  }
  // Its RMS over 2000 rows is sigma_w m_w ||x_j|| (a chi with 2000 degrees of freedom: relative
  // std 1 / sqrt(4000); 5 of them).
  for (Eigen::Index j = 0; j < 2; ++j) {
    const double rms = std::sqrt((y.col(j) - clean.col(j)).cast<double>().squaredNorm() / 2000);
    CHECK(std::abs(rms / (sigma_w * mw * x.col(j).norm()) - 1) < 5 / std::sqrt(4000.0));
  }
  Eigen::MatrixXf sigma, y2 = clean;
  ex.noise_std(chip_view_of(w, x, y2), sigma, nullptr);
  CHECK(sigma.cwiseAbs().maxCoeff() == 0);  // applied to W, not noise
  // Another chip, other errors.
  c.system.device_seed = 18;
  const AnalogExecutor other(NoiseMode::physical, {chip_layer_for(w)}, c, weight, 1);
  CHECK((run(other, w, x) - y).cwiseAbs().maxCoeff() > 1e-3f);
  // Temporal weight noise keeps the noise polynomial.
  c.modulator.weight_noise_kind = WeightNoiseKind::temporal;
  const AnalogExecutor temporal(NoiseMode::physical, {chip_layer_for(w)}, c, weight, 1);
  temporal.noise_std(chip_view_of(w, x, y2), sigma, nullptr);
  CHECK(sigma(0, 0) == doctest::Approx(sigma_w * mw * x.col(0).norm()).epsilon(1e-5).scale(0));
}

TEST_CASE("analog chip: LO phase noise scales each output by the mean of K cosines") {
  // Phase noise s_t = 0.3 rad the only error: Y = f W x, f = cos(s_t z) for K = 1 (so f <= 1)
  // and m1 + sqrt((m2 - m1^2) / K) z for K = 4, m1 = e^(-s_t^2 / 2), m2 = (1 + e^(-2 s_t^2)) / 2.
  // Over n ~ 100 x 60 outputs (those with |W x| > 0.01) the mean of f is m1 within
  // 5 sd / sqrt(n), and its RMS deviation is sd within 5 standard errors of a sample RMS,
  // sqrt((kappa - 1) / (4 n)) relative: kappa = 3 for the normal (K = 4), and for K = 1, where
  // f - m1 ~ -(s_t^2 / 2)(z^2 - 1), the kurtosis of z^2 - 1, 15.
  CircuitParams c = load_settings({}, {}).circuit;
  c.system.lo_phase_noise_rad = 0.3;
  const NoiseSources phase = NoiseSources::none().with(NoiseSource::phase);
  const Eigen::MatrixXf w = uniform_matrix(100, 20, 45, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(20, 60, 46, -1, 1);
  const double s = 0.3, m1 = std::exp(-s * s / 2), m2 = (1 + std::exp(-2 * s * s)) / 2;
  for (const int k : {1, 4}) {
    CAPTURE(k);
    const AnalogExecutor ex(NoiseMode::physical, {chip_layer_for(w, k)}, c, phase, 5);
    const Eigen::MatrixXf clean = w * x;
    const Eigen::MatrixXf y = run(ex, w, x);
    const double sd = std::sqrt((m2 - m1 * m1) / k);
    double sum = 0, sum_sq = 0, n = 0, largest = -1e9;
    for (Eigen::Index e = 0; e < y.size(); ++e) {
      if (std::abs(clean.data()[e]) < 1e-2f) continue;
      const double f = y.data()[e] / clean.data()[e];
      sum += f;
      sum_sq += (f - m1) * (f - m1);
      largest = std::max(largest, f);
      n += 1;
    }
    REQUIRE(n > 5000);
    const double kappa = k == 1 ? 15 : 3;
    CHECK(std::abs(sum / n - m1) < 5 * sd / std::sqrt(n));
    CHECK(std::abs(std::sqrt(sum_sq / n) / sd - 1) < 5 * std::sqrt((kappa - 1) / (4 * n)));
    if (k == 1) CHECK(largest <= 1 + 1e-6);
    // The report counts it as noise: RMS of |W x| sd, and its fading (m1 - 1) |W x|.
    const LayerNoiseReport r = ex.report()[0];
    const double rms_clean = std::sqrt(clean.cast<double>().squaredNorm() / clean.size());
    CHECK(source(r, "phase_noise") == doctest::Approx(sd * rms_clean).epsilon(1e-5).scale(0));
    CHECK(source(r, "phase_fading") ==
          doctest::Approx((1 - m1) * rms_clean).epsilon(1e-5).scale(0));
    CHECK(r.noise_std == doctest::Approx(sd * rms_clean).epsilon(1e-5).scale(0));
    CHECK(!has_source(r, "static"));
    // Its normals belong to (sample, output): the same split over two calls (each given its
    // columns of the one product: a GEMM's bits depend on its column count).
    const Eigen::MatrixXf xa = x.leftCols(25), xb = x.rightCols(35);
    const Eigen::MatrixXf ya = run_on(ex, w, xa, clean.leftCols(25), 7);
    const Eigen::MatrixXf yb = run_on(ex, w, xb, clean.rightCols(35), 7 + 25);
    CHECK(ya == y.leftCols(25));
    CHECK(yb == y.rightCols(35));
  }
}

TEST_CASE("analog chip: every error and noise together does not depend on batching") {
  // All sources, static spreads, phase noise, B = 3 rows: 40 samples at once against 3 + 37,
  // bit for bit (the chip's products run in fixed blocks, its element-wise terms per element).
  CircuitParams c = spread_chip();
  c.system.batch = 3;
  c.system.lo_phase_noise_rad = 0.1;
  c.modulator.weight_noise_std = 0.01;
  c.modulator.weight_noise_kind = WeightNoiseKind::static_;
  c.laser.power_W = 2e-5;
  const Eigen::MatrixXf w = uniform_matrix(50, 60, 47, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(60, 40, 48, -1.2f, 1.2f);
  AnalogLayer a = chip_layer_for(w);
  a.output_lo = -4;
  a.output_hi = 4;
  const AnalogExecutor ex(NoiseMode::physical, {a}, c, NoiseSources::all(), 5);
  const Eigen::MatrixXf clean = w * x;
  const Eigen::MatrixXf whole = run_on(ex, w, x, clean, 7);
  const Eigen::MatrixXf xa = x.leftCols(3), xb = x.rightCols(37);
  const Eigen::MatrixXf yb = run_on(ex, w, xb, clean.rightCols(37), 10);
  const Eigen::MatrixXf ya = run_on(ex, w, xa, clean.leftCols(3), 7);
  CHECK(whole.leftCols(3) == ya);
  CHECK(whole.rightCols(37) == yb);
  const LayerNoiseReport r = ex.report()[0];
  for (const char* name : {"extinction", "static", "phase_noise", "phase_fading"})
    CHECK(has_source(r, name));
  CHECK(r.output_clipped_fraction > 0);
}

TEST_CASE("analog chip: backward masks the outputs the forward's ADC clipped on the chip") {
  // Static errors large enough to move outputs across the ADC edge (bias 0.2 rad, phase noise
  // 0.2 rad) and no noise source with a gradient: the backward's dL/dX is W^T (dL/dY masked),
  // the mask exactly the outputs the forward left inside the span. A mask from the nominal
  // product would differ in some outputs (checked).
  CircuitParams c = load_settings({}, {}).circuit;
  c.system.fan_out = 4;
  c.system.batch = 2;
  c.system.device_seed = 9;
  c.modulator.bias_error_rad = 0.2;
  c.system.lo_phase_noise_rad = 0.2;
  const NoiseSources sources =
      NoiseSources::none().with(NoiseSource::bias).with(NoiseSource::phase);
  const Eigen::MatrixXf w = uniform_matrix(8, 20, 49, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(20, 64, 50, -1, 1);
  AnalogLayer a = chip_layer_for(w);
  a.output_lo = -1;
  a.output_hi = 1;
  const AnalogExecutor ex(NoiseMode::physical, {a}, c, sources, 3);
  const Eigen::MatrixXf y = run(ex, w, x, 0);
  const Eigen::MatrixXf clean = w * x;
  const Eigen::ArrayXXf inside = (y.array() > -1 && y.array() < 1).cast<float>();
  const Eigen::ArrayXXf nominal_inside = (clean.array() > -1 && clean.array() < 1).cast<float>();
  CHECK((inside != nominal_inside).count() > 0);
  CHECK(inside.sum() > 0);
  CHECK((1 - inside).sum() > 0);
  Eigen::MatrixXf dy = uniform_matrix(8, 64, 51, -1, 1);
  Eigen::MatrixXf dx = w.transpose() * dy;  // what the layer hands over
  MatrixMap dxm(dx.data(), dx.rows(), dx.cols());
  ex.backward(chip_view_of(w, x, dy, 0), &dxm);
  const Eigen::MatrixXf expected = w.transpose() * (dy.array() * inside).matrix();
  CHECK((dx - expected).cwiseAbs().maxCoeff() <= 1e-5f);
}

TEST_CASE("analog chip: with extinction, LO phase noise has the circuit's quadrature part") {
  // With extinction d the read-out's quadrature J (first order in d) enters every repeat as
  // sin(t) J: the circuit's phase_noise term (Var[cos] A(0)^2 + E[sin^2] A(pi/2)^2) / K, whose
  // second part dominates at these values (d = 0.1, s_t = 0.05). The report's RMS must equal
  // the RMS over outputs of the circuit's term, and the sampled deviations from the circuit's
  // mean read-out (fading and extinction included) must have that variance: for K = 4 they are
  // normal, so their mean square over n outputs has relative standard error sqrt(2 / n); 5 of
  // them.
  CircuitParams c = load_settings({}, {}).circuit;
  c.system.lo_phase_noise_rad = 0.05;
  c.system.repeats = 4;
  c.modulator.extinction_ratio_dB = 20;
  const NoiseSources sources =
      NoiseSources::none().with(NoiseSource::phase).with(NoiseSource::extinction);
  const Eigen::MatrixXf w = uniform_matrix(100, 20, 47, -1, 1);
  const Eigen::MatrixXf x = uniform_matrix(20, 60, 48, 0, 1);
  const AnalogExecutor ex(NoiseMode::physical, {chip_layer_for(w, 4)}, c, sources, 5);
  const Eigen::MatrixXf y = run(ex, w, x);
  CircuitParams cf = c;
  cf.system.encoding = Encoding::full_scale;
  const HomodyneMac mac(cf, sources);
  double term_sq = 0, z_sq = 0, quadrature_sq = 0, cosine_sq = 0;
  const double n = static_cast<double>(y.size());
  const double s = 0.05, m1 = std::exp(-s * s / 2), m2 = (1 + std::exp(-2 * s * s)) / 2;
  for (Eigen::Index j = 0; j < x.cols(); ++j)
    for (Eigen::Index i = 0; i < w.rows(); ++i) {
      DotProduct dp;
      for (Eigen::Index k = 0; k < w.cols(); ++k) {
        dp.x.push_back(x(k, j));
        dp.w.push_back(w(i, k));
      }
      dp.w_full_scale = weight_scale(w);
      const NoiseBudget b = mac.analyze(dp);
      const double t = b.term("phase_noise");
      term_sq += t * t;
      z_sq += std::pow((y(i, j) - b.expected) / t, 2);
      cosine_sq += (m2 - m1 * m1) / 4 * b.ideal * b.ideal;
      quadrature_sq += t * t - (m2 - m1 * m1) / 4 * b.ideal * b.ideal;
    }
  // The quadrature part is the larger one here (else this test would not test it).
  CHECK(quadrature_sq > 3 * cosine_sq);
  const LayerNoiseReport r = ex.report()[0];
  CHECK(source(r, "phase_noise") == doctest::Approx(std::sqrt(term_sq / n)).epsilon(1e-3).scale(0));
  CHECK(std::abs(z_sq / n - 1) < 5 * std::sqrt(2 / n));
}
