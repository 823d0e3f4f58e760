// The MatmulHook seam (nn/matmul_hook.hpp): which calls the layers make, with which shapes,
// sample indices and values, in forward and backward; and a hook that adds a constant to Y
// acts exactly like the same constant added to the bias.
#include <atomic>
#include <cstring>
#include <map>
#include <mutex>
#include <string>

#include "lumac/core/gemm.hpp"
#include "lumac/nn/architectures.hpp"
#include "lumac/nn/conv2d.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/loss.hpp"
#include "lumac/nn/pool.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

struct Call {
  int layer;
  std::int64_t first_sample;
  bool per_position;
  const float* w;
  Eigen::Index w_rows, w_cols;
  Eigen::MatrixXf x, y;
};

class Recorder final : public nn::MatmulHook {
 public:
  void forward(nn::MatmulView& v) const override { record(v, forward_calls); }
  void backward(const nn::MatmulView& v, nn::MatrixMap*) const override {
    record(v, backward_calls);
  }
  mutable std::vector<Call> forward_calls, backward_calls;

 private:
  void record(const nn::MatmulView& v, std::vector<Call>& to) const {
    const std::lock_guard<std::mutex> lock(mutex_);
    to.push_back(
        {v.layer, v.first_sample, v.per_position, v.W.data(), v.W.rows(), v.W.cols(), v.X, v.Y});
  }
  mutable std::mutex mutex_;
};

class AddConstant final : public nn::MatmulHook {
 public:
  AddConstant(int layer, float c) : layer_(layer), c_(c) {}
  void forward(nn::MatmulView& v) const override {
    if (v.layer == layer_) v.Y.array() += c_;
  }

 private:
  int layer_;
  float c_;
};

// Columns (global samples) each call covers for one layer: sample -> times seen.
std::map<std::int64_t, int> coverage(const std::vector<Call>& calls, int layer) {
  std::map<std::int64_t, int> seen;
  for (const auto& c : calls)
    if (c.layer == layer)
      for (Eigen::Index j = 0; j < c.y.cols(); ++j) ++seen[c.first_sample + j];
  return seen;
}

}  // namespace

TEST_CASE("nn hook: dense layers hand over W, X and pre-bias Y of consecutive sample runs") {
  nn::Model m = nn::make_model(nn::Arch::mlp, 11);
  // Non-zero biases (about the size of the products), so that a hook seeing post-bias Y fails
  // both the Y + b == output check and the Y == W X check below.
  for (int k = 0; k < 3; ++k) {
    Eigen::VectorXf& b = m.matmul_layer(k).bias();
    fill_normal(std::span<float>(b.data(), static_cast<std::size_t>(b.size())), 130 + k, 0.5f);
  }
  nn::Tensor x = random_tensor(40, {1, 28, 28}, 120);
  SUBCASE("consecutive samples: one call per chunk of 32") {
    std::vector<std::int64_t> samples(40);
    for (int i = 0; i < 40; ++i) samples[static_cast<std::size_t>(i)] = 1000 + i;
    Recorder rec;
    nn::Tape tape;
    m.forward(x, nn::Pass{.samples = samples, .hook = &rec}, tape);
    REQUIRE(rec.forward_calls.size() == 3 * 2);
    for (int k = 0; k < 3; ++k) {
      const auto seen = coverage(rec.forward_calls, k);
      CHECK(seen.size() == 40);
      CHECK(seen.begin()->first == 1000);
      CHECK(seen.rbegin()->first == 1039);
      for (const auto& [s, n] : seen) CHECK(n == 1);
    }
    for (const Call& c : rec.forward_calls) {
      const nn::MatmulLayer& layer = m.matmul_layer(c.layer);
      CHECK(!c.per_position);
      CHECK(c.w == layer.weight().data());
      CHECK(c.w_rows == layer.outputs());
      CHECK(c.w_cols == layer.fan_in());
      CHECK(c.x.rows() == layer.fan_in());
      CHECK(c.y.rows() == layer.outputs());
      CHECK((c.y.cols() == 32 || c.y.cols() == 8));
      // X holds the layer's inputs of those samples; Y = W X before the bias.
      const int row = static_cast<int>(c.first_sample - 1000);
      const auto index = static_cast<std::size_t>(
          m.matmul_layers()[static_cast<std::size_t>(c.layer)].layer_index);
      const nn::Tensor in = tape.activation(index), out = tape.activation(index + 1);
      for (Eigen::Index j = 0; j < c.y.cols(); ++j) {
        CHECK(
            std::equal(c.x.col(j).begin(), c.x.col(j).end(), in.sample(row + static_cast<int>(j))));
        const Eigen::VectorXf with_bias = c.y.col(j) + layer.bias();
        CHECK(
            std::equal(with_bias.begin(), with_bias.end(), out.sample(row + static_cast<int>(j))));
      }
      CHECK((c.y - layer.weight() * c.x).cwiseAbs().maxCoeff() <
            1e-4f * (1 + c.y.cwiseAbs().maxCoeff()));
    }
  }
  SUBCASE("shuffled samples: one call per run of consecutive indices") {
    // Runs: 7-9, 3, 20-22, 50, 51 ... (the batch of a training step is in shuffled order).
    std::vector<std::int64_t> samples{7, 8, 9, 3, 20, 21, 22};
    for (int i = 0; i < 33; ++i) samples.push_back(50 + i);
    Recorder rec;
    nn::Tape tape;
    m.forward(x, nn::Pass{.samples = samples, .hook = &rec}, tape);
    // Per layer: {7-9}, {3}, {20-22}, {50..74} in chunk 1 and {75..82} in chunk 2.
    CHECK(rec.forward_calls.size() == 3 * 5);
    for (int k = 0; k < 3; ++k) {
      const auto seen = coverage(rec.forward_calls, k);
      CHECK(seen.size() == samples.size());
      for (std::int64_t s : samples) CHECK(seen.at(s) == 1);
    }
    // Backward: dL/dY for the same columns, equal to the gradient reaching the layer output.
    nn::Tensor g;
    nn::softmax_cross_entropy(tape.logits(), std::vector<int>(40, 3), &g);
    m.backward(tape, g, nn::Pass{.samples = samples, .hook = &rec}, nullptr, nullptr);
    REQUIRE(rec.backward_calls.size() == rec.forward_calls.size());
    for (int k = 0; k < 3; ++k)
      CHECK(coverage(rec.backward_calls, k) == coverage(rec.forward_calls, k));
    for (const Call& c : rec.backward_calls) {
      if (c.layer != 2) continue;
      // The last layer's dL/dY is the loss gradient of those rows.
      const auto row = std::find(samples.begin(), samples.end(), c.first_sample) - samples.begin();
      for (Eigen::Index j = 0; j < c.y.cols(); ++j)
        CHECK(
            std::equal(c.y.col(j).begin(), c.y.col(j).end(), g.sample(static_cast<int>(row + j))));
    }
  }
}

TEST_CASE("nn hook: conv layers make one call per image with columns = output positions") {
  nn::Model m = nn::make_model(nn::Arch::cnn, 12);
  for (int k = 0; k < 4; ++k) {
    Eigen::VectorXf& b = m.matmul_layer(k).bias();
    fill_normal(std::span<float>(b.data(), static_cast<std::size_t>(b.size())), 140 + k, 0.5f);
  }
  const nn::Tensor x = random_tensor(5, {1, 28, 28}, 121);
  const std::vector<std::int64_t> samples{40, 41, 42, 7, 8};
  Recorder rec;
  nn::Tape tape;
  const nn::Pass pass{.samples = samples, .hook = &rec};
  m.forward(x, pass, tape);
  // conv1: 5 calls of 16 x 784 (28x28 positions, padding 2), conv2: 5 calls of 32 x 100;
  // fc1 and fc2: runs {40-42}, {7-8}.
  std::map<int, int> calls;
  for (const Call& c : rec.forward_calls) ++calls[c.layer];
  CHECK(calls == std::map<int, int>{{0, 5}, {1, 5}, {2, 2}, {3, 2}});
  for (const Call& c : rec.forward_calls) {
    if (c.layer > 1) continue;
    const auto& info = m.matmul_layers()[static_cast<std::size_t>(c.layer)];
    CHECK(c.per_position);
    CHECK(c.x.rows() == info.fan_in);
    CHECK(c.y.rows() == info.outputs);
    CHECK(c.y.cols() == info.positions);
    CHECK(c.y.cols() == (c.layer == 0 ? 784 : 100));
    CHECK(c.x.rows() == (c.layer == 0 ? 25 : 400));
    const auto row = std::find(samples.begin(), samples.end(), c.first_sample) - samples.begin();
    REQUIRE(row < 5);
    // Y[c, p] + b[c] is output channel c at position p of that image.
    const nn::Tensor out = tape.activation(static_cast<std::size_t>(info.layer_index + 1));
    const float* o = out.sample(static_cast<int>(row));
    const Eigen::MatrixXf with_bias = c.y.colwise() + m.matmul_layer(c.layer).bias();
    bool same = true;
    for (Eigen::Index ch = 0; ch < c.y.rows(); ++ch)
      for (Eigen::Index p = 0; p < c.y.cols(); ++p)
        same = same && with_bias(ch, p) == o[ch * c.y.cols() + p];
    CHECK(same);
  }
  nn::Tensor g;
  nn::softmax_cross_entropy(tape.logits(), std::vector<int>(5, 1), &g);
  m.backward(tape, g, pass, nullptr, nullptr);
  std::map<int, int> back;
  for (const Call& c : rec.backward_calls) ++back[c.layer];
  CHECK(back == calls);
  for (const Call& c : rec.backward_calls)
    if (c.layer == 0) CHECK((c.y.rows() == 16 && c.y.cols() == 784 && c.per_position));
}

TEST_CASE("nn hook: the patch matrix by position gives a convolution the same bits") {
  // Without a hook, or with one that does not read v.X (MatmulHook::reads_patch_matrix),
  // Conv2d fills its patch matrix by position (nn/conv2d.hpp, im2row); with a hook that reads
  // v.X, by receptive field (im2col). The two products must agree bit for bit on every
  // geometry: strides 1-3 per axis, padding on some sides only, dilation, groups, kernels and
  // images that are not square, a kernel as wide as the padded image, 1x1 kernels, products of
  // one row or one column.
  class Reads final : public nn::MatmulHook {
   public:
    void forward(nn::MatmulView&) const override {}
  };
  class Skips final : public nn::MatmulHook {
   public:
    void forward(nn::MatmulView& v) const override {
      (v.X.data() == nullptr ? null_x : other_x).fetch_add(1);
      if (v.X.data() == nullptr) {
        // It still has the product's shape, and the image to take sums from.
        CHECK(v.X.cols() == v.Y.cols());
        CHECK(v.patches != nullptr);
      }
    }
    bool reads_patch_matrix() const override { return false; }
    mutable std::atomic<int> null_x{0}, other_x{0};
  };
  struct Case {
    nn::Conv2dGeometry g;
    int h, w;
  };
  const auto geometry = [](int cin, int cout, int kh, int kw, int stride, int pad) {
    nn::Conv2dGeometry g;
    g.in_channels = cin;
    g.out_channels = cout;
    g.kernel_h = kh;
    g.kernel_w = kw;
    g.stride = stride;
    g.padding = pad;
    return g;
  };
  std::vector<Case> cases{
      {geometry(3, 8, 3, 3, 1, 1), 28, 28}, {geometry(4, 6, 3, 3, 2, 1), 15, 15},
      {geometry(2, 5, 5, 5, 1, 2), 9, 13},  {geometry(3, 4, 1, 1, 2, 0), 14, 14},
      {geometry(2, 3, 3, 2, 3, 0), 11, 8},  {geometry(1, 4, 7, 7, 1, 3), 7, 7},
      {geometry(2, 4, 3, 3, 1, 0), 6, 10}};
  nn::Conv2dGeometry general = geometry(4, 8, 3, 3, 1, 1);
  general.stride_w = 2;
  general.pad_left = 0;
  general.pad_bottom = 2;
  general.dilation_w = 2;
  cases.push_back({general, 12, 17});
  nn::Conv2dGeometry grouped = geometry(6, 9, 3, 3, 2, 1);
  grouped.groups = 3;
  cases.push_back({grouped, 10, 10});
  // 1x1, stride 1, no padding: the image itself is the patch matrix by position.
  cases.push_back({geometry(5, 7, 1, 1, 1, 0), 6, 9});
  nn::Conv2dGeometry pointwise_groups = geometry(6, 4, 1, 1, 1, 0);
  pointwise_groups.groups = 2;
  cases.push_back({pointwise_groups, 5, 5});
  // Products of one row or one column, which Eigen multiplies as matrix by vector: depthwise, one
  // output channel, one output position.
  nn::Conv2dGeometry depthwise = geometry(4, 4, 3, 3, 1, 1);
  depthwise.groups = 4;
  cases.push_back({depthwise, 9, 9});
  cases.push_back({geometry(6, 1, 3, 3, 1, 1), 8, 8});
  cases.push_back({geometry(8, 5, 3, 3, 1, 0), 3, 3});
  const GemmKernel kernel_before = gemm_kernel();
  for (const GemmKernel kernel : {GemmKernel::openblas, GemmKernel::eigen}) {
    if (!gemm_kernel_built(kernel)) continue;
    set_gemm_kernel(kernel);
    const std::string kernel_name = gemm_kernel_name(kernel);
    CAPTURE(kernel_name);
    int i = 0;
    for (const Case& c : cases) {
      CAPTURE(i);
      nn::Conv2d conv("conv", c.g);
      randomize(conv, 300 + static_cast<std::uint64_t>(i));
      const nn::Tensor x =
          random_tensor(3, {c.g.in_channels, c.h, c.w}, 310 + static_cast<std::uint64_t>(i));
      const std::vector<std::int64_t> samples{0, 1, 2};
      nn::Tensor plain, read, skipped;
      conv.forward(x, plain, {});
      const Reads reads;
      conv.forward(x, read, nn::Pass{.samples = samples, .hook = &reads});
      const Skips skips;
      conv.forward(x, skipped, nn::Pass{.samples = samples, .hook = &skips});
      REQUIRE(plain.data.size() == read.data.size());
      REQUIRE(plain.data.size() == skipped.data.size());
      CHECK(std::memcmp(plain.data.data(), read.data.data(), plain.data.size() * sizeof(float)) ==
            0);
      CHECK(std::memcmp(plain.data.data(), skipped.data.data(),
                        plain.data.size() * sizeof(float)) == 0);
      // One call per image and group; a general geometry has no image for the hook's sums, so it
      // gets the patch matrix anyway (so does any geometry where the GEMM kernel failed
      // Conv2d's probe of the two layouts).
      CHECK(skips.null_x.load() + skips.other_x.load() == 3 * c.g.groups);
      if (c.g.general()) CHECK(skips.null_x.load() == 0);
      ++i;
    }
  }
  set_gemm_kernel(kernel_before);
}

TEST_CASE("nn hook: receptive-field sums from the image equal the column sums of X") {
  // Geometries with and without padding, strides 1-3, non-square kernels and several channels,
  // through the layer (forward and backward hand over the image), and an all-zero image.
  class Sums final : public nn::MatmulHook {
   public:
    void forward(nn::MatmulView& v) const override { check(v); }
    void backward(const nn::MatmulView& v, nn::MatrixMap*) const override { check(v); }
    mutable std::atomic<int> checked{0}, bad{0};

   private:
    void check(const nn::MatmulView& v) const {
      if (!v.patches) return;
      Eigen::VectorXf s2, s4;
      nn::receptive_field_sums(*v.patches, s2, &s4);
      const Eigen::VectorXf x2 = v.X.colwise().squaredNorm().transpose();
      const Eigen::VectorXf x4 = v.X.array().square().square().colwise().sum().transpose();
      // Both are float sums of n = C kh kw non-negative terms in different orders: each is within
      // (n - 1) u of the exact sum relative to it (u = 2^-24), so they differ by at most 2 n u.
      const float tol = 2.0f * static_cast<float>(v.X.rows()) * 0x1p-24f;
      const auto close = [&](const Eigen::VectorXf& a, const Eigen::VectorXf& b) {
        return a.size() == b.size() && ((a - b).array().abs() <= tol * b.array()).all();
      };
      Eigen::VectorXf only2;  // without the x^4 sums
      nn::receptive_field_sums(*v.patches, only2, nullptr);
      if (!close(s2, x2) || !close(s4, x4) || !close(only2, x2)) ++bad;
      ++checked;
    }
  };
  for (const nn::Conv2dGeometry& g :
       {nn::Conv2dGeometry{1, 4, 5, 5, 1, 2}, nn::Conv2dGeometry{3, 2, 3, 2, 2, 1},
        nn::Conv2dGeometry{2, 3, 4, 3, 3, 0}, nn::Conv2dGeometry{2, 2, 1, 1, 1, 0}}) {
    CAPTURE(g.kernel_h);
    nn::Conv2d conv("c", g);
    conv.set_matmul_index(0);
    for (const bool zero : {false, true}) {
      nn::Tensor x = random_tensor(3, {g.in_channels, 11, 9}, 5);
      if (zero) std::fill(x.data.begin(), x.data.end(), 0.0f);
      nn::Tensor y, gx;
      Sums hook;
      const std::vector<std::int64_t> samples{0, 1, 2};
      const nn::Pass pass{.samples = samples, .hook = &hook};
      conv.forward(x, y, pass);
      nn::Tensor gy = y;
      std::vector<std::vector<float>> grads(2);
      conv.backward(x, y, gy, &gx, grads, pass);
      CHECK(hook.checked == 6);
      CHECK(hook.bad == 0);
    }
  }
}

TEST_CASE("nn hook: adding a constant to Y equals adding it to the bias, bit for bit") {
  // Weights are multiples of 1/8 in [-1, 1], inputs multiples of 1/4 in [0, 1] and the constant
  // 0.5: every product, sum and pooling result is then a dyadic rational far inside float32's
  // 24-bit mantissa, so both orders of the additions are exact and must agree bitwise.
  std::vector<std::unique_ptr<nn::Layer>> l;
  l.push_back(std::make_unique<nn::Conv2d>("conv1", nn::Conv2dGeometry{1, 3, 3, 3, 1, 1}));
  l.push_back(std::make_unique<nn::ReLU>());
  l.push_back(std::make_unique<nn::MaxPool2d>(2));
  l.push_back(std::make_unique<nn::Conv2d>("conv2", nn::Conv2dGeometry{3, 4, 2, 2, 2, 0}));
  l.push_back(std::make_unique<nn::ReLU>());
  l.push_back(std::make_unique<nn::AvgPool2d>(2, 1));
  l.push_back(std::make_unique<nn::Flatten>());
  l.push_back(std::make_unique<nn::Dense>("fc1", 4, 6));
  l.push_back(std::make_unique<nn::ReLU>());
  l.push_back(std::make_unique<nn::Dense>("fc2", 6, 5));
  nn::Model base({1, 8, 8}, std::move(l));
  for (auto p : base.parameters()) {
    fill_normal(p, 130 + p.size());
    for (float& v : p) v = std::clamp(std::round(v * 4) / 8, -1.0f, 1.0f);
  }
  nn::Tensor x = random_tensor(9, {1, 8, 8}, 131);
  for (float& v : x.data) v = std::clamp(std::round(std::abs(v) * 2) / 4, 0.0f, 1.0f);
  for (int k = 0; k < 4; ++k) {
    CAPTURE(k);
    const AddConstant hook(k, 0.5f);
    const nn::Tensor hooked = base.forward(x, nn::Pass{.samples = {}, .hook = &hook});
    nn::Model shifted = base;
    shifted.matmul_layer(k).bias().array() += 0.5f;
    const nn::Tensor biased = shifted.forward(x);
    CHECK(hooked.data == biased.data);
    CHECK(hooked.data != base.forward(x).data);
  }
}

TEST_CASE("nn hook: an error thrown by a hook reaches the caller from the parallel loops") {
  class Failing final : public nn::MatmulHook {
   public:
    void forward(nn::MatmulView& v) const override {
      if (v.layer == 1) fail("hook refused layer {}", v.layer);
    }
  };
  const Failing hook;
  for (nn::Arch arch : {nn::Arch::mlp, nn::Arch::cnn}) {
    const nn::Model m = nn::make_model(arch, 13);
    const nn::Tensor x = random_tensor(70, {1, 28, 28}, 140);
    CHECK_THROWS_WITH_AS(m.forward(x, nn::Pass{.samples = {}, .hook = &hook}),
                         "hook refused layer 1", Error);
  }
}
