// `lumac sweep`: a grid over config keys; at each point the precision and energy of the
// circuit (--fan-in) or the accuracy, per-layer ENOB and energy of a network (--model), written
// point by point to HDF5 (studies/sweep.hpp, docs/sweep_file.md).
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/progress.hpp"
#include "app/study_options.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/studies/sweep.hpp"
#include "mpi/distributed.hpp"
#include "mpi/world.hpp"

namespace lumac::cli {

namespace {

struct SweepCommand {
  CommonOptions common;
  OutputOptions output;
  SweepSpec spec;
  bool resume = false;
  std::string csv;
};

// The options of both kinds of sweep: --photons-per-mac, --repeats and --sources set the
// circuit of a circuit sweep and act per layer in a network sweep.
SweepSpec effective_spec(const SweepCommand& o) {
  SweepSpec s = o.spec;
  s.seed = o.common.seed;
  if (s.network_mode()) move_circuit_shortcuts(s.circuit, s.hardware);
  return s;
}

// One column of the printed table: its header and a width that holds both the header and the
// numbers (columns are separated by two spaces, so headers never run together or get cut).
struct Column {
  std::string header;
  std::size_t width;
  Column(std::string h, std::size_t numbers)
      : header(std::move(h)), width(std::max(header.size(), numbers)) {}
};

void print_table(const SweepResults& r, const std::string& out) {
  std::vector<Column> cols;
  for (const auto& a : r.grid.axes) cols.emplace_back(a.key, 11);
  const bool spread = r.seeds > 1;
  if (r.seeds > 0) cols.emplace_back(spread ? "accuracy +- std" : "accuracy", spread ? 16 : 8);
  for (const auto& l : r.layer_names) cols.emplace_back("enob " + l, 7);
  for (const auto& e : r.extra_names) cols.emplace_back(e, 7);
  cols.emplace_back("detected aJ/MAC", 11);
  cols.emplace_back("total aJ/MAC", 11);
  std::string line;
  for (const auto& c : cols)
    line += fmt::format("{}{:>{}}", line.empty() ? "" : "  ", c.header, c.width);
  fmt::print("{}\n", line);
  for (std::int64_t i = 0; i < r.grid.points(); ++i) {
    const PointResult& p = r.points[static_cast<std::size_t>(i)];
    std::vector<std::string> cells;
    const auto at = r.grid.point_indices(i);
    for (std::size_t k = 0; k < at.size(); ++k) {
      const SweepAxis& a = r.grid.axes[k];
      cells.push_back(a.text() ? a.labels[at[k]] : fmt::format("{:.6g}", a.values[at[k]]));
    }
    if (r.seeds > 0) {
      const AccuracyStats a = accuracy_stats(p.accuracy);
      cells.push_back(spread ? fmt::format("{:.4f} +- {:.4f}", a.mean, a.std)
                             : fmt::format("{:.4f}", a.mean));
    }
    for (double e : p.enob) cells.push_back(fmt::format("{:.3f}", e));
    for (double e : p.extra) cells.push_back(fmt::format("{:.3f}", e));
    cells.push_back(fmt::format("{:.5g}", p.detected_optical_aJ_per_mac));
    cells.push_back(fmt::format("{:.5g}", p.total_aJ_per_mac));
    line.clear();
    for (std::size_t c = 0; c < cells.size(); ++c)
      line += fmt::format("{}{:>{}}", c ? "  " : "", cells[c], cols[c].width);
    fmt::print("{}\n", line);
  }
  fmt::print("results: {}\n", out);
}

// The partial file of an earlier run: resumed, refused, or (with --force) started over.
void open_partial(const SweepCommand& o, SweepResults& r, const std::filesystem::path& partial) {
  std::error_code ec;
  if (o.resume) {
    if (!std::filesystem::exists(partial, ec))
      fail("nothing to resume: '{}' does not exist", partial.string());
    read_partial_sweep(r, partial);
  } else if (std::filesystem::exists(partial, ec) && !o.output.force) {
    fail("'{}' holds an interrupted sweep: pass --resume to continue it or --force to start over",
         partial.string());
  }
}

// Computes the points not yet done (spread over the ranks under mpirun), writing the partial
// file after each; a failed rank's error says where the finished points are.
void compute_points(const SweepCommand& o, const SweepSpec& spec, const Settings& base,
                    const std::optional<LoadedNetwork>& net, SweepResults& r,
                    const std::filesystem::path& partial) {
  // The progress bar ends (its line closed) before anything else is printed.
  Progress progress(r.grid.points(), "sweep", r.finished());
  bool writing = false;  // an error while writing the partial file is reported as it is
  try {
    mpi::run_sweep_points(
        spec, base, net, r,
        [&] {
          writing = true;
          write_sweep_file(r, partial, false);
          writing = false;
          progress.update(r.finished());
        },
        [] { return stop_requested(); });
  } catch (const Error& e) {
    if (writing || (r.finished() == 0 && !o.resume)) throw;
    fail("{}; the {} finished points are kept in '{}'; resume with: {} --resume", e.what(),
         r.finished(), partial.string(), r.command_line);
  }
}

void run_sweep(const SweepCommand& o) {
  const Settings base = load_settings(o.common);
  const SweepSpec spec = effective_spec(o);
  SweepResults r;
  std::optional<LoadedNetwork> net;
  prepare_sweep(spec, base, command_line(), r, net);
  const std::filesystem::path out = o.output.out, partial = partial_path(out);
  if (mpi::rank() == 0) {
    h5::check_output_path(out, o.output.force);
    if (!o.csv.empty()) h5::check_output_path(o.csv, o.output.force);
    open_partial(o, r, partial);
  }
  mpi::agree("");
  if (mpi::rank() != 0) {
    mpi::run_sweep_points(spec, base, net, r, {}, {});
    return;
  }
  compute_points(o, spec, base, net, r, partial);
  if (r.finished() < r.grid.points()) {
    if (r.finished() == 0 && !o.resume)
      throw Interrupted(
          fmt::format("sweep interrupted before its first point finished; nothing "
                      "was written"));
    throw Interrupted(
        fmt::format("sweep interrupted after {} of {} points; they are kept in '{}'; "
                    "resume with: {} --resume",
                    r.finished(), r.grid.points(), partial.string(), r.command_line));
  }
  write_sweep_file(r, out, true);
  if (!o.csv.empty()) write_csv(to_csv(r), o.csv, o.output.force);
  std::error_code ec;
  std::filesystem::remove(partial, ec);
  if (o.common.json)
    print_json(to_json(r, out.string()));
  else
    print_table(r, out.string());
}

}  // namespace

void register_sweep(CLI::App& app) {
  auto* cmd = app.add_subcommand("sweep", "sweep config keys over a grid; write results to HDF5");
  cmd->footer(
      "Under mpirun -np N the points are handed out to N processes, with the same file as one\n"
      "process (docs/cluster.md).");
  auto o = std::make_shared<SweepCommand>();
  HardwareSpec& hw = o->spec.hardware;
  add_common_options(*cmd, o->common);
  add_output_options(*cmd, o->output, true);
  add_circuit_options(*cmd, o->spec.circuit, false);
  add_network_options(*cmd, o->spec.network, false);
  cmd->add_option("--noise", hw.noise,
                  "network sweeps: none | shot | thermal | weight | physical (default) | enob");
  cmd->add_option("--seeds", o->spec.seeds, "network sweeps: evaluate every point with S seeds");
  cmd->add_option("--energy-per-layer", hw.energy_per_layer, "network sweeps: E per layer")
      ->delimiter(',');
  cmd->add_option("--repeats-per-layer", hw.repeats_per_layer, "network sweeps: K per layer")
      ->delimiter(',');
  cmd->add_option("--enob", hw.enob, "network sweeps, enob mode: ENOB of every layer");
  cmd->add_option("--param", o->spec.axes, "axis KEY=START:STOP:N[:log] (repeatable: a grid)");
  cmd->add_option("--monte-carlo", o->spec.monte_carlo,
                  "circuit sweeps: also a Monte Carlo ENOB with S samples (at most 1e8)");
  cmd->add_flag("--time-domain", o->spec.time_domain,
                "circuit sweeps: also a time-domain ENOB (runs: --monte-carlo, default 200)");
  cmd->add_flag("--resume", o->resume, "continue an interrupted sweep from OUT.partial");
  cmd->add_option("--csv", o->csv, "also write the results as CSV, one row per point");
  cmd->callback([o, cmd] {
    if (o->spec.network_mode()) settle_noise(*cmd, o->spec.hardware, o->common.sets, o->spec.axes);
    run_sweep(*o);
  });
}

}  // namespace lumac::cli
