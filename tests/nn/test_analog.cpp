#include <omp.h>

#include <array>
#include <thread>
#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/precision.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/nn/analog.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/nn/nn_support.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::nn;
using namespace lumac::test;

namespace {

AnalogLayer layer_of(const Eigen::MatrixXf& w, double energy) {
  AnalogLayer a;
  a.name = "fc";
  a.fan_in = w.cols();
  a.outputs = w.rows();
  a.input_lo = 0;
  a.input_hi = 1;
  a.output_lo = -3;
  a.output_hi = 3;
  a.weight_lo = w.minCoeff();
  a.weight_hi = w.maxCoeff();
  a.energy = {energy};
  return a;
}

// Runs the hook over `samples` copies of one input column (Dense layout: one column per sample)
// and returns the per-output standard deviation of the added noise.
Eigen::VectorXd measured_std(const AnalogExecutor& ex, const Eigen::MatrixXf& w,
                             const Eigen::VectorXf& x, int samples, bool per_position = false) {
  Eigen::MatrixXf xs = x.replicate(1, per_position ? 1 : samples);
  Eigen::VectorXd sum = Eigen::VectorXd::Zero(w.rows()), sum2 = Eigen::VectorXd::Zero(w.rows());
  const Eigen::VectorXf clean = w * x;
  if (!per_position) {
    Eigen::MatrixXf y = w * xs;
    MatmulView v{0,
                 0,
                 false,
                 ConstMatrixMap(w.data(), w.rows(), w.cols()),
                 ConstMatrixMap(xs.data(), xs.rows(), xs.cols()),
                 MatrixMap(y.data(), y.rows(), y.cols())};
    ex.forward(v);
    for (int j = 0; j < samples; ++j) {
      const Eigen::VectorXd d = (y.col(j) - clean).cast<double>();
      sum += d;
      sum2 += d.cwiseProduct(d);
    }
  } else {
    for (int j = 0; j < samples; ++j) {
      Eigen::MatrixXf y = w * xs;
      MatmulView v{0,
                   j,
                   true,
                   ConstMatrixMap(w.data(), w.rows(), w.cols()),
                   ConstMatrixMap(xs.data(), xs.rows(), xs.cols()),
                   MatrixMap(y.data(), y.rows(), y.cols())};
      ex.forward(v);
      const Eigen::VectorXd d = (y.col(0) - clean).cast<double>();
      sum += d;
      sum2 += d.cwiseProduct(d);
    }
  }
  const double n = samples;
  return ((sum2 - sum.cwiseProduct(sum) / n) / (n - 1)).cwiseSqrt();
}

}  // namespace

TEST_CASE("analog: mode none leaves the product unchanged") {
  const Eigen::MatrixXf w = uniform_matrix(5, 20, 1, -1, 1), x = uniform_matrix(20, 7, 2, 0, 1);
  Eigen::MatrixXf y = w * x;
  const Eigen::MatrixXf clean = y;
  const AnalogExecutor ex(NoiseMode::none, {layer_of(w, 1)}, load_settings({}, {}).circuit,
                          NoiseSources::all(), 1);
  MatmulView v{0,
               0,
               false,
               ConstMatrixMap(w.data(), 5, 20),
               ConstMatrixMap(x.data(), 20, 7),
               MatrixMap(y.data(), 5, 7)};
  ex.forward(v);
  CHECK(y == clean);
}

TEST_CASE("analog: shot mode noise std is ||w_i|| ||x|| / sqrt(D E) (n = 20000)") {
  const Eigen::MatrixXf w = uniform_matrix(6, 50, 3, -1, 1);
  const Eigen::VectorXf x = uniform_matrix(50, 1, 4, 0, 1);
  const double e = 4;
  const AnalogExecutor ex(NoiseMode::shot_only, {layer_of(w, e)}, load_settings({}, {}).circuit,
                          NoiseSources::all(), 9);
  const int n = 20000;
  const Eigen::VectorXd got = measured_std(ex, w, x, n);
  for (Eigen::Index i = 0; i < w.rows(); ++i) {
    const double expected = w.row(i).norm() * x.norm() / std::sqrt(50 * e);
    CHECK(std::abs(got[i] - expected) < 5 * expected / std::sqrt(2.0 * n));
  }
}

TEST_CASE("analog: thermal, weight and enob modes follow PHYSICS.md section 5") {
  const CircuitParams c = load_settings({}, {}).circuit;
  const Eigen::MatrixXf w = uniform_matrix(4, 30, 5, -0.5f, 0.5f);
  const Eigen::VectorXf x = uniform_matrix(30, 1, 6, 0, 1);
  const int n = 20000;
  AnalogLayer a = layer_of(w, 2);
  a.repeats = 2;  // E K = 4
  const double rw = a.weight_hi - a.weight_lo, rx = a.input_hi - a.input_lo;
  const double tol = 5 / std::sqrt(2.0 * n);
  const Eigen::VectorXd thermal = measured_std(
      AnalogExecutor(NoiseMode::thermal_only, {a}, c, NoiseSources::all(), 1), w, x, n);
  for (Eigen::Index i = 0; i < 4; ++i)
    CHECK(thermal[i] / (0.01 * std::sqrt(30.0) * rw * rx / 2) == doctest::Approx(1).epsilon(tol));
  const Eigen::VectorXd weight =
      measured_std(AnalogExecutor(NoiseMode::weight_only, {a}, c, NoiseSources::all(), 1), w, x, n);
  for (Eigen::Index i = 0; i < 4; ++i)
    CHECK(weight[i] / (0.1 * rw * x.norm() / 2) == doctest::Approx(1).epsilon(tol));
  // Convolution layout: an exact per-sample weight perturbation with the same statistics.
  const Eigen::VectorXd conv = measured_std(
      AnalogExecutor(NoiseMode::weight_only, {a}, c, NoiseSources::all(), 1), w, x, n, true);
  for (Eigen::Index i = 0; i < 4; ++i)
    CHECK(conv[i] / (0.1 * rw * x.norm() / 2) == doctest::Approx(1).epsilon(tol));
  a.enob = 5;
  const Eigen::VectorXd enob =
      measured_std(AnalogExecutor(NoiseMode::enob, {a}, c, NoiseSources::all(), 1), w, x, n);
  // R / (sqrt(12) 2^5), and K = 2 repeats divide it by sqrt(2).
  for (Eigen::Index i = 0; i < 4; ++i)
    CHECK(enob[i] / (6 / (std::sqrt(12.0) * 32) / std::sqrt(2.0)) ==
          doctest::Approx(1).epsilon(tol));
}

TEST_CASE("analog: physical mode noise equals the circuit model of the same dot product") {
  CircuitParams c = load_settings({}, {}).circuit;
  c.laser.power_W = 2e-5;
  c.laser.rin_dB_per_Hz = -125;
  c.modulator.weight_noise_std = 0.01;
  // Inputs of equal magnitude make sum v^2 u^2 = s u / D exact.
  Eigen::VectorXf x(40);
  for (int j = 0; j < 40; ++j) x[j] = (j % 3 == 0) ? -0.5f : 0.5f;
  const Eigen::MatrixXf w = uniform_matrix(3, 40, 7, -1, 1);
  AnalogLayer a = layer_of(w, 1);
  a.input_lo = -1;
  a.input_hi = 1;
  a.weight_lo = -1;
  a.weight_hi = 1;
  a.output_lo = -30;  // an ADC span wider than every noisy output: no clipping
  a.output_hi = 30;
  a.repeats = 2;
  const auto sources =
      NoiseSources::all().without(NoiseSource::dac).without(NoiseSource::extinction);
  const AnalogExecutor ex(NoiseMode::physical, {a}, c, sources, 3);
  c.system.repeats = 2;
  const HomodyneMac mac(c, sources);
  Eigen::MatrixXf sigma;
  Eigen::MatrixXf y = w * x;
  const MatmulView v{0,
                     0,
                     false,
                     ConstMatrixMap(w.data(), 3, 40),
                     ConstMatrixMap(x.data(), 40, 1),
                     MatrixMap(y.data(), 3, 1)};
  ex.noise_std(v, sigma, nullptr);
  for (Eigen::Index i = 0; i < 3; ++i) {
    DotProduct dp;
    for (int j = 0; j < 40; ++j) {
      dp.x.push_back(x[j]);
      dp.w.push_back(w(i, j));
    }
    dp.range = 60;
    CHECK(sigma(i, 0) == doctest::Approx(mac.analyze(dp).noise_std).epsilon(1e-5));
  }
  // And the measured noise has that std (n = 20000).
  const int n = 20000;
  const Eigen::VectorXd got = measured_std(ex, w, x, n);
  for (Eigen::Index i = 0; i < 3; ++i)
    CHECK(got[i] / sigma(i, 0) == doctest::Approx(1).epsilon(5 / std::sqrt(2.0 * n)));
  // The report's layer ENOB is log2(R / (sqrt(12) sigma_rms)).
  const auto rep = ex.report();
  REQUIRE(rep.size() == 1);
  CHECK(rep[0].enob == doctest::Approx(enob_bits(60, rep[0].noise_std)));
  CHECK(rep[0].by_source.size() == LayerNoiseModel::source_names.size());
}

TEST_CASE(
    "analog: forward adds sigma_ij z_ij, z the normals of (sample, layer) in either layout, "
    "across the blocks it draws them in") {
  CircuitParams c = load_settings({}, {}).circuit;
  c.laser.power_W = 2e-5;
  const std::uint64_t seed = 6;
  const RandomStream rng(seed, Stream::layer_noise);
  // Dense: 3000 outputs (more than one block of normals) over 3 samples; conv: 5 outputs (not a
  // divisor of the 16-normal chunks) over 700 positions (3500 outputs, two blocks).
  for (const bool per_position : {false, true}) {
    const Eigen::Index rows = per_position ? 5 : 3000, cols = per_position ? 700 : 3;
    const Eigen::MatrixXf w = uniform_matrix(rows, 20, 11, -1, 1);
    const Eigen::MatrixXf x = uniform_matrix(20, cols, 12, -1, 1);
    AnalogLayer a = layer_of(w, 3);
    a.input_lo = -1;
    a.enob = 6;
    for (const NoiseMode mode : {NoiseMode::shot_only, NoiseMode::thermal_only,
                                 NoiseMode::weight_only, NoiseMode::enob, NoiseMode::physical}) {
      if (mode == NoiseMode::weight_only && per_position) continue;  // an exact weight perturbation
      CAPTURE(per_position);
      CAPTURE(static_cast<int>(mode));
      // Physical: the noise alone, without the extinction error and with an ADC span wider
      // than every output (both are tested in test_analog_circuit.cpp).
      const bool physical = mode == NoiseMode::physical;
      AnalogLayer la = a;
      if (physical) {
        la.output_lo = -30;
        la.output_hi = 30;
      }
      const AnalogExecutor ex(
          mode, {la}, c,
          physical ? NoiseSources::all().without(NoiseSource::extinction) : NoiseSources::all(),
          seed);
      // Physical mode applies the weight DAC to W exactly (nn/analog_chip.hpp): the mean is
      // W_q x, W_q = m_w quantized_drive(W / m_w), m_w = max|W| here (the noise is the input
      // DAC's and the other sources').
      Eigen::MatrixXf wq = w;
      if (physical) {
        const double mw = std::max(std::abs(la.weight_lo), std::abs(la.weight_hi));
        for (Eigen::Index k = 0; k < w.size(); ++k)
          wq.data()[k] = static_cast<float>(
              mw * quantized_drive(std::clamp(w.data()[k] / mw, -1.0, 1.0), c.dac.bits, true));
      }
      const Eigen::MatrixXf clean = w * x, mean = wq * x;
      CHECK((physical ? (mean - clean).cwiseAbs().maxCoeff() > 1e-3f : mean == clean));
      Eigen::MatrixXf y = clean;
      MatmulView v{0,
                   40,
                   per_position,
                   ConstMatrixMap(w.data(), rows, 20),
                   ConstMatrixMap(x.data(), 20, cols),
                   MatrixMap(y.data(), rows, cols)};
      Eigen::MatrixXf sigma;
      ex.noise_std(v, sigma, nullptr);
      ex.forward(v);
      Eigen::MatrixXf z(rows, cols);
      if (per_position) {
        NoiseSequence(rng, 40, 0, 0)
            .fill(std::span<float>(z.data(), static_cast<std::size_t>(z.size())));
      } else {
        for (Eigen::Index j = 0; j < cols; ++j)
          NoiseSequence(rng, static_cast<std::uint64_t>(40 + j), 0, 0)
              .fill(std::span<float>(z.col(j).data(), static_cast<std::size_t>(rows)));
      }
      const Eigen::MatrixXf expected = mean + sigma.cwiseProduct(z);
      // Equal up to float rounding (fused or separate multiply-add; physical: W x + (W_q - W) x
      // against W_q x, the rounding of fan-in-20 float products of terms below 1, a few units of
      // 6e-8 of the largest output).
      const float err = (y - expected).cwiseAbs().maxCoeff();
      CAPTURE(err);
      CHECK(err <= 1e-6f * (1 + clean.cwiseAbs().maxCoeff()));
      CHECK(sigma.minCoeff() > 0);
      // The statistics count the same variances.
      const auto rep = ex.report();
      CHECK(rep[0].noise_std * rep[0].noise_std ==
            doctest::Approx(sigma.cwiseAbs2().cast<double>().mean()).epsilon(1e-5));
    }
  }
}

TEST_CASE("analog: noise depends on the sample and position indices only, not on batching") {
  const Eigen::MatrixXf w = uniform_matrix(8, 25, 8, -1, 1), x = uniform_matrix(25, 10, 9, 0, 1);
  const AnalogExecutor ex(NoiseMode::shot_only, {layer_of(w, 3)}, load_settings({}, {}).circuit,
                          NoiseSources::all(), 4);
  const Eigen::MatrixXf clean = w * x;
  Eigen::MatrixXf whole = clean;
  MatmulView v{0,
               100,
               false,
               ConstMatrixMap(w.data(), 8, 25),
               ConstMatrixMap(x.data(), 25, 10),
               MatrixMap(whole.data(), 8, 10)};
  ex.forward(v);
  // The same ten samples in two batches of 3 and 7 (same clean products: the hook is tested).
  Eigen::MatrixXf a = clean.leftCols(3), b = clean.rightCols(7);
  const Eigen::MatrixXf xa = x.leftCols(3), xb = x.rightCols(7);
  MatmulView va{0,
                100,
                false,
                ConstMatrixMap(w.data(), 8, 25),
                ConstMatrixMap(xa.data(), 25, 3),
                MatrixMap(a.data(), 8, 3)};
  MatmulView vb{0,
                103,
                false,
                ConstMatrixMap(w.data(), 8, 25),
                ConstMatrixMap(xb.data(), 25, 7),
                MatrixMap(b.data(), 8, 7)};
  ex.forward(vb);
  ex.forward(va);
  CHECK(whole.leftCols(3) == a);
  CHECK(whole.rightCols(7) == b);
}

TEST_CASE("analog: two identical layers fed the same sample add uncorrelated noise") {
  // Same weights, same calibration, same sample indices: only the layer index tells the two
  // noise draws apart. A counter that ignored it would give rho = 1; independent draws give
  // |rho| < 5 / sqrt(n) (five standard errors of a correlation of n pairs) but for a 6e-7 chance.
  const Eigen::MatrixXf w = uniform_matrix(8, 25, 10, -1, 1), x = uniform_matrix(25, 1, 11, 0, 1);
  const int samples = 2000;
  const Eigen::MatrixXf xs = x.replicate(1, samples);
  const AnalogExecutor ex(NoiseMode::shot_only, {layer_of(w, 3), layer_of(w, 3)},
                          load_settings({}, {}).circuit, NoiseSources::all(), 12);
  const Eigen::MatrixXf clean = w * xs;
  std::array<Eigen::MatrixXf, 2> noise;
  for (int layer : {0, 1}) {
    Eigen::MatrixXf y = clean;
    MatmulView v{layer,
                 500,
                 false,
                 ConstMatrixMap(w.data(), w.rows(), w.cols()),
                 ConstMatrixMap(xs.data(), xs.rows(), xs.cols()),
                 MatrixMap(y.data(), y.rows(), y.cols())};
    ex.forward(v);
    noise[static_cast<std::size_t>(layer)] = y - clean;
  }
  const Eigen::ArrayXd a = noise[0].reshaped().cast<double>().array();
  const Eigen::ArrayXd b = noise[1].reshaped().cast<double>().array();
  const double n = static_cast<double>(a.size());
  REQUIRE(n == 8.0 * samples);
  const Eigen::ArrayXd da = a - a.mean(), db = b - b.mean();
  const double rho = (da * db).sum() / std::sqrt((da * da).sum() * (db * db).sum());
  CAPTURE(rho);
  CHECK((da * da).sum() > 0);  // the layers do add noise
  CHECK(std::abs(rho) < 5 / std::sqrt(n));
}

TEST_CASE("analog: statistics count every call, from nested parallel regions and many threads") {
  // Layers run their loops inside Model::forward's loop over sample groups: inner regions of
  // one thread (omp_get_thread_num() is then 0 on every outer thread) and of different sizes.
  // Every call must land in its own thread's slot (lost updates would drop outputs), also for
  // more threads than there are slots. (A shared slot shows here as lost updates in some runs,
  // not all: two adds must overlap in time.)
  const Eigen::MatrixXf w = uniform_matrix(4, 9, 1, -1, 1), x = uniform_matrix(9, 3, 2, 0, 1);
  AnalogLayer a = layer_of(w, 1);
  a.enob = 5;
  const AnalogExecutor ex(NoiseMode::enob, {a}, load_settings({}, {}).circuit, NoiseSources::all(),
                          1);
  const auto call = [&](int k) {
    Eigen::MatrixXf y = w * x;
    MatmulView v{0,
                 k,
                 false,
                 ConstMatrixMap(w.data(), 4, 9),
                 ConstMatrixMap(x.data(), 9, 3),
                 MatrixMap(y.data(), 4, 3)};
    ex.forward(v);
  };
  const int calls = 8000;
  const int threads_before = omp_get_max_threads(), levels_before = omp_get_max_active_levels();
  omp_set_max_active_levels(2);
#pragma omp parallel for schedule(static) num_threads(2)
  for (int k = 0; k < calls; ++k) {
    // Inner teams of 2 threads on the first outer thread, of 1 (inactive) on the second.
#pragma omp parallel for num_threads(k < calls / 2 ? 2 : 1)
    for (int m = 0; m < 2; ++m) call(2 * k + m);
  }
  omp_set_max_active_levels(levels_before);
  omp_set_num_threads(threads_before);
  // 300 more threads (beyond the 256 slots), four at a time.
  for (int batch = 0; batch < 75; ++batch) {
    std::vector<std::thread> pool;
    for (int t = 0; t < 4; ++t)
      pool.emplace_back([&, batch, t] {
        for (int k = 0; k < 10; ++k) call(4 * calls + 40 * batch + 10 * t + k);
      });
    for (std::thread& th : pool) th.join();
  }
  const auto rep = ex.report();
  CHECK(rep[0].outputs_seen == 12.0 * (2 * calls + 3000));
  CHECK(rep[0].noise_std == doctest::Approx(rms_error_for_enob(6, 5)).epsilon(1e-6));
}

TEST_CASE("analog: bad layers are errors") {
  const Eigen::MatrixXf w = uniform_matrix(4, 10, 1, -1, 1);
  const CircuitParams c = load_settings({}, {}).circuit;
  AnalogLayer a = layer_of(w, 0);
  CHECK_THROWS_AS(AnalogExecutor(NoiseMode::shot_only, {a}, c, NoiseSources::all(), 1), Error);
  a = layer_of(w, 1);
  a.energy = {1, 2};
  CHECK_THROWS_WITH_AS(AnalogExecutor(NoiseMode::shot_only, {a}, c, NoiseSources::all(), 1),
                       doctest::Contains("2 energies given for 4"), Error);
  a = layer_of(w, 1);
  a.output_lo = a.output_hi = 0;
  CHECK_THROWS_AS(AnalogExecutor(NoiseMode::shot_only, {a}, c, NoiseSources::all(), 1), Error);
  CHECK_THROWS_WITH_AS(parse_noise_mode("quantum"), doctest::Contains("noise = 'quantum'"), Error);
}
