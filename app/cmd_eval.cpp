// `lumac eval`: accuracy of a model on the simulated hardware (studies/evaluation.hpp), with
// each matrix-product layer's noise and ENOB and the energy account.
#include <fmt/format.h>

#include <algorithm>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/study_options.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/studies/results.hpp"
#include "mpi/distributed.hpp"
#include "mpi/world.hpp"

namespace lumac::cli {

namespace {

struct EvalCommand {
  CommonOptions common;
  NetworkSpec network;
  HardwareSpec hardware;
  int seeds = 1;
  std::string csv;
  bool force = false;
};

void print_study(const EvalStudy& st) {
  const NetworkEvaluation& r = st.result;
  fmt::print("lumac eval: {} on {} ({} samples), noise {}{}\n", st.model, st.dataset, st.samples,
             enum_name(st.hardware.mode),
             st.hardware.bits ? fmt::format(", {} bits", *st.hardware.bits) : "");
  std::size_t w = 8;  // the layer column: as wide as the longest name
  for (const auto& info : st.info) w = std::max(w, info.name.size());
  fmt::print("  {:<{}} {:>7} {:>10} {:>10} {:>8} {:>11} {:>8} {:>10} {:>10}\n", "layer", w,
             "fan-in", "MACs", "E", "repeats", "noise std", "ENOB", "x clipped", "y clipped");
  for (std::size_t l = 0; l < st.info.size(); ++l)
    fmt::print("  {:<{}} {:>7} {:>10} {:>10.4g} {:>8} {:>11.4g} {:>8.2f} {:>10.3g} {:>10.3g}\n",
               st.info[l].name, w, st.info[l].fan_in, st.info[l].macs, st.layers[l].energy[0],
               st.layers[l].repeats, r.layers[l].noise_std, r.layers[l].enob,
               r.layers[l].input_clipped_fraction, r.layers[l].output_clipped_fraction);
  // The deterministic errors physical mode adds (not in the noise std or the ENOB).
  std::string deterministic;
  for (std::size_t l = 0; l < st.info.size(); ++l)
    for (const auto& [name, rms] : r.layers[l].by_source)
      if ((name == "static" || name == "extinction" || name == "phase_fading") && rms > 0)
        deterministic += fmt::format("{}{} {} {:.4g}", deterministic.empty() ? "" : ", ",
                                     st.info[l].name, name, rms);
  if (!deterministic.empty())
    fmt::print("  deterministic error (RMS, units of y; not in noise std or ENOB): {}\n",
               deterministic);
  fmt::print("  accuracy {:.4f} +- {:.4f} over {} seed(s); clean {:.4f}\n", r.accuracy_mean,
             r.accuracy_std, st.seeds, st.clean_accuracy);
  if (st.chip_errors) {
    if (st.device_seed > 0)
      fmt::print("  chip: device seed {} for every noise seed (its static errors are fixed)\n",
                 st.device_seed);
    else
      fmt::print(
          "  chip: one per noise seed ({} to {}), so the spread over seeds includes chips; "
          "--device-seed N fixes one\n",
          st.first_seed, st.first_seed + static_cast<std::uint64_t>(st.seeds) - 1);
  }
  const EnergyFigures e = energy_figures(r.energy.total);
  fmt::print(
      "  energy per MAC at accuracy {:.4f}: detected optical {:.4g} aJ, laser optical {:.4g} aJ, "
      "total {:.4g} aJ\n",
      r.accuracy_mean, e.detected_optical_aJ_per_mac, e.laser_optical_aJ_per_mac,
      e.total_aJ_per_mac);
  fmt::print(
      "  tile of {} row(s): {:.4g} MAC/s effective (idle outputs counted), {:.4g} inferences/s, "
      "latency {:.4g} s per batch\n",
      r.energy.batch, r.energy.macs_per_s(), r.energy.inferences_per_s(), r.energy.latency_s());
}

void run_eval(const EvalCommand& o) {
  if (!o.csv.empty() && mpi::rank() == 0) h5::check_output_path(o.csv, o.force);
  // Under mpirun the seeds (or, with fewer seeds than ranks, the test images) are spread over
  // the ranks once every rank has loaded the model and data; rank 0 reports.
  const EvalStudy st =
      run_eval_study(o.network, o.hardware, load_settings(o.common), o.common.seed, o.seeds,
                     [](const LoadedNetwork& net, const Settings& s, const HardwareOptions& h,
                        std::uint64_t seed, int seeds) {
                       mpi::agree("");
                       return mpi::evaluate_on_hardware(net, s, h, seed, seeds);
                     });
  if (mpi::rank() != 0) return;
  if (!o.csv.empty()) write_csv(to_csv(st), o.csv, o.force);
  if (o.common.json)
    print_json(to_json(st));
  else
    print_study(st);
}

}  // namespace

void register_eval(CLI::App& app) {
  auto* cmd = app.add_subcommand("eval", "accuracy of a model on the simulated analog hardware");
  cmd->footer(
      "Under mpirun -np N the seeds (or, with fewer seeds than ranks, the test images) are spread\n"
      "over N processes, with the same accuracies as one process (docs/cluster.md).");
  auto o = std::make_shared<EvalCommand>();
  add_common_options(*cmd, o->common);
  add_network_options(*cmd, o->network, true);
  add_hardware_options(*cmd, o->hardware);
  cmd->add_option("--seeds", o->seeds, "evaluate with S seeds (default 1)");
  cmd->add_option("--csv", o->csv, "also write the per-layer table and the accuracy as CSV");
  cmd->add_flag("--force", o->force, "overwrite an existing CSV file");
  cmd->callback([o, cmd] {
    settle_noise(*cmd, o->hardware, o->common.sets);
    run_eval(*o);
  });
}

}  // namespace lumac::cli
