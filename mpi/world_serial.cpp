// The serial build of mpi/world.hpp, linked into `lumac` (and the test binary): no MPI library
// is loaded, so a plain lumac starts as fast as without MPI. A process that mpirun started
// replaces itself at once (execv, same pid and environment) with `lumac-mpi` from the same
// folder: the same program linked with OpenMPI (mpi/world.cpp).
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
#include "mpi/world.hpp"

namespace lumac::mpi {

namespace {
bool has_agreed = false;

[[noreturn]] void no_mpi(const char* what) {
  fail("{} needs MPI: this is the serial build of lumac (run lumac-mpi under mpirun)", what);
}
}  // namespace

World::World(int& argc, char**& argv) {
  (void)argc;
  if (!launched_by_mpirun()) return;
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  const std::filesystem::path mpi_build = self.parent_path() / "lumac-mpi";
  if (!ec) execv(mpi_build.c_str(), argv);
  std::fprintf(stderr, "lumac: error: started by mpirun, but cannot run '%s' (%s)\n",
               mpi_build.c_str(), ec ? ec.message().c_str() : std::strerror(errno));
  std::exit(2);
}

World::~World() = default;

int rank() {
  return 0;
}
int size() {
  return 1;
}
bool distributed() {
  return false;
}
std::string log_tag() {
  return {};
}
void out_of_step() {}
void set_exit_code(int) {}

bool agreed() {
  return has_agreed;
}

void agree(const std::string& error, bool interrupted) {
  has_agreed = true;
  if (error.empty()) return;
  if (interrupted) throw Interrupted(error);
  throw Error(error);
}

void send(int, int, const std::vector<char>&) {
  no_mpi("sending to another rank");
}
Message receive(int) {
  no_mpi("receiving from another rank");
}
Message try_receive() {
  return {};
}

}  // namespace lumac::mpi
