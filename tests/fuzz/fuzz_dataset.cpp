// libFuzzer harness for the dataset readers (nn/dataset.hpp): the input, written to a file, is
// read as a gzipped (or plain) IDX image file, an IDX label file and an MNIST digit JSON file;
// each must either parse or raise lumac::Error. The first input byte chooses the expected
// count, so that well-formed small files are reachable.
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>

#include "lumac/core/error.hpp"
#include "lumac/nn/dataset.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const std::filesystem::path file =
      std::filesystem::temp_directory_path() / ("lumac-fuzz-dataset-" + std::to_string(getpid()));
  const std::int64_t expected = size > 0 ? data[0] % 8 : 1;
  {
    std::ofstream out(file, std::ios::binary | std::ios::trunc);
    if (size > 1)
      out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    (void)lumac::nn::read_idx_images(file, expected);
  } catch (const lumac::Error&) {
  }
  try {
    (void)lumac::nn::read_idx_labels(file, expected);
  } catch (const lumac::Error&) {
  }
  try {
    (void)lumac::nn::parse_digit_file(file);
  } catch (const lumac::Error&) {
  }
  return 0;
}
