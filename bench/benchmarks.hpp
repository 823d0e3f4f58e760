// lumac's benchmarks (lumac bench, docs/performance.md): each figure is the median of repeated
// runs in this process, with the spread (min, max), so a reader can reproduce them with
// `build/app/lumac bench`. Timing lives here, never in the test suite.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace lumac::bench {

struct Figure {
  std::string name;  // "gemm_gflops", "clean_images_per_s.fmnist_cnn", ...; a figure of another
                     // GEMM kernel than the build's carries its name ("gemm_gflops_eigen")
  double median = 0;
  double min = 0, max = 0;
  std::string unit;
};

struct BenchOptions {
  int repeats = 5;                    // timed runs per figure (after one warm-up)
  std::int64_t images = 10000;        // images per inference run
  std::int64_t monte_carlo = 100000;  // dot products of N = 1000
  int trace_symbols = 2000;           // time-domain symbols
  int precision_steps = 20;           // learning steps on fmnist_cnn
  int batch = 256;                    // samples per forward pass of the inference figures
  std::filesystem::path models;       // data/models
  // Model files (.h5 or .onnx) to time instead of the standard set: only their inference figures
  // (and the peak resident memory) are measured.
  std::vector<std::string> model_files;
};

std::vector<Figure> run_benchmarks(const BenchOptions& options);

}  // namespace lumac::bench
