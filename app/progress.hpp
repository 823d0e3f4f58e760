// A progress bar on stderr for long runs, shown only when stderr is a terminal.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace lumac::cli {

// Whether stderr is a terminal (progress is shown only there).
bool stderr_is_terminal();

class Progress {
 public:
  Progress(std::int64_t total, std::string label);
  ~Progress();
  void update(std::int64_t done);

 private:
  std::int64_t total_;
  std::string label_;
  bool active_;
  std::chrono::steady_clock::time_point start_;
};

}  // namespace lumac::cli
