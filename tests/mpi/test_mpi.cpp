// lumac under mpirun (issue 19, docs/cluster.md): distributed sweeps, seeds and evaluations
// equal the serial output (the files byte for byte), a job killed mid-sweep resumes to the same
// file, and a failing rank ends the job with one line of lumac's naming the rank and the point.
// Every run pins OpenMP to one thread per process, so serial and distributed runs sum the noise
// statistics in the same order.
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <thread>

#include "lumac/core/h5.hpp"
#include "lumac/core/json.hpp"
#include "mpi/world.hpp"
#include "tests/support.hpp"

using namespace lumac;
using namespace lumac::test;
namespace fs = std::filesystem;

namespace {

// OpenMPI as root in a container: the two opt-ins, oversubscription of the 2 cores, and no
// single-copy mechanism for the shared-memory transport (containers often forbid it). In the
// sanitizer pass (scripts/sanitize.sh) LeakSanitizer needs full stacks to match its
// suppressions of OpenMPI's allocations (scripts/lsan.supp) to the MPI libraries; the option
// means nothing to a binary without AddressSanitizer.
const std::string mpi_env =
    "OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 "
    "OMPI_MCA_btl_vader_single_copy_mechanism=none OMP_NUM_THREADS=1 "
    "ASAN_OPTIONS=\"$ASAN_OPTIONS:fast_unwind_on_malloc=0\"";

// Runs `lumac args` in `dir` (so that --out names are the same relative paths in every run),
// under `mpirun -np ranks` when ranks > 0.
RunResult run_in(const fs::path& dir, int ranks, const std::vector<std::string>& args) {
  // A hang fails the test instead of holding up the suite (timeout exits with 124).
  std::string prefix = "cd " + shell_quote(dir.string()) + " && timeout -k 10 300 env " + mpi_env;
  if (ranks > 0) prefix += " mpirun -np " + std::to_string(ranks);
  return run_shell(prefix, args);
}

std::vector<std::string> with(std::vector<std::string> a, const std::vector<std::string>& more) {
  a.insert(a.end(), more.begin(), more.end());
  return a;
}

// The lines of stderr that lumac wrote (mpirun's banners are not lumac's).
std::vector<std::string> lumac_lines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("lumac:", 0) == 0) out.push_back(line);
  return out;
}

// A study's JSON without its wall times.
Json without_times(Json j) {
  if (j.is_object()) {
    for (const char* k : {"images_per_s", "eval_seconds", "learning_seconds"}) j.erase(k);
    for (auto& [k, v] : j.items()) v = without_times(v);
  } else if (j.is_array()) {
    for (auto& v : j) v = without_times(v);
  }
  return j;
}

// The processes whose parent is `parent` and whose OMPI_COMM_WORLD_RANK is `rank`.
pid_t rank_pid(pid_t parent, int rank) {
  for (const auto& e : fs::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    std::ifstream stat(e.path() / "stat");
    std::string line;
    std::getline(stat, line);
    const auto close = line.rfind(')');
    if (close == std::string::npos) continue;
    std::istringstream rest(line.substr(close + 2));
    char state;
    pid_t ppid = 0;
    rest >> state >> ppid;
    if (ppid != parent) continue;
    const std::string env = read_text(e.path() / "environ");
    if (env.find("OMPI_COMM_WORLD_RANK=" + std::to_string(rank) + '\0') != std::string::npos)
      return static_cast<pid_t>(std::stol(name));
  }
  return -1;
}

// The CPU time a process has used so far (user + system), in seconds; 0 if it is gone.
double cpu_seconds(pid_t pid) {
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto close = line.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  double ticks = 0;
  // Fields 3 to 15 follow the name; utime and stime are fields 14 and 15.
  for (int f = 3; f <= 15 && rest >> field; ++f)
    if (f >= 14) ticks += std::stod(field);
  return ticks / static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Starts `mpirun -np ranks lumac args` in `dir` in the background (output to dir/err).
pid_t start_mpirun(const fs::path& dir, int ranks, const std::vector<std::string>& args) {
  const pid_t pid = fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);  // a process group of its own, so that a hung job can be killed whole
    std::string cmd = "cd " + shell_quote(dir.string()) + " && exec env " + mpi_env +
                      " mpirun -np " + std::to_string(ranks) + " " + shell_quote(LUMAC_BINARY);
    for (const auto& a : args) cmd += " " + shell_quote(a);
    cmd += " >/dev/null 2>" + shell_quote((dir / "err").string());
    execl("/bin/sh", "sh", "-c", cmd.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  return pid;
}

bool wait_for(const std::function<bool()>& ready, int seconds = 120) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (!ready()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// The exit status of a background job; a job still running after 300 s is killed with its
// whole process group and fails the test.
int wait_status(pid_t pid) {
  int status = 0;
  const bool ended = wait_for([&] { return waitpid(pid, &status, WNOHANG) == pid; }, 300);
  if (!ended) {
    kill(-pid, SIGKILL);
    waitpid(pid, &status, 0);
  }
  CHECK_MESSAGE(ended, "the job hung");
  return status;
}

std::int64_t done_points(const fs::path& partial) {
  H5::H5File f = h5::open_for_reading(partial, "sweep");
  std::int64_t n = 0;
  for (auto d : h5::read_ints(f.openGroup("/"), "done").data) n += d;
  return n;
}

// A slow circuit sweep (0.15 to 0.3 s a point): Monte Carlo dot products. Open MPI 4.1's mpirun
// passes a SIGTERM on to the ranks only after its odls_base_sigkill_timeout (1 s), so the job
// must outlast that by several points: 30 points.
const std::vector<std::string> slow_sweep{
    "sweep",         "--fan-in", "100",   "--param", "laser.power_W=1e-5:1e-3:30:log",
    "--monte-carlo", "400000",   "--out", "k.h5"};

}  // namespace

TEST_CASE("mpi: circuit sweeps on 2 and 3 ranks write the serial file byte for byte") {
  TempDir tmp;
  const std::vector<std::string> args{"sweep",
                                      "--fan-in",
                                      "64",
                                      "--param",
                                      "laser.power_W=1e-5:1e-3:7:log",
                                      "--param",
                                      "adc.bits=6,8",
                                      "--monte-carlo",
                                      "2000",
                                      "--out",
                                      "s.h5"};
  for (const char* d : {"serial", "np2", "np3"}) fs::create_directory(tmp / d);
  REQUIRE(run_in(tmp / "serial", 0, args).exit_code == 0);
  const std::string serial = read_text(tmp / "serial" / "s.h5");
  for (int ranks : {2, 3}) {
    CAPTURE(ranks);
    const fs::path dir = tmp / ("np" + std::to_string(ranks));
    const RunResult r = run_in(dir, ranks, args);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    // One table, printed by rank 0.
    CHECK(r.out == run_in(tmp / "serial", 0, with(args, {"--force"})).out);
    CHECK(read_text(dir / "s.h5") == serial);
    CHECK(!fs::exists(dir / "s.h5.partial"));
  }
}

TEST_CASE("mpi: a network sweep over 2 seeds on 2 and 3 ranks writes the serial file") {
  TempDir tmp;
  const std::vector<std::string> args{
      "sweep", "--model", bundled_model("fmnist_mlp.h5"),  "--limit", "300",  "--seeds",
      "2",     "--param", "laser.power_W=3e-5:3e-3:5:log", "--out",   "s.h5", "--csv",
      "s.csv"};
  for (const char* d : {"serial", "np2", "np3"}) fs::create_directory(tmp / d);
  REQUIRE(run_in(tmp / "serial", 0, args).exit_code == 0);
  for (int ranks : {2, 3}) {
    CAPTURE(ranks);
    const fs::path dir = tmp / ("np" + std::to_string(ranks));
    const RunResult r = run_in(dir, ranks, args);
    CHECK_MESSAGE(r.exit_code == 0, r.err);
    CHECK(read_text(dir / "s.h5") == read_text(tmp / "serial" / "s.h5"));
    CHECK(read_text(dir / "s.csv") == read_text(tmp / "serial" / "s.csv"));
  }
}

TEST_CASE("mpi: eval spreads seeds, or one seed's images, over the ranks with the serial result") {
  TempDir tmp;
  const std::vector<std::string> base{"eval",    "--model", bundled_model("fmnist_mlp.h5"),
                                      "--limit", "1000",    "--json"};
  for (const char* seeds : {"3", "1"}) {
    CAPTURE(seeds);
    const std::vector<std::string> args = with(base, {"--seeds", seeds});
    const RunResult serial = run_in(tmp.path(), 0, args);
    REQUIRE(serial.exit_code == 0);
    const Json want = without_times(Json::parse(serial.out));
    // 5 ranks and one seed: 1000 images make 4 batches of 256, so one rank has no share.
    for (int ranks : {2, 3, 5}) {
      CAPTURE(ranks);
      const RunResult r = run_in(tmp.path(), ranks, args);
      REQUIRE_MESSAGE(r.exit_code == 0, r.err);
      const Json got = without_times(Json::parse(r.out));
      // The accuracies bit for bit, always.
      CHECK(got["accuracy"] == want["accuracy"]);
      CHECK(got["accuracy_mean"] == want["accuracy_mean"]);
      if (std::string(seeds) == "3" && ranks <= 3) {
        // A seed per piece: everything bit for bit.
        CHECK(got == want);
      } else {
        // One seed's images split over the ranks: the pooled noise std agrees to rounding.
        for (std::size_t l = 0; l < want["layers"].size(); ++l) {
          const double a = got["layers"][l]["noise_std"], b = want["layers"][l]["noise_std"];
          CHECK(a == doctest::Approx(b).epsilon(1e-12));
          const Json& src = want["layers"][l]["noise_std_by_source"];
          REQUIRE(src.size() > 3);
          for (auto it = src.begin(); it != src.end(); ++it) {
            const std::string name = it.key();
            CAPTURE(name);
            const double g = got["layers"][l]["noise_std_by_source"][name];
            CHECK(g == doctest::Approx(it->get<double>()).epsilon(1e-12));
          }
        }
      }
    }
  }
}

TEST_CASE("mpi: precision --seeds spreads the seeds over the ranks with the serial result") {
  TempDir tmp;
  const std::vector<std::string> args{"precision", "--model", bundled_model("fmnist_mlp.h5"),
                                      "--noise",   "shot",    "--limit",
                                      "300",       "--steps", "20",
                                      "--seeds",   "3",       "--json",
                                      "--out",     "p.h5"};
  for (const char* d : {"serial", "np2"}) fs::create_directory(tmp / d);
  const RunResult serial = run_in(tmp / "serial", 0, args);
  REQUIRE_MESSAGE(serial.exit_code == 0, serial.err);
  const RunResult r = run_in(tmp / "np2", 2, args);
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  const Json want = without_times(Json::parse(serial.out));
  CHECK(without_times(Json::parse(r.out)) == want);
  CHECK(want["seeds"] == 3);
  CHECK(want["studies"].size() == 3);
  // Different seeds learn different allocations.
  CHECK(want["studies"][0]["layers"] != want["studies"][1]["layers"]);
  H5::H5File f = h5::open_for_reading(tmp / "np2" / "p.h5", "precision");
  CHECK(h5::read_string_attribute(f, "kind") == "lumac-precision-seeds");
  const auto saving = h5::read_doubles(f.openGroup("/"), "saving_fraction");
  CHECK(saving.dims == std::vector<hsize_t>{3, 2});
  CHECK(saving.data[2] == want["studies"][1]["targets"][0]["saving_fraction"].get<double>());
}

TEST_CASE("mpi: a sweep job killed mid-way resumes, on another rank count, to the serial file") {
  TempDir tmp;
  for (const char* d : {"serial", "job"}) fs::create_directory(tmp / d);
  REQUIRE(run_in(tmp / "serial", 0, slow_sweep).exit_code == 0);
  const fs::path partial = tmp / "job" / "k.h5.partial";
  const pid_t job = start_mpirun(tmp / "job", 2, slow_sweep);
  // Once the job computes (its first point done: mpirun has finished launching it; a signal
  // that comes earlier may find mpirun still starting its ranks, and not passed on).
  // (Rank 0's progress lines: "0/30 done" first, then a later one, which under load may skip
  // counts; a substring such as "1/30 done" would also match "21/30 done".)
  REQUIRE(wait_for([&] {
    const std::string err = read_text(tmp / "job" / "err");
    std::size_t lines = 0;
    for (auto at = err.find("/30 done"); at != std::string::npos; at = err.find("/30 done", at + 1))
      ++lines;
    return fs::exists(partial) && lines >= 2;
  }));
  // mpirun passes SIGTERM on to every rank, as a batch system's kill does.
  kill(job, SIGTERM);
  const int status = wait_status(job);
  CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
  // A stop of the whole job is an interruption (not a rank failure): one line from rank 0.
  const auto lines = lumac_lines(read_text(tmp / "job" / "err"));
  REQUIRE_MESSAGE(lines.size() == 1, read_text(tmp / "job" / "err"));
  CHECK(lines[0].find("sweep interrupted after") != std::string::npos);
  CHECK(lines[0].find("--resume") != std::string::npos);
  REQUIRE(fs::exists(partial));
  const std::int64_t kept = done_points(partial);
  CHECK(kept >= 1);
  CHECK(kept < 30);
  CHECK(!fs::exists(tmp / "job" / "k.h5"));
  const RunResult r = run_in(tmp / "job", 3, with(slow_sweep, {"--resume"}));
  REQUIRE_MESSAGE(r.exit_code == 0, r.err);
  CHECK(read_text(tmp / "job" / "k.h5") == read_text(tmp / "serial" / "k.h5"));
}

TEST_CASE("mpi: a failing rank ends the job with one line naming the rank and the point") {
  TempDir tmp;
  const fs::path partial = tmp / "k.h5.partial";
  SUBCASE("a stop signal to one rank") {
    const pid_t job = start_mpirun(tmp.path(), 3, slow_sweep);
    REQUIRE(wait_for([&] { return fs::exists(partial); }));
    const pid_t victim = rank_pid(job, 2);
    REQUIRE(victim > 0);
    kill(victim, SIGTERM);
    const int status = wait_status(job);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 2);
    const auto lines = lumac_lines(read_text(tmp / "err"));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("rank 2 failed at sweep point") != std::string::npos);
    CHECK(lines[0].find("laser.power_W=") != std::string::npos);
    CHECK(lines[0].find("stopped by a signal") != std::string::npos);
    CHECK(lines[0].find("--resume") != std::string::npos);
  }
  SUBCASE("a crash of one rank") {
    const pid_t job = start_mpirun(tmp.path(), 2, slow_sweep);
    REQUIRE(wait_for([&] { return fs::exists(partial); }));
    const pid_t victim = rank_pid(job, 1);
    REQUIRE(victim > 0);
    // To the rank's main thread, which computes its points: a real fault arrives on the thread
    // that faults (kill() would let the kernel pick any thread, such as one of MPI's).
    syscall(SYS_tgkill, victim, victim, SIGSEGV);
    const int status = wait_status(job);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    const auto lines = lumac_lines(read_text(tmp / "err"));
    REQUIRE(lines.size() == 1);
    // During a point, it names the point; between two (waiting for the next), the last one.
    CHECK_MESSAGE(lines[0].find("rank 1 crashed") != std::string::npos, lines[0]);
    CHECK_MESSAGE(std::regex_search(lines[0], std::regex("(during|after) sweep point [0-9]")),
                  lines[0]);
    CHECK(lines[0].find("signal 11") != std::string::npos);
  }
  // What was finished is kept, and resumes.
  REQUIRE(fs::exists(partial));
  CHECK(done_points(partial) >= 1);
}

TEST_CASE("mpi: bad input under mpirun is one line from rank 0") {
  TempDir tmp;
  struct Case {
    std::vector<std::string> args;
    const char* says;
  };
  const std::vector<Case> cases{
      {{"sweep", "--fan-in", "10", "--param", "laser.powr_W=1e-3:2e-3:2", "--out", "a.h5"},
       "laser.power_W"},
      {{"eval", "--model", "missing.h5"}, "missing.h5"},
      {{"precision", "--model", bundled_model("fmnist_mlp.h5"), "--noise", "shot", "--seeds", "0"},
       "seeds"},
      {{"sweep", "--fan-in", "10", "--param", "laser.power_W=1e-3:2e-3:2", "--bogus"}, "bogus"},
      {{"enob", "--fan-in", "10"}, "without mpirun"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.args[0]);
    CAPTURE(c.says);
    const RunResult r = run_in(tmp.path(), 2, c.args);
    CHECK(r.exit_code != 0);
    const auto lines = lumac_lines(r.err);
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find(c.says) != std::string::npos);
    CHECK(!fs::exists(tmp / "a.h5"));
  }
}

TEST_CASE("mpi: without mpirun nothing of MPI starts, and the rank archive round-trips exactly") {
  // The test binary was not started by mpirun.
  CHECK(!mpi::launched_by_mpirun());
  int argc = 1;
  char name[] = "lumac_tests";
  char* args[] = {name, nullptr};
  char** argv = args;
  const mpi::World world(argc, argv);
  CHECK(mpi::rank() == 0);
  CHECK(mpi::size() == 1);
  CHECK(!mpi::distributed());
  CHECK(mpi::log_tag().empty());
  CHECK_NOTHROW(mpi::agree(""));
  CHECK_THROWS_WITH_AS(mpi::agree("bad thing"), "bad thing", Error);

  mpi::Writer w;
  w.number(0.1);
  w.integer(-7);
  w.numbers({1e-300, -0.0, 3.5});
  w.text("rank\0two");
  mpi::Reader r(w.bytes());
  CHECK(r.number() == 0.1);
  CHECK(r.integer() == -7);
  const std::vector<double> v = r.numbers();
  CHECK(v == std::vector<double>{1e-300, -0.0, 3.5});
  CHECK(std::signbit(v[1]));
  CHECK(r.text() == "rank");
  CHECK(r.done());
  CHECK_THROWS_WITH_AS(r.number(), doctest::Contains("truncated"), Error);
  mpi::Reader lying(std::vector<char>(8, '\x7f'));  // a huge length and no data
  CHECK_THROWS_AS(lying.numbers(), Error);
}

TEST_CASE(
    "mpi: the plain lumac loads no MPI library; under mpirun it runs lumac-mpi in its place") {
  // ldd lists the shared libraries the dynamic loader maps at start.
  const std::string cmd = "ldd " + shell_quote(LUMAC_BINARY);
  FILE* p = popen(cmd.c_str(), "r");
  REQUIRE(p != nullptr);
  std::string libs;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, p)) libs += buffer;
  pclose(p);
  CHECK(libs.find("libstdc++") != std::string::npos);  // ldd worked
  CHECK(libs.find("libmpi") == std::string::npos);
  CHECK(libs.find("libopen-pal") == std::string::npos);
  // mpirun starts lumac, which becomes lumac-mpi (same pid): two ranks that talk to each other.
  TempDir tmp;
  const RunResult r = run_in(tmp.path(), 2,
                             {"eval", "--model", bundled_model("fmnist_mlp.h5"), "--limit", "20",
                              "--seeds", "2", "--json"});
  CHECK_MESSAGE(r.exit_code == 0, r.err);
  CHECK(Json::parse(r.out)["accuracy"].size() == 2);
}

TEST_CASE(
    "mpi: a rank of eval stopped alone, or a partial file that cannot be written, is one line") {
  TempDir tmp;
  SUBCASE("eval: rank 1 stopped by a signal") {
    const pid_t job =
        start_mpirun(tmp.path(), 2,
                     {"eval", "--model", bundled_model("fmnist_cnn.h5"), "--seeds", "6", "--json"});
    // Signalled once it has computed for a second: past start-up (the signal handlers are
    // installed within milliseconds) and into the evaluation (6 seeds take several seconds).
    pid_t victim = -1;
    REQUIRE(wait_for([&] {
      victim = rank_pid(job, 1);
      return victim > 0 && cpu_seconds(victim) >= 1.0;
    }));
    kill(victim, SIGTERM);
    const int status = wait_status(job);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    const auto lines = lumac_lines(read_text(tmp / "err"));
    REQUIRE(lines.size() == 1);
    CHECK(lines[0].find("rank 1 failed at seed") != std::string::npos);
    CHECK(lines[0].find("stopped by a signal") != std::string::npos);
  }
  SUBCASE("sweep: the output folder disappears") {
    fs::create_directory(tmp / "out");
    std::vector<std::string> args = slow_sweep;
    args.back() = "out/k.h5";
    const pid_t job = start_mpirun(tmp.path(), 2, args);
    REQUIRE(wait_for([&] { return fs::exists(tmp / "out" / "k.h5.partial"); }));
    fs::remove_all(tmp / "out");
    const int status = wait_status(job);
    CHECK(!(WIFEXITED(status) && WEXITSTATUS(status) == 0));
    const std::string err = read_text(tmp / "err");
    const auto lines = lumac_lines(err);
    REQUIRE(lines.size() == 1);
    CHECK_MESSAGE(lines[0].find("cannot") != std::string::npos, lines[0]);
    CHECK(lines[0].find("crashed") == std::string::npos);
    CHECK(err.find("terminate") == std::string::npos);
  }
}
