// `lumac bench`: the benchmarks of bench/benchmarks.hpp as a table or JSON.
#include <fmt/format.h>
#include <omp.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "bench/benchmarks.hpp"
#include "lumac/core/gemm.hpp"

namespace lumac::cli {

void register_bench(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "bench", "benchmarks: GEMM ceiling, inference, Monte Carlo, trace, learning");
  auto o = std::make_shared<bench::BenchOptions>();
  auto json = std::make_shared<bool>(false);
  auto quick = std::make_shared<bool>(false);
  cmd->add_option("--repeats", o->repeats, "timed runs per figure (default 5)");
  cmd->add_option("--model", o->model_files,
                  "time only this model file (.h5 or .onnx; repeatable): clean on each GEMM "
                  "kernel, shot noise at 10 photons/MAC; on the test set of the dataset it was "
                  "imported for, else Fashion-MNIST images for 1x28x28 inputs, else seeded "
                  "random inputs")
      ->check(CLI::ExistingFile);
  cmd->add_option("--images", o->images, "images per inference run (default 10000)");
  cmd->add_option("--batch", o->batch, "images per forward pass (default 256)");
  cmd->add_flag("--quick", *quick, "small sizes (a smoke run, not for figures)");
  cmd->add_flag("--json", *json, "machine-readable JSON on stdout");
  cmd->callback([o, json, quick] {
    bench::BenchOptions opt = *o;
    opt.models = data_dir() / "models";
    if (*quick) {
      opt.repeats = 1;
      opt.images = std::min<std::int64_t>(opt.images, 256);
      opt.monte_carlo = 1000;
      opt.trace_symbols = 50;
      opt.precision_steps = 2;
    }
    const auto figures = bench::run_benchmarks(opt);
    if (*json) {
      // Nested objects: "noisy_images_per_s.fmnist_cnn.shot" -> {"noisy_images_per_s": {...}}.
      Json j;
      Json spread;
      for (const auto& f : figures) {
        Json* at = &j;
        std::string rest = f.name;
        for (auto dot = rest.find('.'); dot != std::string::npos; dot = rest.find('.')) {
          at = &(*at)[rest.substr(0, dot)];
          rest = rest.substr(dot + 1);
        }
        (*at)[rest] = f.median;
        spread[f.name] = Json{{"min", f.min}, {"max", f.max}, {"unit", f.unit}};
      }
      j["spread"] = spread;
      j["repeats"] = static_cast<std::int64_t>(opt.repeats);
      j["gemm_kernel"] = gemm_kernel_name(default_gemm_kernel());
      // Whether OpenBLAS passed the batch-invariance probe on this CPU (core/gemm.hpp).
      j["openblas_batch_invariant"] = gemm_kernel_batch_invariant(GemmKernel::openblas);
      // Whether it passed the probe for products of one sample (core/gemm.hpp).
      j["openblas_alignment_invariant"] = gemm_kernel_alignment_invariant(GemmKernel::openblas);
      j["images"] = opt.images;  // the run's settings, so that a figure can be reproduced
      j["batch"] = static_cast<std::int64_t>(opt.batch);
      j["threads"] = static_cast<std::int64_t>(omp_get_max_threads());
      print_json(j);
      return;
    }
    const GemmKernel def = default_gemm_kernel();
    std::string kernels;
    if (gemm_kernel_built(GemmKernel::openblas)) {
      if (def != GemmKernel::openblas)
        kernels =
            " (OpenBLAS is built but runs nothing on this CPU: its bits depend on where the "
            "operands sit, so results would depend on the batch; core/gemm.hpp)";
      else if (!gemm_kernel_batch_invariant(GemmKernel::openblas))
        kernels =
            " (figures named _eigen: Eigen's; dense layers' chunks of samples run on Eigen "
            "either way, since OpenBLAS's columns depend on their place on this CPU; "
            "core/gemm.hpp)";
      else
        kernels = " (figures named _eigen: Eigen's)";
    }
    fmt::print(
        "lumac bench: median of {} runs (min - max); up to {} images, batch {}, {} thread(s); "
        "GEMM kernel {}{}\n",
        opt.repeats, opt.images, opt.batch, omp_get_max_threads(), gemm_kernel_name(def), kernels);
    for (const auto& f : figures)
      fmt::print("  {:<45} {:>12.4g} {:<9} ({:.4g} - {:.4g})\n", f.name, f.median, f.unit, f.min,
                 f.max);
  });
}

}  // namespace lumac::cli
