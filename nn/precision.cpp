#include "lumac/nn/precision.hpp"
#include "lumac/core/interrupt.hpp"

#include <chrono>
#include <cmath>
#include <map>
#include <mutex>
#include <numeric>
#include <tuple>

#include "lumac/core/error.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/nn/loss.hpp"

namespace lumac::nn {

namespace {

// A MatmulHook that adds the executor's noise and, in the backward pass, takes its gradient
// with respect to ln E (and adds its dependence on X to dL/dX): per backward call the row sums
// sum_j dL/dY_ij dY_ij/d ln E_i, kept per (layer, first sample, first position: a head of a
// product of two activations) and added in that order, so
// the result does not depend on the thread count.
class LearningHook final : public MatmulHook {
 public:
  explicit LearningHook(const AnalogExecutor& ex) : ex_(ex) {}

  void forward(MatmulView& v) const override { ex_.forward(v); }
  bool reads_patch_matrix() const override { return ex_.reads_patch_matrix(); }

  void backward(const MatmulView& v, MatrixMap* dx) const override {
    Eigen::VectorXd rows;
    ex_.backward_noise(v, dx, &rows);
    const std::lock_guard<std::mutex> lock(mutex_);
    partial_[{v.layer, v.first_sample, v.first_position, v.output_offset}] = std::move(rows);
  }

  // Per layer, the row sums over every call, a grouped convolution's groups at their outputs.
  std::vector<Eigen::VectorXd> totals(std::size_t layers) const {
    std::vector<Eigen::VectorXd> out(layers);
    for (const auto& [key, rows] : partial_) {
      auto& t = out[static_cast<std::size_t>(std::get<0>(key))];
      const auto outputs = static_cast<Eigen::Index>(
          ex_.layers()[static_cast<std::size_t>(std::get<0>(key))].outputs);
      if (t.size() == 0) t = Eigen::VectorXd::Zero(outputs);
      t.segment(std::get<3>(key), rows.size()) += rows;
    }
    return out;
  }

 private:
  const AnalogExecutor& ex_;
  mutable std::mutex mutex_;
  mutable std::map<std::tuple<int, std::int64_t, std::int64_t, int>, Eigen::VectorXd> partial_;
};

void check_options(const PrecisionOptions& o, const Model& model,
                   const std::vector<AnalogLayer>& layers) {
  if (!noise_mode_info(o.mode).learnable)
    fail(
        "precision learning needs a noise mode with an energy knob: shot, thermal, weight or "
        "physical");
  if (!(o.lambda > 0) || !std::isfinite(o.lambda))
    fail("lambda = {}: must be finite and > 0", o.lambda);
  if (!(o.target_energy > 0) || !std::isfinite(o.target_energy))
    fail("target energy = {}: must be finite and > 0", o.target_energy);
  if (o.steps < 1 || o.steps > 10'000'000) fail("steps = {}: must be in [1, 1e7]", o.steps);
  if (o.batch < 1 || o.batch > 65536) fail("batch = {}: must be in [1, 65536]", o.batch);
  if (!(o.learning_rate > 0) || !std::isfinite(o.learning_rate))
    fail("learning rate = {}: must be finite and > 0", o.learning_rate);
  if (layers.size() != model.matmul_layers().size())
    fail("precision learning: {} analog layers for {} matrix-product layers", layers.size(),
         model.matmul_layers().size());
}

std::uint64_t step_seed(std::uint64_t seed, std::uint64_t step) {
  return seed ^ ((step + 1) * 0x9E3779B97F4A7C15ull);
}

}  // namespace

double forward_energy(double e, bool integer_repeats) {
  return integer_repeats ? std::max(1.0, std::round(e)) : e;
}

double mean_energy(const Model& model, const std::vector<std::vector<double>>& energy) {
  double num = 0, den = 0;
  const auto& info = model.matmul_layers();
  for (std::size_t l = 0; l < info.size(); ++l) {
    const double macs = static_cast<double>(info[l].macs);
    const auto& e = energy.at(l);
    for (double v : e) num += v * macs / static_cast<double>(e.size());
    den += macs;
  }
  return num / den;
}

PrecisionGradient precision_gradient(const Model& model, const Batch& batch,
                                     const std::vector<AnalogLayer>& layers,
                                     const CircuitParams& circuit, NoiseSources sources,
                                     const PrecisionOptions& o, std::uint64_t noise_seed) {
  check_options(o, model, layers);
  // The layers as the forward pass runs them (rounded repeats).
  std::vector<AnalogLayer> used = layers;
  for (auto& a : used)
    for (double& e : a.energy) e = forward_energy(e, o.integer_repeats);
  const AnalogExecutor ex(o.mode, used, circuit, sources, noise_seed);
  const LearningHook hook(ex);
  const Pass pass{.samples = batch.samples, .hook = &hook};
  Tape tape;
  model.forward(batch.images, pass, tape);
  Tensor grad_logits;
  const LossResult ce = softmax_cross_entropy(tape.logits(), batch.labels, &grad_logits);
  model.backward(tape, grad_logits, pass, nullptr, nullptr);
  const auto totals = hook.totals(layers.size());

  PrecisionGradient g;
  g.cross_entropy = ce.loss;
  std::vector<std::vector<double>> energy;
  for (const auto& a : layers) energy.push_back(a.energy);
  const double e_avg = mean_energy(model, energy);
  const double log_excess = std::log(e_avg) - std::log(o.target_energy);
  const bool penalised = !o.constrained || log_excess > 0;
  g.loss = ce.loss + o.lambda * (o.constrained ? std::max(0.0, log_excess) : std::log(e_avg));
  const auto& info = model.matmul_layers();
  double total_macs = 0;
  for (const auto& i : info) total_macs += static_cast<double>(i.macs);
  for (std::size_t l = 0; l < layers.size(); ++l) {
    const auto& e = layers[l].energy;
    std::vector<double> d(e.size(), 0.0);
    const auto& rows = totals[l];
    for (Eigen::Index i = 0; i < rows.size(); ++i) {
      const std::size_t k = e.size() == 1 ? 0 : static_cast<std::size_t>(i);
      // dL/d theta = dL/d ln E_used * d ln E_used / d theta, with the straight-through
      // estimator d E_used / d E = 1: d ln E_used / d theta = E / E_used.
      d[k] += rows[i] * e[k] / forward_energy(e[k], o.integer_repeats);
    }
    if (penalised) {
      // d ln E_avg / d theta_k = E_k MACs_k / (E_avg sum MACs).
      const double macs = static_cast<double>(info[l].macs) / static_cast<double>(e.size());
      for (std::size_t k = 0; k < e.size(); ++k)
        d[k] += o.lambda * e[k] * macs / (e_avg * total_macs);
    }
    g.d_theta.push_back(std::move(d));
  }
  return g;
}

PrecisionResult learn_precision(const Model& model, const Dataset& train,
                                std::vector<AnalogLayer> layers, const CircuitParams& circuit,
                                NoiseSources sources, const PrecisionOptions& o) {
  check_options(o, model, layers);
  if (train.size() < 1) fail("precision learning: the training set is empty");
  const auto start = std::chrono::steady_clock::now();
  // theta = ln E, starting at the target everywhere.
  std::vector<std::vector<double>> theta;
  for (auto& a : layers) {
    a.energy.assign(o.per_channel ? static_cast<std::size_t>(a.outputs) : 1, o.target_energy);
    theta.emplace_back(a.energy.size(), std::log(o.target_energy));
  }
  // Adam (beta1 0.9, beta2 0.999, eps 1e-8) on theta, in double.
  std::vector<std::vector<double>> m1, m2;
  for (const auto& t : theta) {
    m1.emplace_back(t.size(), 0.0);
    m2.emplace_back(t.size(), 0.0);
  }
  const RandomStream rng(o.seed, Stream::precision);
  const std::int64_t n = train.size();
  std::vector<std::int64_t> order(static_cast<std::size_t>(n));
  std::int64_t cursor = n;
  std::uint64_t epoch = 0;
  PrecisionResult result;
  for (int step = 0; step < o.steps; ++step) {
    if (stop_requested()) {
      result.interrupted = true;
      break;
    }
    // Mini-batches without replacement, reshuffled every pass over the training set.
    if (cursor + o.batch > n) {
      std::iota(order.begin(), order.end(), std::int64_t{0});
      for (std::int64_t i = n - 1; i > 0; --i) {
        const double u = rng.uniform(0, epoch, static_cast<std::uint64_t>(i), 0);
        const auto j =
            std::min<std::int64_t>(i, static_cast<std::int64_t>(u * static_cast<double>(i + 1)));
        std::swap(order[static_cast<std::size_t>(i)], order[static_cast<std::size_t>(j)]);
      }
      cursor = 0;
      ++epoch;
    }
    const auto count = static_cast<std::size_t>(std::min<std::int64_t>(o.batch, n));
    const Batch b = make_batch(train, std::span<const std::int64_t>(order).subspan(
                                          static_cast<std::size_t>(cursor), count));
    cursor += static_cast<std::int64_t>(count);
    const PrecisionGradient g = precision_gradient(
        model, b, layers, circuit, sources, o, step_seed(o.seed, static_cast<std::uint64_t>(step)));
    const double t = step + 1;
    for (std::size_t l = 0; l < theta.size(); ++l) {
      for (std::size_t k = 0; k < theta[l].size(); ++k) {
        const double grad = g.d_theta[l][k];
        m1[l][k] = 0.9 * m1[l][k] + 0.1 * grad;
        m2[l][k] = 0.999 * m2[l][k] + 0.001 * grad * grad;
        const double mh = m1[l][k] / (1 - std::pow(0.9, t)),
                     vh = m2[l][k] / (1 - std::pow(0.999, t));
        theta[l][k] -= o.learning_rate * mh / (std::sqrt(vh) + 1e-8);
        // Keep E in a range the hardware can express (1e-6 to 1e9 of its unit).
        // (repeats: at least one, which round(E) reaches from E = 0.5).
        theta[l][k] =
            std::clamp(theta[l][k], std::log(o.integer_repeats ? 0.5 : 1e-6), std::log(1e9));
        layers[l].energy[k] = std::exp(theta[l][k]);
      }
    }
    std::vector<std::vector<double>> energy;
    for (const auto& a : layers) energy.push_back(a.energy);
    result.curve.loss.push_back(g.loss);
    result.curve.cross_entropy.push_back(g.cross_entropy);
    result.curve.mean_energy.push_back(mean_energy(model, energy));
    if (o.on_step) o.on_step(step + 1, g.loss);
  }
  for (const auto& a : layers) result.energy.push_back(a.energy);
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return result;
}

IsoAccuracy lowest_energy_scale(const std::function<double(double)>& accuracy_at, double target,
                                double start, double tolerance_ratio, int max_evaluations) {
  if (!(start > 0) || !std::isfinite(start))
    fail("energy search: start scale {} must be > 0", start);
  if (!(tolerance_ratio > 1))
    fail("energy search: tolerance ratio {} must be > 1", tolerance_ratio);
  IsoAccuracy r;
  auto eval = [&](double s) {
    ++r.evaluations;
    return accuracy_at(s);
  };
  double lo = 0, hi = 0, hi_acc = 0;
  double s = start;
  double acc = eval(s);
  if (acc >= target) {
    hi = s;
    hi_acc = acc;
    // Step down by 4x until the target is missed (the lowest scale tried is 1e-9 of the start).
    while (r.evaluations < max_evaluations) {
      s /= 4;
      if (s < start * 1e-9) break;
      acc = eval(s);
      if (acc < target) {
        lo = s;
        break;
      }
      hi = s;
      hi_acc = acc;
    }
    if (lo == 0) {  // every scale tried meets the target
      r.scale = hi;
      r.accuracy = hi_acc;
      r.reached = true;
      return r;
    }
  } else {
    lo = s;
    while (r.evaluations < max_evaluations) {
      s *= 4;
      if (s > start * 1e9) break;
      acc = eval(s);
      if (acc >= target) {
        hi = s;
        hi_acc = acc;
        break;
      }
      lo = s;
    }
    if (hi == 0) {
      r.reached = false;
      r.scale = lo;
      r.accuracy = acc;
      return r;
    }
  }
  // Bisection in log scale between a missing (lo) and a meeting (hi) scale.
  while (hi / lo > tolerance_ratio && r.evaluations < max_evaluations) {
    const double mid = std::sqrt(lo * hi);
    acc = eval(mid);
    if (acc >= target) {
      hi = mid;
      hi_acc = acc;
    } else {
      lo = mid;
    }
  }
  r.scale = hi;
  r.accuracy = hi_acc;
  r.reached = true;
  return r;
}

}  // namespace lumac::nn
