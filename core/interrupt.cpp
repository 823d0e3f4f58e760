#include "lumac/core/interrupt.hpp"

#include <atomic>
#include <string>

namespace lumac {

namespace {
// Lock-free, so that setting it from a signal handler is safe.
std::atomic<bool> stop_flag{false};
static_assert(std::atomic<bool>::is_always_lock_free);
}  // namespace

void request_stop() noexcept {
  stop_flag.store(true, std::memory_order_relaxed);
}

void clear_stop() noexcept {
  stop_flag.store(false, std::memory_order_relaxed);
}

bool stop_requested() noexcept {
  return stop_flag.load(std::memory_order_relaxed);
}

void throw_if_stop_requested(std::string_view what) {
  if (stop_requested()) throw Interrupted(std::string(what) + " interrupted");
}

}  // namespace lumac
