// Stopping long runs cleanly on Ctrl-C (DESIGN.md, command line contract).
#pragma once

namespace lumac::cli {

// SIGINT/SIGTERM handling for long runs: while a guard lives, a signal sets a flag that the
// run checks between points (a second signal terminates at once).
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
  static bool interrupted();
};

}  // namespace lumac::cli
