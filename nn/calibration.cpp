#include "lumac/nn/calibration.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <functional>
#include <mutex>
#include <span>

#include "lumac/core/error.hpp"

namespace lumac::nn {

namespace {

// Passes the pre-bias products Y of every matrix-product layer to `sink` (one lock per layer:
// the model's sample groups run on several threads).
class ProductTap final : public MatmulHook {
 public:
  using Sink = std::function<void(std::size_t layer, std::span<const float> values)>;
  ProductTap(std::size_t layers, Sink sink) : locks_(layers), sink_(std::move(sink)) {}
  void forward(MatmulView& v) const override {
    const auto k = static_cast<std::size_t>(v.layer);
    const std::lock_guard<std::mutex> lock(locks_[k]);
    sink_(k, std::span<const float>(v.Y.data(), static_cast<std::size_t>(v.Y.size())));
  }

 private:
  mutable std::vector<std::mutex> locks_;
  Sink sink_;
};

// The position of order statistic k among n values for a percentile: p / 100 * (n - 1).
double rank_position(double percent, std::uint64_t n) {
  return percent / 100.0 * static_cast<double>(n - 1);
}

void check_percent(double percent) {
  if (!(percent >= 0 && percent <= 100)) fail("percentile {}: must be in [0, 100]", percent);
}

}  // namespace

double percentile(std::vector<float>& values, double percent) {
  if (values.empty()) fail("percentile of an empty set");
  check_percent(percent);
  const double pos = rank_position(percent, values.size());
  const auto k = static_cast<std::size_t>(std::floor(pos));
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(k), values.end());
  const double lo = values[k];
  if (k + 1 >= values.size()) return lo;
  const double hi =
      *std::min_element(values.begin() + static_cast<std::ptrdiff_t>(k + 1), values.end());
  return lo + (pos - static_cast<double>(k)) * (hi - lo);
}

// ---- exact percentiles of a stream in two passes ---------------------------------------------

namespace {

// Floats as unsigned keys in the same order (-0 just below +0).
std::uint32_t float_key(float v) {
  const auto u = std::bit_cast<std::uint32_t>(v);
  return (u & 0x80000000u) ? ~u : (u | 0x80000000u);
}

float key_float(std::uint32_t key) {
  return std::bit_cast<float>((key & 0x80000000u) ? (key & 0x7FFFFFFFu) : ~key);
}

}  // namespace

StreamPercentiles::StreamPercentiles(std::vector<double> percents)
    : percents_(std::move(percents)), high_(std::size_t{1} << 16, 0) {
  for (double p : percents_) check_percent(p);
}

void StreamPercentiles::count(std::span<const float> values) {
  if (pass_ != 1) fail("StreamPercentiles: count() after the first pass");
  for (float v : values) {
    if (std::isnan(v)) fail("percentile of a set holding NaN");
    ++high_[float_key(v) >> 16];
  }
  n_ += values.size();
}

void StreamPercentiles::finish_first_pass() {
  if (pass_ != 1) fail("StreamPercentiles: the first pass is over");
  if (n_ == 0) fail("percentile of an empty set");
  pass_ = 2;
  // Every order statistic the percentiles need: k and k + 1.
  std::vector<std::uint64_t> ranks;
  for (double p : percents_) {
    const auto k = static_cast<std::uint64_t>(std::floor(rank_position(p, n_)));
    ranks.push_back(k);
    if (k + 1 < n_) ranks.push_back(k + 1);
  }
  std::sort(ranks.begin(), ranks.end());
  ranks.erase(std::unique(ranks.begin(), ranks.end()), ranks.end());
  // The bin of each, and its rank within the bin.
  std::uint64_t before = 0;
  std::size_t r = 0;
  for (std::uint32_t b = 0; b < high_.size() && r < ranks.size(); ++b) {
    while (r < ranks.size() && ranks[r] < before + high_[b]) {
      targets_.push_back({ranks[r], b, ranks[r] - before});
      ++r;
    }
    before += high_[b];
  }
  for (const auto& t : targets_)
    if (low_.find(t.bin) == low_.end()) low_[t.bin].assign(std::size_t{1} << 16, 0);
  high_.clear();
  high_.shrink_to_fit();
}

void StreamPercentiles::refine(std::span<const float> values) {
  if (pass_ != 2) fail("StreamPercentiles: refine() before the first pass is finished");
  // A few bins are kept (two per percentile at most): a linear search beats the map for the
  // common miss.
  std::vector<std::uint32_t> bins;
  std::vector<std::uint64_t*> counts;
  for (auto& [bin, c] : low_) {
    bins.push_back(bin);
    counts.push_back(c.data());
  }
  const std::size_t m = bins.size();
  for (float v : values) {
    const std::uint32_t key = float_key(v), bin = key >> 16;
    for (std::size_t i = 0; i < m; ++i)
      if (bins[i] == bin) {
        ++counts[i][key & 0xFFFFu];
        break;
      }
  }
  seen_ += values.size();
}

std::vector<double> StreamPercentiles::result() const {
  if (pass_ != 2) fail("StreamPercentiles: result() before the second pass");
  if (seen_ != n_)
    fail("StreamPercentiles: the second pass saw {} values, the first {}", seen_, n_);
  auto order_statistic = [&](std::uint64_t k) {
    for (const auto& t : targets_) {
      if (t.order != k) continue;
      const auto& c = low_.at(t.bin);
      std::uint64_t before = 0;
      for (std::uint32_t low = 0; low < c.size(); ++low) {
        if (t.rank < before + c[low]) return static_cast<double>(key_float((t.bin << 16) | low));
        before += c[low];
      }
    }
    fail("StreamPercentiles: order statistic {} not found (the passes saw different values)", k);
  };
  std::vector<double> out;
  for (double p : percents_) {
    const double pos = rank_position(p, n_);
    const auto k = static_cast<std::uint64_t>(std::floor(pos));
    const double lo = order_statistic(k);
    if (k + 1 >= n_) {
      out.push_back(lo);
      continue;
    }
    const double hi = order_statistic(k + 1);
    out.push_back(lo + (pos - static_cast<double>(k)) * (hi - lo));
  }
  return out;
}

// ---- calibration -----------------------------------------------------------------------------

namespace {

// What one pass over the calibration samples shows: for matrix-product layer k, stream 0 its
// input values, 1 its pre-bias products, 2 its second operand (products of two activations).
using StreamSink = std::function<void(std::size_t layer, int stream, std::span<const float>)>;

void calibration_pass(const Model& model, const Dataset& data, std::int64_t n, int batch,
                      const StreamSink& sink) {
  const auto& layers = model.matmul_layers();
  static constexpr const char* what[] = {"input", "output (pre-bias product)", "second operand"};
  // A non-finite value would make a range NaN, which no later command could use.
  auto checked = [&](std::size_t k, int s, std::span<const float> v) {
    for (float x : v)
      if (!std::isfinite(x))
        fail(
            "calibration: node '{}' {} holds {} on the calibration samples (the graph divides "
            "by zero or overflows on them: check the model and, for several inputs, what "
            "--bind feeds each)",
            layers[k].name, what[s], x);
    sink(k, s, v);
  };
  const ProductTap products(layers.size(),
                            [&](std::size_t k, std::span<const float> y) { checked(k, 1, y); });
  Tape tape;
  for (std::int64_t first = 0; first < n; first += batch) {
    const int count = static_cast<int>(std::min<std::int64_t>(batch, n - first));
    const Batch b = make_batch(data, first, count);
    model.forward(b.images, Pass{.samples = b.samples, .hook = &products}, tape);
    for (std::size_t k = 0; k < layers.size(); ++k) {
      // The value the node reads (in a graph not always the previous node's output).
      const Tensor x = tape.activation(static_cast<std::size_t>(layers[k].input_value));
      checked(k, 0, x.data);
      if (layers[k].activation_operands())
        checked(k, 2, tape.activation(static_cast<std::size_t>(layers[k].weight_value)).data);
    }
  }
}

}  // namespace

std::int64_t calibration_values_per_sample(const Model& model) {
  std::int64_t values = 0;
  for (const auto& m : model.matmul_layers()) {
    values += shape_size(m.input_shape) + shape_size(m.output_shape);
    if (m.activation_operands())
      values += shape_size(model.shape(static_cast<std::size_t>(m.weight_value)));
  }
  return values;
}

Calibration calibrate(const Model& model, const Dataset& data, std::int64_t samples,
                      std::int64_t memory_budget) {
  if (samples < 1) fail("calibration samples = {}: must be >= 1", samples);
  if (data.size() == 0) fail("the {} {} set is empty", data.name, data.split);
  if (memory_budget < 0) fail("calibration memory budget {} < 0", memory_budget);
  const std::int64_t n = std::min(samples, data.size());
  const auto& layers = model.matmul_layers();
  // Samples per forward pass: 250, fewer when the tape (every value of the graph) would pass a
  // quarter of the budget.
  std::int64_t tape_per_sample = 0;
  for (std::size_t v = 0; v <= model.size(); ++v) tape_per_sample += shape_size(model.shape(v));
  const int batch = static_cast<int>(std::clamp<std::int64_t>(
      memory_budget / 4 / std::max<std::int64_t>(1, tape_per_sample * 4), 1, 250));
  Calibration c;
  c.dataset = data.name + " " + data.split;
  c.samples = n;
  const std::vector<double> percents{c.percentile_lo, c.percentile_hi};
  // lo and hi of every stream of every layer.
  std::vector<std::array<std::array<double, 2>, 3>> found(layers.size());
  const bool in_memory = calibration_values_per_sample(model) * n * 4 <= memory_budget;
  if (in_memory) {
    std::vector<std::array<std::vector<float>, 3>> values(layers.size());
    calibration_pass(model, data, n, batch, [&](std::size_t k, int s, std::span<const float> v) {
      auto& to = values[k][static_cast<std::size_t>(s)];
      to.insert(to.end(), v.begin(), v.end());
    });
    for (std::size_t k = 0; k < layers.size(); ++k)
      for (std::size_t s = 0; s < 3; ++s)
        if (!values[k][s].empty())
          for (std::size_t q = 0; q < 2; ++q)
            found[k][s][q] = percentile(values[k][s], percents[q]);
  } else {
    // Two passes over the samples, each value counted in a histogram: exact, in bounded memory.
    std::vector<std::array<StreamPercentiles, 3>> streams;
    streams.reserve(layers.size());
    for (std::size_t k = 0; k < layers.size(); ++k)
      streams.push_back(
          {StreamPercentiles(percents), StreamPercentiles(percents), StreamPercentiles(percents)});
    calibration_pass(model, data, n, batch, [&](std::size_t k, int s, std::span<const float> v) {
      streams[k][static_cast<std::size_t>(s)].count(v);
    });
    for (std::size_t k = 0; k < layers.size(); ++k)
      for (std::size_t s = 0; s < (layers[k].activation_operands() ? 3u : 2u); ++s)
        streams[k][s].finish_first_pass();
    calibration_pass(model, data, n, batch, [&](std::size_t k, int s, std::span<const float> v) {
      streams[k][static_cast<std::size_t>(s)].refine(v);
    });
    for (std::size_t k = 0; k < layers.size(); ++k)
      for (std::size_t s = 0; s < (layers[k].activation_operands() ? 3u : 2u); ++s) {
        const auto r = streams[k][s].result();
        found[k][s] = {r[0], r[1]};
      }
  }
  for (std::size_t k = 0; k < layers.size(); ++k) {
    LayerCalibration l;
    l.input_lo = static_cast<float>(found[k][0][0]);
    l.input_hi = static_cast<float>(found[k][0][1]);
    l.output_lo = static_cast<float>(found[k][1][0]);
    l.output_hi = static_cast<float>(found[k][1][1]);
    if (layers[k].activation_operands()) {
      // The second operand is an activation: its percentiles, like an input's.
      l.weight_lo = static_cast<float>(found[k][2][0]);
      l.weight_hi = static_cast<float>(found[k][2][1]);
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
