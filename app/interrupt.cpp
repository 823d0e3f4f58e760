#include "app/interrupt.hpp"

#include <csignal>

#include "lumac/core/interrupt.hpp"

namespace lumac::cli {

namespace {
struct sigaction previous_int, previous_term;
extern "C" void on_signal(int sig) {
  if (stop_requested()) {  // the second signal ends the process at once
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  request_stop();
}
}  // namespace

InterruptGuard::InterruptGuard() {
  clear_stop();
  struct sigaction sa {};
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &previous_int);
  sigaction(SIGTERM, &sa, &previous_term);
}

InterruptGuard::~InterruptGuard() {
  sigaction(SIGINT, &previous_int, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

}  // namespace lumac::cli
