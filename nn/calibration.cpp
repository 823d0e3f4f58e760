#include "lumac/nn/calibration.hpp"

#include <algorithm>
#include <cmath>
#include <mutex>

#include "lumac/core/error.hpp"

namespace lumac::nn {

namespace {

// Collects the pre-bias products Y of every matrix-product layer.
class RecordProducts final : public MatmulHook {
 public:
  explicit RecordProducts(std::size_t layers) : values_(layers), locks_(layers) {}
  void forward(MatmulView& v) const override {
    const auto k = static_cast<std::size_t>(v.layer);
    const std::lock_guard<std::mutex> lock(locks_[k]);
    values_[k].insert(values_[k].end(), v.Y.data(), v.Y.data() + v.Y.size());
  }
  std::vector<float>& values(std::size_t k) { return values_[k]; }

 private:
  mutable std::vector<std::vector<float>> values_;
  mutable std::vector<std::mutex> locks_;
};

}  // namespace

double percentile(std::vector<float>& values, double percent) {
  if (values.empty()) fail("percentile of an empty set");
  if (!(percent >= 0 && percent <= 100)) fail("percentile {}: must be in [0, 100]", percent);
  const double pos = percent / 100.0 * static_cast<double>(values.size() - 1);
  const auto k = static_cast<std::size_t>(std::floor(pos));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  const double lo = values[k];
  if (k + 1 >= values.size()) return lo;
  const double hi =
      *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(k + 1), values.end());
  return lo + (pos - static_cast<double>(k)) * (hi - lo);
}

Calibration calibrate(const Model& model, const Dataset& data, std::int64_t samples) {
  if (samples < 1) fail("calibration samples = {}: must be >= 1", samples);
  if (data.size() == 0) fail("the {} {} set is empty", data.name, data.split);
  const std::int64_t n = std::min(samples, data.size());
  const auto& layers = model.matmul_layers();
  RecordProducts products(layers.size());
  std::vector<std::vector<float>> inputs(layers.size()), operands(layers.size());
  Tape tape;
  constexpr int batch = 250;
  for (std::int64_t first = 0; first < n; first += batch) {
    const int count = static_cast<int>(std::min<std::int64_t>(batch, n - first));
    const Batch b = make_batch(data, first, count);
    model.forward(b.images, Pass{.samples = b.samples, .hook = &products}, tape);
    for (std::size_t k = 0; k < layers.size(); ++k) {
      // The value the node reads (in a graph not always the previous node's output).
      const auto x = tape.activation(static_cast<std::size_t>(layers[k].input_value)).data;
      inputs[k].insert(inputs[k].end(), x.begin(), x.end());
      if (layers[k].activation_operands()) {
        const auto w = tape.activation(static_cast<std::size_t>(layers[k].weight_value)).data;
        operands[k].insert(operands[k].end(), w.begin(), w.end());
      }
    }
  }
  Calibration c;
  c.dataset = data.name + " " + data.split;
  c.samples = n;
  for (std::size_t k = 0; k < layers.size(); ++k) {
    LayerCalibration l;
    l.input_lo = static_cast<float>(percentile(inputs[k], c.percentile_lo));
    l.input_hi = static_cast<float>(percentile(inputs[k], c.percentile_hi));
    std::vector<float>& y = products.values(k);
    l.output_lo = static_cast<float>(percentile(y, c.percentile_lo));
    l.output_hi = static_cast<float>(percentile(y, c.percentile_hi));
    if (layers[k].activation_operands()) {
      // The second operand is an activation: its percentiles, like an input's.
      l.weight_lo = static_cast<float>(percentile(operands[k], c.percentile_lo));
      l.weight_hi = static_cast<float>(percentile(operands[k], c.percentile_hi));
    } else {
      const Eigen::MatrixXf& w = model.matmul_layer(static_cast<int>(k)).weight();
      l.weight_lo = w.minCoeff();
      l.weight_hi = w.maxCoeff();
    }
    c.layers.push_back(l);
  }
  return c;
}

}  // namespace lumac::nn
