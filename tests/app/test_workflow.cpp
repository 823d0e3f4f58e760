// What a new user ran into (issue 20): mistakes caught with a hint, and output that reads
// right. Each case failed before its fix.
#include "lumac/core/config.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

void check_error(const std::vector<std::string>& args, const std::string& needle) {
  const RunResult r = run_lumac(args);
  CAPTURE(args);
  CAPTURE(r.err);
  CHECK(r.exit_code == 2);
  CHECK(r.err_lines() == 1);
  CHECK(r.err.find(needle) != std::string::npos);
  CHECK(r.out.empty());
}

}  // namespace

TEST_CASE("workflow: a shortcut option that fixes a swept key is an error naming both") {
  TempDir tmp;
  const std::string out = (tmp / "s.h5").string();
  check_error({"sweep", "--fan-in", "16", "--param", "laser.power_W=1e-3:1e-2:3",
               "--photons-per-mac", "100", "--out", out},
              "photons_per_mac fixes laser.power_W");
  check_error({"sweep", "--fan-in", "16", "--param", "system.repeats=1:3:3", "--repeats", "2",
               "--out", out},
              "repeats fixes system.repeats");
  check_error({"sweep", "--model", bundled_model("fmnist_mlp.h5"), "--limit", "10", "--param",
               "laser.power_W=1e-3:1e-2:2", "--photons-per-mac", "100", "--out", out},
              "photons_per_mac fixes laser.power_W");
  CHECK(!std::filesystem::exists(out));
}

TEST_CASE(
    "workflow: unknown options name the nearest one, config keys the --set, and no command lists "
    "them") {
  check_error({"enob", "--fan-in", "400", "--fanin", "400"},
              "lumac enob has no option --fanin (did you mean --fan-in?)");
  check_error({"eval", "--model", bundled_model("fmnist_mlp.h5"), "--averaging", "analog"},
              "--set system.averaging=analog");
  check_error({}, "a command is required: bench, config, devices");
  check_error({"enob", "--fan-in", "4", "--seed", "-1"}, "--seed: must be a whole number >= 0");
}

TEST_CASE("workflow: config --toml prints numbers in their shortest exact form, and reads back") {
  const RunResult r = run_lumac({"config", "--toml"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("thermal_fom_J = 2.4e-19\n") != std::string::npos);
  CHECK(r.out.find("quantum_efficiency = 0.8\n") != std::string::npos);
  CHECK(r.out.find("symbol_rate_Hz = 10000000000.0\n") != std::string::npos);  // a float
  CHECK(r.out.find("00000000001") == std::string::npos);
  CHECK(r.out.find("99999999") == std::string::npos);
  TempDir tmp;
  write_text(tmp / "effective.toml", r.out);
  const RunResult again =
      run_lumac({"config", "--toml", "--config", (tmp / "effective.toml").string()});
  CHECK(again.exit_code == 0);
  CHECK(again.out == r.out);
}

TEST_CASE("workflow: the sweep table keeps headers apart and shows a spread only over seeds") {
  TempDir tmp;
  const RunResult one =
      run_lumac({"sweep", "--model", bundled_model("fmnist_mlp.h5"), "--limit", "50", "--param",
                 "laser.power_W=1e-3:1e-2:2", "--out", (tmp / "a.h5").string()});
  REQUIRE(one.exit_code == 0);
  CHECK(one.out.find("+-") == std::string::npos);
  CHECK(one.out.find("  enob fc1  enob fc2  enob fc3  detected aJ/MAC  total aJ/MAC") !=
        std::string::npos);
  const RunResult two =
      run_lumac({"sweep", "--model", bundled_model("fmnist_mlp.h5"), "--limit", "50", "--param",
                 "laser.power_W=1e-3:1e-2:2", "--seeds", "2", "--out", (tmp / "b.h5").string()});
  REQUIRE(two.exit_code == 0);
  CHECK(two.out.find("accuracy +- std") != std::string::npos);
  const RunResult circuit =
      run_lumac({"sweep", "--fan-in", "16", "--param", "laser.power_W=1e-3:1e-2:2", "--out",
                 (tmp / "c.h5").string()});
  REQUIRE(circuit.exit_code == 0);
  CHECK(circuit.out.find("enob dot_product") != std::string::npos);
}
