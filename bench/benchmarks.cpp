#include "bench/benchmarks.hpp"

#include <omp.h>
#include <sys/resource.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cmath>
#include <functional>
#include <memory>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/circuits/mac_trace.hpp"
#include "lumac/circuits/vectors.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/gemm.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/nn/calibration.hpp"
#include "lumac/nn/conv2d.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/graph_ops.hpp"
#include "lumac/nn/precision.hpp"
#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/network.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac::bench {

namespace {

using clock = std::chrono::steady_clock;

// Median, min and max of `work / seconds` over repeated timed calls (one warm-up call first).
Figure measure(const std::string& name, const std::string& unit, int repeats, double work,
               const std::function<void()>& f) {
  f();
  std::vector<double> rates;
  for (int r = 0; r < repeats; ++r) {
    const auto t0 = clock::now();
    f();
    rates.push_back(work / std::chrono::duration<double>(clock::now() - t0).count());
  }
  std::sort(rates.begin(), rates.end());
  return {name, rates[rates.size() / 2], rates.front(), rates.back(), unit};
}

Figure summary(const std::string& figure, const std::string& unit, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return Figure{figure, v[v.size() / 2], v.front(), v.back(), unit};
}

// Switches the GEMM kernel for a scope and restores the one in use before.
struct KernelScope {
  GemmKernel before = gemm_kernel();
  explicit KernelScope(GemmKernel k) { set_gemm_kernel(k); }
  ~KernelScope() { set_gemm_kernel(before); }
  KernelScope(const KernelScope&) = delete;
  KernelScope& operator=(const KernelScope&) = delete;
};

// The kernels built in that run products on this CPU, the build's default first.
std::vector<GemmKernel> kernels() {
  std::vector<GemmKernel> out{default_gemm_kernel()};
  // A kernel that fails the probe for one sample's products runs nothing (core/gemm.hpp): its
  // figures would time Eigen's.
  for (auto k : {GemmKernel::openblas, GemmKernel::eigen})
    if (k != out.front() && gemm_kernel_built(k) && gemm_kernel_alignment_invariant(k))
      out.push_back(k);
  return out;
}

// A figure's name for kernel k: `base` for the build's default, `base_<kernel>` for another.
std::string kernel_figure(const std::string& base, GemmKernel k) {
  return k == default_gemm_kernel() ? base : base + "_" + gemm_kernel_name(k);
}

// float32 GEMM of 512^3 on each kernel, one core and every core (independent products per
// thread).
void gemm_figures(const BenchOptions& o, std::vector<Figure>& out) {
  const Eigen::Index n = 512;
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  const double flops = 2.0 * n * n * n;
  const int threads = omp_get_max_threads();
  std::vector<Eigen::MatrixXf> cs(static_cast<std::size_t>(threads), Eigen::MatrixXf(n, n));
  for (const GemmKernel k : kernels()) {
    const KernelScope scope(k);
    out.push_back(measure(kernel_figure("gemm_gflops", k), "GFLOP/s", o.repeats, flops * 1e-9, [&] {
      gemm(a, GemmOp::none, b, GemmOp::none, c, false, GemmColumns::fixed);
    }));
    out.push_back(measure(kernel_figure("gemm_gflops_all_cores", k), "GFLOP/s", o.repeats,
                          threads * flops * 1e-9, [&] {
#pragma omp parallel for num_threads(threads)
                            for (int t = 0; t < threads; ++t)
                              gemm(a, GemmOp::none, b, GemmOp::none,
                                   cs[static_cast<std::size_t>(t)], false, GemmColumns::fixed);
                          }));
  }
}

// A 3x3 convolution (stride 1, padding 1) of the given size as a clean pass runs it (the patch
// matrix by position + GEMM, one image at a time, one thread: nn/conv2d.hpp), against the bare
// GEMM of the same shape on the build's kernel: the share of the GEMM's rate that the
// convolution keeps.
void conv_figures(const BenchOptions& o, std::vector<Figure>& out) {
  struct ConvShape {
    const char* name;
    int channels, size, images;
  };
  // The bundled ResNet's three stages, and two of resnet50's 3x3 convolutions at 224 x 224.
  const ConvShape shapes[] = {{"c16_28x28", 16, 28, 64},
                              {"c32_14x14", 32, 14, 128},
                              {"c64_7x7", 64, 7, 256},
                              {"c64_56x56", 64, 56, 4},
                              {"c256_14x14", 256, 14, 4}};
  const int threads_before = omp_get_max_threads();
  omp_set_num_threads(1);
  for (const ConvShape& sh : shapes) {
    nn::Conv2dGeometry g;
    g.in_channels = g.out_channels = sh.channels;
    g.kernel_h = g.kernel_w = 3;
    g.padding = 1;
    nn::Conv2d conv("bench", g);
    conv.weight().setRandom();
    nn::Tensor x(sh.images, {sh.channels, sh.size, sh.size}), y;
    Eigen::Map<Eigen::VectorXf>(x.data.data(), static_cast<Eigen::Index>(x.data.size()))
        .setRandom();
    const int k = sh.channels * 9, p = sh.size * sh.size;
    const double flops = 2.0 * sh.images * sh.channels * static_cast<double>(k) * p;
    const Eigen::MatrixXf cols = Eigen::MatrixXf::Random(k, p);
    Eigen::MatrixXf prod(sh.channels, p);
    std::vector<double> conv_rate, gemm_rate, share;
    for (int r = 0; r <= o.repeats; ++r) {  // r = 0 warms up
      auto t0 = clock::now();
      conv.forward(x, y, {});
      const double tc = std::chrono::duration<double>(clock::now() - t0).count();
      t0 = clock::now();
      for (int i = 0; i < sh.images; ++i)
        gemm(conv.weight(), GemmOp::none, cols, GemmOp::none, prod, false, GemmColumns::fixed);
      const double tg = std::chrono::duration<double>(clock::now() - t0).count();
      if (r == 0) continue;
      conv_rate.push_back(flops * 1e-9 / tc);
      gemm_rate.push_back(flops * 1e-9 / tg);
      share.push_back(tg / tc);
    }
    const std::string name = std::string(sh.name);
    out.push_back(summary("conv_gflops." + name, "GFLOP/s", conv_rate));
    out.push_back(summary("conv_gemm_gflops." + name, "GFLOP/s", gemm_rate));
    out.push_back(summary("conv_over_gemm_rate." + name, "1", share));
  }
  omp_set_num_threads(threads_before);
}

// Inference of one model on `data`, batch o.batch: clean on every GEMM kernel built in, and noisy
// on the build's kernel (shot noise at E = 10 detected photons per MAC; physical noise at the
// default config when `physical`). The passes alternate within every repeat (in
// an order rotated from repeat to repeat), so that a change of machine load in the middle of
// the run reaches all of them; each ratio is the median over repeats of the ratio within a
// repeat.
void inference_figures(const BenchOptions& o, const Settings& settings, const nn::Model& model,
                       const nn::Dataset& data, const std::string& name, bool physical,
                       std::vector<Figure>& out) {
  const double images = static_cast<double>(data.size());
  struct Pass {
    std::string figure;  // its images/s figure
    GemmKernel kernel;
    const nn::AnalogExecutor* hook = nullptr;  // noisy passes
    std::string mode;                          // noisy passes: "<model>.<mode>"
  };
  std::vector<Pass> passes;
  for (const GemmKernel k : kernels())
    passes.push_back({kernel_figure("clean_images_per_s", k) + "." + name, k, nullptr, ""});
  std::vector<std::unique_ptr<nn::AnalogExecutor>> executors;
  std::vector<nn::NoiseMode> modes{nn::NoiseMode::shot_only};
  if (physical) modes.push_back(nn::NoiseMode::physical);
  for (auto mode : modes) {
    HardwareOptions h;
    h.mode = mode;
    if (mode == nn::NoiseMode::shot_only) h.energy.assign(model.matmul_layers().size(), 10.0);
    executors.push_back(std::make_unique<nn::AnalogExecutor>(mode, configured_layers(model, h),
                                                             settings.circuit, h.sources, 1));
    const std::string which = name + "." + std::string(enum_name(mode));
    passes.push_back(
        {"noisy_images_per_s." + which, default_gemm_kernel(), executors.back().get(), which});
  }
  const auto run = [&](const Pass& p) {
    const KernelScope scope(p.kernel);
    nn::EvalOptions e;
    e.batch = o.batch;
    e.hook = p.hook;
    nn::evaluate(model, data, e);
  };
  std::vector<std::vector<double>> seconds(passes.size());
  for (const Pass& p : passes) run(p);  // warm-up
  for (int r = 0; r < o.repeats; ++r)
    for (std::size_t q = 0; q < passes.size(); ++q) {
      const std::size_t p = (q + static_cast<std::size_t>(r)) % passes.size();  // rotate
      const auto t0 = clock::now();
      run(passes[p]);
      seconds[p].push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
  const auto ratio = [&](std::size_t num, std::size_t den) {
    std::vector<double> v;
    for (int r = 0; r < o.repeats; ++r)
      v.push_back(seconds[num][static_cast<std::size_t>(r)] /
                  seconds[den][static_cast<std::size_t>(r)]);
    return v;
  };
  for (std::size_t p = 0; p < passes.size(); ++p) {
    std::vector<double> rates;
    for (const double sec : seconds[p]) rates.push_back(images / sec);
    out.push_back(summary(passes[p].figure, "images/s", rates));
    if (passes[p].hook)
      out.push_back(summary("noisy_over_clean_time." + passes[p].mode, "1", ratio(p, 0)));
    else if (p > 0)  // another kernel's clean time over the build's kernel's
      out.push_back(summary(std::string(gemm_kernel_name(passes[p].kernel)) + "_over_" +
                                gemm_kernel_name(passes[0].kernel) + "_time." + name,
                            "1", ratio(p, 0)));
  }
}

// A bundled model on the first o.images Fashion-MNIST test images.
void bundled_inference_figures(const BenchOptions& o, const Settings& settings,
                               const std::string& name, std::vector<Figure>& out) {
  NetworkSpec no;
  no.model = (o.models / (name + ".h5")).string();
  no.limit = o.images;
  const LoadedNetwork net = load_network(no);
  inference_figures(o, settings, net.model, net.test, name, true, out);
}

// A model file given with --model: on the first o.images test samples of the dataset it was
// imported for (a model file of spam_transformer: at most the 1,209 test messages), else of
// Fashion-MNIST when it takes 1x28x28 inputs, otherwise on o.images inputs drawn uniformly in
// [0, 1) (seeded; images/s does not depend on the values). A file without calibration (an ONNX
// model) is calibrated on those inputs and timed with shot noise only. Inputs that feed an
// embedding (Gather) are random integer ids below its row count.
void file_inference_figures(const BenchOptions& o, const Settings& settings,
                            const std::string& file, std::vector<Figure>& out) {
  nn::Model model = load_model_file(file, "", {}, nn::default_calibration_samples, false);
  nn::Dataset data;
  const auto* source = model.source() ? &*model.source() : nullptr;
  if (source && !source->dataset.empty()) {
    const auto name = parse_enum<nn::DatasetName>(source->dataset, "dataset");
    data = nn::load_dataset(name, o.models.parent_path(), false).test.prefix(o.images);
  } else if (model.input_shape() == nn::Shape{1, 28, 28}) {
    data = nn::load_fashion_mnist(nn::fashion_mnist_dir(), false).test.prefix(o.images);
  } else {
    data.name = "random";
    data.split = "test";
    data.sample_shape = model.input_shape();
    data.classes = model.classes();
    const std::int64_t size = nn::shape_size(data.sample_shape);
    data.pixels.resize(static_cast<std::size_t>(o.images * size));
    // Token ids when the input feeds an embedding table: integers below its row count.
    int rows = 0;
    for (std::size_t i = 0; i < model.size(); ++i) {
      const auto& in = model.node_inputs(i);
      if (const auto* g = dynamic_cast<const nn::Gather*>(&model.layer(i));
          g && std::find(in.begin(), in.end(), 0) != in.end())
        rows = rows == 0 ? g->rows() : std::min(rows, g->rows());
    }
    const RandomStream stream(1, Stream::vectors);
    for (std::size_t i = 0; i < data.pixels.size(); ++i) {
      const double u = stream.uniform(i, 0, 0, 0);
      data.pixels[i] = rows > 0
                           ? static_cast<float>(std::min<double>(std::floor(u * rows), rows - 1))
                           : static_cast<float>(u);
    }
    data.labels.assign(static_cast<std::size_t>(o.images), 0);
  }
  const bool calibrated = model.calibrated();
  if (!calibrated)  // the analog layers need ranges: taken from the timed inputs themselves
    model.set_calibration(nn::calibrate(model, data, std::min<std::int64_t>(data.size(), 4)));
  inference_figures(o, settings, model, data, std::filesystem::path(file).stem().string(),
                    calibrated, out);
}

// Circuit: Monte Carlo dot products of N = 1000 and time-domain symbols.
void circuit_figures(const BenchOptions& o, const Settings& settings, std::vector<Figure>& out) {
  const HomodyneMac mac(settings.circuit);
  const DotProduct dp = random_dot_product(1000, VectorDistribution::uniform, 1);
  out.push_back(measure("mc_dot_products_per_s", "1/s", o.repeats,
                        static_cast<double>(o.monte_carlo),
                        [&] { mac.monte_carlo(dp, o.monte_carlo, 1); }));
  const DotProduct tdp = random_dot_product(o.trace_symbols, VectorDistribution::uniform, 1);
  TraceOptions t;
  t.samples_per_symbol = 4;
  t.record = false;
  out.push_back(measure("trace_symbols_per_s", "1/s", o.repeats, o.trace_symbols,
                        [&] { simulate_trace(mac, tdp, t); }));
}

// Precision learning steps on fmnist_cnn (batch 64, shot noise).
void precision_figures(const BenchOptions& o, const Settings& settings, std::vector<Figure>& out) {
  NetworkSpec no;
  no.model = (o.models / "fmnist_cnn.h5").string();
  no.limit = 100;
  const LoadedNetwork net = load_network(no, true);
  nn::PrecisionOptions p;
  p.mode = nn::NoiseMode::shot_only;
  p.target_energy = 50;
  p.steps = o.precision_steps;
  p.seed = 1;
  const auto layers = nn::analog_layers(net.model);
  out.push_back(measure("precision_steps_per_s", "1/s", o.repeats, o.precision_steps, [&] {
    nn::learn_precision(net.model, *net.train, layers, settings.circuit, NoiseSources::all(), p);
  }));
}

}  // namespace

std::vector<Figure> run_benchmarks(const BenchOptions& o) {
  if (o.repeats < 1) fail("--repeats = {}: must be >= 1", o.repeats);
  if (o.images < 1) fail("--images = {}: must be >= 1", o.images);
  if (o.batch < 1 || o.batch > 65536) fail("--batch = {}: must be between 1 and 65536", o.batch);
  std::vector<Figure> out;
  const Settings settings = load_settings({}, {});
  if (!o.model_files.empty()) {
    for (const auto& file : o.model_files) file_inference_figures(o, settings, file, out);
  } else {
    gemm_figures(o, out);
    conv_figures(o, out);
    for (const char* name : {"fmnist_mlp", "fmnist_cnn", "fmnist_resnet"})
      bundled_inference_figures(o, settings, name, out);
    circuit_figures(o, settings, out);
    precision_figures(o, settings, out);
  }
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);  // ru_maxrss in KiB on Linux
  out.push_back(Figure{"peak_resident_MiB", usage.ru_maxrss / 1024.0, usage.ru_maxrss / 1024.0,
                       usage.ru_maxrss / 1024.0, "MiB"});
  return out;
}

}  // namespace lumac::bench
