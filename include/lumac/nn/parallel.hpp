// The one parallel loop of the network engine: OpenMP over independent work items (samples,
// chunks, images), static schedule. Work items never share results, so what a loop computes
// does not depend on the thread count. An exception thrown by any item (a hook may throw
// lumac::Error) is carried out of the parallel region and rethrown on the calling thread
// instead of terminating the program.
//
// A loop runs in parallel only when it has at least parallel_min_macs multiply-accumulates (or
// comparable operations): shorter ones lose more to thread start-up and barriers than they
// gain, and on a loaded machine (ctest -j2, a second job) a barrier can cost a scheduler
// time slice.
#pragma once

#include <cstdint>
#include <exception>

namespace lumac::nn {

inline constexpr std::int64_t parallel_min_macs = 8'000'000;

// Runs body(i) for i in [0, n), on OpenMP threads when `parallel` and n > 1.
template <class F>
void parallel_for(int n, bool parallel, F&& body) {
  std::exception_ptr error;
#pragma omp parallel for schedule(static) if (parallel && n > 1)
  for (int i = 0; i < n; ++i) {
    try {
      body(i);
    } catch (...) {
#pragma omp critical(lumac_nn_parallel_error)
      if (!error) error = std::current_exception();
    }
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace lumac::nn
