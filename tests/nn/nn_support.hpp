// Helpers of the nn test suites: seeded random tensors and layers, and the central-difference
// gradient check.
//
// Gradient check. The checked function is L = sum_i r_i out_i (fixed random r, summed in double)
// or the softmax cross-entropy. Dense and Conv2d are linear in their inputs and weights, ReLU
// and the pools piecewise linear, so for them a central difference has no truncation error as
// long as no kink is crossed (the tests keep inputs at least 2h away from every kink); what is
// left is float32 rounding of the outputs a perturbation changes, about
// u sqrt(K) |out| / (2h) with u = 6e-8, K <= 100 terms per output, |out| <= 10, h = 0.01:
// 3e-4 absolute, below 1e-3 of the largest gradient (which the tests require to be >= 0.1).
// A wrong gradient (a missing term, a transposed index, a wrong scale) errs by O(1) relative, so
// the relative tolerance of 2e-3 separates the two by a wide margin. The step actually taken is
// measured (float(x + h) - float(x - h)), so the rounding of x + h does not bias the quotient.
#pragma once

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <span>
#include <vector>

#include "lumac/core/rng.hpp"
#include "lumac/nn/analog.hpp"
#include "lumac/nn/layer.hpp"
#include "lumac/nn/model.hpp"
#include "tests/support.hpp"

namespace lumac::test {

// A rows x cols matrix of uniform values in [lo, hi), element i from counter i of `seed`.
inline Eigen::MatrixXf uniform_matrix(Eigen::Index rows, Eigen::Index cols, std::uint64_t seed,
                                      float lo, float hi) {
  const RandomStream r(seed, Stream::test);
  Eigen::MatrixXf m(rows, cols);
  for (Eigen::Index i = 0; i < m.size(); ++i)
    m.data()[i] =
        lo + (hi - lo) * static_cast<float>(r.uniform(static_cast<std::uint64_t>(i), 0, 0, 0));
  return m;
}

// The ONNX test models of scripts/make_onnx_test_models.py with their inputs and PyTorch's
// outputs.
inline std::filesystem::path onnx_test_dir() {
  return source_dir() / "tests" / "data" / "onnx";
}

// Largest |ours - ref| relative to ref's largest magnitude (infinite if the sizes differ).
inline double relative_error(std::span<const float> ours, std::span<const float> ref) {
  if (ours.size() != ref.size()) return std::numeric_limits<double>::infinity();
  double err = 0, scale = 0;
  for (std::size_t i = 0; i < ref.size(); ++i) {
    err = std::max(err, std::abs(double(ours[i]) - ref[i]));
    scale = std::max(scale, std::abs(double(ref[i])));
  }
  return err / scale;
}

inline void fill_normal(std::span<float> v, std::uint64_t key, float scale = 1.0f) {
  RandomStream(42, Stream::test).fill_normal(v, key, 0, 0);
  for (float& x : v) x *= scale;
}

inline nn::Tensor random_tensor(int batch, const nn::Shape& shape, std::uint64_t key,
                                float scale = 1.0f) {
  nn::Tensor t(batch, shape);
  fill_normal(t.data, key, scale);
  return t;
}

// sum_i r_i out_i in double.
inline double weighted_sum(const nn::Tensor& out, const std::vector<float>& r) {
  double s = 0;
  for (std::size_t i = 0; i < out.data.size(); ++i) s += double(r[i]) * out.data[i];
  return s;
}

struct FdCheck {
  double max_error = 0;     // largest |numeric - analytic|
  double max_gradient = 0;  // largest |analytic| among the checked elements
  double relative() const { return max_error / std::max(max_gradient, 1e-30); }
};

// Compares analytic[k] with the central difference of loss() in values[k], for each k in `which`
// (every element when empty).
template <class Loss>
FdCheck central_differences(std::span<float> values, std::span<const float> analytic, Loss&& loss,
                            double h, std::vector<std::size_t> which = {}) {
  if (which.empty())
    for (std::size_t k = 0; k < values.size(); ++k) which.push_back(k);
  FdCheck c;
  for (std::size_t k : which) {
    const float saved = values[k];
    values[k] = static_cast<float>(saved + h);
    const double up = values[k], l_up = loss();
    values[k] = static_cast<float>(saved - h);
    const double down = values[k], l_down = loss();
    values[k] = saved;
    const double numeric = (l_up - l_down) / (up - down);
    c.max_error = std::max(c.max_error, std::abs(numeric - analytic[k]));
    c.max_gradient = std::max(c.max_gradient, std::abs(double(analytic[k])));
  }
  return c;
}

// Every element of the layer's parameters from the seeded stream.
inline void randomize(nn::Layer& layer, std::uint64_t key, float scale = 0.5f) {
  for (auto p : layer.parameters()) fill_normal(p, key++, scale);
}

// The analog view of every product of a model with energy `photons` and default ranges (no
// calibration needed): for shot noise, which uses neither.
inline std::vector<nn::AnalogLayer> shot_layers(const nn::Model& m, double photons) {
  std::vector<nn::AnalogLayer> layers;
  for (const auto& info : m.matmul_layers()) {
    nn::AnalogLayer a;
    a.name = info.name;
    a.fan_in = info.fan_in;
    a.outputs = info.outputs;
    a.energy = {photons};
    a.activation_operands = info.activation_operands();
    layers.push_back(a);
  }
  return layers;
}

// Wraps an executor: keeps, per node, the noise it added (Y after minus W X) and the formula's
// std ||w_i|| ||x_j|| / sqrt(D E) computed here from W and X, independently of the executor.
class GraphNoiseProbe final : public nn::MatmulHook {
 public:
  GraphNoiseProbe(const nn::MatmulHook& inner, std::size_t nodes, double photons)
      : inner_(inner), z_(nodes), photons_(photons) {}
  void forward(nn::MatmulView& v) const override {
    const Eigen::MatrixXf clean = v.Y;
    inner_.forward(v);
    const double d = static_cast<double>(v.W.cols());
    for (Eigen::Index j = 0; j < v.Y.cols(); ++j)
      for (Eigen::Index i = 0; i < v.Y.rows(); ++i) {
        const double sigma = static_cast<double>(v.W.row(i).norm()) *
                             static_cast<double>(v.X.col(j).norm()) / std::sqrt(d * photons_);
        if (sigma <= 0) continue;
#pragma omp critical(graph_noise_probe)
        z_[static_cast<std::size_t>(v.layer)].push_back((v.Y(i, j) - clean(i, j)) / sigma);
      }
  }
  const std::vector<double>& z(std::size_t node) const {
    return z_[node];
  }

 private:
  const nn::MatmulHook& inner_;
  mutable std::vector<std::vector<double>> z_;
  double photons_;
};

}  // namespace lumac::test
