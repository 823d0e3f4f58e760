#include "mpi/world.hpp"

#include <mpi.h>

#include <cstdlib>
#include <cstring>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"

namespace lumac::mpi {

namespace {
bool initialised = false;
bool left_out_of_step = false;
bool has_agreed = false;
int exit_code = 0;
int world_rank = 0, world_size = 1;

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  fail("MPI {} failed: {}", what, std::string(text, static_cast<std::size_t>(length)));
}

// Ends the whole job at once with this exit code.
[[noreturn]] void abort_job(int code) {
  std::fflush(stdout);
  std::fflush(stderr);
  if (initialised) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}
}  // namespace

World::World(int& argc, char**& argv) {
  if (!launched_by_mpirun()) return;
  int provided = 0;
  if (MPI_Init_thread(&argc, &argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
    std::fputs("lumac: error: MPI_Init_thread failed\n", stderr);
    std::exit(2);
  }
  // Rank 0 of a sweep computes on a second thread while its main thread calls MPI.
  if (provided < MPI_THREAD_FUNNELED) {
    std::fputs("lumac: error: this MPI library does not support threads (MPI_THREAD_FUNNELED)\n",
               stderr);
    MPI_Abort(MPI_COMM_WORLD, 2);
  }
  initialised = true;
  // Errors are returned, not fatal, so that lumac reports them as one line.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);
}

World::~World() {
  if (initialised && left_out_of_step) abort_job(exit_code == 0 ? 1 : exit_code);
  if (initialised) MPI_Finalize();
  initialised = false;
}

void out_of_step() {
  left_out_of_step = true;
}
void set_exit_code(int code) {
  exit_code = code;
}

int rank() {
  return world_rank;
}
int size() {
  return world_size;
}
bool distributed() {
  return initialised && world_size > 1;
}

std::string log_tag() {
  return distributed() && world_rank != 0 ? fmt::format("[rank {}] ", world_rank) : std::string();
}

bool agreed() {
  return has_agreed;
}

void agree(const std::string& error, bool interrupted) {
  has_agreed = true;
  if (!distributed()) {
    if (error.empty()) return;
    if (interrupted) throw Interrupted(error);
    throw Error(error);
  }
  // The lowest failing rank and how it failed, as 2 rank + (1 if stopped), reduced by MIN
  // (2 world_size when none failed).
  const int mine = error.empty() ? 2 * world_size : 2 * world_rank + (interrupted ? 1 : 0);
  int lowest = 2 * world_size;
  check(MPI_Allreduce(&mine, &lowest, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "Allreduce");
  if (lowest == 2 * world_size) return;
  const int first = lowest / 2;
  const bool stopped = lowest % 2 == 1;
  // Rank 0 learns the message of the first failing rank.
  std::vector<char> text(error.begin(), error.end());
  if (first != 0) {
    if (world_rank == first) send(0, 999, text);
    if (world_rank == 0) text = receive(first).bytes;
  }
  if (world_rank != 0) throw QuietExit(stopped ? 130 : 2);
  std::string message(text.begin(), text.end());
  if (first != 0) message = fmt::format("rank {}: {}", first, message);
  if (stopped) throw Interrupted(message);
  throw Error(message);
}

void send(int dest, int tag, const std::vector<char>& bytes) {
  check(MPI_Send(bytes.data(), static_cast<int>(bytes.size()), MPI_BYTE, dest, tag, MPI_COMM_WORLD),
        "Send");
}

namespace {
Message receive_probed(const MPI_Status& status) {
  int count = 0;
  MPI_Get_count(&status, MPI_BYTE, &count);
  Message m;
  m.source = status.MPI_SOURCE;
  m.tag = status.MPI_TAG;
  m.bytes.resize(static_cast<std::size_t>(count));
  check(MPI_Recv(m.bytes.data(), count, MPI_BYTE, status.MPI_SOURCE, status.MPI_TAG, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE),
        "Recv");
  return m;
}
}  // namespace

Message receive(int source) {
  MPI_Status status;
  check(MPI_Probe(source < 0 ? MPI_ANY_SOURCE : source, MPI_ANY_TAG, MPI_COMM_WORLD, &status),
        "Probe");
  return receive_probed(status);
}

Message try_receive() {
  int flag = 0;
  MPI_Status status;
  check(MPI_Iprobe(MPI_ANY_SOURCE, MPI_ANY_TAG, MPI_COMM_WORLD, &flag, &status), "Iprobe");
  if (!flag) return {};
  return receive_probed(status);
}

}  // namespace lumac::mpi
