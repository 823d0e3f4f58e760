// The studies of studies/ spread over the ranks of an MPI job (docs/cluster.md). Every rank
// runs the same command and prepares the same study; these functions then share out the work
// and bring the results to rank 0, which writes and prints them. Each piece of work is computed
// exactly as in a serial run (noise counters depend on seeds and indices, never on the rank),
// so rank 0's results equal the serial ones for any number of ranks.
#pragma once

#include <functional>
#include <optional>

#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/precision_study.hpp"
#include "lumac/studies/sweep.hpp"

namespace lumac::mpi {

// Sweep points, handed out dynamically: a rank that finishes a point gets the next one not yet
// done, in grid order. Rank 0 computes points too (on a second thread; its main thread serves
// the other ranks) and calls `after_point` whenever a point arrives, from any rank. `stop` is
// polled by rank 0: once it returns true no point is handed out and the points in flight are
// discarded. Returns on rank 0 with `results` as far as the job got; on the other ranks when
// rank 0 has no more work for them. A point that fails on any rank (lumac::Error, or a stop
// signal to that rank alone) ends the sweep: rank 0 throws lumac::Error naming the rank and
// the point, after `after_point` has kept what was finished. Without MPI: the serial
// run_sweep_points.
void run_sweep_points(const SweepSpec& spec, const Settings& base,
                      const std::optional<LoadedNetwork>& net, SweepResults& results,
                      const std::function<void()>& after_point, const std::function<bool()>& stop);

// An evaluation over seeds (evaluate_on_hardware): the work is split into pieces, one per seed
// when there are at least as many seeds as ranks, else every seed's test images split into
// shares on whole evaluation batches (at most one share per batch); the pieces are dealt out
// in turn (piece i to rank i mod N) and pooled on rank 0 in seed and image order. The
// accuracies equal the serial ones bit for bit; so does everything else when each seed is one
// piece. Rank 0 returns the pooled evaluation; the other ranks an empty one. A rank whose piece
// fails or is stopped computes no more and tells rank 0, which throws lumac::Error naming the
// rank and the piece (or Interrupted, when it was stopped too).
NetworkEvaluation evaluate_on_hardware(const LoadedNetwork& net, const Settings& settings,
                                       const HardwareOptions& h, std::uint64_t seed, int seeds);

// Precision studies with seeds seed, seed + 1, ... (run_precision_study with spec.seed set to
// each), dealt out in turn over the ranks and gathered on rank 0 in seed order (the other
// ranks return an empty vector). `on_step` of the spec is called on rank 0 only. Failures and
// stops as for evaluate_on_hardware; an incomplete study counts as stopped.
std::vector<PrecisionStudy> run_precision_studies(const LoadedNetwork& net,
                                                  const Settings& settings, PrecisionSpec spec,
                                                  int seeds);

}  // namespace lumac::mpi
