// The study layer (studies/): the resume signature of a sweep covers every field of its spec
// and the effective config, the noise-mode table agrees with what each mode does, and the
// library gives the numbers the CLI prints.
#include <functional>
#include <set>

#include "lumac/studies.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

std::string signature_of(const SweepSpec& spec, const std::vector<std::string>& sets = {}) {
  SweepResults r;
  std::optional<LoadedNetwork> net;
  prepare_sweep(spec, load_settings({}, sets), "test", r, net);
  return r.signature;
}

SweepSpec circuit_sweep() {
  SweepSpec s;
  s.axes = {"detector.cmrr_dB=20:30:2"};
  s.circuit.fan_in = 16;
  return s;
}

SweepSpec network_sweep() {
  SweepSpec s;
  s.axes = {"detector.cmrr_dB=20:30:2"};
  s.network.model = bundled_model("fmnist_mlp.h5");
  s.network.limit = 100;
  return s;
}

}  // namespace

TEST_CASE("studies: a sweep's resume signature changes with every field that changes its numbers") {
  const std::string base = signature_of(circuit_sweep());
  CHECK(signature_of(circuit_sweep()) == base);  // deterministic
  const std::vector<std::pair<const char*, std::function<void(SweepSpec&)>>> circuit_changes{
      {"axes", [](SweepSpec& s) { s.axes = {"detector.cmrr_dB=20:40:2"}; }},
      {"fan_in", [](SweepSpec& s) { s.circuit.fan_in = 17; }},
      {"photons_per_mac", [](SweepSpec& s) { s.circuit.photons_per_mac = 10; }},
      {"repeats", [](SweepSpec& s) { s.circuit.repeats = 2; }},
      {"encoding", [](SweepSpec& s) { s.circuit.encoding = "norm-adaptive"; }},
      {"averaging", [](SweepSpec& s) { s.circuit.averaging = "analog"; }},
      {"sources", [](SweepSpec& s) { s.circuit.sources = "shot"; }},
      {"vectors", [](SweepSpec& s) { s.circuit.vectors = "positive"; }},
      {"range", [](SweepSpec& s) { s.circuit.range = 10; }},
      {"monte_carlo", [](SweepSpec& s) { s.monte_carlo = 100; }},
      {"time_domain", [](SweepSpec& s) { s.time_domain = true; }},
      {"seed", [](SweepSpec& s) { s.seed = 2; }},
  };
  std::set<std::string> seen{base};
  for (const auto& entry : circuit_changes) {
    const std::string what = entry.first;
    CAPTURE(what);
    SweepSpec s = circuit_sweep();
    entry.second(s);
    CHECK(seen.insert(signature_of(s)).second);
  }
  CAPTURE("config");
  CHECK(seen.insert(signature_of(circuit_sweep(), {"adc.bits=6"})).second);

  const std::string net_base = signature_of(network_sweep());
  const std::vector<std::pair<const char*, std::function<void(SweepSpec&)>>> network_changes{
      {"noise", [](SweepSpec& s) { s.hardware.noise = "shot"; }},
      {"seeds", [](SweepSpec& s) { s.seeds = 2; }},
      {"limit", [](SweepSpec& s) { s.network.limit = 101; }},
      {"dataset", [](SweepSpec& s) { s.network.dataset = "fashion-mnist"; }},
      {"photons_per_mac", [](SweepSpec& s) { s.hardware.photons_per_mac = 100; }},
      {"energy_per_layer",
       [](SweepSpec& s) {
         s.hardware.energy_per_layer = {1, 2, 1};
       }},
      {"repeats", [](SweepSpec& s) { s.hardware.repeats = 2; }},
      {"repeats_per_layer",
       [](SweepSpec& s) {
         s.hardware.repeats_per_layer = {1, 2, 1};
       }},
      {"sources", [](SweepSpec& s) { s.hardware.sources = "shot,adc"; }},
      {"encoding", [](SweepSpec& s) { s.circuit.encoding = "norm-adaptive"; }},
  };
  seen.insert(net_base);
  for (const auto& entry : network_changes) {
    const std::string what = entry.first;
    CAPTURE(what);
    SweepSpec s = network_sweep();
    entry.second(s);
    CHECK(seen.insert(signature_of(s)).second);
  }
  // The batch size changes nothing (results are bitwise identical for any batch).
  SweepSpec batched = network_sweep();
  batched.network.batch = 7;
  CHECK(signature_of(batched) == net_base);
}

TEST_CASE("studies: the noise-mode table says what each mode's energy means") {
  std::set<std::string> names;
  for (const auto& m : nn::noise_modes) {
    CAPTURE(m.name);
    CHECK(names.insert(std::string(m.name)).second);
    CHECK(nn::parse_noise_mode(m.name) == m.mode);
    CHECK(&nn::noise_mode_info(m.mode) == &m);
    // Exactly the modes with an energy knob can learn precision, with a positive lambda.
    CHECK(m.learnable == (m.energy != nn::EnergyKind::none));
    CHECK(m.learnable == (m.default_lambda > 0));
  }
  CHECK_THROWS_WITH_AS(nn::parse_noise_mode("quantum", "noise"),
                       doctest::Contains("noise = 'quantum'"), Error);
  const CircuitParams c = load_settings({}, {}).circuit;
  using nn::NoiseMode;
  // shot: E detected photons per MAC per repeat, K repeats; the laser power that gives E.
  CHECK(nn::layer_budget(NoiseMode::shot_only, 3, 50, 50, 999).photons_per_mac == 50);
  CHECK(nn::layer_budget(NoiseMode::shot_only, 3, 50, 50, 999).repeats == 3);
  CHECK(nn::allocation_laser_power_W(NoiseMode::shot_only, c, 50) ==
        with_photons_per_mac(c, 50).laser.power_W);
  // physical: E scales the laser power; the executor's photons are the scaled budget.
  CHECK(nn::allocation_laser_power_W(NoiseMode::physical, c, 2.5) == 2.5 * c.laser.power_W);
  CHECK(nn::layer_budget(NoiseMode::physical, 2, 2.5, 700, 999).photons_per_mac == 700);
  // thermal and weight: E counts repeats of the circuit at the configured power.
  for (NoiseMode m : {NoiseMode::thermal_only, NoiseMode::weight_only}) {
    const nn::LayerBudget b = nn::layer_budget(m, 2, 3.5, 0, 999);
    CHECK(b.photons_per_mac == 999);
    CHECK(b.repeats == 7);
    CHECK(nn::whole_repeats(m, 2, 3.5) == 8);  // K round(E)
    CHECK(nn::whole_repeats(m, 2, 0.2) == 2);  // at least one repeat
    CHECK(nn::allocation_laser_power_W(m, c, 3.5) == c.laser.power_W);
  }
  CHECK(nn::whole_repeats(NoiseMode::shot_only, 2, 3.5) == 2);
  CHECK(nn::allocation_laser_power_W(NoiseMode::none, c, 1) == 0);
}

TEST_CASE("studies: the enob study and the CLI give the same figures") {
  const Settings s = load_settings({}, {});
  CircuitSpec dot;
  dot.fan_in = 400;
  dot.vectors = "positive";
  const EnobStudy st = run_enob_study(s, dot, 1, 500, false);
  const RunResult r = run_lumac(
      {"enob", "--fan-in", "400", "--vectors", "positive", "--monte-carlo", "500", "--json"});
  REQUIRE(r.exit_code == 0);
  CHECK(json_number(r.out, "enob_analytic") == st.budget.enob);
  CHECK(json_number(r.out, "enob_monte_carlo") == st.monte_carlo->enob);
  CHECK(to_json(st)["enob_analytic"].get<double>() == st.budget.enob);
  // One rule for the Monte Carlo limits.
  CHECK_THROWS_WITH_AS(run_enob_study(s, dot, 1, max_monte_carlo_samples + 1, false),
                       doctest::Contains("monte_carlo"), Error);
}

TEST_CASE(
    "studies: a seed's evaluation split into pieces pools to the whole, accuracy bit for bit") {
  NetworkSpec spec;
  spec.model = bundled_model("fmnist_mlp.h5");
  spec.limit = 700;
  spec.batch = 100;
  const LoadedNetwork net = load_network(spec, false);
  Settings settings = load_settings({}, {});
  settings.circuit.laser.power_W = 2e-4;  // noisy enough that the two seeds' accuracies differ
  const HardwareOptions h =
      resolve_hardware(hardware_spec("physical"), net.model, settings.circuit);
  const NetworkEvaluation whole = evaluate_on_hardware(net, settings, h, 5, 2);
  // Pieces of different sizes, empty ones first and between, boundaries inside and on batches.
  std::vector<std::vector<SeedEvaluation>> pieces(2);
  for (std::uint64_t s = 0; s < 2; ++s)
    for (auto [b, e] :
         std::vector<std::pair<int, int>>{{0, 0}, {0, 130}, {130, 130}, {130, 400}, {400, -1}})
      pieces[s].push_back(evaluate_seed(net, settings, h, 5 + s, b, e));
  CHECK(pieces[0][0].samples == 0);
  CHECK(pieces[0][2].samples == 0);
  CHECK(pieces[0][4].samples == 300);
  const NetworkEvaluation pooled = pool_evaluations(net, settings, h, pieces);
  CHECK(pooled.accuracy == whole.accuracy);  // exact: correct counts add up
  CHECK(pooled.accuracy[0] != pooled.accuracy[1]);
  for (std::size_t l = 0; l < whole.layers.size(); ++l) {
    CHECK(pooled.layers[l].outputs_seen == whole.layers[l].outputs_seen);
    // The noise variance is summed in float32 within a batch: split batches agree to ~1e-6.
    CHECK(pooled.layers[l].noise_std == doctest::Approx(whole.layers[l].noise_std).epsilon(1e-6));
    REQUIRE(pooled.layers[l].by_source.size() == whole.layers[l].by_source.size());
    CHECK(!whole.layers[l].by_source.empty());
    for (std::size_t k = 0; k < whole.layers[l].by_source.size(); ++k) {
      CHECK(pooled.layers[l].by_source[k].first == whole.layers[l].by_source[k].first);
      CHECK(pooled.layers[l].by_source[k].second ==
            doctest::Approx(whole.layers[l].by_source[k].second).epsilon(1e-6));
    }
  }
  // Pieces that do not cover the test set are refused.
  pieces[1].pop_back();
  CHECK_THROWS_WITH_AS(pool_evaluations(net, settings, h, pieces),
                       doctest::Contains("cover 400 of 700 test images"), Error);
}

TEST_CASE("studies: a sweep point packs into numbers and back exactly, and bad packs are refused") {
  SweepSpec spec = network_sweep();
  spec.seeds = 2;
  SweepResults r;
  std::optional<LoadedNetwork> net;
  prepare_sweep(spec, load_settings({}, {}), "test", r, net);
  const PointResult p = compute_sweep_point(spec, load_settings({}, {}), net, r.grid, 1);
  const PointResult q = unpack_point(pack_point(p), r);
  CHECK(q.accuracy == p.accuracy);
  CHECK(q.enob == p.enob);
  CHECK(q.energy_components == p.energy_components);
  CHECK(q.total_aJ_per_mac == p.total_aJ_per_mac);
  CHECK(q.detected_optical_aJ_per_mac == p.detected_optical_aJ_per_mac);
  CHECK(describe_point(r.grid, 1) == "detector.cmrr_dB=30");
  std::vector<double> bad = pack_point(p);
  bad.pop_back();
  CHECK_THROWS_AS(unpack_point(bad, r), Error);
  bad = pack_point(p);
  bad[0] = 3;  // three accuracies in a sweep of two seeds
  CHECK_THROWS_WITH_AS(unpack_point(bad, r), doctest::Contains("accuracy"), Error);
  CHECK_THROWS_AS(compute_sweep_point(spec, load_settings({}, {}), net, r.grid, 2), Error);
}
