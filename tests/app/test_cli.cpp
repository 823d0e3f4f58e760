#include "tests/support.hpp"

using namespace lumac::test;

TEST_CASE("cli: lumac devices --json on the default preset matches the PHYSICS.md formulas") {
  const RunResult r = run_lumac({"devices", "--json"});
  REQUIRE(r.exit_code == 0);
  CHECK(json_number(r.out, "photon_energy_J") == doctest::Approx(1.28158e-19).epsilon(1e-5));
  CHECK(json_number(r.out, "responsivity_A_per_W") == doctest::Approx(0.8 * 1.2502).epsilon(1e-3));
  // Operating point of the 1550 nm set at 1 mW: 1.5 V (9.592 mA + 1 mW / 0.42661 W/A).
  CHECK(json_number(r.out, "laser_electrical_power_W") == doctest::Approx(17.904e-3).epsilon(1e-3));
  CHECK(json_number(r.out, "laser_wall_plug_efficiency") ==
        doctest::Approx(1e-3 / 17.904e-3).epsilon(1e-3));
  CHECK(json_number(r.out, "laser_tile_electrical_power_W") ==
        doctest::Approx(17.904e-3).epsilon(1e-3));
  // The default receiver: an integrator sized to the full-scale charge of fan-in 1000,
  // Q_fs = 2 eta sqrt(n_s n_L) 1000, on 1 V, with CDS (no kTC) and 5 nV/sqrt(Hz) read twice over
  // (pi / 2) 1 GHz.
  const double q_fs = json_number(r.out, "full_scale_charge_N1000_electrons");
  CHECK(q_fs == doctest::Approx(2 * 0.8 * json_number(r.out, "photons_per_symbol_signal") * 1000));
  const double c = json_number(r.out, "integrator_capacitance_N1000_F");
  CHECK(c == doctest::Approx(q_fs * 1.602176634e-19 / 1.0));
  CHECK(json_number(r.out, "ktc_noise_N1000_electrons") == 0);
  CHECK(json_number(r.out, "readout_noise_N1000_electrons") ==
        doctest::Approx(c * 5e-9 * std::sqrt(2 * 1.5707963267948966 * 1e9) / 1.602176634e-19));
  CHECK(json_number(r.out, "modulator_drive_energy_J") == doctest::Approx(200e-15));
  CHECK(json_number(r.out, "adc_energy_per_conversion_J") == doctest::Approx(5e-15 * 256));
  // Link budget of the default preset: 0.5 / 32 of 1 mW through 1 + 0.5 + 0.1 * 6 + 3 = 5.1 dB
  // of loss, over a 100 ps symbol, in photons of 1.28158e-19 J.
  const double photons = 1e-3 * 0.5 / 32 * std::pow(10.0, -0.51) * 1e-10 / 1.28158e-19;
  CHECK(json_number(r.out, "photons_per_symbol_signal") == doctest::Approx(photons).epsilon(1e-4));
  CHECK(json_number(r.out, "photons_per_symbol_lo") == doctest::Approx(photons).epsilon(1e-4));
  // --set reaches the figures.
  const RunResult r2 = run_lumac({"devices", "--json", "--set", "laser.power_W=2e-3"});
  REQUIRE(r2.exit_code == 0);
  CHECK(json_number(r2.out, "photons_per_symbol_signal") ==
        doctest::Approx(2 * photons).epsilon(1e-4));
}

TEST_CASE("cli: lumac devices prints a table") {
  const RunResult r = run_lumac({"devices"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("photon energy") != std::string::npos);
  CHECK(r.err.empty());
}

TEST_CASE("cli: bad input gives one line and exit code 2") {
  TempDir tmp;
  write_text(tmp / "bad.toml", "[laser]\npower_W = [1,\n");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"devices", "--set", "laser.power_W=-1"}, "laser.power_W = -1: must be finite and > 0"},
      {{"devices", "--set", "laser.nope=1"}, "did you mean"},
      {{"devices", "--set", "laser.power_W=nan"}, "laser.power_W = nan"},
      {{"devices", "--set", "detector.quantum_efficiency=1.3"}, "must be in (0, 1]"},
      {{"devices", "--config", (tmp / "bad.toml").string()}, "bad.toml:"},
      {{"devices", "--config", (tmp / "missing.toml").string()}, "cannot read config file"},
      {{"devices", "--bogus"}, "bogus"},
      {{"nosuchcommand"}, "nosuchcommand"},
  };
  for (const auto& entry : cases) {
    const auto& args = entry.first;
    const auto& needle = entry.second;
    const RunResult r = run_lumac(args);
    CAPTURE(args.back());
    CAPTURE(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err_lines() == 1);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(r.err.rfind("lumac: error: ", 0) == 0);
  }
}

TEST_CASE("cli: --help exits 0") {
  const RunResult r = run_lumac({"devices", "--help"});
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("--set") != std::string::npos);
}

TEST_CASE("cli: docs/config.md lists every key as lumac config --markdown prints it") {
  const RunResult r = run_lumac({"config", "--markdown"});
  REQUIRE(r.exit_code == 0);
  const std::string doc = read_text(source_dir() / "docs" / "config.md");
  std::istringstream lines(r.out);
  std::string line;
  int rows = 0;
  while (std::getline(lines, line)) {
    CAPTURE(line);
    CHECK(doc.find(line) != std::string::npos);
    ++rows;
  }
  CHECK(rows > 40);
}

TEST_CASE("cli: lumac config --toml reads back as the same config") {
  TempDir tmp;
  const RunResult r = run_lumac({"config", "--toml", "--set", "laser.power_W=0.002"});
  REQUIRE(r.exit_code == 0);
  write_text(tmp / "eff.toml", r.out);
  const RunResult back = run_lumac({"devices", "--json", "--config", (tmp / "eff.toml").string()});
  REQUIRE(back.exit_code == 0);
  CHECK(json_number(back.out, "laser_power_W") == 0.002);
}
