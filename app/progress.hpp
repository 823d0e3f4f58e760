// Progress of long runs on stderr: a bar redrawn in place when stderr is a terminal; under
// mpirun (whose ranks write stderr into a pipe), a line from rank 0 at every tenth of the work,
// for the job's log; otherwise nothing.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lumac::cli {

// Whether stderr is a terminal (the bar is shown only there).
bool stderr_is_terminal();

class Progress {
 public:
  // `already_done` units were finished by an earlier run (a resumed sweep): the time left is
  // estimated from the units this run finishes.
  Progress(std::int64_t total, std::string label, std::int64_t already_done = 0);
  ~Progress();
  void update(std::int64_t done);

 private:
  enum class Mode { off, bar, lines };
  std::int64_t total_, already_done_;
  std::string label_;
  Mode mode_;
  std::int64_t tenths_shown_ = -1;  // lines mode: the last tenth of the work reported
  std::chrono::steady_clock::time_point start_;
};

}  // namespace lumac::cli
