// libFuzzer harness for the ONNX importer (nn/onnx_import.hpp). The input is the bytes of an
// ONNX file (seeds: the small test models of tests/data/onnx); nn::import_onnx_bytes must either
// import it or raise lumac::Error, never crash, hang or leak. A model that imports runs one
// forward pass on zeros when it is small enough, so that what the importer accepted also runs.
#include <cstddef>
#include <cstdint>
#include <string>

#include "lumac/core/error.hpp"
#include "lumac/nn/onnx_import.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  try {
    const lumac::nn::OnnxImport imp =
        lumac::nn::import_onnx_bytes(bytes, "fuzz.onnx", "/nonexistent-lumac-fuzz-dir");
    const lumac::nn::Model& m = imp.model;
    double values = static_cast<double>(lumac::nn::shape_size(m.input_shape()));
    for (std::size_t i = 0; i <= m.size(); ++i)
      values += static_cast<double>(lumac::nn::shape_size(m.shape(i)));
    if (values < 1e6 && m.macs_per_sample() < 10'000'000) {
      const lumac::nn::Tensor x(1, m.input_shape());
      (void)m.forward_outputs(x);
    }
  } catch (const lumac::Error&) {
  }
  return 0;
}
