// Precision learning (nn/precision.hpp) and lumac precision.
#include "lumac/nn/precision.hpp"
#include "lumac/studies/evaluation.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

LoadedNetwork mlp(std::int64_t limit) {
  NetworkSpec o;
  o.model = (source_dir() / "data" / "models" / "fmnist_mlp.h5").string();
  o.limit = limit;
  return load_network(o, true);
}

nn::PrecisionOptions options(nn::NoiseMode mode, double target) {
  nn::PrecisionOptions p;
  p.mode = mode;
  p.target_energy = target;
  p.lambda = mode == nn::NoiseMode::shot_only ? 2 : 8;
  p.seed = 3;
  return p;
}

}  // namespace

TEST_CASE("precision: the reparameterised gradient matches central differences of the loss") {
  const LoadedNetwork net = mlp(100);
  const Settings s = load_settings({}, {});
  const nn::Batch batch = nn::make_batch(*net.train, 0, 64);
  for (auto mode : {nn::NoiseMode::shot_only, nn::NoiseMode::physical, nn::NoiseMode::thermal_only,
                    nn::NoiseMode::weight_only}) {
    auto layers = nn::analog_layers(net.model);
    for (std::size_t l = 0; l < layers.size(); ++l)
      layers[l].energy = {mode == nn::NoiseMode::physical ? 0.05 * (1 + l) : 0.5 + l};
    nn::PrecisionOptions o = options(mode, 1e-9);  // the hinge is active: lambda ln E_avg counts
    o.constrained = false;
    const auto g =
        nn::precision_gradient(net.model, batch, layers, s.circuit, NoiseSources::all(), o, 17);
    for (std::size_t l = 0; l < layers.size(); ++l) {
      // Same noise draws (same seed): the loss is a smooth function of theta_l apart from ReLU
      // kinks, which a step of 1e-3 in ln E rarely crosses.
      const double h = 1e-3;
      auto loss_at = [&](double dtheta) {
        auto moved = layers;
        moved[l].energy[0] *= std::exp(dtheta);
        return nn::precision_gradient(net.model, batch, moved, s.circuit, NoiseSources::all(), o,
                                      17)
            .loss;
      };
      const double numeric = (loss_at(h) - loss_at(-h)) / (2 * h);
      CAPTURE(static_cast<int>(mode));
      CAPTURE(l);
      CHECK(g.d_theta[l][0] == doctest::Approx(numeric).epsilon(0.02).scale(1e-3));
    }
  }
}

TEST_CASE("precision: the gradient through convolutions matches central differences too") {
  NetworkSpec no;
  no.model = (source_dir() / "data" / "models" / "fmnist_cnn.h5").string();
  no.limit = 10;
  const LoadedNetwork net = load_network(no, true);
  const Settings s = load_settings({}, {});
  const nn::Batch batch = nn::make_batch(*net.train, 0, 8);
  for (auto mode : {nn::NoiseMode::shot_only, nn::NoiseMode::weight_only}) {
    auto layers = nn::analog_layers(net.model);
    for (std::size_t l = 0; l < layers.size(); ++l) layers[l].energy = {0.3 + 0.2 * l};
    nn::PrecisionOptions o = options(mode, 100);  // hinge inactive: the cross-entropy only
    const auto g =
        nn::precision_gradient(net.model, batch, layers, s.circuit, NoiseSources::all(), o, 23);
    for (std::size_t l = 0; l < 2; ++l) {  // the two convolutions
      const double h = 1e-3;
      auto loss_at = [&](double dtheta) {
        auto moved = layers;
        moved[l].energy[0] *= std::exp(dtheta);
        return nn::precision_gradient(net.model, batch, moved, s.circuit, NoiseSources::all(), o,
                                      23)
            .loss;
      };
      CAPTURE(static_cast<int>(mode));
      CAPTURE(l);
      CHECK(g.d_theta[l][0] ==
            doctest::Approx((loss_at(h) - loss_at(-h)) / (2 * h)).epsilon(0.02).scale(1e-3));
    }
  }
}

TEST_CASE(
    "precision: rounding yields integer repeats and the straight-through gradient is non-zero") {
  for (double e : {0.2, 0.7, 1.49, 1.5, 2.3, 7.8}) {
    const double r = nn::forward_energy(e, true);
    CHECK(r == std::round(r));
    CHECK(r >= 1);
  }
  CHECK(nn::forward_energy(2.3, false) == 2.3);
  const LoadedNetwork net = mlp(100);
  const Settings s = load_settings({}, {});
  auto layers = nn::analog_layers(net.model);
  for (auto& a : layers) a.energy = {2.4};
  nn::PrecisionOptions o = options(nn::NoiseMode::thermal_only, 100);  // hinge inactive: CE only
  o.integer_repeats = true;
  const auto g = nn::precision_gradient(net.model, nn::make_batch(*net.train, 0, 64), layers,
                                        s.circuit, NoiseSources::all(), o, 5);
  for (const auto& d : g.d_theta) CHECK(d[0] != 0);
}

TEST_CASE("precision: a layer made far more sensitive to noise gets more energy") {
  const LoadedNetwork net = mlp(100);
  const Settings s = load_settings({}, {});
  nn::PrecisionOptions o = options(nn::NoiseMode::thermal_only, 1);
  o.steps = 200;
  o.learning_rate = 0.05;
  auto share = [&](const nn::PrecisionResult& r, std::size_t l) {
    return r.energy[l][0] / nn::mean_energy(net.model, r.energy);
  };
  const auto layers = nn::analog_layers(net.model);
  const nn::PrecisionResult normal =
      nn::learn_precision(net.model, *net.train, layers, s.circuit, NoiseSources::all(), o);
  // Thermal noise grows with the input range: thirty times the range of fc2 makes its noise
  // thirty times larger for the same E.
  auto sensitive = layers;
  sensitive[1].input_hi *= 30;
  const nn::PrecisionResult r =
      nn::learn_precision(net.model, *net.train, sensitive, s.circuit, NoiseSources::all(), o);
  CAPTURE(normal.energy[1][0]);
  CAPTURE(r.energy[0][0]);
  CAPTURE(r.energy[1][0]);
  CAPTURE(r.energy[2][0]);
  CAPTURE(normal.energy[0][0]);
  // fc2's energy grows several times, in absolute terms and against the other layers.
  CHECK(r.energy[1][0] > 5 * normal.energy[1][0]);
  CHECK(r.energy[1][0] / r.energy[0][0] > 10 * normal.energy[1][0] / normal.energy[0][0]);
  CHECK(share(r, 1) > share(normal, 1));
}

TEST_CASE("precision: learning is seeded and per-channel learning gives one energy per channel") {
  const LoadedNetwork net = mlp(100);
  const Settings s = load_settings({}, {});
  nn::PrecisionOptions o = options(nn::NoiseMode::shot_only, 20);
  o.steps = 30;
  o.per_channel = true;
  const auto a = nn::learn_precision(net.model, *net.train, nn::analog_layers(net.model), s.circuit,
                                     NoiseSources::all(), o);
  const auto b = nn::learn_precision(net.model, *net.train, nn::analog_layers(net.model), s.circuit,
                                     NoiseSources::all(), o);
  CHECK(a.energy == b.energy);
  CHECK(a.curve.loss == b.curve.loss);
  REQUIRE(a.energy.size() == 3);
  CHECK(a.energy[0].size() == 100);
  CHECK(a.energy[2].size() == 10);
  // The constraint holds the mean energy near the target.
  CHECK(nn::mean_energy(net.model, a.energy) < 20 * 1.5);
}

TEST_CASE("precision: the iso-accuracy search finds the lowest scale within its tolerance") {
  // accuracy(s) = s / (1 + s) meets 0.5 from s = 1.
  const nn::IsoAccuracy r =
      nn::lowest_energy_scale([](double s) { return s / (1 + s); }, 0.5, 37.0, 1.01);
  CHECK(r.reached);
  CHECK(r.scale >= 1);
  CHECK(r.scale <= 1.01 * 1.0001);
  const nn::IsoAccuracy low =
      nn::lowest_energy_scale([](double s) { return s / (1 + s); }, 0.5, 1e-3, 1.01);
  CHECK(low.scale == doctest::Approx(r.scale).epsilon(0.011));
  CHECK(!nn::lowest_energy_scale([](double) { return 0.1; }, 0.5, 1.0).reached);
}

TEST_CASE(
    "cli: lumac precision never needs more energy for the learned allocation than for the uniform "
    "one") {
  TempDir tmp;
  const RunResult r =
      run_lumac({"precision", "--model",
                 (source_dir() / "data" / "models" / "fmnist_mlp.h5").string(), "--noise", "shot",
                 "--limit", "1000", "--steps", "200", "--json", "--out", (tmp / "p.h5").string()});
  REQUIRE(r.exit_code == 0);
  // Parse the two targets' energies: "energy_per_mac" appears in uniform then learned per target.
  std::vector<double> energies;
  const std::regex re("\"energy_per_mac\"\\s*:\\s*([0-9.eE+-]+)");
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), re); it != std::sregex_iterator();
       ++it)
    energies.push_back(std::stod((*it)[1].str()));
  CHECK(json_number(r.out, "clean_accuracy") > 0.85);
  CHECK(r.out.find("\"saving_fraction\"") != std::string::npos);
  CHECK(r.out.find("\"targets\"") != std::string::npos);
  CHECK(fs::exists(tmp / "p.h5"));
  // Each allocation object lists its layers' energies after its own mean energy: pick the means
  // from the saving fractions instead.
  const std::regex saving("\"saving_fraction\"\\s*:\\s*([0-9.eE+-]+)");
  int targets = 0;
  for (auto it = std::sregex_iterator(r.out.begin(), r.out.end(), saving);
       it != std::sregex_iterator(); ++it) {
    // The binary search tolerance is a factor 1.05 on the scale.
    CHECK(std::stod((*it)[1].str()) > -0.05);
    ++targets;
  }
  CHECK(targets == 2);
}

TEST_CASE("cli: bad precision input is one line and exit 2") {
  const std::string model = (source_dir() / "data" / "models" / "fmnist_mlp.h5").string();
  TempDir tmp;
  write_text(tmp / "x.h5", "garbage");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"precision", "--model", model, "--noise", "shot", "--target-drop", "-0.01"},
       "target_drop = -0.01"},
      {{"precision", "--model", model, "--noise", "shot", "--target-drop", "0"},
       "target_drop = 0:"},
      {{"precision", "--model", model, "--noise", "shot", "--target-drop", "1.5"},
       "target_drop = 1.5"},
      {{"precision", "--model", model, "--noise", "enob"}, "needs shot, thermal"},
      {{"precision", "--model", model, "--noise", "shot", "--steps", "0"}, "steps"},
      {{"precision", "--model", model, "--noise", "shot", "--lambda", "-1"}, "lambda"},
      {{"precision", "--model", (tmp / "x.h5").string(), "--noise", "shot"}, "not an HDF5 file"},
      {{"precision", "--model", model}, "--noise"},
  };
  for (const auto& entry : cases) {
    const auto& args = entry.first;
    const auto& needle = entry.second;
    const RunResult r = run_lumac(args);
    CAPTURE(args);
    CAPTURE(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err_lines() == 1);
    CHECK(r.err.find(needle) != std::string::npos);
  }
}

TEST_CASE("cli: lumac precision counts the configured repeats, and thermal E below 1 is valid") {
  const std::string model = (source_dir() / "data" / "models" / "mnist_mlp.h5").string();
  const std::vector<std::string> base{"precision", "--model", model,    "--limit",       "200",
                                      "--steps",   "20",      "--json", "--target-drop", "0.03"};
  // Shot noise with K = 4 repeats from the config: every layer reports K = 4, and the detected
  // optical energy is E photons per repeat times K at 0.128158 aJ per 1550 nm photon.
  std::vector<std::string> shot = base;
  shot.insert(shot.end(), {"--noise", "shot", "--set", "system.repeats=4"});
  const RunResult r = run_lumac(shot);
  REQUIRE(r.exit_code == 0);
  CHECK(json_number(r.out, "repeats") == 4);  // the first layer of the learned allocation
  // Keys are sorted, so the first target's "learned" object comes first after "targets", and in
  // it "detected_optical_aJ_per_mac" precedes its own "energy_per_mac".
  const auto targets = r.out.find("\"targets\"");
  REQUIRE(targets != std::string::npos);
  const std::string learned = r.out.substr(targets);
  CHECK(json_number(learned, "detected_optical_aJ_per_mac") ==
        doctest::Approx(4 * 0.128158 * json_number(learned, "energy_per_mac")).epsilon(1e-3));
  // Thermal noise at a loose target: the searched E falls below one repeat, which the energy
  // account takes as a fraction of a repeat.
  std::vector<std::string> thermal = base;
  thermal.insert(thermal.end(), {"--noise", "thermal"});
  const RunResult t = run_lumac(thermal);
  CHECK(t.err == "");
  CHECK(t.exit_code == 0);
}
