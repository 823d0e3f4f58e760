#include "app/progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>

#include "mpi/world.hpp"

namespace lumac::cli {

bool stderr_is_terminal() {
  return isatty(STDERR_FILENO) == 1;
}

Progress::Progress(std::int64_t total, std::string label, std::int64_t already_done)
    : total_(total),
      already_done_(already_done),
      label_(std::move(label)),
      mode_(mpi::rank() != 0       ? Mode::off
            : stderr_is_terminal() ? Mode::bar
            : mpi::distributed()   ? Mode::lines
                                   : Mode::off),
      start_(std::chrono::steady_clock::now()) {
  update(already_done);
}

Progress::~Progress() {
  if (mode_ == Mode::bar) fmt::print(stderr, "\n");
}

void Progress::update(std::int64_t done) {
  if (mode_ == Mode::off || total_ <= 0) return;
  const double f = static_cast<double>(done) / static_cast<double>(total_);
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const std::int64_t now_done = done - already_done_;
  const double eta =
      now_done > 0 ? elapsed * static_cast<double>(total_ - done) / static_cast<double>(now_done)
                   : 0;
  if (mode_ == Mode::lines) {
    const std::int64_t tenths = done * 10 / total_;
    if (tenths == tenths_shown_) return;
    tenths_shown_ = tenths;
    fmt::print(stderr, "{} [rank 0, {} ranks]: {}/{} done, {:.0f} s elapsed{}\n", label_,
               mpi::size(), done, total_, elapsed,
               now_done > 0 ? fmt::format(", {:.0f} s left", eta) : std::string());
    std::fflush(stderr);
    return;
  }
  constexpr int width = 30;
  const int filled = static_cast<int>(f * width);
  fmt::print(stderr, "\r{} [{}{}] {}/{}  {:.0f} s elapsed, {:.0f} s left ", label_,
             std::string(static_cast<std::size_t>(filled), '#'),
             std::string(static_cast<std::size_t>(width - filled), '.'), done, total_, elapsed,
             eta);
  std::fflush(stderr);
}

}  // namespace lumac::cli
