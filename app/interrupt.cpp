#include "app/interrupt.hpp"

#include <csignal>

namespace lumac::cli {

namespace {
volatile std::sig_atomic_t interrupt_flag = 0;
struct sigaction previous_int, previous_term;
extern "C" void on_signal(int sig) {
  if (interrupt_flag) {
    std::signal(sig, SIG_DFL);
    std::raise(sig);
  }
  interrupt_flag = 1;
}
}  // namespace

InterruptGuard::InterruptGuard() {
  interrupt_flag = 0;
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

bool InterruptGuard::interrupted() {
  return interrupt_flag != 0;
}

}  // namespace lumac::cli
