// Model files (nn/model_file.hpp, docs/model_file.md): bitwise round trip of architecture,
// weights, calibration and training record; rejection of wrong, damaged and inconsistent files.
#include "lumac/core/h5.hpp"
#include "lumac/nn/architectures.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/model_file.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

// A small random stand-in for a training set.
nn::Dataset random_images(int n, std::uint64_t key) {
  nn::Dataset d;
  d.name = "random";
  d.split = "train";
  d.pixels.resize(static_cast<std::size_t>(n) * 784);
  fill_normal(d.pixels, key);
  for (float& p : d.pixels) p = std::clamp(0.5f + 0.25f * p, 0.0f, 1.0f);
  for (int i = 0; i < n; ++i) d.labels.push_back(i % 10);
  return d;
}

nn::Model trained_looking_cnn() {
  nn::Model m = nn::make_model(nn::Arch::cnn, 3);
  m.set_calibration(nn::calibrate(m, random_images(60, 7), 50));
  nn::TrainingRecord r;
  r.dataset = "fashion-mnist";
  r.arch = "cnn";
  r.optimizer = "adam";
  r.seed = 3;
  r.epochs = 2;
  r.batch = 64;
  r.learning_rate = 1e-3;
  r.train_samples = 60000;
  r.test_samples = 10000;
  r.train_loss = 0.25;
  r.test_accuracy = 0.9;
  r.seconds = 12.5;
  m.set_training(r);
  return m;
}

// Opens a saved model for editing with the HDF5 API.
H5::H5File edit(const fs::path& file) {
  return H5::H5File(file.string(), H5F_ACC_RDWR);
}

void replace_int_attribute(H5::H5Object& o, const std::string& name, std::int64_t v) {
  o.removeAttr(name);
  h5::write_attribute(o, name, v);
}

}  // namespace

TEST_CASE("nn model file: save and load round-trip bitwise") {
  TempDir tmp;
  nn::Model m = trained_looking_cnn();
  nn::save_model(m, tmp / "m.h5", false);
  const nn::Model back = nn::load_model(tmp / "m.h5");
  CHECK(back.summary() == m.summary());
  CHECK(back.arch() == "cnn");
  REQUIRE(back.size() == m.size());
  for (std::size_t i = 0; i < m.size(); ++i)
    CHECK(back.layer(i).describe() == m.layer(i).describe());
  auto a = m.parameters();
  auto b = const_cast<nn::Model&>(back).parameters();
  REQUIRE(a.size() == b.size());
  for (std::size_t k = 0; k < a.size(); ++k) {
    REQUIRE(a[k].size() == b[k].size());
    CHECK(std::memcmp(a[k].data(), b[k].data(), a[k].size() * sizeof(float)) == 0);
  }
  REQUIRE(back.calibrated());
  CHECK(back.calibration().samples == 50);
  CHECK(back.calibration().dataset == "random train");
  CHECK(back.calibration().percentile_hi == 99.99);
  for (int k = 0; k < 4; ++k) {
    const nn::LayerCalibration &x = m.calibration(k), &y = back.calibration(k);
    CHECK(std::memcmp(&x, &y, sizeof x) == 0);
  }
  REQUIRE(back.training());
  CHECK(back.training()->test_accuracy == 0.9);
  CHECK(back.training()->seed == 3);
  CHECK(back.training()->optimizer == "adam");
  CHECK(back.training()->seconds == 12.5);
  const nn::Tensor x = random_tensor(5, {1, 28, 28}, 9);
  CHECK(m.forward(x).data == back.forward(x).data);
  // The file says what it is; weights are stored in PyTorch order.
  H5::H5File f = h5::open_for_reading(tmp / "m.h5", "model");
  CHECK(h5::read_string_attribute(f, "kind") == "lumac-model");
  CHECK(h5::read_int_attribute(f, "schema_version") == 3);
  // A chain is stored as a graph: node 3 reads node 2's output (value 3).
  CHECK(h5::read_ints(f.openGroup("/layers/03"), "inputs").data == std::vector<std::int64_t>{3});
  const auto w = h5::read_floats(f.openGroup("/layers/03"), "weight");
  CHECK(w.dims == std::vector<hsize_t>{32, 16, 5, 5});
  // W(co, (ci * 5 + ky) * 5 + kx) is element [co][ci][ky][kx].
  CHECK(w.data[((7 * 16 + 2) * 5 + 3) * 5 + 1] ==
        m.matmul_layer(1).weight()(7, (2 * 5 + 3) * 5 + 1));
}

TEST_CASE("nn model file: calibration holds percentiles and the weight range") {
  const nn::Model m = trained_looking_cnn();
  const nn::Dataset d = random_images(60, 7).prefix(50);
  // conv1 sees the pixels: its input range is their 0.01% and 99.99% percentiles.
  std::vector<float> pixels = d.pixels;
  CHECK(m.calibration(0).input_lo == static_cast<float>(nn::percentile(pixels, 0.01)));
  CHECK(m.calibration(0).input_hi == static_cast<float>(nn::percentile(pixels, 99.99)));
  CHECK(m.calibration(0).weight_lo == m.matmul_layer(0).weight().minCoeff());
  CHECK(m.calibration(3).weight_hi == m.matmul_layer(3).weight().maxCoeff());
  // Layers after a ReLU see no negative input; products have both signs.
  CHECK(m.calibration(1).input_lo == 0.0f);
  CHECK(m.calibration(1).output_lo < 0.0f);
  CHECK(m.calibration(1).output_hi > 0.0f);
  // Percentile with interpolation: of {0, 1, ..., 10}, 25% is 2.5 and 99.99% is 9.999.
  std::vector<float> v{10, 3, 0, 7, 1, 9, 2, 8, 4, 6, 5};
  CHECK(nn::percentile(v, 25) == doctest::Approx(2.5));
  CHECK(nn::percentile(v, 99.99) == doctest::Approx(9.999));
  CHECK(nn::percentile(v, 0) == 0);
  CHECK(nn::percentile(v, 100) == 10);
  std::vector<float> empty;
  CHECK_THROWS_AS(nn::percentile(empty, 50), Error);
}

TEST_CASE("nn model file: wrong, damaged and inconsistent files are rejected with one error") {
  TempDir tmp;
  const nn::Model m = trained_looking_cnn();
  const fs::path good = tmp / "good.h5";
  nn::save_model(m, good, false);
  CHECK_THROWS_WITH_AS(nn::save_model(m, good, false), doctest::Contains("--force"), Error);
  nn::save_model(m, good, true);
  auto variant = [&](const std::string& name, auto&& change) {
    const fs::path p = tmp / name;
    fs::copy_file(good, p);
    {
      H5::H5File f = edit(p);
      change(f);
    }
    return p;
  };
  const std::vector<std::pair<fs::path, std::string>> cases{
      {variant("kind.h5",
               [](H5::H5File& f) {
                 f.removeAttr("kind");
                 h5::write_attribute(f, "kind", std::string("lumac-sweep"));
               }),
       "kind = 'lumac-sweep', not a lumac model"},
      {variant("version.h5", [](H5::H5File& f) { replace_int_attribute(f, "schema_version", 4); }),
       "schema_version = 4"},
      {variant("nokind.h5", [](H5::H5File& f) { f.removeAttr("kind"); }),
       "attribute 'kind' is missing"},
      {variant("noweight.h5", [](H5::H5File& f) { f.unlink("/layers/07/weight"); }),
       "dataset 'weight' is missing"},
      {variant("nolayer.h5", [](H5::H5File& f) { f.unlink("/layers/04"); }),
       "group '/layers/04' is missing"},
      {variant("shape.h5",
               [](H5::H5File& f) {
                 f.unlink("/layers/09/bias");
                 H5::Group g = f.openGroup("/layers/09");
                 h5::write_dataset(g, "bias", std::vector<float>(11), {11}, "1");
               }),
       "/layers/09: dataset 'bias' has shape 11, expected 10"},
      {variant("chain.h5",
               [](H5::H5File& f) {
                 // fc1 declared (and stored) as 799 inputs no longer fits the 800 features of
                 // flatten.
                 H5::Group g = f.openGroup("/layers/07");
                 replace_int_attribute(g, "in_features", 799);
                 g.unlink("weight");
                 h5::write_dataset(g, "weight", std::vector<float>(128 * 799), {128, 799}, "1");
               }),
       "dense layer 'fc1' expects 799 input features on its last axis, got shape 800"},
      {variant("type.h5",
               [](H5::H5File& f) {
                 H5::Group g = f.openGroup("/layers/01");
                 g.removeAttr("type");
                 h5::write_attribute(g, "type", std::string("gelu"));
               }),
       "unknown layer type 'gelu'"},
      {variant("calibration.h5", [](H5::H5File& f) { f.unlink("/calibration/output_range"); }),
       "dataset 'output_range' is missing"},
      {variant("nan.h5",
               [](H5::H5File& f) {
                 H5::Group g = f.openGroup("/layers/09");
                 g.unlink("bias");
                 h5::write_dataset(g, "bias", std::vector<float>(10, std::nanf("")), {10}, "1");
               }),
       "non-finite"},
  };
  for (const auto& entry : cases) {
    const auto& file = entry.first;
    const auto& needle = entry.second;
    CAPTURE(file);
    CHECK_THROWS_WITH_AS(nn::load_model(file), doctest::Contains(needle.c_str()), Error);
    CHECK_THROWS_WITH_AS(nn::load_model(file), doctest::Contains(file.string().c_str()), Error);
  }
  // Another kind of HDF5 file (no attributes at all) and a non-HDF5 file.
  {
    h5::OutputFile f(tmp / "other.h5", false);
    f.commit();
  }
  CHECK_THROWS_WITH_AS(nn::load_model(tmp / "other.h5"),
                       doctest::Contains("attribute 'kind' is missing"), Error);
  write_text(tmp / "text.h5", "not a model");
  CHECK_THROWS_WITH_AS(nn::load_model(tmp / "text.h5"), doctest::Contains("not an HDF5 file"),
                       Error);
  CHECK_THROWS_WITH_AS(nn::load_model(tmp / "none.h5"), doctest::Contains("does not exist"), Error);
}
