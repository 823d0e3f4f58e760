// Cooperative stopping of long runs (DESIGN.md: "stops cleanly on Ctrl-C"). A shell asks for a
// stop (the CLI from its SIGINT/SIGTERM handler, the Python module on KeyboardInterrupt);
// the long loops of the library (evaluation batches, training and precision-learning steps,
// Monte Carlo samples, time-domain steps, sweep points) poll it between units of work and
// throw lumac::Interrupted, or end early where what they have is worth keeping. No output file
// is left half-written: files are written under a temporary name and renamed on completion.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

namespace lumac {

// A run stopped on request; the CLI reports its message as one line and exits with code 130.
class Interrupted : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Async-signal-safe: may be called from a signal handler.
void request_stop() noexcept;
void clear_stop() noexcept;
bool stop_requested() noexcept;

// Throws Interrupted("<what> interrupted") if a stop was requested.
void throw_if_stop_requested(std::string_view what);

}  // namespace lumac
