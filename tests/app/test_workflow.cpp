// What a new user ran into (issue 20): mistakes caught with a hint, and output that reads
// right. Each case failed before its fix.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <thread>

#include "lumac/core/config.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/core/json.hpp"
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

namespace {

// Starts lumac with `args` (output discarded, stderr to `err`), sends SIGINT after `delay`,
// and returns the exit status and the seconds from the signal to the exit.
std::pair<int, double> interrupt_after(const std::vector<std::string>& args,
                                       std::chrono::milliseconds delay,
                                       const std::filesystem::path& err) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    std::vector<std::string> copy = args;
    std::vector<char*> argv{const_cast<char*>(LUMAC_BINARY)};
    for (auto& a : copy) argv.push_back(a.data());
    argv.push_back(nullptr);
    const int null = open("/dev/null", O_WRONLY);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(null, 1);
    dup2(e, 2);
    execv(LUMAC_BINARY, argv.data());
    _exit(127);
  }
  std::this_thread::sleep_for(delay);
  const auto t0 = std::chrono::steady_clock::now();
  kill(pid, SIGINT);
  int status = 0;
  waitpid(pid, &status, 0);
  return {status, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()};
}

}  // namespace

TEST_CASE(
    "workflow: eval and precision stop on Ctrl-C within a second, precision keeping what it "
    "learned") {
  TempDir tmp;
  // eval of the CNN on the whole test set with 20 seeds runs for many seconds.
  const auto [eval_status, eval_seconds] = interrupt_after(
      {"eval", "--model", bundled_model("fmnist_cnn.h5"), "--noise", "physical", "--seeds", "20"},
      std::chrono::milliseconds(1500), tmp / "eval.err");
  REQUIRE(WIFEXITED(eval_status));
  CHECK(WEXITSTATUS(eval_status) == 130);
  CHECK(eval_seconds < 1.0);
  const std::string eval_err = read_text(tmp / "eval.err");
  CHECK(eval_err == "lumac: evaluation interrupted\n");
  // precision: quick uniform searches (100 images, a low target), then a long learning run.
  const std::string out = (tmp / "p.h5").string();
  const auto [p_status, p_seconds] = interrupt_after(
      {"precision", "--model", bundled_model("fmnist_mlp.h5"), "--noise", "shot", "--limit", "100",
       "--target-drop", "0.3", "--steps", "10000000", "--out", out},
      std::chrono::milliseconds(2500), tmp / "p.err");
  REQUIRE(WIFEXITED(p_status));
  CHECK(WEXITSTATUS(p_status) == 130);
  CHECK(p_seconds < 1.0);
  const std::string p_err = read_text(tmp / "p.err");
  CAPTURE(p_err);
  CHECK(p_err.find("lumac: precision interrupted after ") == 0);
  CHECK(std::count(p_err.begin(), p_err.end(), '\n') == 1);
  CHECK(p_err.find("the energies learned so far are in '" + out + ".partial'") !=
        std::string::npos);
  CHECK(!std::filesystem::exists(out));
  H5::H5File f = h5::open_for_reading(out + ".partial", "precision");
  CHECK(h5::read_int_attribute(f, "complete") == 0);
  CHECK(!h5::read_doubles(f.openGroup("/"), "learning_loss").data.empty());
  CHECK(h5::read_doubles(f.openGroup("learned_energy"), "fc1").data.size() == 1);
}

TEST_CASE("workflow: eval defaults to physical noise and warns when --noise none ignores a key") {
  const std::string cnn = bundled_model("fmnist_cnn.h5");
  const RunResult dim = run_lumac(
      {"eval", "--model", cnn, "--set", "laser.power_W=1e-4", "--limit", "300", "--json"});
  REQUIRE(dim.exit_code == 0);
  CHECK(dim.out.find("\"noise\": \"physical\"") != std::string::npos);
  // At 0.1 mW the physical noise costs accuracy (it used to print the clean accuracy).
  CHECK(json_number(dim.out, "accuracy_mean") < json_number(dim.out, "clean_accuracy") - 0.05);
  const RunResult none = run_lumac({"eval", "--model", cnn, "--noise", "none", "--set",
                                    "laser.power_W=1e-4", "--limit", "300", "--json"});
  REQUIRE(none.exit_code == 0);
  CHECK(none.err.find("lumac: warning: laser.power_W does not change the accuracy under --noise "
                      "none (the products run without hardware noise; the energy account uses "
                      "it)\n") == 0);
  // Any mode but physical ignores the circuit, a chip's device seed included.
  const RunResult shot = run_lumac(
      {"eval", "--model", cnn, "--noise", "shot", "--device-seed", "3", "--limit", "50", "--json"});
  REQUIRE(shot.exit_code == 0);
  CHECK(shot.err.find("lumac: warning: system.device_seed does not change the accuracy under "
                      "--noise shot (only --noise physical runs the circuit") == 0);
  CHECK(json_number(none.out, "accuracy_mean") == json_number(none.out, "clean_accuracy"));
  const RunResult bits = run_lumac({"eval", "--model", bundled_model("mnist_mlp.h5"), "--bits", "4",
                                    "--limit", "100", "--json"});
  REQUIRE(bits.exit_code == 0);
  CHECK(bits.out.find("\"noise\": \"none\"") != std::string::npos);
  CHECK(bits.err.empty());
}

TEST_CASE("workflow: plot.py draws the sampled ENOBs and the energy breakdown as shares") {
  TempDir tmp;
  REQUIRE(run_lumac({"sweep", "--fan-in", "32", "--param", "modulator.bandwidth_Hz=2e9:40e9:3:log",
                     "--time-domain", "--monte-carlo", "50", "--out", (tmp / "bw.h5").string()})
              .exit_code == 0);
  const std::string cmd = "/usr/bin/python3 " +
                          shell_quote((source_dir() / "scripts" / "plot.py").string()) + " " +
                          shell_quote((tmp / "bw.h5").string()) + " --list >" +
                          shell_quote((tmp / "list.txt").string()) + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string list = read_text(tmp / "list.txt");
  CAPTURE(list);
  CHECK(list.find("bw_enob.png: modulator bandwidth [GHz] | effective number of bits [bit]: "
                  "analytic; Monte Carlo; time domain\n") != std::string::npos);
  CHECK(list.find("bw_breakdown.png: modulator bandwidth [GHz] | share of the energy per MAC [%]: "
                  "laser;") != std::string::npos);
  CHECK(list.find(
            "bw_breakdown.png: modulator bandwidth [GHz] | total energy per MAC [pJ]: total\n") !=
        std::string::npos);
}

TEST_CASE(
    "workflow: the docs name every option of every command and point at nothing outside the "
    "clone") {
  const std::string cli = read_text(source_dir() / "docs" / "cli.md");
  for (const char* command : {"devices", "config", "enob", "trace", "energy", "eval", "train",
                              "sweep", "precision", "bench"}) {
    const RunResult help = run_lumac({command, "--help"});
    REQUIRE(help.exit_code == 0);
    const std::regex option("(--[a-z][a-z0-9-]+)");
    for (auto it = std::sregex_iterator(help.out.begin(), help.out.end(), option);
         it != std::sregex_iterator(); ++it) {
      const std::string name = (*it)[1];
      if (name == "--help") continue;
      const std::string cmd_name = command;
      CAPTURE(cmd_name);
      CAPTURE(name);
      // The option itself, not the start of a longer one (--enob in --enob-per-layer).
      const std::regex whole(name + "([^a-z0-9-]|$)");
      CHECK(std::regex_search(cli, whole));
    }
  }
  for (const auto& entry : std::filesystem::directory_iterator(source_dir() / "docs")) {
    if (entry.path().extension() != ".md") continue;
    CAPTURE(entry.path().string());
    CHECK(read_text(entry.path()).find("shared/") == std::string::npos);
  }
  CHECK(read_text(source_dir() / "README.md").find("shared/") == std::string::npos);
}

TEST_CASE("workflow: grid end points are the values typed, interior points the nearest doubles") {
  TempDir tmp;
  const std::filesystem::path out = tmp / "g.h5";
  REQUIRE(run_lumac({"sweep", "--fan-in", "8", "--param", "laser.power_W=1e-4:1e-1:4:log",
                     "--param", "adc.bits=4:8:3", "--out", out.string()})
              .exit_code == 0);
  H5::H5File f = h5::open_for_reading(out, "sweep");
  // 1e-4 (stop / start)^(i / 3) is 1e-3 and 1e-2 exactly (as decimals): the nearest doubles.
  CHECK(h5::read_doubles(f.openGroup("axes"), "laser.power_W").data ==
        std::vector<double>{1e-4, 1e-3, 1e-2, 1e-1});
  CHECK(h5::read_doubles(f.openGroup("axes"), "adc.bits").data == std::vector<double>{4, 6, 8});
  REQUIRE(run_lumac({"sweep", "--fan-in", "8", "--param", "laser.power_W=1e-3:2e-3:11", "--out",
                     (tmp / "lin.h5").string()})
              .exit_code == 0);
  H5::H5File lin = h5::open_for_reading(tmp / "lin.h5", "sweep");
  const auto v = h5::read_doubles(lin.openGroup("axes"), "laser.power_W").data;
  REQUIRE(v.size() == 11);
  for (int i = 0; i < 11; ++i) {
    CAPTURE(i);
    CHECK(v[static_cast<std::size_t>(i)] == std::stod(fmt::format("{}e-4", 10 + i)));
  }
}

TEST_CASE("workflow: lumac search finds the least favourable value that meets the target") {
  TempDir tmp;
  const std::string mlp = bundled_model("fmnist_mlp.h5");
  auto eval_accuracy = [&](const std::string& set) {
    const RunResult r =
        run_lumac({"eval", "--model", mlp, "--limit", "500", "--set", set, "--json"});
    REQUIRE(r.exit_code == 0);
    return json_number(r.out, "accuracy_mean");
  };
  // Real key, higher is better: the value meets the target, the bracket's other end misses it
  // within the resolution, and eval at that value gives the same accuracy bit for bit.
  const RunResult power = run_lumac({"search", "--model", mlp, "--limit", "500", "--param",
                                     "laser.power_W", "--json", "--csv", (tmp / "s.csv").string()});
  REQUIRE(power.exit_code == 0);
  const Json p = Json::parse(power.out);
  const double value = p["value"], missed = p["missed_value"], target = p["target_accuracy"];
  CHECK(missed < value);
  CHECK(value / missed <= 1.05);
  CHECK(json_number(power.out, "accuracy_mean") >= target);
  CHECK(eval_accuracy("laser.power_W=" + format_real(value)) ==
        json_number(power.out, "accuracy_mean"));
  CHECK(eval_accuracy("laser.power_W=" + format_real(missed)) < target);
  CHECK(read_text(tmp / "s.csv")
            .rfind("laser.power_W,accuracy_mean,accuracy_std,meets_target\n", 0) == 0);
  // Integer key: one bit fewer misses the target.
  const RunResult bits = run_lumac({"search", "--model", mlp, "--limit", "500", "--param",
                                    "adc.bits", "--set", "laser.power_W=0.1", "--json"});
  REQUIRE(bits.exit_code == 0);
  const double b = Json::parse(bits.out)["value"].get<double>();
  CHECK(json_number(bits.out, "missed_value") == b - 1);
  CHECK(eval_accuracy("adc.bits=" + format_real(b - 1)) < json_number(bits.out, "target_accuracy"));
  // Lower is better: the highest amplifier noise that keeps the target (at 40 dB extinction:
  // the default 30 dB's extinction error alone keeps this model below the target).
  const RunResult noise = run_lumac({"search", "--model", mlp, "--limit", "500", "--param",
                                     "detector.amplifier_noise_A_per_rtHz", "--better", "lower",
                                     "--set", "modulator.extinction_ratio_dB=40", "--json"});
  REQUIRE(noise.exit_code == 0);
  CHECK(json_number(noise.out, "missed_value") > Json::parse(noise.out)["value"].get<double>());
  // Bad input.
  check_error({"search", "--model", mlp, "--param", "laser.powr_W"},
              "did you mean 'laser.power_W'");
  check_error({"search", "--model", mlp, "--param", "system.encoding"}, "not a number");
  check_error({"search", "--model", mlp, "--param", "laser.power_W", "--photons-per-mac", "10"},
              "photons_per_mac fixes laser.power_W");
  check_error({"search", "--model", mlp, "--param", "laser.power_W", "--target-drop", "1.5"},
              "target_drop = 1.5");
  check_error({"search", "--model", mlp, "--param", "laser.power_W", "--better", "up"},
              "better = 'up'");
  check_error({"search", "--model", mlp, "--param", "laser.power_W", "--noise", "none"},
              "nothing to search");
}

TEST_CASE(
    "workflow: --csv writes sweep and eval results for spreadsheets, never over a file without "
    "--force") {
  TempDir tmp;
  const std::string mlp = bundled_model("fmnist_mlp.h5");
  REQUIRE(run_lumac({"sweep", "--model", mlp, "--limit", "50", "--param",
                     "laser.power_W=1e-3:1e-2:2", "--seeds", "2", "--out", (tmp / "s.h5").string(),
                     "--csv", (tmp / "s.csv").string()})
              .exit_code == 0);
  const std::string sweep = read_text(tmp / "s.csv");
  CHECK(sweep.rfind("laser.power_W,accuracy_mean,accuracy_std,accuracy_seed_0,accuracy_seed_1,"
                    "enob_fc1,enob_fc2,enob_fc3,detected_optical_aJ_per_mac,"
                    "laser_optical_aJ_per_mac,total_aJ_per_mac\n0.001,",
                    0) == 0);
  CHECK(std::count(sweep.begin(), sweep.end(), '\n') == 3);
  REQUIRE(run_lumac({"eval", "--model", mlp, "--limit", "50", "--csv", (tmp / "e.csv").string()})
              .exit_code == 0);
  const std::string eval = read_text(tmp / "e.csv");
  CHECK(eval.find("\nfc1,784,100,78400,") != std::string::npos);
  CHECK(eval.find("\nnetwork,") != std::string::npos);
  // The deterministic errors close each row: on the default preset the extinction term and the
  // weight DAC (a static error of the rounded W) are both non-zero.
  CHECK(eval.find(",clean_accuracy,extinction_error_rms,static_error_rms\n") != std::string::npos);
  const std::size_t fc1 = eval.find("\nfc1,");
  const std::string row = eval.substr(fc1 + 1, eval.find('\n', fc1 + 1) - fc1 - 1);
  const std::size_t last = row.rfind(',');
  const std::size_t before = row.rfind(',', last - 1);
  CHECK(std::stod(row.substr(last + 1)) > 0);
  CHECK(std::stod(row.substr(before + 1, last - before - 1)) > 0);
  check_error({"eval", "--model", mlp, "--limit", "50", "--csv", (tmp / "e.csv").string()},
              "already exists");
  CHECK(read_text(tmp / "e.csv") == eval);
}

TEST_CASE("workflow: any key is a sweep axis: lists of numbers, booleans and choices") {
  TempDir tmp;
  const std::string out = (tmp / "c.h5").string();
  const RunResult r =
      run_lumac({"sweep", "--fan-in", "64", "--param", "system.averaging=digital,analog", "--param",
                 "adc.bits=6,8", "--param", "energy.weights_in_dram=false,true", "--set",
                 "system.repeats=4", "--out", out, "--json"});
  REQUIRE(r.exit_code == 0);
  const Json j = Json::parse(r.out);
  REQUIRE(j["points"].size() == 8);
  CHECK(j["axes"]["system.averaging"] == Json({"digital", "analog"}));
  CHECK(j["points"][4]["values"]["system.averaging"] == "analog");
  CHECK(j["points"][4]["values"]["adc.bits"] == 6);
  CHECK(j["points"][5]["values"]["energy.weights_in_dram"] == "true");
  // Each point is the configuration it names.
  const RunResult enob = run_lumac({"enob", "--fan-in", "64", "--set", "system.repeats=4", "--set",
                                    "system.averaging=analog", "--set", "adc.bits=6", "--json"});
  REQUIRE(enob.exit_code == 0);
  CHECK(j["points"][4]["enob"][0].get<double>() == json_number(enob.out, "enob_analytic"));
  CHECK(j["points"][0]["enob"][0].get<double>() != j["points"][4]["enob"][0].get<double>());
  CHECK(j["points"][4]["total_aJ_per_mac"].get<double>() <
        j["points"][5]["total_aJ_per_mac"].get<double>());  // fetching weights from DRAM costs
  // The file names the values of a boolean or choice axis, and plot.py draws it.
  H5::H5File f = h5::open_for_reading(out, "sweep");
  H5::DataSet axis = f.openGroup("axes").openDataSet("system.averaging");
  CHECK(h5::read_strings_attribute(axis, "labels") ==
        std::vector<std::string>{"digital", "analog"});
  CHECK(h5::read_doubles(f.openGroup("axes"), "system.averaging").data ==
        std::vector<double>{0, 1});
  const std::string plot = "/usr/bin/python3 " +
                           shell_quote((source_dir() / "scripts" / "plot.py").string()) + " " +
                           shell_quote(out) + " >/dev/null 2>&1";
  CHECK(std::system(plot.c_str()) == 0);
  CHECK(std::filesystem::exists(tmp / "c_enob.png"));
}

namespace {

// Runs plot.py with `args` and --list; returns what it printed (empty on failure).
std::string plot_list(const std::string& args, const std::filesystem::path& log) {
  const std::string cmd = "/usr/bin/python3 " +
                          shell_quote((source_dir() / "scripts" / "plot.py").string()) + " " +
                          args + " --list >" + shell_quote(log.string()) + " 2>&1";
  return std::system(cmd.c_str()) == 0 ? read_text(log) : "";
}

}  // namespace

TEST_CASE(
    "workflow: plots for a paper: titles, axes in words with units, bands, maps, traces, formats") {
  TempDir tmp;
  const std::string grid = (tmp / "g.h5").string();
  REQUIRE(run_lumac({"sweep", "--model", bundled_model("fmnist_mlp.h5"), "--limit", "100",
                     "--param", "laser.power_W=1e-4:1e-1:3:log", "--param", "adc.bits=4,8",
                     "--seeds", "2", "--out", grid})
              .exit_code == 0);
  const std::string list = plot_list(shell_quote(grid), tmp / "g.txt");
  CAPTURE(list);
  // Axes in words, laser power in mW, energies in pJ, one line per ADC resolution.
  CHECK(list.find("g_accuracy.png: laser power [mW] | test accuracy [%]: ADC resolution = 4 bit; "
                  "ADC resolution = 8 bit; clean; clean - 1 point; clean - 2 points\n") !=
        std::string::npos);
  CHECK(list.find("g_energy.png: laser power [mW] | energy per MAC [pJ]:") != std::string::npos);
  CHECK(list.find("g_map.png: laser power [mW] | ADC resolution [bit]") != std::string::npos);
  // --x puts the other key on the x axis; --format svg writes SVG.
  const std::string by_bits =
      plot_list(shell_quote(grid) + " --x adc.bits --format svg --prefix b", tmp / "b.txt");
  CHECK(by_bits.find(
            "b_accuracy.svg: ADC resolution [bit] | test accuracy [%]: laser power = 0.1 mW;") !=
        std::string::npos);
  CHECK(read_text(tmp / "b_accuracy.svg").find("<svg") != std::string::npos);
  CHECK(read_text(tmp / "b_accuracy.svg")
            .find("fmnist_mlp, physical noise, 100 test images, 2 seeds, K = 1") !=
        std::string::npos);
  CHECK(plot_list(shell_quote(grid) + " --x nope", tmp / "n.txt").empty());
  // A trace: laser power, charge in units of y, integration windows; a time window; PDF.
  const std::string trace = (tmp / "t.h5").string();
  REQUIRE(run_lumac({"trace", "--fan-in", "8", "--repeats", "2", "--out", trace}).exit_code == 0);
  const std::string t =
      plot_list(shell_quote(trace) + " --window 0:1e-9 --format pdf", tmp / "t.txt");
  CHECK(t.find("t_trace.pdf:  | laser power [mW]: laser\n") != std::string::npos);
  CHECK(t.find("t_trace.pdf: time [ps] | charge [units of y]: integrator; integration window\n") !=
        std::string::npos);
  CHECK(read_text(tmp / "t_trace.pdf").rfind("%PDF", 0) == 0);
  CHECK(plot_list(shell_quote(trace) + " --window 5:6", tmp / "w.txt").empty());
}

TEST_CASE("workflow: on a terminal the sweep table starts on its own line after the progress bar") {
  TempDir tmp;
  // script(1) (Debian's bsdutils, essential) runs lumac on a pseudo-terminal.
  const std::string cmd =
      "script -qc " +
      shell_quote(shell_quote(LUMAC_BINARY) +
                  " sweep --fan-in 16 --param laser.power_W=1e-3:1e-2:2 --out " +
                  shell_quote((tmp / "s.h5").string())) +
      " /dev/null >" + shell_quote((tmp / "tty.txt").string()) + " 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string out = read_text(tmp / "tty.txt");
  CAPTURE(out);
  CHECK(out.find("sweep [###") != std::string::npos);  // the bar was drawn
  CHECK(out.find("\nlaser.power_W  enob dot_product") != std::string::npos);
}

TEST_CASE(
    "workflow: what a new user tried: hints before missing options, single-value axes, search "
    "direction, interrupted sweeps") {
  // A mistyped required option is named before "--fan-in is required".
  check_error({"enob", "--fanin", "64"},
              "lumac enob has no option --fanin (did you mean --fan-in?)");
  // No far-fetched suggestion.
  check_error({"search", "--model", bundled_model("fmnist_mlp.h5"), "--param", "laser.power_W",
               "--fanin", "3"},
              "lumac search has no option --fanin (lumac search --help lists them)");
  // A single value is a list of one.
  TempDir tmp;
  const RunResult one = run_lumac({"sweep", "--fan-in", "8", "--param", "adc.bits=8", "--out",
                                   (tmp / "one.h5").string(), "--json"});
  REQUIRE(one.exit_code == 0);
  CHECK(Json::parse(one.out)["points"].size() == 1);
  // Searching a noise density with the default direction says to turn it round.
  const RunResult wrong = run_lumac({"search", "--model", bundled_model("fmnist_mlp.h5"), "--limit",
                                     "200", "--param", "detector.amplifier_noise_A_per_rtHz",
                                     "--set", "detector.amplifier_noise_A_per_rtHz=3e-12", "--set",
                                     "laser.power_W=1e-4", "--json"});
  REQUIRE(wrong.exit_code == 0);
  const Json w = Json::parse(wrong.out);
  CHECK(w["reached"] == false);
  CHECK(w["hint"] ==
        "the accuracy falls as detector.amplifier_noise_A_per_rtHz grows: try --better lower");
}

TEST_CASE(
    "workflow: a network sweep stops on Ctrl-C within a second and names the --resume command") {
  TempDir tmp;
  const std::string out = (tmp / "s.h5").string();
  // 20 points of 10 seeds on the CNN: each point takes seconds.
  const auto [status, seconds] =
      interrupt_after({"sweep", "--model", bundled_model("fmnist_cnn.h5"), "--limit", "2000",
                       "--seeds", "10", "--param", "laser.power_W=1e-4:1e-1:20:log", "--out", out},
                      std::chrono::milliseconds(6000), tmp / "err");
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(seconds < 1.0);
  const std::string err = read_text(tmp / "err");
  CAPTURE(err);
  const bool some = err.find("lumac: sweep interrupted after ") == 0 &&
                    err.find(" --resume\n") != std::string::npos;
  const bool none =
      err == "lumac: sweep interrupted before its first point finished; nothing was written\n";
  CHECK((some || none));
  CHECK(std::filesystem::exists(out + ".partial") == some);
}
