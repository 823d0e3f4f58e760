// Calibration (nn/calibration.hpp): the two-pass streaming percentiles against the in-memory
// ones, bit for bit, on awkward sets (ties, signs, extremes, a single value) and on whole models
// (a CNN, and attention's products of two activations), and their errors.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "lumac/nn/architectures.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/onnx_import.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

// The streaming percentiles of `values`, shown in two parts per pass, the second pass in
// another order.
std::vector<double> streamed(const std::vector<float>& values, const std::vector<double>& p) {
  nn::StreamPercentiles s(p);
  const std::size_t half = values.size() / 2;
  const std::span<const float> all(values);
  s.count(all.first(half));
  s.count(all.subspan(half));
  s.finish_first_pass();
  s.refine(all.subspan(half));
  s.refine(all.first(half));
  return s.result();
}

nn::Dataset calibration_set(int n, const nn::Shape& shape, std::uint64_t key) {
  nn::Dataset d;
  d.name = "random";
  d.split = "train";
  d.sample_shape = shape;
  d.pixels.resize(static_cast<std::size_t>(n) * static_cast<std::size_t>(nn::shape_size(shape)));
  fill_normal(d.pixels, key);
  for (float& p : d.pixels) p = std::clamp(0.5f + 0.25f * p, 0.0f, 1.0f);
  for (int i = 0; i < n; ++i) d.labels.push_back(i % 2);
  return d;
}

void same_calibration(const nn::Calibration& a, const nn::Calibration& b) {
  REQUIRE(a.layers.size() == b.layers.size());
  for (std::size_t k = 0; k < a.layers.size(); ++k) {
    CAPTURE(k);
    const auto& x = a.layers[k];
    const auto& y = b.layers[k];
    CHECK(x.input_lo == y.input_lo);
    CHECK(x.input_hi == y.input_hi);
    CHECK(x.output_lo == y.output_lo);
    CHECK(x.output_hi == y.output_hi);
    CHECK(x.weight_lo == y.weight_lo);
    CHECK(x.weight_hi == y.weight_hi);
  }
}

}  // namespace

TEST_CASE("calibration: streaming percentiles equal the in-memory ones bit for bit") {
  const std::vector<double> p{0, 0.01, 1, 50, 99.99, 100};
  std::vector<std::vector<float>> sets;
  std::vector<float> normal(100003);
  fill_normal(normal, 7300);
  sets.push_back(normal);
  std::vector<float> relu = normal;  // half of the values exactly 0: the low percentiles tie
  for (float& v : relu) v = std::max(v, 0.0f);
  sets.push_back(relu);
  std::vector<float> wide = normal;  // magnitudes over many octaves, both signs
  for (std::size_t i = 0; i < wide.size(); ++i)
    wide[i] = std::ldexp(wide[i], static_cast<int>(i % 61) - 30);
  sets.push_back(wide);
  std::vector<float> close(5000);  // neighbours within one bin of the top 16 bits
  for (std::size_t i = 0; i < close.size(); ++i)
    close[i] = std::nextafter(1.0f, 2.0f) + static_cast<float>(i % 97) * 1e-7f;
  sets.push_back(close);
  sets.push_back({3.5f});
  sets.push_back({-2.0f, 7.0f});
  sets.push_back({std::numeric_limits<float>::max(), std::numeric_limits<float>::lowest(), -0.0f,
                  0.0f, 1e-40f, -1e-40f});  // extremes, zeros and subnormals
  for (std::size_t s = 0; s < sets.size(); ++s) {
    CAPTURE(s);
    const std::vector<double> got = streamed(sets[s], p);
    for (std::size_t q = 0; q < p.size(); ++q) {
      CAPTURE(p[q]);
      std::vector<float> copy = sets[s];
      CHECK(got[q] == nn::percentile(copy, p[q]));
    }
  }
}

TEST_CASE("calibration: streaming percentiles refuse NaN, an empty set and a changed stream") {
  nn::StreamPercentiles s({50});
  const std::vector<float> nan{1.0f, std::nanf("")};
  CHECK_THROWS_WITH_AS(s.count(nan), doctest::Contains("NaN"), Error);
  nn::StreamPercentiles empty({50});
  CHECK_THROWS_WITH_AS(empty.finish_first_pass(), doctest::Contains("empty"), Error);
  nn::StreamPercentiles changed({1, 99});
  const std::vector<float> a{1, 2, 3, 4}, b{1, 2, 3};
  changed.count(a);
  CHECK_THROWS_WITH_AS(changed.refine(a), doctest::Contains("before the first pass"), Error);
  changed.finish_first_pass();
  changed.refine(b);
  CHECK_THROWS_WITH_AS(changed.result(), doctest::Contains("saw 3 values, the first 4"), Error);
  CHECK_THROWS_WITH_AS(nn::StreamPercentiles({101}), doctest::Contains("[0, 100]"), Error);
}

TEST_CASE("calibration: two passes in bounded memory give the in-memory calibration") {
  // The CNN, and a transformer block whose attention products have two activation operands.
  nn::Model cnn = nn::make_model(nn::Arch::cnn, 3);
  const nn::Dataset images = calibration_set(40, {1, 28, 28}, 7301);
  const nn::Calibration kept = nn::calibrate(cnn, images, 30);
  CHECK(nn::calibration_values_per_sample(cnn) * 30 * 4 <= nn::default_calibration_budget);
  // A budget of 0: streamed, one sample per forward pass.
  same_calibration(kept, nn::calibrate(cnn, images, 30, 0));
  const nn::OnnxImport block =
      nn::import_onnx(source_dir() / "tests" / "data" / "onnx" / "block17.onnx");
  const nn::Dataset tokens = calibration_set(25, {6, 8}, 7302);
  same_calibration(nn::calibrate(block.model, tokens, 25),
                   nn::calibrate(block.model, tokens, 25, 1000));
  CHECK_THROWS_WITH_AS(nn::calibrate(cnn, images, 30, -1), doctest::Contains("budget"), Error);
}

TEST_CASE(
    "calibration: a non-finite value on the calibration samples is one error naming the node") {
  nn::Model cnn = nn::make_model(nn::Arch::cnn, 3);
  nn::Dataset images = calibration_set(10, {1, 28, 28}, 7303);
  images.pixels[784 * 3 + 100] = std::numeric_limits<float>::infinity();
  for (const std::int64_t budget : {nn::default_calibration_budget, std::int64_t{0}})
    CHECK_THROWS_WITH_AS(nn::calibrate(cnn, images, 10, budget),
                         doctest::Contains("calibration: node 'conv1' output (pre-bias product) "
                                           "holds -inf on the calibration samples"),
                         Error);
}
