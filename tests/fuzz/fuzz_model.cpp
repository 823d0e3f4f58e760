// libFuzzer harness for the model reader (nn/model_file.hpp). The input is a recipe for a
// well-formed HDF5 file with arbitrary lumac-model content: kind and version, input shape, a
// list of layers of any type with any attributes and weight shapes (values sometimes NaN),
// calibration and training groups present or not with any shapes. The file is written with the
// HDF5 library and read back by nn::load_model, which must either load it or raise lumac::Error.
// (Corruption of the HDF5 bytes themselves is the HDF5 library's parser, exercised by the
// table-driven tests with empty, truncated and garbage files.)
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "lumac/core/error.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/nn/model_file.hpp"

namespace {

struct Recipe {
  const std::uint8_t* data;
  std::size_t size, at = 0;
  int next() { return at < size ? data[at++] : 0; }
  std::int64_t small(int span) { return static_cast<std::int64_t>(next() % (span + 2)) - 1; }
};

const char* const types[] = {"dense",     "conv2d",  "relu", "maxpool2d",
                             "avgpool2d", "flatten", "lstm"};

void write_floats(Recipe& r, H5::Group& g, const std::string& name) {
  const int rank = r.next() % 5;
  std::vector<hsize_t> dims;
  hsize_t n = 1;
  for (int k = 0; k < rank; ++k) {
    dims.push_back(static_cast<hsize_t>(r.next() % 40));
    n *= dims.back();
  }
  if (n > 100000) return;
  std::vector<float> values(n);
  for (auto& v : values) {
    const int b = r.next();
    v = b == 255 ? std::numeric_limits<float>::quiet_NaN() : static_cast<float>(b - 128) / 64;
  }
  lumac::h5::write_dataset(g, name, values, dims, "1");
}

void write_model(Recipe& r, const std::filesystem::path& path) {
  lumac::h5::OutputFile out(path, true);
  H5::H5File& f = out.file();
  H5::Group root = f.openGroup("/");
  lumac::h5::write_attribute(f, "kind", std::string(r.next() % 4 ? "lumac-model" : "lumac-sweep"));
  lumac::h5::write_attribute(f, "schema_version", std::int64_t{r.next() % 4 ? 1 : 2});
  lumac::h5::write_attribute(f, "arch", std::string("custom"));
  std::vector<std::int64_t> shape;
  for (int k = r.next() % 4; k > 0; --k) shape.push_back(r.small(30));
  if (r.next() % 8) lumac::h5::write_dataset(root, "input_shape", shape, {shape.size()}, "1");
  H5::Group layers = f.createGroup("layers");
  const int count = r.next() % 7;
  lumac::h5::write_attribute(layers, "count", std::int64_t{r.next() % 6 ? count : r.small(20)});
  for (int i = 0; i < count; ++i) {
    char name[8];
    std::snprintf(name, sizeof name, "%02d", i);
    H5::Group g = layers.createGroup(name);
    lumac::h5::write_attribute(g, "type", std::string(types[r.next() % 7]));
    lumac::h5::write_attribute(g, "name", std::string("l") + std::to_string(r.next() % 4));
    for (const char* attr : {"in_features", "out_features", "in_channels", "out_channels",
                             "kernel_h", "kernel_w", "stride", "padding", "kernel"})
      if (r.next() % 5) lumac::h5::write_attribute(g, attr, r.small(30));
    if (r.next() % 3) write_floats(r, g, "weight");
    if (r.next() % 3) write_floats(r, g, "bias");
  }
  if (r.next() % 2) {
    H5::Group c = f.createGroup("calibration");
    lumac::h5::write_attribute(c, "dataset", std::string("fuzz"));
    lumac::h5::write_attribute(c, "samples", r.small(2000));
    lumac::h5::write_attribute(c, "percentile_lo", 0.01);
    lumac::h5::write_attribute(c, "percentile_hi", 99.99);
    std::vector<std::string> names;
    for (int k = r.next() % 5; k > 0; --k) names.push_back("l" + std::to_string(r.next() % 4));
    lumac::h5::write_attribute(c, "layer_names", names);
    for (const char* ds : {"input_range", "output_range", "weight_range"})
      if (r.next() % 6) write_floats(r, c, ds);
  }
  if (r.next() % 2) {
    H5::Group t = f.createGroup("training");
    for (const char* a : {"dataset", "arch", "optimizer"})
      if (r.next() % 5) lumac::h5::write_attribute(t, a, std::string("x"));
    for (const char* a : {"seed", "epochs", "batch", "train_samples", "test_samples"})
      if (r.next() % 5) lumac::h5::write_attribute(t, a, r.small(100));
    for (const char* a : {"learning_rate", "train_loss", "test_accuracy", "seconds"})
      if (r.next() % 5) lumac::h5::write_attribute(t, a, static_cast<double>(r.small(3)));
  }
  out.commit();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() /
      ("lumac-fuzz-model-" + std::to_string(getpid()) + ".h5");
  Recipe r{data, size};
  try {
    write_model(r, file);
  } catch (const lumac::Error&) {
    return 0;  // the recipe could not be written (not a reader input)
  } catch (const H5::Exception&) {
    return 0;
  }
  try {
    (void)lumac::nn::load_model(file);
  } catch (const lumac::Error&) {
  }
  return 0;
}
