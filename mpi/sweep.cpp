// Distributed sweeps (mpi/distributed.hpp): rank 0 hands out points one at a time and gathers
// the results; the other ranks compute what they are given. Protocol (tags):
//   worker -> 0: ready (first message), result (point index + packed PointResult),
//                failed (point index + message), stopped (point index: a stop signal)
//   0 -> worker: work (a point index, or -1: no more work)
// Every worker message gets exactly one reply, so a worker always waits in one place.
#include <fmt/format.h>

#include <pthread.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <deque>
#include <mutex>
#include <thread>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
#include "mpi/distributed.hpp"
#include "mpi/world.hpp"

namespace lumac::mpi {

namespace {

enum Tag : int { ready = 1, result = 2, failed = 3, stopped = 4, work = 5 };

// The line a crashing rank prints from its signal handler. Everything is formatted before the
// point starts; the handler only copies bytes and calls write(2) (async-signal-safe). The line
// of the point in progress is filled in the idle one of two buffers and then published by an
// atomic index, so the handler never reads a half-written line; it names the point only when
// the crash is on the thread computing it.
struct CrashLines {
  char point[2][512]{};
  std::size_t point_length[2]{};
  std::atomic<int> current{-1};  // the buffer of the point in progress, -1 between points
  char plain[128]{};             // "lumac: error: rank R crashed"
  std::size_t plain_length = 0;
  pthread_t computing{};
  std::atomic<bool> has_computing{false};
};
CrashLines crash;

void append(char* out, std::size_t& n, std::size_t cap, const char* text, std::size_t length) {
  for (std::size_t i = 0; i < length && n < cap; ++i) out[n++] = text[i];
}

extern "C" void on_crash(int sig) {
  char line[700];
  std::size_t n = 0;
  const int at = crash.current.load();
  const bool on_point =
      at >= 0 && crash.has_computing.load() && pthread_equal(pthread_self(), crash.computing);
  if (on_point)
    append(line, n, sizeof line, crash.point[at], crash.point_length[at]);
  else
    append(line, n, sizeof line, crash.plain, crash.plain_length);
  append(line, n, sizeof line, " (signal ", 9);
  char digits[12];
  std::size_t d = 0;
  for (int v = sig > 0 ? sig : 0; d == 0 || v > 0; v /= 10)
    digits[d++] = static_cast<char>('0' + v % 10);
  while (d > 0 && n < sizeof line) line[n++] = digits[--d];
  append(line, n, sizeof line, ")\n", 2);
  (void)!::write(STDERR_FILENO, line, n);
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_crash_handler() {
  const std::string plain = fmt::format("lumac: error: rank {} crashed", rank());
  crash.plain_length = std::min(plain.size(), sizeof crash.plain);
  std::memcpy(crash.plain, plain.data(), crash.plain_length);
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_crash);
}

// Called by the thread that computes points: the line its crash would print from now on.
void set_crash_line(const std::string& line) {
  crash.computing = pthread_self();
  crash.has_computing.store(true);
  const int idle = crash.current.load() == 0 ? 1 : 0;
  crash.point_length[idle] = std::min(line.size(), sizeof crash.point[idle]);
  std::memcpy(crash.point[idle], line.data(), crash.point_length[idle]);
  crash.current.store(idle);
}

// Before and after computing point `index` (the line names it, or the wait that follows it).
void set_crash_point(const SweepGrid& grid, std::int64_t index, bool done) {
  set_crash_line(done ? fmt::format("lumac: error: rank {} crashed after sweep point {}, waiting "
                                    "for its next sweep point",
                                    rank(), index)
                      : fmt::format("lumac: error: rank {} crashed during sweep point {} ({})",
                                    rank(), index, describe_point(grid, index)));
}

std::vector<char> index_bytes(std::int64_t i) {
  Writer w;
  w.integer(i);
  return w.bytes();
}

// What one computation of a point gave.
struct Outcome {
  int rank = 0;
  std::int64_t index = -1;
  enum Kind { done, failed, stopped } kind = done;
  PointResult point;
  std::string message;
};

Outcome compute(const SweepSpec& spec, const Settings& base,
                const std::optional<LoadedNetwork>& net, const SweepGrid& grid,
                std::int64_t index) {
  Outcome o;
  o.rank = rank();
  o.index = index;
  set_crash_point(grid, index, false);
  try {
    o.point = compute_sweep_point(spec, base, net, grid, index);
  } catch (const Interrupted&) {
    o.kind = Outcome::stopped;
  } catch (const Error& e) {
    o.kind = Outcome::failed;
    o.message = e.what();
  } catch (const std::bad_alloc&) {
    o.kind = Outcome::failed;
    o.message = "out of memory";
  } catch (const std::exception& e) {
    o.kind = Outcome::failed;
    o.message = e.what();
  } catch (...) {
    o.kind = Outcome::failed;
    o.message = "unknown error";
  }
  set_crash_point(grid, index, true);
  return o;
}

void worker(const SweepSpec& spec, const Settings& base, const std::optional<LoadedNetwork>& net,
            const SweepGrid& grid) {
  set_crash_line(
      fmt::format("lumac: error: rank {} crashed waiting for its first sweep point", rank()));
  Step step;
  send(0, ready, {});
  for (;;) {
    const Message m = receive(0);
    Reader in(m.bytes);
    const std::int64_t index = in.integer();
    if (index < 0) {
      step.finish();
      return;
    }
    const Outcome o = compute(spec, base, net, grid, index);
    Writer out;
    out.integer(index);
    if (o.kind == Outcome::done) out.numbers(pack_point(o.point));
    if (o.kind == Outcome::failed) out.text(o.message);
    send(0,
         o.kind == Outcome::done     ? result
         : o.kind == Outcome::failed ? failed
                                     : stopped,
         out.bytes());
  }
}

// Rank 0: the queue of points, a compute thread of its own and the service of the others.
class Coordinator {
 public:
  Coordinator(const SweepSpec& spec, const Settings& base, const std::optional<LoadedNetwork>& net,
              SweepResults& r)
      : spec_(spec), base_(base), net_(net), r_(r) {
    for (std::int64_t i = 0; i < r.grid.points(); ++i)
      if (!r.done[static_cast<std::size_t>(i)]) todo_.push_back(i);
  }

  void run(const std::function<void()>& after_point, const std::function<bool()>& stop) {
    Step step;  // not finished when this throws: the job then ends with MPI_Abort
    std::thread local([this] { compute_locally(); });
    try {
      if (serve_all(after_point, stop)) step.finish();
    } catch (...) {
      // Rank 0's own point in flight is abandoned, its thread joined, and the error reported.
      stopping_ = true;
      request_stop();
      local.join();
      throw;
    }
    local.join();
    drain_local(after_point);
    if (failure_) throw Error(*failure_);
    // A rank stopped alone near the end: give rank 0's own signal the same time to arrive.
    while (!stopped_alone_.empty() && !stop_requested() && Clock::now() - stopped_at_ < stop_skew)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    if (!stopped_alone_.empty() && !stop_requested()) throw Error(stopped_alone_);
  }

 private:
  using Clock = std::chrono::steady_clock;
  // How long a stop signal may take to reach rank 0 after it reached another rank (a batch
  // system signals the ranks of different nodes at slightly different times), and how long
  // the ranks get to report once a stop is requested.
  static constexpr std::chrono::seconds stop_skew{2}, stop_wait{10};

  // Serves the other ranks until every one has had its last reply (true), or until a stop has
  // waited stop_wait for ranks that do not answer (false: they are left behind).
  bool serve_all(const std::function<void()>& after_point, const std::function<bool()>& stop) {
    int workers = size() - 1;
    Clock::time_point stop_since{};
    while (workers > 0 || !local_finished_) {
      if (failure_) throw Error(*failure_);
      if (!stopped_alone_.empty() && !stop_requested() && Clock::now() - stopped_at_ > stop_skew)
        throw Error(stopped_alone_);
      if (!stopping_ && stop && stop()) stopping_ = true;
      if (stopping_ && stop_since == Clock::time_point{}) stop_since = Clock::now();
      if (stopping_ && Clock::now() - stop_since > stop_wait && local_finished_) return false;
      bool busy = false;
      if (workers > 0) {
        const Message m = try_receive();
        if (m.source >= 0) {
          busy = true;
          serve(m, after_point);
          // Reply: the next point, or -1 (no more work, or the sweep is ending).
          const bool ending = stopping_ || failure_ || !stopped_alone_.empty();
          const std::int64_t next = ending ? -1 : take();
          send(m.source, work, index_bytes(next));
          if (next < 0) --workers;
        }
      }
      busy = drain_local(after_point) || busy;
      if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    return true;
  }

 private:
  std::int64_t take() {
    const std::lock_guard<std::mutex> lock(mutex_);
    if (todo_.empty()) return -1;
    const std::int64_t i = todo_.front();
    todo_.pop_front();
    return i;
  }

  void compute_locally() {
    for (;;) {
      const std::int64_t i = stopping_ || halted_ ? -1 : take();
      if (i < 0) break;
      Outcome o = compute(spec_, base_, net_, r_.grid, i);
      const std::lock_guard<std::mutex> lock(mutex_);
      finished_.push_back(std::move(o));
      if (finished_.back().kind != Outcome::done) break;
    }
    local_finished_ = true;
  }

  // Rank 0's own finished points, recorded by the main thread.
  bool drain_local(const std::function<void()>& after_point) {
    std::deque<Outcome> got;
    {
      const std::lock_guard<std::mutex> lock(mutex_);
      got.swap(finished_);
    }
    for (Outcome& o : got) record(o, after_point);
    return !got.empty();
  }

  void serve(const Message& m, const std::function<void()>& after_point) {
    if (m.tag == ready) return;
    Reader in(m.bytes);
    Outcome o;
    o.rank = m.source;
    o.index = in.integer();
    if (o.index < 0 || o.index >= r_.grid.points())
      fail("rank {} sent a result for point {}, outside the grid", m.source, o.index);
    if (m.tag == result) o.point = unpack_point(in.numbers(), r_);
    if (m.tag == failed) {
      o.kind = Outcome::failed;
      o.message = in.text();
    }
    if (m.tag == stopped) o.kind = Outcome::stopped;
    record(o, after_point);
  }

  void record(Outcome& o, const std::function<void()>& after_point) {
    if (o.kind == Outcome::done) {
      const auto at = static_cast<std::size_t>(o.index);
      r_.points[at] = std::move(o.point);
      r_.done[at] = 1;
      if (after_point) after_point();
      return;
    }
    // A stop that every rank received (Ctrl-C, mpirun's SIGTERM) discards the point in flight;
    // a failure, or a stop signal to one rank alone, ends the sweep with an error.
    if (o.kind == Outcome::stopped && stop_requested()) return;
    if (failure_) return;
    const std::string line =
        fmt::format("rank {} failed at sweep point {} ({}): {}", o.rank, o.index,
                    describe_point(r_.grid, o.index),
                    o.kind == Outcome::failed ? o.message : std::string("stopped by a signal"));
    if (o.kind == Outcome::failed) {
      failure_ = line;
      return;
    }
    // A stop signal that reached another rank first: a failure of that rank unless rank 0
    // is signalled too within stop_skew. No more points are handed out meanwhile.
    if (stopped_alone_.empty()) {
      stopped_alone_ = line;
      stopped_at_ = Clock::now();
      halted_ = true;
    }
  }

  const SweepSpec& spec_;
  const Settings& base_;
  const std::optional<LoadedNetwork>& net_;
  SweepResults& r_;
  std::mutex mutex_;
  std::deque<std::int64_t> todo_;
  std::deque<Outcome> finished_;
  std::atomic<bool> stopping_{false}, local_finished_{false};
  std::atomic<bool> halted_{false};  // no more points while a rank's stop awaits rank 0's
  std::optional<std::string> failure_;
  std::string stopped_alone_;  // a rank stopped by a signal that rank 0 has not had (yet)
  Clock::time_point stopped_at_{};
};

}  // namespace

void run_sweep_points(const SweepSpec& spec, const Settings& base,
                      const std::optional<LoadedNetwork>& net, SweepResults& r,
                      const std::function<void()>& after_point, const std::function<bool()>& stop) {
  if (!distributed()) {
    lumac::run_sweep_points(spec, base, net, r, after_point, stop);
    return;
  }
  install_crash_handler();
  if (rank() != 0) {
    worker(spec, base, net, r.grid);
    return;
  }
  Coordinator(spec, base, net, r).run(after_point, stop);
}

}  // namespace lumac::mpi
