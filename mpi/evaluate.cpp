// Distributed evaluations and precision studies (mpi/distributed.hpp): the pieces are dealt out
// in turn, each rank sends all of its results to rank 0 in one message, and rank 0 puts them
// back in seed (and image) order.
#include <fmt/format.h>

#include "lumac/core/error.hpp"
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

// Runs `compute(i)` for the pieces i = rank, rank + N, ... of `count` and returns all of them on
// rank 0 (in piece order; empty elsewhere). Each rank sends its pieces in one message.
template <class T, class Compute, class Write, class Read>
std::vector<T> deal(std::int64_t count, int tag, Compute compute, Write write_one, Read read_one) {
  std::vector<T> mine;
  for (std::int64_t i = rank(); i < count; i += size()) mine.push_back(compute(i));
  if (rank() != 0) {
    if (rank() >= count) return {};  // nothing was dealt to this rank
    Writer w;
    for (const T& t : mine) write_one(w, t);
    send(0, tag, w.bytes());
    return {};
  }
  std::vector<T> all(static_cast<std::size_t>(count));
  for (std::size_t k = 0; k < mine.size(); ++k)
    all[k * static_cast<std::size_t>(size())] = std::move(mine[k]);
  for (int from = 1; from < size() && from < count; ++from) {
    const Message m = receive(from);
    if (m.tag != tag) fail("rank {} sent an unexpected message (tag {})", from, m.tag);
    Reader in(m.bytes);
    for (std::int64_t i = from; i < count; i += size())
      all[static_cast<std::size_t>(i)] = read_one(in);
    if (!in.done()) fail("rank {} sent more results than it was given", from);
  }
  return all;
}

}  // namespace

NetworkEvaluation evaluate_on_hardware(const LoadedNetwork& net, const Settings& settings,
                                       const HardwareOptions& h, std::uint64_t seed, int seeds) {
  if (!distributed()) return lumac::evaluate_on_hardware(net, settings, h, seed, seeds);
  check_seeds(seeds);
  // Shares per seed: enough pieces for every rank, never fewer images than ranks allow.
  const std::int64_t n = net.test.size();
  const std::int64_t shares =
      std::max<std::int64_t>(1, std::min<std::int64_t>((size() + seeds - 1) / seeds, n));
  const std::int64_t pieces = seeds * shares;
  // Share boundaries fall on whole evaluation batches, so that every batch holds the same images
  // as in a serial run.
  const std::int64_t batch = std::max(1, net.batch);
  auto boundary = [&](std::int64_t k) {
    return std::min(n, (k * n / shares + batch - 1) / batch * batch);
  };
  auto compute = [&](std::int64_t i) {
    const std::int64_t s = i / shares, k = i % shares;
    return evaluate_seed(net, settings, h, seed + static_cast<std::uint64_t>(s), boundary(k),
                         k + 1 == shares ? n : boundary(k + 1));
  };
  const auto all = deal<SeedEvaluation>(
      pieces, evaluation_tag, compute, [](Writer& w, const SeedEvaluation& e) { put(w, e); },
      [](Reader& r) { return read_evaluation(r); });
  if (rank() != 0) return {};
  std::vector<std::vector<SeedEvaluation>> by_seed(static_cast<std::size_t>(seeds));
  for (std::int64_t i = 0; i < pieces; ++i)
    by_seed[static_cast<std::size_t>(i / shares)].push_back(all[static_cast<std::size_t>(i)]);
  return pool_evaluations(net, settings, h, by_seed);
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
      seeds, precision_tag, compute, [](Writer& w, const PrecisionStudy& st) { put(w, st); },
      [](Reader& r) { return read_study(r); });
}

}  // namespace lumac::mpi
