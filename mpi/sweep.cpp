// Distributed sweeps (mpi/distributed.hpp): rank 0 hands out points one at a time and gathers
// the results; the other ranks compute what they are given. Protocol (tags):
//   worker -> 0: ready (first message), result (point index + packed PointResult),
//                failed (point index + message), stopped (point index: a stop signal)
//   0 -> worker: work (a point index, or -1: no more work)
// Every worker message gets exactly one reply, so a worker always waits in one place.
#include <fmt/format.h>

#include <unistd.h>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdio>
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

// The line a crashing rank prints from its signal handler (async-signal-safe: written with
// write(2) from a buffer filled before each point).
char crash_line[512] = "";
std::size_t crash_line_length = 0;

extern "C" void on_crash(int sig) {
  if (crash_line_length > 0) {
    char line[600];
    const int n = std::snprintf(line, sizeof line, "%.*s (signal %d)\n",
                                static_cast<int>(crash_line_length), crash_line, sig);
    if (n > 0) (void)!::write(STDERR_FILENO, line, static_cast<std::size_t>(n));
  }
  std::signal(sig, SIG_DFL);
  std::raise(sig);
}

void install_crash_handler() {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, on_crash);
}

void set_crash_point(const SweepGrid& grid, std::int64_t index) {
  const std::string line = fmt::format("lumac: error: rank {} crashed during sweep point {} ({})",
                                       rank(), index, describe_point(grid, index));
  crash_line_length = std::min(line.size(), sizeof crash_line);
  std::memcpy(crash_line, line.data(), crash_line_length);
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
  set_crash_point(grid, index);
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
  }
  crash_line_length = 0;
  return o;
}

void worker(const SweepSpec& spec, const Settings& base, const std::optional<LoadedNetwork>& net,
            const SweepGrid& grid) {
  send(0, ready, {});
  for (;;) {
    const Message m = receive(0);
    Reader in(m.bytes);
    const std::int64_t index = in.integer();
    if (index < 0) return;
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
    std::thread local([this] { compute_locally(); });
    int workers = size() - 1;
    while (workers > 0 || !local_finished_) {
      if (failure_) {
        // The job ends now: the other ranks are left as they are (main ends the job with
        // MPI_Abort once the error is reported; mpi/world.hpp: out_of_step).
        stopping_ = true;
        request_stop();
        local.join();
        out_of_step();
        throw Error(*failure_);
      }
      if (!stopping_ && stop && stop()) stopping_ = true;
      bool busy = false;
      if (workers > 0) {
        const Message m = try_receive();
        if (m.source >= 0) {
          busy = true;
          serve(m, after_point);
          // Reply: the next point, or -1 (no more work, or the sweep is ending).
          const std::int64_t next = stopping_ ? -1 : take();
          send(m.source, work, index_bytes(next));
          if (next < 0) --workers;
        }
      }
      busy = drain_local(after_point) || busy;
      if (!busy) std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    local.join();
    drain_local(after_point);
    if (failure_) {
      out_of_step();
      throw Error(*failure_);
    }
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
      const std::int64_t i = stopping_ ? -1 : take();
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
    const std::string what = o.kind == Outcome::failed ? o.message : "stopped by a signal";
    failure_ = fmt::format("rank {} failed at sweep point {} ({}): {}", o.rank, o.index,
                           describe_point(r_.grid, o.index), what);
  }

  const SweepSpec& spec_;
  const Settings& base_;
  const std::optional<LoadedNetwork>& net_;
  SweepResults& r_;
  std::mutex mutex_;
  std::deque<std::int64_t> todo_;
  std::deque<Outcome> finished_;
  std::atomic<bool> stopping_{false}, local_finished_{false};
  std::optional<std::string> failure_;
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
