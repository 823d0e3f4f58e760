#include "bench/benchmarks.hpp"

#include <omp.h>

#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/circuits/mac_trace.hpp"
#include "lumac/circuits/vectors.hpp"
#include "lumac/core/error.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/nn/precision.hpp"
#include "lumac/studies/evaluation.hpp"
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

// Eigen float32 GEMM, one core and every core (independent products per thread).
void gemm_figures(const BenchOptions& o, std::vector<Figure>& out) {
  const Eigen::Index n = 512;
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(n, n), b = Eigen::MatrixXf::Random(n, n);
  Eigen::MatrixXf c(n, n);
  const double flops = 2.0 * n * n * n;
  out.push_back(
      measure("gemm_gflops", "GFLOP/s", o.repeats, flops * 1e-9, [&] { c.noalias() = a * b; }));
  const int threads = omp_get_max_threads();
  std::vector<Eigen::MatrixXf> cs(static_cast<std::size_t>(threads), Eigen::MatrixXf(n, n));
  out.push_back(measure("gemm_gflops_all_cores", "GFLOP/s", o.repeats, threads * flops * 1e-9, [&] {
#pragma omp parallel for num_threads(threads)
    for (int t = 0; t < threads; ++t) cs[static_cast<std::size_t>(t)].noalias() = a * b;
  }));
}

Figure summary(const std::string& figure, const std::string& unit, std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return Figure{figure, v[v.size() / 2], v.front(), v.back(), unit};
}

// Inference of one bundled model, clean and noisy (shot, physical), batch 256. The clean pass
// and the noisy passes alternate within every repeat (in an order rotated from repeat to
// repeat), so that a change of machine load in the middle of the run reaches all of them; each
// noisy/clean ratio is the median over repeats of the ratio within a repeat.
void inference_figures(const BenchOptions& o, const Settings& settings, const std::string& name,
                       std::vector<Figure>& out) {
  NetworkSpec no;
  no.model = (o.models / (name + ".h5")).string();
  no.limit = o.images;
  const LoadedNetwork net = load_network(no);
  const double images = static_cast<double>(net.test.size());
  nn::EvalOptions clean;
  clean.batch = 256;
  std::vector<std::unique_ptr<nn::AnalogExecutor>> executors;
  std::vector<std::string> modes;
  for (auto mode : {nn::NoiseMode::shot_only, nn::NoiseMode::physical}) {
    HardwareOptions h;
    h.mode = mode;
    if (mode == nn::NoiseMode::shot_only) h.energy.assign(net.model.matmul_layers().size(), 10.0);
    executors.push_back(std::make_unique<nn::AnalogExecutor>(mode, configured_layers(net.model, h),
                                                             settings.circuit, h.sources, 1));
    modes.emplace_back(enum_name(mode));
  }
  const auto pass = [&](std::size_t p) {
    nn::EvalOptions e = clean;
    if (p > 0) e.hook = executors[p - 1].get();
    nn::evaluate(net.model, net.test, e);
  };
  const std::size_t passes = executors.size() + 1;
  std::vector<std::vector<double>> seconds(passes);
  for (std::size_t p = 0; p < passes; ++p) pass(p);  // warm-up
  for (int r = 0; r < o.repeats; ++r)
    for (std::size_t q = 0; q < passes; ++q) {
      const std::size_t p = (q + static_cast<std::size_t>(r)) % passes;  // rotate the order
      const auto t0 = clock::now();
      pass(p);
      seconds[p].push_back(std::chrono::duration<double>(clock::now() - t0).count());
    }
  const auto rates = [&](std::size_t p) {
    std::vector<double> v;
    for (const double sec : seconds[p]) v.push_back(images / sec);
    return v;
  };
  out.push_back(summary("clean_images_per_s." + name, "images/s", rates(0)));
  for (std::size_t m = 0; m < modes.size(); ++m) {
    out.push_back(summary("noisy_images_per_s." + name + "." + modes[m], "images/s", rates(m + 1)));
    std::vector<double> ratio;
    for (int r = 0; r < o.repeats; ++r)
      ratio.push_back(seconds[m + 1][static_cast<std::size_t>(r)] /
                      seconds[0][static_cast<std::size_t>(r)]);
    out.push_back(summary("noisy_over_clean_time." + name + "." + modes[m], "1", ratio));
  }
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
  std::vector<Figure> out;
  const Settings settings = load_settings({}, {});
  gemm_figures(o, out);
  for (const char* name : {"fmnist_mlp", "fmnist_cnn", "fmnist_resnet"})
    inference_figures(o, settings, name, out);
  circuit_figures(o, settings, out);
  precision_figures(o, settings, out);
  return out;
}

}  // namespace lumac::bench
