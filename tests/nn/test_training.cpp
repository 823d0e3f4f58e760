// Training (nn/train.hpp) and evaluation (nn/evaluate.hpp): a short run learns, the same seed
// gives the same model, and the bundled models of data/models reach their documented clean
// accuracy (data/models/README.md) on the full test sets.
#include <omp.h>

#include <cstring>

#include "lumac/nn/architectures.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/nn/train.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

const nn::DatasetSplits& fashion() {
  static const nn::DatasetSplits d = nn::load_fashion_mnist(nn::fashion_mnist_dir());
  return d;
}

const nn::DatasetSplits& mnist() {
  static const nn::DatasetSplits d = nn::load_mnist(nn::mnist_dir(source_dir() / "data"));
  return d;
}

nn::TrainOptions short_run(int epochs, int batch) {
  nn::TrainOptions t;
  t.epochs = epochs;
  t.batch = batch;
  t.seed = 4;
  return t;
}

bool same_parameters(nn::Model& a, nn::Model& b) {
  auto pa = a.parameters(), pb = b.parameters();
  for (std::size_t k = 0; k < pa.size(); ++k)
    if (std::memcmp(pa[k].data(), pb[k].data(), pa[k].size() * sizeof(float)) != 0) return false;
  return true;
}

}  // namespace

TEST_CASE("nn training: 300 steps lift an MLP from chance to well above it") {
  const nn::Dataset train = fashion().train.prefix(9600);
  nn::Model m = nn::make_model(nn::Arch::mlp, 4);
  const nn::EvalOptions eval{.batch = 256, .limit = 2000, .hook = nullptr};
  const double before = nn::evaluate(m, fashion().test, eval).accuracy;
  // Ten classes: chance is 0.1; an untrained network is near it (binomial spread over 2000
  // samples is 0.007, the initial bias of a random network a few points).
  CHECK(before < 0.3);
  const nn::TrainResult r = nn::train(m, train, short_run(1, 32));  // 9600 / 32 = 300 steps
  const nn::EvalResult after = nn::evaluate(m, fashion().test, eval);
  CHECK(after.samples == 2000);
  CHECK(after.predictions.size() == 2000);
  CHECK(after.accuracy > 0.7);
  CHECK(r.epochs.size() == 1);
  CHECK(r.epochs[0].train_loss < std::log(10.0));
}

TEST_CASE("nn training: 120 steps train a CNN on MNIST digits") {
  const nn::Dataset train = mnist().train.prefix(3840);
  nn::Model m = nn::make_model(nn::Arch::cnn, 4);
  nn::train(m, train, short_run(1, 32));  // 3840 / 32 = 120 steps
  CHECK(nn::evaluate(m, mnist().test, {.batch = 256, .limit = 1000, .hook = nullptr}).accuracy >
        0.8);
}

TEST_CASE("nn training: the same seed gives the same model, another seed another") {
  const nn::Dataset train = mnist().train.prefix(640);
  nn::Model a = nn::make_model(nn::Arch::mlp, 9), b = nn::make_model(nn::Arch::mlp, 9);
  nn::Model c = nn::make_model(nn::Arch::mlp, 10);
  CHECK(same_parameters(a, b));
  CHECK(!same_parameters(a, c));
  nn::TrainOptions t = short_run(2, 64);
  t.seed = 9;
  std::vector<double> losses;
  t.on_epoch = [&](const nn::EpochStats& s) { losses.push_back(s.train_loss); };
  nn::train(a, train, t);
  nn::train(b, train, t);
  CHECK(same_parameters(a, b));
  CHECK(losses.size() == 4);
  CHECK(losses[0] == losses[2]);
  CHECK(losses[1] < losses[0]);
  // The shuffle depends on the seed.
  nn::Model d = nn::make_model(nn::Arch::mlp, 9);
  t.seed = 10;
  nn::train(d, train, t);
  CHECK(!same_parameters(a, d));
}

TEST_CASE("nn training: the trained model does not depend on the thread count") {
  const nn::Dataset train = mnist().train.prefix(256);
  const int threads_before = omp_get_max_threads();
  nn::Model one = nn::make_model(nn::Arch::cnn, 9), two = one;
  omp_set_num_threads(1);
  nn::train(one, train, short_run(1, 64));  // 4 steps of 2 sample groups each
  omp_set_num_threads(2);
  nn::train(two, train, short_run(1, 64));
  omp_set_num_threads(threads_before);
  CHECK(same_parameters(one, two));
}

TEST_CASE("nn training: bad options are errors") {
  nn::Model m = nn::make_model(nn::Arch::mlp, 1);
  const nn::Dataset train = mnist().train.prefix(10);
  CHECK_THROWS_WITH_AS(nn::train(m, train, short_run(0, 8)), doctest::Contains("epochs = 0"),
                       Error);
  CHECK_THROWS_WITH_AS(nn::train(m, train, short_run(1, 0)), doctest::Contains("batch = 0"), Error);
  nn::TrainOptions t = short_run(1, 8);
  t.optimizer.learning_rate = -1;
  CHECK_THROWS_WITH_AS(nn::train(m, train, t), doctest::Contains("learning_rate = -1"), Error);
  CHECK_THROWS_AS(nn::train(m, nn::Dataset{}, short_run(1, 8)), Error);
  CHECK_THROWS_AS(nn::evaluate(m, train, {.batch = 0, .limit = 0, .hook = nullptr}), Error);
}

TEST_CASE("nn evaluate: results do not depend on the evaluation batch size") {
  const nn::Model m = nn::load_model(source_dir() / "data" / "models" / "mnist_mlp.h5");
  const nn::EvalResult a =
      nn::evaluate(m, mnist().test, {.batch = 256, .limit = 300, .hook = nullptr});
  const nn::EvalResult b =
      nn::evaluate(m, mnist().test, {.batch = 7, .limit = 300, .hook = nullptr});
  CHECK(a.predictions == b.predictions);
  CHECK(a.loss == doctest::Approx(b.loss).epsilon(1e-9));  // summed in another order
  CHECK(a.correct == b.correct);
  CHECK(a.samples == 300);
}

TEST_CASE("nn bundled models reach their documented clean accuracy on the full test sets") {
  struct Bundled {
    const char* file;
    const nn::DatasetSplits& data;
    const char* dataset;
    const char* arch;
    double accuracy;  // data/models/README.md
  };
  const Bundled models[] = {{"fmnist_mlp.h5", fashion(), "fashion-mnist", "mlp", 0.87},
                            {"fmnist_cnn.h5", fashion(), "fashion-mnist", "cnn", 0.90},
                            {"mnist_mlp.h5", mnist(), "mnist", "mlp", 0.95}};
  for (const Bundled& b : models) {
    CAPTURE(b.file);
    const nn::Model m = nn::load_model(source_dir() / "data" / "models" / b.file);
    const nn::EvalResult r = nn::evaluate(m, b.data.test);
    CHECK(r.samples == b.data.test.size());
    CHECK(r.accuracy >= b.accuracy);
    REQUIRE(m.training());
    // Evaluation is deterministic: exactly the accuracy recorded when the model was trained.
    CHECK(r.accuracy == m.training()->test_accuracy);
    CHECK(m.training()->dataset == b.dataset);
    CHECK(m.training()->arch == b.arch);
    CHECK(m.arch() == b.arch);
    REQUIRE(m.calibrated());
    CHECK(m.calibration().samples == nn::default_calibration_samples);
    for (std::size_t k = 0; k < m.matmul_layers().size(); ++k) {
      const nn::LayerCalibration& c = m.calibration(static_cast<int>(k));
      CHECK(c.input_lo <= c.input_hi);
      CHECK(c.output_lo < c.output_hi);
      CHECK(c.weight_lo < 0.0f);
      CHECK(c.weight_hi > 0.0f);
    }
    // The first layer sees pixels in [0, 1].
    CHECK(m.calibration(0).input_lo >= 0.0f);
    CHECK(m.calibration(0).input_hi <= 1.0f);
  }
  // The imported ResNet (data/models/README.md): PyTorch's accuracy, recorded when it was
  // trained, on the same 10,000 images.
  const nn::Model resnet = nn::load_model(source_dir() / "data" / "models" / "fmnist_resnet.h5");
  REQUIRE(resnet.source());
  CHECK(resnet.source()->dataset == "fashion-mnist");
  CHECK(resnet.source()->name == "fmnist_resnet.onnx");
  CHECK(resnet.calibration().samples == nn::default_calibration_samples);
  CHECK(nn::evaluate(resnet, fashion().test).accuracy == doctest::Approx(0.9261).epsilon(1e-12));
  // The imported vision transformer, likewise (its attention products included).
  const nn::Model vit = nn::load_model(source_dir() / "data" / "models" / "fmnist_vit.h5");
  REQUIRE(vit.source());
  CHECK(vit.source()->name == "fmnist_vit.onnx");
  int attention = 0;
  for (const auto& info : vit.matmul_layers()) attention += info.activation_operands() ? 1 : 0;
  CHECK(attention == 8);  // Q K^T and softmax(.) V in each of the 4 blocks
  CHECK(nn::evaluate(vit, fashion().test).accuracy == doctest::Approx(0.8804).epsilon(1e-12));
  // The imported spam transformer reads token ids: 1,179 of the 1,209 test messages, as in
  // PyTorch.
  const nn::Model spam = nn::load_model(source_dir() / "data" / "models" / "spam_transformer.h5");
  REQUIRE(spam.source());
  CHECK(spam.source()->dataset == "spam");
  int act = 0;
  for (const auto& info : spam.matmul_layers()) act += info.activation_operands() ? 1 : 0;
  CHECK(spam.matmul_layers().size() == 17);
  CHECK(act == 4);
  const auto data = nn::load_dataset(nn::DatasetName::spam, source_dir() / "data", false);
  const auto r = nn::evaluate(spam, data.test);
  CHECK(r.accuracy == doctest::Approx(1179.0 / 1209).epsilon(1e-12));
}
