#include "app/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "mpi/world.hpp"

namespace lumac::cli {

bool stderr_is_terminal() {
  return isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::int64_t total, std::string label)
    : total_(total),
      label_(std::move(label)),
      active_(stderr_is_terminal() && mpi::rank() == 0),  // rank 0 of an mpirun job only
      start_(std::chrono::steady_clock::now()) {
  update(0);
}

Progress::~Progress() {
  if (active_) fmt::print(stderr, "\n");
}

void Progress::update(std::int64_t done) {
  if (!active_ || total_ <= 0) return;
  constexpr int width = 30;
  const double f = static_cast<double>(done) / static_cast<double>(total_);
  const int filled = static_cast<int>(f * width);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double eta = done > 0 ? elapsed * (1 - f) / f : 0;
  fmt::print(stderr, "\r{} [{}{}] {}/{}  {:.0f} s elapsed, {:.0f} s left ", label_,
             std::string(static_cast<std::size_t>(filled), '#'),
             std::string(static_cast<std::size_t>(width - filled), '.'), done, total_, elapsed,
             eta);
  std::fflush(stderr);
}

}  // namespace lumac::cli
