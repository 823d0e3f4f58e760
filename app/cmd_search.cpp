// `lumac search`: the least favourable value of one config key at which a network still meets
// a target accuracy (studies/search.hpp).
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/study_options.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/studies/search.hpp"

namespace lumac::cli {

namespace {

struct SearchCommand {
  CommonOptions common;
  SearchSpec spec;
  std::string csv;
  bool force = false;
};

void print_result(const SearchResult& r) {
  const std::string unit = r.unit == "1" ? "" : " " + r.unit;
  fmt::print("lumac search: {} ({} is better) for accuracy >= {:.4f} (clean {:.4f}), {} seed(s)\n",
             r.key, r.better, r.target_accuracy, r.clean_accuracy, r.seeds);
  for (const auto& p : r.evaluations)
    fmt::print("  {} = {:<12.6g} accuracy {:.4f}{}{}\n", r.key, p.value, p.accuracy_mean,
               r.seeds > 1 ? fmt::format(" +- {:.4f}", p.accuracy_std) : "",
               p.accuracy_mean >= r.target_accuracy ? "  meets" : "");
  if (!r.reached) {
    fmt::print("  no value tried meets the target{}\n", r.hint.empty() ? "" : "; " + r.hint);
    return;
  }
  fmt::print(
      "  result: {} = {:.6g}{}, accuracy {:.4f}{}\n", r.key, r.found.value, unit,
      r.found.accuracy_mean,
      r.seeds > 1 ? fmt::format(" +- {:.4f} over {} seeds", r.found.accuracy_std, r.seeds) : "");
  if (r.bracketed)
    fmt::print("  resolution: {:.6g}{} misses the target ({})\n", r.missed_value, unit,
               r.integer
                   ? "one step away"
                   : fmt::format("a factor {:.3g} away", std::max(r.missed_value / r.found.value,
                                                                  r.found.value / r.missed_value)));
  else
    fmt::print("  every value tried meets the target (the search stopped at its limit)\n");
  fmt::print(
      "  energy per MAC there: detected optical {:.4g} aJ, laser optical {:.4g} aJ, total {:.4g} "
      "aJ\n",
      r.energy.detected_optical_aJ_per_mac, r.energy.laser_optical_aJ_per_mac,
      r.energy.total_aJ_per_mac);
}

void run_search_command(SearchCommand o) {
  o.spec.seed = o.common.seed;
  if (!o.csv.empty()) h5::check_output_path(o.csv, o.force);
  const SearchResult r = run_search(o.spec, load_settings(o.common));
  if (!o.csv.empty()) write_csv(to_csv(r), o.csv, o.force);
  if (o.common.json)
    print_json(to_json(r));
  else
    print_result(r);
}

}  // namespace

void register_search(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "search", "the least favourable value of a config key that keeps a target accuracy");
  auto o = std::make_shared<SearchCommand>();
  add_common_options(*cmd, o->common);
  add_network_options(*cmd, o->spec.network, true);
  add_hardware_options(*cmd, o->spec.hardware);
  cmd->add_option("--param", o->spec.key, "the config key to search, e.g. laser.power_W")
      ->required();
  cmd->add_option("--target-drop", o->spec.target_drop,
                  "accuracy drop from the clean accuracy to keep (default 0.01)");
  cmd->add_option("--better", o->spec.better,
                  "higher (default: accuracy grows with the key) | lower (e.g. a noise density)");
  cmd->add_option("--seeds", o->spec.seeds, "evaluate every value with S seeds (default 1)");
  cmd->add_option("--resolution", o->spec.tolerance_ratio,
                  "real keys: stop when the bracket's ratio is at most this (default 1.05)");
  cmd->add_option("--csv", o->csv, "also write every evaluated value to this CSV file");
  cmd->add_flag("--force", o->force, "overwrite an existing CSV file");
  cmd->callback([o, cmd] {
    settle_noise(*cmd, o->spec.hardware, o->common.sets);
    run_search_command(*o);
  });
}

}  // namespace lumac::cli
