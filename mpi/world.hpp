// The MPI world of one lumac process (docs/cluster.md). MPI is initialised only when the process
// was started by mpirun (or srun with PMIx): a plain `lumac` never touches MPI and starts as
// fast as without it. Under mpirun every rank runs the same command; rank 0 writes the files
// and prints, the other ranks compute what rank 0 hands them (mpi/distributed.hpp).
#pragma once

#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace lumac::mpi {

// Whether the environment says this process is one rank of an MPI job.
bool launched_by_mpirun();

// MPI_Init_thread (funneled: only the main thread calls MPI) in the constructor when
// launched_by_mpirun(), MPI_Finalize in the destructor. One per process, in main.
class World {
 public:
  World(int& argc, char**& argv);
  ~World();
  World(const World&) = delete;
  World& operator=(const World&) = delete;
};

int rank();          // 0 without MPI
int size();          // 1 without MPI
bool distributed();  // MPI is initialised and there is more than one rank

// "[rank R] " on ranks other than 0 of a distributed run, else "" (a prefix for log lines).
std::string log_tag();

// Says that this rank has left the others mid-protocol (a failure while ranks still wait for
// messages): World's destructor then ends the job with MPI_Abort(code) instead of MPI_Finalize,
// which would wait for ranks that will never arrive.
void out_of_step();

// A message exchange between ranks (a driver of mpi/distributed.hpp) as a scope: unless
// finish() is called once every rank has had its last message, leaving the scope (by an
// exception) calls out_of_step().
class Step {
 public:
  Step() = default;
  ~Step() {
    if (!finished_) out_of_step();
  }
  Step(const Step&) = delete;
  Step& operator=(const Step&) = delete;
  void finish() { finished_ = true; }

 private:
  bool finished_ = false;
};
// The exit code main returns, for that MPI_Abort.
void set_exit_code(int code);

// A rank other than 0 leaves quietly: rank 0 reports the problem (main exits with the code).
class QuietExit : public std::runtime_error {
 public:
  explicit QuietExit(int code) : std::runtime_error("quiet exit"), code_(code) {}
  int code() const { return code_; }

 private:
  int code_;
};

// The sync point after a command's preparation (loading, validation). Every rank calls it
// once per command: with "" when its preparation succeeded, or with the error message (main
// does this when a command fails before its sync point, see agreed()).
// Collective: every rank passes the error message of its preparation ("" when it succeeded)
// and whether it was a stop request (lumac::Interrupted) rather than an error. If any rank
// failed, every rank throws: rank 0 the first failing rank's exception (lumac::Error, or
// lumac::Interrupted when that rank was stopped) with its message, prefixed "rank R: " when
// R is not 0; the others QuietExit with the exit code rank 0 will have (2, or 130 for a stop).
// Without MPI, throws the same exception when error is not empty.
void agree(const std::string& error, bool interrupted = false);
// Whether agree() has been called in this process.
bool agreed();

// Point-to-point messages between ranks (MPI_BYTE payloads; tags below 1000 are lumac's).
struct Message {
  int source = -1, tag = -1;
  std::vector<char> bytes;
};
void send(int dest, int tag, const std::vector<char>& bytes);
// Blocks until a message from `source` (-1: any) arrives.
Message receive(int source = -1);
// Returns a message if one is waiting, else a Message with source -1.
Message try_receive();

// A flat archive of numbers and strings, for sending study results between ranks exactly.
class Writer {
 public:
  void number(double v);
  void integer(std::int64_t v);
  void numbers(const std::vector<double>& v);
  void text(const std::string& s);
  const std::vector<char>& bytes() const { return bytes_; }

 private:
  void raw(const void* p, std::size_t n);
  std::vector<char> bytes_;
};
class Reader {
 public:
  explicit Reader(std::vector<char> bytes) : bytes_(std::move(bytes)) {}
  double number();
  std::int64_t integer();
  std::vector<double> numbers();
  std::string text();
  bool done() const { return at_ == bytes_.size(); }

 private:
  void raw(void* p, std::size_t n);
  std::vector<char> bytes_;
  std::size_t at_ = 0;
};

}  // namespace lumac::mpi
