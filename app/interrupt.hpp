// Stopping long runs cleanly on Ctrl-C (DESIGN.md, command line contract).
#pragma once

namespace lumac::cli {

// SIGINT/SIGTERM handling: while a guard lives (main() holds one for every command), a signal
// requests a stop (core/interrupt.hpp) that the library's long loops poll; a second signal
// terminates at once.
class InterruptGuard {
 public:
  InterruptGuard();
  ~InterruptGuard();
};

}  // namespace lumac::cli
