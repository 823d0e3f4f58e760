// Distributed evaluations and precision studies (mpi/distributed.hpp): the pieces are dealt out
// in turn, each rank sends all of its results to rank 0 in one message, and rank 0 puts them
// back in seed (and image) order.
#include <fmt/format.h>

#include <chrono>
#include <thread>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
#include "mpi/distributed.hpp"
#include "mpi/world.hpp"

namespace lumac::mpi {

namespace {

constexpr int evaluation_tag = 10, precision_tag = 11;

void put(Writer& w, const std::vector<std::vector<double>>& v) {
  w.integer(static_cast<std::int64_t>(v.size()));
  for (const auto& row : v) w.numbers(row);
}
std::vector<std::vector<double>> read_rows(Reader& r) {
  std::vector<std::vector<double>> v(static_cast<std::size_t>(r.integer()));
  for (auto& row : v) row = r.numbers();
  return v;
}

void put(Writer& w, const SeedEvaluation& e) {
  w.integer(e.correct);
  w.integer(e.samples);
  w.number(e.seconds);
  w.numbers(e.photons_per_mac);
  w.integer(static_cast<std::int64_t>(e.layers.size()));
  for (const auto& l : e.layers) {
    w.text(l.name);
    w.number(l.outputs_seen);
    w.number(l.noise_std);
    w.number(l.enob);
    w.number(l.inputs_seen);
    w.number(l.input_clipped_fraction);
    w.number(l.output_clipped_fraction);
    w.integer(static_cast<std::int64_t>(l.by_source.size()));
    for (const auto& [name, v] : l.by_source) {
      w.text(name);
      w.number(v);
    }
  }
}
SeedEvaluation read_evaluation(Reader& r) {
  SeedEvaluation e;
  e.correct = r.integer();
  e.samples = r.integer();
  e.seconds = r.number();
  e.photons_per_mac = r.numbers();
  e.layers.resize(static_cast<std::size_t>(r.integer()));
  for (auto& l : e.layers) {
    l.name = r.text();
    l.outputs_seen = r.number();
    l.noise_std = r.number();
    l.enob = r.number();
    l.inputs_seen = r.number();
    l.input_clipped_fraction = r.number();
    l.output_clipped_fraction = r.number();
    l.by_source.resize(static_cast<std::size_t>(r.integer()));
    for (auto& src : l.by_source) {
      src.first = r.text();
      src.second = r.number();
    }
  }
  return e;
}

void put(Writer& w, const Allocation& a) {
  for (double v : {a.scale, a.accuracy, a.energy_per_mac, a.detected_optical_aJ_per_mac,
                   a.laser_optical_aJ_per_mac, a.total_aJ_per_mac, a.laser_power_W})
    w.number(v);
  put(w, a.energy);
  w.numbers(a.enob);
  w.integer(static_cast<std::int64_t>(a.repeats.size()));
  for (std::int64_t k : a.repeats) w.integer(k);
  w.integer(a.reached ? 1 : 0);
  w.integer(a.evaluations);
}
Allocation read_allocation(Reader& r) {
  Allocation a;
  for (double* v : {&a.scale, &a.accuracy, &a.energy_per_mac, &a.detected_optical_aJ_per_mac,
                    &a.laser_optical_aJ_per_mac, &a.total_aJ_per_mac, &a.laser_power_W})
    *v = r.number();
  a.energy = read_rows(r);
  a.enob = r.numbers();
  a.repeats.resize(static_cast<std::size_t>(r.integer()));
  for (auto& k : a.repeats) k = r.integer();
  a.reached = r.integer() != 0;
  a.evaluations = static_cast<int>(r.integer());
  return a;
}

void put(Writer& w, const PrecisionStudy& st) {
  for (const std::string* s : {&st.model, &st.noise, &st.energy_unit}) w.text(*s);
  w.integer(static_cast<std::int64_t>(st.layer_names.size()));
  for (const auto& n : st.layer_names) w.text(n);
  w.numbers(st.layer_macs);
  for (bool b : st.layer_activation_operands) w.integer(b ? 1 : 0);
  w.number(st.clean_accuracy);
  w.integer(st.test_samples);
  w.number(st.target_energy);
  w.number(st.lambda);
  w.integer(st.steps);
  put(w, st.learned.energy);
  w.numbers(st.learned.curve.loss);
  w.numbers(st.learned.curve.cross_entropy);
  w.numbers(st.learned.curve.mean_energy);
  w.number(st.learned.seconds);
  w.integer(st.learned.interrupted ? 1 : 0);
  w.integer(static_cast<std::int64_t>(st.targets.size()));
  for (const auto& t : st.targets) {
    w.number(t.drop);
    w.number(t.target_accuracy);
    put(w, t.uniform);
    put(w, t.learned);
    w.integer(t.learned_searched ? 1 : 0);
    w.number(t.saving_fraction);
  }
  w.integer(st.complete ? 1 : 0);
}
PrecisionStudy read_study(Reader& r) {
  PrecisionStudy st;
  for (std::string* s : {&st.model, &st.noise, &st.energy_unit}) *s = r.text();
  st.layer_names.resize(static_cast<std::size_t>(r.integer()));
  for (auto& n : st.layer_names) n = r.text();
  st.layer_macs = r.numbers();
  for (std::size_t l = 0; l < st.layer_names.size(); ++l)
    st.layer_activation_operands.push_back(r.integer() != 0);
  st.clean_accuracy = r.number();
  st.test_samples = r.integer();
  st.target_energy = r.number();
  st.lambda = r.number();
  st.steps = static_cast<int>(r.integer());
  st.learned.energy = read_rows(r);
  st.learned.curve.loss = r.numbers();
  st.learned.curve.cross_entropy = r.numbers();
  st.learned.curve.mean_energy = r.numbers();
  st.learned.seconds = r.number();
  st.learned.interrupted = r.integer() != 0;
  st.targets.resize(static_cast<std::size_t>(r.integer()));
  for (auto& t : st.targets) {
    t.drop = r.number();
    t.target_accuracy = r.number();
    t.uniform = read_allocation(r);
    t.learned = read_allocation(r);
    t.learned_searched = r.integer() != 0;
    t.saving_fraction = r.number();
  }
  st.complete = r.integer() != 0;
  return st;
}

// What a rank did with the pieces dealt to it: all done, or stopped at one (a stop signal, an
// error, or a study left incomplete by a stop request).
enum Status : std::int64_t { all_done = 0, piece_failed = 1, piece_stopped = 2 };

// Runs `compute(i)` for the pieces i = rank, rank + N, ... of `count` and returns all of them on
// rank 0 (in piece order; empty elsewhere). Each rank with pieces sends one message: its status,
// the index of the piece it stopped at and why, and the pieces it finished. A rank stops at the
// first piece that fails or that `complete` says is incomplete (the pieces after it are not
// computed). Rank 0 collects every message, then throws Interrupted if a piece was stopped
// while a stop was requested here too, and else lumac::Error naming the rank and the piece
// (`what(i)`) that failed first.
template <class T, class Compute, class Complete, class Write, class Read, class What>
std::vector<T> deal(std::int64_t count, int tag, Compute compute, Complete complete,
                    Write write_one, Read read_one, What what) {
  std::vector<T> mine;
  Status status = all_done;
  std::int64_t stopped_at = -1;
  std::string message;
  for (std::int64_t i = rank(); i < count; i += size()) {
    try {
      mine.push_back(compute(i));
      if (complete(mine.back())) continue;
      mine.pop_back();
      status = piece_stopped;
    } catch (const Interrupted&) {
      status = piece_stopped;
    } catch (const std::exception& e) {
      status = piece_failed;
      message = e.what();
    }
    stopped_at = i;
    break;
  }
  if (rank() != 0 && rank() >= count) return {};  // nothing was dealt to this rank
  Step step;
  if (rank() != 0) {
    Writer w;
    w.integer(status);
    w.integer(stopped_at);
    w.text(message);
    w.integer(static_cast<std::int64_t>(mine.size()));
    for (const T& t : mine) write_one(w, t);
    send(0, tag, w.bytes());
    step.finish();
    return {};
  }
  std::vector<T> all(static_cast<std::size_t>(count));
  for (std::size_t k = 0; k < mine.size(); ++k)
    all[k * static_cast<std::size_t>(size())] = std::move(mine[k]);
  // The first problem by piece index (rank 0's own included).
  std::int64_t bad = status == all_done ? count : stopped_at;
  Status bad_status = status;
  int bad_rank = 0;
  std::string bad_message = message;
  for (int from = 1; from < size() && from < count; ++from) {
    const Message m = receive(from);
    if (m.tag != tag) fail("rank {} sent an unexpected message (tag {})", from, m.tag);
    Reader in(m.bytes);
    const auto st = static_cast<Status>(in.integer());
    const std::int64_t at = in.integer();
    const std::string text = in.text();
    const std::int64_t n = in.integer();
    for (std::int64_t k = 0; k < n; ++k)
      all[static_cast<std::size_t>(from + k * size())] = read_one(in);
    if (!in.done()) fail("rank {} sent more results than it was given", from);
    if (st != all_done && at < bad) {
      bad = at;
      bad_status = st;
      bad_rank = from;
      bad_message = text;
    }
  }
  step.finish();
  if (bad == count) return all;
  // A stop signal can reach rank 0 a little after another rank (a batch system signals the
  // nodes one after the other): a stopped piece is a failure only if rank 0 stays unsignalled.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(2);
  while (bad_status == piece_stopped && !stop_requested() &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  // The other ranks go on to the command's next exchange, which rank 0 will not join: the job
  // ends with MPI_Abort once this is reported.
  out_of_step();
  if (bad_status == piece_stopped && stop_requested())
    throw Interrupted(fmt::format("interrupted at {}; nothing was written", what(bad)));
  throw Error(fmt::format("rank {} failed at {}: {}", bad_rank, what(bad),
                          bad_status == piece_failed ? bad_message : "stopped by a signal"));
}

// The image ranges each seed is split into: one range when there are at least as many seeds as
// ranks, else enough ranges for every rank, their bounds rounded up to whole evaluation batches
// (so that every batch holds the same images as in a serial run) and never empty: at most one
// range per batch.
std::vector<std::int64_t> share_bounds(const LoadedNetwork& net, int seeds) {
  const std::int64_t n = net.test.size();
  const std::int64_t batch = std::max(1, net.batch);
  const std::int64_t wanted = (size() + seeds - 1) / seeds;
  const std::int64_t shares = std::max<std::int64_t>(1, std::min(wanted, (n + batch - 1) / batch));
  std::vector<std::int64_t> bounds{0};
  for (std::int64_t k = 1; k < shares; ++k) {
    const std::int64_t b = std::min(n, (k * n / shares + batch - 1) / batch * batch);
    if (b > bounds.back() && b < n) bounds.push_back(b);
  }
  bounds.push_back(n);
  return bounds;
}

}  // namespace

NetworkEvaluation evaluate_on_hardware(const LoadedNetwork& net, const Settings& settings,
                                       const HardwareOptions& h, std::uint64_t seed, int seeds) {
  if (!distributed()) return lumac::evaluate_on_hardware(net, settings, h, seed, seeds);
  check_seeds(seeds);
  const std::vector<std::int64_t> bounds = share_bounds(net, seeds);
  const auto shares = static_cast<std::int64_t>(bounds.size()) - 1;
  const std::int64_t pieces = seeds * shares;
  auto compute = [&](std::int64_t i) {
    const std::int64_t s = i / shares, k = i % shares;
    return evaluate_seed(net, settings, h, seed + static_cast<std::uint64_t>(s),
                         bounds[static_cast<std::size_t>(k)],
                         bounds[static_cast<std::size_t>(k + 1)]);
  };
  auto what = [&](std::int64_t i) {
    return fmt::format("seed {}, test images {} to {}",
                       seed + static_cast<std::uint64_t>(i / shares),
                       bounds[static_cast<std::size_t>(i % shares)],
                       bounds[static_cast<std::size_t>(i % shares + 1)] - 1);
  };
  const auto all = deal<SeedEvaluation>(
      pieces, evaluation_tag, compute, [](const SeedEvaluation&) { return true; },
      [](Writer& w, const SeedEvaluation& e) { put(w, e); },
      [](Reader& r) { return read_evaluation(r); }, what);
  if (rank() != 0) return {};
  // The other ranks may already wait for the command's next exchange: a failure here must end
  // the job (Step), not leave rank 0 in MPI_Finalize.
  Step step;
  std::vector<std::vector<SeedEvaluation>> by_seed(static_cast<std::size_t>(seeds));
  for (std::int64_t i = 0; i < pieces; ++i)
    by_seed[static_cast<std::size_t>(i / shares)].push_back(all[static_cast<std::size_t>(i)]);
  NetworkEvaluation pooled = pool_evaluations(net, settings, h, by_seed);
  step.finish();
  return pooled;
}

std::vector<PrecisionStudy> run_precision_studies(const LoadedNetwork& net,
                                                  const Settings& settings, PrecisionSpec spec,
                                                  int seeds) {
  check_seeds(seeds);
  const std::uint64_t first = spec.seed;
  if (rank() != 0) spec.on_step = nullptr;
  auto compute = [&](std::int64_t i) {
    PrecisionSpec s = spec;
    s.seed = first + static_cast<std::uint64_t>(i);
    return run_precision_study(net, settings, s);
  };
  if (!distributed()) {
    std::vector<PrecisionStudy> out;
    for (int i = 0; i < seeds; ++i) {
      out.push_back(compute(i));
      if (!out.back().complete) break;  // stopped: what was learned is kept
    }
    return out;
  }
  return deal<PrecisionStudy>(
      // An incomplete study (a stop during learning) is kept, as in a serial run: the command
      // writes what was learned.
      seeds, precision_tag, compute, [](const PrecisionStudy&) { return true; },
      [](Writer& w, const PrecisionStudy& st) { put(w, st); },
      [](Reader& r) { return read_study(r); },
      [&](std::int64_t i) { return fmt::format("the study of seed {}", first + i); });
}

}  // namespace lumac::mpi
