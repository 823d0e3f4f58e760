// `lumac precision`: learns the precision (energy) of every layer of a frozen model and
// compares it at iso-accuracy with one uniform precision (studies/precision_study.hpp).
#include <fmt/format.h>

#include <algorithm>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/progress.hpp"
#include "app/study_options.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/studies/precision_study.hpp"
#include "mpi/distributed.hpp"
#include "mpi/world.hpp"

namespace lumac::cli {

namespace {

struct PrecisionCommand {
  CommonOptions common;
  OutputOptions output;
  NetworkSpec network;
  PrecisionSpec spec;
  int seeds = 1;
};

double mean_of(const std::vector<double>& e) {
  double mean = 0;
  for (double v : e) mean += v / static_cast<double>(e.size());
  return mean;
}

void print_study(const PrecisionStudy& st) {
  fmt::print("lumac precision: {} under {} noise, clean accuracy {:.4f} ({} test samples)\n",
             st.model, st.noise, st.clean_accuracy, st.test_samples);
  fmt::print("  learned in {} steps ({:.1f} s), target E {:.4g} ({}), lambda {}\n", st.steps,
             st.learned.seconds, st.target_energy, st.energy_unit, st.lambda);
  // The E column says what E is; in physical mode E is the laser power scale, which the laser
  // column already shows in mW.
  const auto kind = nn::noise_mode_info(nn::parse_noise_mode(st.noise)).energy;
  const bool e_column = kind != nn::EnergyKind::laser_scale;
  const bool laser_column = kind == nn::EnergyKind::photons || kind == nn::EnergyKind::laser_scale;
  const std::string e_header = kind == nn::EnergyKind::photons ? "photons/MAC" : "repeats E";
  fmt::print("\n  {:<10} {:<9} {:>9}{} {:>9} {:>11} {:>11} {:>11}\n", "target", "precision",
             "accuracy", e_column ? fmt::format(" {:>11}", e_header) : "", "laser mW",
             "detected aJ", "laser aJ", "total aJ");
  auto change = [](double learned, double uniform) { return 100 * (1 - learned / uniform); };
  for (const auto& t : st.targets) {
    for (const Allocation* a : {&t.uniform, &t.learned}) {
      fmt::print("  {:<10} {:<9} {:>9.4f}{} {:>9} {:>11.4g} {:>11.4g} {:>11.4g}\n",
                 a == &t.uniform ? fmt::format("-{:.0f} pt", 100 * t.drop) : "",
                 a == &t.uniform ? "uniform" : "learned", a->accuracy,
                 e_column ? fmt::format(" {:>11.4g}", a->energy_per_mac) : "",
                 laser_column ? fmt::format("{:.4g}", 1e3 * a->laser_power_W) : "-",
                 a->detected_optical_aJ_per_mac, a->laser_optical_aJ_per_mac, a->total_aJ_per_mac);
    }
    fmt::print(
        "  {:<10} saving {:.1f}% of the MAC-weighted mean E ({}); per MAC, detected optical "
        "energy {:.1f}% and total energy {:.1f}%\n",
        "", change(t.learned.energy_per_mac, t.uniform.energy_per_mac), st.energy_unit,
        change(t.learned.detected_optical_aJ_per_mac, t.uniform.detected_optical_aJ_per_mac),
        change(t.learned.total_aJ_per_mac, t.uniform.total_aJ_per_mac));
  }
  fmt::print("\n  per layer (first target): E per MAC and ENOB\n");
  const Allocation& u = st.targets.front().uniform;
  const Allocation& l = st.targets.front().learned;
  std::size_t w = 6;  // as wide as the longest layer name
  for (const auto& name : st.layer_names) w = std::max(w, name.size());
  for (std::size_t k = 0; k < st.layer_names.size(); ++k)
    fmt::print("    {:<{}} uniform E {:>9.4g} ENOB {:>5.2f}   learned E {:>9.4g} ENOB {:>5.2f}\n",
               st.layer_names[k], w, mean_of(u.energy[k]), u.enob[k], mean_of(l.energy[k]),
               l.enob[k]);
}

// Several seeds: the first seed's table, then the saving at each target over the seeds.
void print_seeds(const std::vector<PrecisionStudy>& studies, std::uint64_t first_seed) {
  fmt::print("seed {} of {}:\n", first_seed, studies.size());
  print_study(studies.front());
  fmt::print("\n  over {} seeds ({} to {}): saving of the MAC-weighted mean E\n", studies.size(),
             first_seed, first_seed + studies.size() - 1);
  const Json j = to_json(studies, first_seed);
  for (std::size_t t = 0; t < studies.front().targets.size(); ++t)
    fmt::print("    -{:.0f} pt: {:.1f}% +- {:.1f}%\n", 100 * studies.front().targets[t].drop,
               100 * j["saving_fraction_mean"][t].get<double>(),
               100 * j["saving_fraction_std"][t].get<double>());
}

void write_seeds(const PrecisionCommand& o, const Settings& settings,
                 const std::vector<PrecisionStudy>& studies) {
  for (const auto& st : studies)
    if (!st.complete)
      throw Interrupted(fmt::format("precision interrupted during seed {} of {}; nothing written",
                                    &st - studies.data() + 1, o.seeds));
  if (!o.output.out.empty())
    write_precision_file(studies, o.spec.seed, settings, o.output.out, o.output.force,
                         command_line());
  if (o.common.json)
    print_json(to_json(studies, o.spec.seed));
  else
    print_seeds(studies, o.spec.seed);
}

void run_precision(PrecisionCommand o) {
  check_precision_spec(o.spec);
  check_seeds(o.seeds);
  if (!o.output.out.empty() && mpi::rank() == 0)
    h5::check_output_path(o.output.out, o.output.force);
  const Settings settings = load_settings(o.common);
  const LoadedNetwork net = load_network(o.network, true);
  mpi::agree("");
  o.spec.seed = o.common.seed;
  if (stderr_is_terminal() && mpi::rank() == 0)
    o.spec.on_step = [](int step, int steps, double loss) {
      if (step % 50 == 0 || step == steps)
        fmt::print(stderr, "\rlearning precision: step {}/{}, loss {:.4f}   ", step, steps, loss);
      if (step == steps) fmt::print(stderr, "\n");
    };
  // Under mpirun the seeds are spread over the ranks (one seed runs on rank 0).
  const std::vector<PrecisionStudy> studies =
      mpi::run_precision_studies(net, settings, o.spec, o.seeds);
  if (mpi::rank() != 0) return;
  if (o.seeds > 1) {
    write_seeds(o, settings, studies);
    return;
  }
  const PrecisionStudy& st = studies.front();
  if (!st.complete) {
    // Keep what was learned: OUT.partial holds the learning curve and the learned energies.
    const std::string partial = o.output.out + ".partial";
    if (!o.output.out.empty()) write_precision_file(st, settings, partial, true, command_line());
    throw Interrupted(fmt::format("precision interrupted after {} of {} learning steps; {}",
                                  st.learned.curve.loss.size(), o.spec.steps,
                                  o.output.out.empty()
                                      ? "pass --out F.h5 to keep the energies learned so far"
                                      : "the energies learned so far are in '" + partial + "'"));
  }
  if (!o.output.out.empty())
    write_precision_file(st, settings, o.output.out, o.output.force, command_line());
  if (o.common.json)
    print_json(to_json(st));
  else
    print_study(st);
}

}  // namespace

void register_precision(CLI::App& app) {
  auto* cmd = app.add_subcommand("precision",
                                 "learn per-layer precision and compare it with uniform precision");
  cmd->footer(
      "Under mpirun -np N the seeds of --seeds are spread over N processes, with the same results\n"
      "as one process (docs/cluster.md).");
  auto o = std::make_shared<PrecisionCommand>();
  PrecisionSpec& p = o->spec;
  add_common_options(*cmd, o->common);
  add_output_options(*cmd, o->output, false);
  add_network_options(*cmd, o->network, true);
  cmd->add_option("--noise", p.noise, "shot | thermal | weight | physical")->required();
  cmd->add_option("--target-drop", p.drops, "accuracy drops to compare at (default 0.01,0.02)")
      ->delimiter(',');
  cmd->add_flag("--per-channel", p.per_channel, "one energy per output channel");
  cmd->add_flag("--unconstrained", p.unconstrained,
                "loss CE + lambda ln E_avg (default: the constrained hinge)");
  cmd->add_flag("--integer-repeats", p.integer_repeats,
                "E counts repeats: round it (straight-through)");
  cmd->add_option("--steps", p.steps, "mini-batches of learning (default 1500)");
  cmd->add_option("--train-batch", p.batch, "mini-batch size (default 64)");
  cmd->add_option("--lr", p.learning_rate, "Adam learning rate (default 0.01)");
  cmd->add_option("--lambda", p.lambda,
                  "energy weight (default 2 shot/physical, 8 thermal/weight)");
  cmd->add_option("--target-energy", p.target_energy,
                  "E_target (default: the uniform energy meeting the first target)");
  cmd->add_option("--sources", p.sources, "physical mode: noise sources to keep (default all)");
  cmd->add_option("--seeds", o->seeds,
                  "repeat the study with seeds SEED .. SEED+S-1 and report the spread of the "
                  "saving (default 1; spread over the ranks under mpirun)");
  cmd->callback([o] { run_precision(*o); });
}

}  // namespace lumac::cli
