#include "lumac/core/h5.hpp"
#include "lumac/core/units.hpp"
#include "lumac/devices/converters.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

TEST_CASE("cli: lumac enob reproduces the norm-adaptive shot-noise oracle") {
  const RunResult r =
      run_lumac({"enob", "--fan-in", "1000", "--photons-per-mac", "21", "--encoding",
                 "norm-adaptive", "--sources", "shot", "--monte-carlo", "20000", "--json"});
  REQUIRE(r.exit_code == 0);
  const double oracle = 0.5 * std::log2(1000 * 21 / 3.0);  // 6.39 bits
  CHECK(std::abs(json_number(r.out, "enob_analytic") - oracle) < 0.02);
  CHECK(std::abs(json_number(r.out, "enob_monte_carlo") - oracle) < 0.1);
  CHECK(json_number(r.out, "photons_per_mac_detected") == doctest::Approx(21));
  CHECK(json_number(r.out, "full_scale_range") > 0);
  CHECK(json_number(r.out, "shot") > 0);  // inside the noise_std object
  CHECK(r.out.find("\"noise_std\"") != std::string::npos);
}

TEST_CASE("cli: lumac enob table and time domain") {
  const RunResult r = run_lumac({"enob", "--fan-in", "16", "--time-domain", "--monte-carlo", "50"});
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("ENOB (analytic)") != std::string::npos);
  CHECK(r.out.find("ENOB (time domain)") != std::string::npos);
  CHECK(r.out.find("amplifier") != std::string::npos);
}

TEST_CASE("cli: lumac trace writes a file that reads back with the documented schema") {
  TempDir tmp;
  const fs::path out = tmp / "trace.h5";
  const RunResult r = run_lumac(
      {"trace", "--fan-in", "12", "--samples-per-symbol", "8", "--out", out.string(), "--seed", "3",
       "--set", "modulator.bandwidth_Hz=100e9", "--set", "detector.readout_noise_V_per_rtHz=0",
       "--set", "system.offset_calibration=false"});
  REQUIRE(r.exit_code == 0);
  H5::H5File f = h5::open_for_reading(out, "trace");
  CHECK(h5::read_string_attribute(f, "kind") == "lumac-trace");
  CHECK(h5::read_int_attribute(f, "schema_version") == 1);
  CHECK(h5::read_int_attribute(f, "fan_in") == 12);
  CHECK(h5::read_double_attribute(f, "config.modulator.bandwidth_Hz") == 100e9);
  const H5::Group root = f.openGroup("/");
  const std::vector<std::pair<std::string, std::string>> datasets{
      {"time_s", "s"},          {"drive_signal_V", "V"},
      {"drive_lo_V", "V"},      {"modulator_signal_V", "V"},
      {"modulator_lo_V", "V"},  {"power_signal_W", "W"},
      {"power_lo_W", "W"},      {"current_plus_A", "A"},
      {"current_minus_A", "A"}, {"charge_C", "C"},
      {"laser_power_W", "W"}};
  const auto time = h5::read_doubles(root, "time_s");
  CHECK(time.data.size() >= 12u * 8u);
  for (const auto& entry : datasets) {
    const auto& name = entry.first;
    const auto& units = entry.second;
    CAPTURE(name);
    CHECK(h5::read_units(root, name) == units);
    CHECK(h5::read_doubles(root, name).data.size() == time.data.size());
  }
  // The final integrator charge is the read-out (with no read-out amplifier noise, which is
  // added to the sampled charge): it gives the ADC code and the read-out value.
  const auto charge = h5::read_doubles(root, "charge_C").data;
  const auto readout_charge = h5::read_doubles(root, "readout_charge_C").data;
  const auto codes = h5::read_ints(root, "adc_codes").data;
  REQUIRE(readout_charge.size() == 1);
  CHECK(charge.back() == readout_charge[0]);
  const double gain = h5::read_double_attribute(f, "gain_electrons_per_unit");
  const double range = h5::read_double_attribute(f, "full_scale_range");
  const MidRiseQuantizer adc(8, -range * gain / 2, range * gain / 2);
  CHECK(codes[0] == adc.code(readout_charge[0] / constants::elementary_charge_C));
  CHECK(h5::read_double_attribute(f, "readout") == doctest::Approx(adc.value(codes[0]) / gain));
  CHECK(h5::read_doubles(root, "x").data.size() == 12);
}

TEST_CASE("cli: bad circuit input is one line, exit 2, and leaves no file") {
  TempDir tmp;
  const std::string out = (tmp / "t.h5").string();
  const std::vector<std::vector<std::string>> cases{
      {"enob", "--fan-in", "0"},
      {"enob", "--fan-in", "1000000000000"},
      {"enob", "--fan-in", "10", "--photons-per-mac", "-1"},
      {"enob", "--fan-in", "10", "--photons-per-mac", "0"},
      {"enob", "--fan-in", "10", "--repeats", "0"},
      {"enob", "--fan-in", "10", "--encoding", "sideways"},
      {"enob", "--fan-in", "10", "--averaging", "mean"},
      {"enob", "--fan-in", "10", "--sources", "shot,cosmic"},
      {"enob", "--fan-in", "10", "--vectors", "gaussian"},
      {"enob", "--fan-in", "10", "--monte-carlo", "-5"},
      {"enob"},
      {"trace", "--fan-in", "8", "--out", (tmp / "missing" / "t.h5").string()},
      {"trace", "--fan-in", "8", "--out", out, "--laser", "led"},
      {"trace", "--fan-in", "0", "--out", out},
      {"trace", "--fan-in", "8", "--out", out, "--samples-per-symbol", "0"},
      {"trace", "--fan-in", "8", "--out", out, "--set", "laser.power_W=0"},
  };
  for (const auto& args : cases) {
    const RunResult r = run_lumac(args);
    CAPTURE(args);
    CAPTURE(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err_lines() == 1);
    CHECK(fs::is_empty(tmp.path()));
  }
  // An existing output is not overwritten without --force.
  write_text(tmp / "t.h5", "keep");
  const RunResult r = run_lumac({"trace", "--fan-in", "8", "--out", out});
  CHECK(r.exit_code == 2);
  CHECK(read_text(tmp / "t.h5") == "keep");
}

TEST_CASE(
    "cli: the shot-limited preset reaches the shot-noise oracle, full-scale encoding 0.79 bits "
    "below") {
  // 0.5 log2(N n / 3) = 4.19 bits at N = 1000 and one detected photon per MAC (norm-adaptive);
  // full scale spends the budget at |x| = 1 where uniform vectors carry a third of the power:
  // 0.5 log2(3) = 0.79 bits less.
  const std::string preset = (source_dir() / "data" / "presets" / "shot_limited.toml").string();
  const double oracle = 0.5 * std::log2(1000.0 / 3);
  const RunResult na =
      run_lumac({"enob", "--config", preset, "--fan-in", "1000", "--photons-per-mac", "1",
                 "--encoding", "norm-adaptive", "--json"});
  REQUIRE(na.exit_code == 0);
  CHECK(std::abs(json_number(na.out, "enob_analytic") - oracle) < 0.3);
  const RunResult fs = run_lumac({"enob", "--config", preset, "--fan-in", "1000",
                                  "--photons-per-mac", "1", "--sources", "shot", "--json"});
  REQUIRE(fs.exit_code == 0);
  CHECK(std::abs(json_number(fs.out, "enob_analytic") - (oracle - 0.5 * std::log2(3.0))) < 0.05);
  // The default receiver at the paper's 12.5 photons per MAC computes (it gave -0.78 bits on the
  // 3 pA/sqrt(Hz) receiver over a 10 fF capacitor), and the integrator reports its voltages.
  const RunResult paper = run_lumac(
      {"enob", "--fan-in", "1000", "--photons-per-mac", "12.5", "--vectors", "positive", "--json"});
  REQUIRE(paper.exit_code == 0);
  CHECK(json_number(paper.out, "enob_analytic") > 3);
  // Sized to the ADC's span (range_scale R G / 2), the capacitor would need more than the swing
  // for a full-scale read-out; this dot product stays within it.
  CHECK(json_number(paper.out, "integrator_full_scale_V") > 1.0);
  CHECK(json_number(paper.out, "integrator_swing_V") == 1.0);
  CHECK(json_number(paper.out, "integrator_peak_V") < 1.0);
  CHECK(json_number(paper.out, "integrator_capacitance_F") ==
        doctest::Approx(json_number(paper.out, "full_scale_range") / 2 *
                        json_number(paper.out, "gain_electrons_per_unit") * 1.602176634e-19));
  // A fixed 10 fF capacitor at 1 mW cannot hold the charge: the command says so.
  const RunResult small = run_lumac({"enob", "--fan-in", "1000", "--vectors", "positive", "--set",
                                     "detector.integrator_capacitance_F=10e-15"});
  REQUIRE(small.exit_code == 0);
  CHECK(small.out.find("warning: the receiver saturates") != std::string::npos);
}

TEST_CASE("cli: lumac trace and enob say which chip they ran on") {
  TempDir tmp;
  const std::string out = (tmp / "chip.h5").string();
  const std::vector<std::string> chip = {
      "--fan-in", "8", "--set", "modulator.bias_error_rad=0.02", "--device-seed", "5"};
  std::vector<std::string> trace = {"trace", "--out", out, "--json"};
  trace.insert(trace.end(), chip.begin(), chip.end());
  const RunResult t = run_lumac(trace);
  REQUIRE(t.exit_code == 0);
  CHECK(json_number(t.out, "device_seed") == 5);
  // The drawn bias of the chip's weight modulator (only the bias spread is configured).
  CHECK(json_number(t.out, "weight_bias_rad") != 0);
  CHECK(json_number(t.out, "lo_phase_rad") == 0);
  // Another chip, another bias; the text output prints it.
  std::vector<std::string> other = {
      "trace",         "--out", out,     "--force",
      "--fan-in",      "8",     "--set", "modulator.bias_error_rad=0.02",
      "--device-seed", "6"};
  const RunResult t6 = run_lumac(other);
  REQUIRE(t6.exit_code == 0);
  CHECK(t6.out.find("chip 6: input modulator bias") != std::string::npos);
  std::vector<std::string> enob = {"enob", "--monte-carlo", "100"};
  enob.insert(enob.end(), chip.begin(), chip.end());
  const RunResult e = run_lumac(enob);
  REQUIRE(e.exit_code == 0);
  CHECK(e.out.find("100 samples, all on chip 5") != std::string::npos);
  CHECK(e.out.find("note: on chip 5 the mean read-out is") != std::string::npos);
}
