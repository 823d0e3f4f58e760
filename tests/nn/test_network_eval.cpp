// Networks on the simulated hardware (app/network_eval.hpp, nn/analog.hpp, nn/quantize.hpp).
#include <omp.h>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/units.hpp"
#include "lumac/nn/evaluate.hpp"
#include "lumac/studies/evaluation.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

LoadedNetwork network(const std::string& name, std::int64_t limit, int batch = 256) {
  NetworkSpec o;
  o.model = (source_dir() / "data" / "models" / (name + ".h5")).string();
  o.limit = limit;
  o.batch = batch;
  return load_network(o);
}

HardwareOptions shot(double photons, std::size_t layers) {
  HardwareOptions h;
  h.mode = nn::NoiseMode::shot_only;
  h.energy.assign(layers, photons);
  return h;
}

}  // namespace

TEST_CASE("network: noise-free analog execution equals the plain forward pass exactly") {
  const LoadedNetwork net = network("fmnist_cnn", 300);
  const Settings s = load_settings({}, {});
  nn::EvalOptions plain;
  const nn::EvalResult reference = nn::evaluate(net.model, net.test, plain);
  // The physical circuit with every source switched off, installed as a hook. It still clips
  // inputs at the full scale and outputs at the ADC span (tests/nn/test_analog_circuit.cpp):
  // ranges 100 times the calibrated ones clip nothing.
  std::vector<nn::AnalogLayer> wide = nn::analog_layers(net.model);
  for (nn::AnalogLayer& a : wide) {
    a.input_lo *= 100;
    a.input_hi *= 100;
    a.output_lo *= 100;
    a.output_hi *= 100;
  }
  const nn::AnalogExecutor quiet(nn::NoiseMode::physical, wide, s.circuit, NoiseSources::none(), 1);
  nn::EvalOptions hooked;
  hooked.hook = &quiet;
  const nn::EvalResult r = nn::evaluate(net.model, net.test, hooked);
  CHECK(r.predictions == reference.predictions);
  CHECK(r.loss == reference.loss);
  // And through the evaluation entry point with --noise none.
  HardwareOptions none;
  CHECK(evaluate_on_hardware(net, s, none, 1, 1).accuracy_mean == reference.accuracy);
}

TEST_CASE(
    "network: accuracy falls monotonically as photons per MAC fall, and 1000 photons is within 0.5 "
    "points of clean") {
  const LoadedNetwork net = network("fmnist_mlp", 0);  // all 10,000 test images
  const Settings s = load_settings({}, {});
  const double clean = net.model.training()->test_accuracy;
  const std::size_t layers = net.model.matmul_layers().size();
  // Seed noise: the accuracy of n = 10000 images has a binomial std of sqrt(p (1 - p) / n),
  // about 0.3 points; 3 of them allow for it.
  const double seed_noise = 3 * std::sqrt(0.25 / 10000);
  const NetworkEvaluation at1000 = evaluate_on_hardware(net, s, shot(1000, layers), 1, 1);
  CHECK(at1000.accuracy_mean > clean - 0.005);
  double previous = at1000.accuracy_mean;
  for (double photons : {30.0, 3.0, 0.3, 0.03}) {
    const double acc = evaluate_on_hardware(net, s, shot(photons, layers), 1, 1).accuracy_mean;
    CAPTURE(photons);
    CAPTURE(acc);
    CHECK(acc <= previous + seed_noise);
    previous = acc;
  }
  CHECK(previous < 0.5);  // at 0.03 photons per MAC the network is mostly guessing
}

TEST_CASE(
    "network: the same seed gives identical results with 1, 2 and 3 threads and any batch size, "
    "the noise report included") {
  const Settings s = load_settings({}, {});
  for (const char* model : {"fmnist_cnn", "fmnist_mlp"}) {
    const LoadedNetwork net = network(model, 200);
    for (auto mode :
         {nn::NoiseMode::shot_only, nn::NoiseMode::physical, nn::NoiseMode::weight_only}) {
      std::vector<int> reference;
      // The per-layer report (noise std, its split by source, clipped fractions): sums over
      // products that threads add in any order, exactly (nn/analog.cpp, ExactStats).
      std::vector<double> reference_report;
      for (int threads : {1, 2, 3}) {
        for (int batch : {7, 64, 256}) {
          HardwareOptions h;
          h.mode = mode;
          h.energy.assign(net.model.matmul_layers().size(),
                          mode == nn::NoiseMode::shot_only ? 3.0 : 1.0);
          const nn::AnalogExecutor ex(h.mode, configured_layers(net.model, h), s.circuit, h.sources,
                                      5);
          omp_set_num_threads(threads);
          nn::EvalOptions o;
          o.batch = batch;
          o.hook = &ex;
          const auto p = nn::evaluate(net.model, net.test, o).predictions;
          std::vector<double> report;
          for (const auto& r : ex.report()) {
            report.insert(report.end(), {r.noise_std, r.input_clipped_fraction,
                                         r.output_clipped_fraction, r.outputs_seen});
            for (const auto& [name, rms] : r.by_source) report.push_back(rms);
          }
          CAPTURE(model);
          CAPTURE(threads);
          CAPTURE(batch);
          if (reference.empty()) {
            reference = p;
            reference_report = report;
          } else {
            CHECK(p == reference);
            CHECK(report == reference_report);
          }
        }
      }
    }
  }
  omp_set_num_threads(2);
}

TEST_CASE("network: the digital baseline approaches the float network as bits grow") {
  const LoadedNetwork net = network("fmnist_mlp", 2000);
  const Settings s = load_settings({}, {});
  HardwareOptions h;
  double previous_gap = 1;
  for (int bits : {2, 4, 8}) {
    h.bits = bits;
    const double acc = evaluate_on_hardware(net, s, h, 1, 1).accuracy_mean;
    nn::EvalOptions plain;
    const double clean = nn::evaluate(net.model, net.test, plain).accuracy;
    const double gap = clean - acc;
    CAPTURE(bits);
    CHECK(gap < previous_gap + 0.01);
    previous_gap = gap;
  }
  CHECK(std::abs(previous_gap) < 0.01);  // 8 bits is within a point of float32
}

TEST_CASE(
    "network: physical mode reports a layer ENOB that grows by half a bit per doubling of power at "
    "the shot limit") {
  const LoadedNetwork net = network("fmnist_mlp", 300);
  Settings s = load_settings({}, {});
  HardwareOptions h;
  h.mode = nn::NoiseMode::physical;
  h.sources = NoiseSources::none().with(NoiseSource::shot);
  s.circuit.laser.power_W = 1e-4;
  const auto a = evaluate_on_hardware(net, s, h, 1, 1);
  s.circuit.laser.power_W = 4e-4;
  const auto b = evaluate_on_hardware(net, s, h, 1, 1);
  for (std::size_t l = 0; l < a.layers.size(); ++l) {
    // The measured noise is over the same inputs only for the first layer; the later layers see
    // inputs that the noise itself changed, so allow 0.05 bit.
    CHECK(b.layers[l].enob - a.layers[l].enob == doctest::Approx(1.0).epsilon(0.05));
  }
  CHECK(b.photons_per_mac[0] == doctest::Approx(4 * a.photons_per_mac[0]));
}

TEST_CASE("network energy: in thermal and weight modes E counts repeats of the circuit") {
  const LoadedNetwork net = network("fmnist_mlp", 10);
  const Settings settings = load_settings({}, {});
  const std::size_t layers = net.model.matmul_layers().size();
  const double circuit_photons = HomodyneMac(settings.circuit).photons_per_mac_full_scale();
  for (const nn::NoiseMode mode : {nn::NoiseMode::thermal_only, nn::NoiseMode::weight_only}) {
    HardwareOptions one, three;
    one.mode = three.mode = mode;
    one.energy.assign(layers, 1.0);
    three.energy.assign(layers, 3.0);
    const EnergyReport a = network_energy(net.model, settings, one, {});
    const EnergyReport b = network_energy(net.model, settings, three, {});
    CAPTURE(static_cast<int>(mode));
    // One repeat detects the circuit's full-scale photons per MAC; E = 3 detects three times as
    // many and pays every per-repeat component three times.
    CHECK(a.total.detected_optical_J / a.total.macs ==
          doctest::Approx(circuit_photons * photon_energy_J(settings.circuit.laser.wavelength_m)));
    CHECK(b.total.detected_optical_J == doctest::Approx(3 * a.total.detected_optical_J));
    CHECK(b.total.laser_optical_J == doctest::Approx(3 * a.total.laser_optical_J));
    for (const std::size_t c : {std::size_t{0}, std::size_t{2}, std::size_t{4}})
      CHECK(b.total.components_J[c] == doctest::Approx(3 * a.total.components_J[c]));
    // E below 1 (learning moves it freely) is half a repeat's energy, not an error.
    HardwareOptions half = one;
    half.energy.assign(layers, 0.5);
    const EnergyReport c = network_energy(net.model, settings, half, {});
    CHECK(c.total.detected_optical_J == doctest::Approx(0.5 * a.total.detected_optical_J));
  }
}
