#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fcntl.h>

#include <chrono>
#include <thread>

#include "lumac/core/h5.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

// Every dataset of a sweep file that holds results.
const std::vector<std::string> result_datasets{"done",
                                               "enob",
                                               "detected_optical_aJ_per_mac",
                                               "laser_optical_aJ_per_mac",
                                               "total_aJ_per_mac",
                                               "energy_components"};

void check_same_results(const fs::path& a, const fs::path& b,
                        const std::vector<std::string>& extra = {}) {
  H5::H5File fa = h5::open_for_reading(a, "sweep"), fb = h5::open_for_reading(b, "sweep");
  std::vector<std::string> names = result_datasets;
  names.insert(names.end(), extra.begin(), extra.end());
  for (const auto& name : names) {
    CAPTURE(name);
    const auto da = h5::read_doubles(fa.openGroup("/"), name),
               db = h5::read_doubles(fb.openGroup("/"), name);
    CHECK(da.dims == db.dims);
    CHECK(da.data == db.data);
  }
}

}  // namespace

TEST_CASE("sweep: a circuit sweep writes a file that reads back with the documented schema") {
  TempDir tmp;
  const fs::path out = tmp / "s.h5";
  const RunResult r =
      run_lumac({"sweep", "--fan-in", "100", "--param", "laser.power_W=1e-5:1e-3:3:log",
                 "--monte-carlo", "500", "--out", out.string(), "--json"});
  REQUIRE(r.exit_code == 0);
  CHECK(!fs::exists(tmp / "s.h5.partial"));
  H5::H5File f = h5::open_for_reading(out, "sweep");
  CHECK(h5::read_string_attribute(f, "kind") == "lumac-sweep");
  CHECK(h5::read_int_attribute(f, "schema_version") == 1);
  CHECK(h5::read_int_attribute(f, "complete") == 1);
  CHECK(h5::read_strings_attribute(f, "axes") == std::vector<std::string>{"laser.power_W"});
  CHECK(h5::read_string_attribute(f, "command_line").find("sweep") != std::string::npos);
  CHECK(h5::read_double_attribute(f, "config.detector.quantum_efficiency") == 0.8);
  const H5::Group root = f.openGroup("/");
  const auto axis = h5::read_doubles(f.openGroup("axes"), "laser.power_W");
  REQUIRE(axis.data.size() == 3);
  CHECK(axis.data[0] == doctest::Approx(1e-5));
  CHECK(axis.data[1] == doctest::Approx(1e-4));
  CHECK(axis.data[2] == 1e-3);
  CHECK(h5::read_units(f.openGroup("axes"), "laser.power_W") == "W");
  const auto enob = h5::read_doubles(root, "enob");
  CHECK(enob.dims == std::vector<hsize_t>{3, 1});
  CHECK(h5::read_strings_attribute(root.openDataSet("enob"), "layer_names") ==
        std::vector<std::string>{"dot_product"});
  // ENOB grows with laser power; detected photons per MAC grow in proportion.
  CHECK(enob.data[0] < enob.data[1]);
  CHECK(enob.data[1] < enob.data[2]);
  const auto det = h5::read_doubles(root, "detected_optical_aJ_per_mac").data;
  CHECK(det[2] == doctest::Approx(100 * det[0]));
  const auto comp = h5::read_doubles(root, "energy_components");
  CHECK(comp.dims == std::vector<hsize_t>{3, 10});
  CHECK(
      h5::read_strings_attribute(root.openDataSet("energy_components"), "component_names").size() ==
      10);
  const auto total = h5::read_doubles(root, "total_aJ_per_mac").data;
  double sum = 0;
  for (int c = 0; c < 10; ++c) sum += comp.data[static_cast<std::size_t>(10 + c)];
  CHECK(sum == doctest::Approx(total[1]));
  CHECK(h5::read_doubles(root, "enob_monte_carlo").data.size() == 3);
  CHECK(json_number(r.out, "total_aJ_per_mac") > 0);
}

TEST_CASE("sweep: a two-point network sweep on 200 images reads back with the documented schema") {
  TempDir tmp;
  const fs::path out = tmp / "m.h5";
  const RunResult r = run_lumac(
      {"sweep", "--model", (source_dir() / "data" / "models" / "fmnist_cnn.h5").string(), "--param",
       "laser.power_W=1e-4:1e-2:2:log", "--limit", "200", "--seeds", "2", "--out", out.string()});
  REQUIRE(r.exit_code == 0);
  H5::H5File f = h5::open_for_reading(out, "sweep");
  const H5::Group root = f.openGroup("/");
  CHECK(h5::read_string_attribute(f, "mode") == "model");
  CHECK(h5::read_string_attribute(f, "noise") == "physical");
  CHECK(h5::read_double_attribute(f, "seeds") == 2);
  CHECK(h5::read_double_attribute(f, "limit") == 200);
  CHECK(h5::read_double_attribute(f, "clean_accuracy") > 0.8);
  const auto acc = h5::read_doubles(root, "accuracy");
  CHECK(acc.dims == std::vector<hsize_t>{2, 2});
  CHECK(h5::read_units(root, "accuracy") == "1");
  const auto mean = h5::read_doubles(root, "accuracy_mean").data;
  CHECK(mean[0] == doctest::Approx((acc.data[0] + acc.data[1]) / 2));
  CHECK(mean[1] > mean[0]);  // a hundred times the laser power
  const auto enob = h5::read_doubles(root, "enob");
  CHECK(enob.dims == std::vector<hsize_t>{2, 4});
  CHECK(h5::read_strings_attribute(root.openDataSet("enob"), "layer_names") ==
        std::vector<std::string>{"conv1", "conv2", "fc1", "fc2"});
  for (std::size_t l = 0; l < 4; ++l) CHECK(enob.data[4 + l] > enob.data[l]);
  CHECK(h5::read_doubles(root, "energy_components").dims == std::vector<hsize_t>{2, 10});
  const auto det = h5::read_doubles(root, "detected_optical_aJ_per_mac").data;
  CHECK(det[1] == doctest::Approx(100 * det[0]));
  // The accuracy plot needs the clean accuracy.
  const std::string cmd = "/usr/bin/python3 " +
                          shell_quote((source_dir() / "scripts" / "plot.py").string()) + " " +
                          shell_quote(out.string()) + " >/dev/null 2>&1";
  CHECK(std::system(cmd.c_str()) == 0);
  CHECK(fs::file_size(tmp / "m_accuracy.png") > 10000);
}

TEST_CASE("sweep: a grid over two keys has the right shape and axis values") {
  TempDir tmp;
  const fs::path out = tmp / "g.h5";
  const RunResult r = run_lumac({"sweep", "--fan-in", "32", "--param", "laser.power_W=1e-4:3e-4:3",
                                 "--param", "adc.bits=4:8:2", "--out", out.string()});
  REQUIRE(r.exit_code == 0);
  H5::H5File f = h5::open_for_reading(out, "sweep");
  const H5::Group root = f.openGroup("/");
  CHECK(h5::read_doubles(f.openGroup("axes"), "adc.bits").data == std::vector<double>{4, 8});
  const auto power = h5::read_doubles(f.openGroup("axes"), "laser.power_W").data;
  REQUIRE(power.size() == 3);
  for (int i = 0; i < 3; ++i)
    CHECK(power[static_cast<std::size_t>(i)] == doctest::Approx(1e-4 * (i + 1)));
  // Points in row-major order: the first axis varies slowest.
  const auto points = h5::read_doubles(f.openGroup("points"), "laser.power_W").data;
  REQUIRE(points.size() == 6);
  for (int i = 0; i < 6; ++i)
    CHECK(points[static_cast<std::size_t>(i)] == power[static_cast<std::size_t>(i / 2)]);
  CHECK(h5::read_doubles(f.openGroup("points"), "adc.bits").data ==
        std::vector<double>{4, 8, 4, 8, 4, 8});
  CHECK(h5::read_doubles(root, "enob").dims == std::vector<hsize_t>{6, 1});
  const auto enob = h5::read_doubles(root, "enob").data;
  CHECK(enob[1] > enob[0]);  // more ADC bits, more precision
}

TEST_CASE("sweep: a sweep killed after its first point and resumed equals an uninterrupted run") {
  TempDir tmp;
  const fs::path out = tmp / "k.h5", ref = tmp / "ref.h5";
  // A slow circuit sweep: time-domain Monte Carlo with fast (finely stepped) devices.
  const std::vector<std::string> args{"sweep",
                                      "--fan-in",
                                      "32",
                                      "--param",
                                      "laser.power_W=1e-5:1e-3:3:log",
                                      "--time-domain",
                                      "--monte-carlo",
                                      "100",
                                      "--set",
                                      "modulator.bandwidth_Hz=200e9",
                                      "--set",
                                      "detector.bandwidth_Hz=200e9"};
  std::vector<std::string> run_args = args;
  run_args.insert(run_args.end(), {"--out", out.string()});
  // Starts the sweep in the background, waits for its first finished point (the .partial
  // file), stops it with `signal` and returns its exit status.
  auto interrupted_run = [&](int signal) {
    const pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      std::vector<char*> argv{const_cast<char*>(LUMAC_BINARY)};
      for (auto& a : run_args) argv.push_back(a.data());
      argv.push_back(nullptr);
      const int null = open("/dev/null", O_WRONLY);
      dup2(null, 1);
      dup2(null, 2);
      execv(LUMAC_BINARY, argv.data());
      _exit(127);
    }
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (!fs::exists(tmp / "k.h5.partial") && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    kill(pid, signal);
    int status = 0;
    waitpid(pid, &status, 0);
    return status;
  };
  const int status = interrupted_run(SIGINT);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 130);
  CHECK(!fs::exists(out));
  REQUIRE(fs::exists(tmp / "k.h5.partial"));
  {
    H5::H5File partial = h5::open_for_reading(tmp / "k.h5.partial", "sweep");
    CHECK(h5::read_int_attribute(partial, "complete") == 0);
    const auto done = h5::read_ints(partial.openGroup("/"), "done").data;
    CHECK(done[0] == 1);
    CHECK(done[2] == 0);
  }
  // Without --resume the partial sweep is not thrown away.
  CHECK(run_lumac(run_args).exit_code == 2);
  std::vector<std::string> resume_args = run_args;
  resume_args.push_back("--resume");
  REQUIRE(run_lumac(resume_args).exit_code == 0);
  CHECK(!fs::exists(tmp / "k.h5.partial"));
  std::vector<std::string> ref_args = args;
  ref_args.insert(ref_args.end(), {"--out", ref.string()});
  REQUIRE(run_lumac(ref_args).exit_code == 0);
  check_same_results(out, ref, {"enob_time_domain"});
  // SIGTERM stops a sweep the same way.
  fs::remove(out);
  const int term = interrupted_run(SIGTERM);
  REQUIRE(WIFEXITED(term));
  CHECK(WEXITSTATUS(term) == 130);
  CHECK(fs::exists(tmp / "k.h5.partial"));
  CHECK(!fs::exists(out));
}

TEST_CASE("sweep: bad input is one line, exit 2, and leaves existing files untouched") {
  TempDir tmp;
  const std::string out = (tmp / "b.h5").string();
  write_text(tmp / "b.h5", "keep");
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases{
      {{"--param", "laser.powr_W=1:2:3"}, "did you mean 'laser.power_W'"},
      {{"--param", "laser.power_W=2:1:3"}, "empty or inverted"},
      {{"--param", "laser.power_W=1:1:3"}, "empty or inverted"},
      {{"--param", "laser.power_W=1:2:0"}, "N = 0"},
      {{"--param", "laser.power_W=-1:1:3:log"}, "log range"},
      {{"--param", "laser.power_W=0:1:3:log"}, "log range"},
      {{"--param", "laser.power_W=1:2"}, "KEY=START:STOP:N"},
      {{"--param", "laser.power_W=a:2:3"}, "not a finite number"},
      {{"--param", "system.encoding=1:2:2"}, "is not a number; list its values"},
      {{"--param", "system.averaging=digital,analogue"}, "not a value of system.averaging"},
      {{"--param", "adc.bits=4,4"}, "listed twice"},
      {{"--param", "adc.bits=4,5.5"}, "not an integer"},
      {{"--param", "adc.bits=4:5:3"}, "integer key"},
      {{"--param", "laser.power_W=-1e-3:1e-3:3"}, "laser.power_W = -0.001"},
      {{}, "at least one axis"},
      {{"--param", "laser.power_W=1e-3:2e-3:2", "--model", "x.h5"}, "either a fan-in"},
  };
  for (const auto& entry : cases) {
    const auto& extra = entry.first;
    const auto& needle = entry.second;
    std::vector<std::string> args{"sweep", "--fan-in", "16", "--force", "--out", out};
    args.insert(args.end(), extra.begin(), extra.end());
    const RunResult r = run_lumac(args);
    CAPTURE(args);
    CAPTURE(r.err);
    CHECK(r.exit_code == 2);
    CHECK(r.err_lines() == 1);
    CHECK(r.err.find(needle) != std::string::npos);
    CHECK(read_text(tmp / "b.h5") == "keep");
  }
  // An existing result is not overwritten without --force.
  CHECK(run_lumac({"sweep", "--fan-in", "16", "--param", "laser.power_W=1e-3:1e-3:1", "--out", out})
            .exit_code == 2);
  CHECK(read_text(tmp / "b.h5") == "keep");
  // Resuming needs a partial file from the same sweep.
  const std::string other = (tmp / "o.h5").string();
  CHECK(run_lumac({"sweep", "--fan-in", "16", "--param", "laser.power_W=1e-3:2e-3:2", "--out",
                   other, "--resume"})
            .err.find("nothing to resume") != std::string::npos);
  REQUIRE(
      run_lumac({"sweep", "--fan-in", "16", "--param", "laser.power_W=1e-3:2e-3:2", "--out", other})
          .exit_code == 0);
  fs::rename(other, other + ".partial");
  const RunResult mismatch = run_lumac({"sweep", "--fan-in", "17", "--param",
                                        "laser.power_W=1e-3:2e-3:2", "--out", other, "--resume"});
  CHECK(mismatch.exit_code == 2);
  CHECK(mismatch.err.find("different sweep") != std::string::npos);
}

TEST_CASE("plot: scripts/plot.py turns a small sweep file and a trace file into non-empty PNGs") {
  TempDir tmp;
  REQUIRE(run_lumac({"sweep", "--fan-in", "16", "--param", "laser.power_W=1e-5:1e-3:3:log", "--out",
                     (tmp / "s.h5").string()})
              .exit_code == 0);
  REQUIRE(run_lumac({"trace", "--fan-in", "4", "--out", (tmp / "t.h5").string()}).exit_code == 0);
  for (const char* file : {"s.h5", "t.h5"}) {
    const std::string cmd = "/usr/bin/python3 " +
                            shell_quote((source_dir() / "scripts" / "plot.py").string()) + " " +
                            shell_quote((tmp / file).string()) + " >/dev/null 2>&1";
    CHECK(std::system(cmd.c_str()) == 0);
  }
  for (const char* png : {"s_enob.png", "s_energy.png", "s_breakdown.png", "t_trace.png"}) {
    CAPTURE(png);
    REQUIRE(fs::exists(tmp / png));
    CHECK(fs::file_size(tmp / png) > 10000);
    CHECK(read_text(tmp / png).substr(1, 3) == "PNG");
  }
  // A file of another kind is refused with a message and a non-zero exit.
  write_text(tmp / "bad.h5", "not hdf5");
  const std::string bad = "/usr/bin/python3 " +
                          shell_quote((source_dir() / "scripts" / "plot.py").string()) + " " +
                          shell_quote((tmp / "bad.h5").string()) + " >/dev/null 2>&1";
  CHECK(std::system(bad.c_str()) != 0);
  // --out-dir is created when it does not exist.
  const std::string nested = "/usr/bin/python3 " +
                             shell_quote((source_dir() / "scripts" / "plot.py").string()) + " " +
                             shell_quote((tmp / "s.h5").string()) + " --out-dir " +
                             shell_quote((tmp / "new" / "plots").string()) + " >/dev/null 2>&1";
  CHECK(std::system(nested.c_str()) == 0);
  CHECK(fs::exists(tmp / "new" / "plots" / "s_enob.png"));
}
