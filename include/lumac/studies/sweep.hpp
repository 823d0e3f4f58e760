// Parameter sweeps (lumac sweep): a grid over config keys, evaluated point by point, with the
// results kept in an HDF5 file that survives interruption (docs/sweep_file.md).
//
// While a sweep runs, every finished point is in `<out>.partial`, a complete HDF5 file that is
// rewritten under a temporary name and renamed after each point, so a killed run keeps every
// finished point; `--resume` continues it (after checking that it came from the same sweep) and
// the final file, renamed to `<out>` when the last point is done, is the one an uninterrupted
// run writes.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <functional>

#include "lumac/core/csv.hpp"
#include "lumac/core/json.hpp"
#include "lumac/studies/circuit_study.hpp"
#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/network.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

// One axis: KEY=START:STOP:N[:log] (a numeric key), or a list KEY=V1,V2,... of the values of
// any key: numbers, true/false, or the names of a choice.
struct SweepAxis {
  std::string key;
  std::string unit;
  std::vector<double> values;  // numeric keys: the values; booleans and choices: 0, 1, ...
  bool log = false;
  bool integer = false;             // an integer key
  std::vector<std::string> labels;  // booleans and choices: the value names (else empty)
  bool text() const { return !labels.empty(); }
  // The value of point `i` along this axis as written in a config (a number or a name).
  std::string value_text(std::size_t i) const;
};

// Parses an axis and checks it against the config keys.
SweepAxis parse_axis(const std::string& text, const Settings& base);

// The grid: points in row-major order (the first axis varies slowest).
struct SweepGrid {
  std::vector<SweepAxis> axes;
  std::int64_t points() const;
  std::vector<double> point(std::int64_t index) const;               // one value per axis
  std::vector<std::size_t> point_indices(std::int64_t index) const;  // index along each axis
  // The settings of a point (base + the point's values, validated).
  Settings settings(const Settings& base, std::int64_t index) const;
};

// What one point produced.
struct PointResult {
  std::vector<double> accuracy;  // one per seed (model sweeps)
  std::vector<double> enob;      // one per layer
  double detected_optical_aJ_per_mac = 0;
  double laser_optical_aJ_per_mac = 0;
  double total_aJ_per_mac = 0;
  std::vector<double> energy_components;  // aJ/MAC, in energy_components order
  std::vector<double> extra;              // named extra scalars (SweepResults::extra_names)
};

// All results of a sweep, finished or not.
struct SweepResults {
  SweepGrid grid;
  std::int64_t seeds = 0;  // accuracy columns (0 for circuit sweeps)
  std::vector<std::string> layer_names;
  std::vector<std::string> extra_names;  // e.g. enob_monte_carlo
  std::vector<std::uint8_t> done;
  std::vector<PointResult> points;
  // Root attributes.
  std::string signature;  // everything that determines the numbers
  std::string command_line;
  std::string config_toml;
  std::vector<KeyInfo> config_keys;
  std::vector<std::pair<std::string, std::string>> text_attributes;
  std::vector<std::pair<std::string, double>> number_attributes;

  void init(std::int64_t seeds_, std::vector<std::string> layers, std::vector<std::string> extras);
  std::int64_t finished() const;
};

// Writes the results (complete or partial) to `path` through a temporary name and a rename.
void write_sweep_file(const SweepResults& r, const std::filesystem::path& path, bool complete);
// Reads a partial file back into `r` (whose grid, seeds, layers and extras are already set),
// with the command line of the run that started it (so a resumed sweep writes the same file as
// an uninterrupted one); lumac::Error if the file is not a partial sweep with the same signature.
void read_partial_sweep(SweepResults& r, const std::filesystem::path& path);

std::filesystem::path partial_path(const std::filesystem::path& out);

// What a sweep runs: axes over config keys, and either one dot product (circuit.fan_in > 0)
// or a network (network.model set) at every point.
struct SweepSpec {
  std::vector<std::string> axes;  // KEY=START:STOP:N[:log]
  // Circuit sweeps: the dot product, with optional Monte Carlo and time-domain ENOBs. In
  // network sweeps only its encoding and averaging apply (to the circuit of every point).
  CircuitSpec circuit;
  std::int64_t monte_carlo = 0;
  bool time_domain = false;
  // Network sweeps.
  NetworkSpec network;
  HardwareSpec hardware;
  int seeds = 1;
  std::uint64_t seed = 1;
  bool network_mode() const { return !network.model.empty(); }
};

// The spec as JSON: every field, for the resume signature and the file's attributes.
Json to_json(const SweepSpec& spec);

// Prepares a sweep: parses the axes, checks every point is a valid configuration (for network
// sweeps, after loading the model and before reading the dataset) and fills `results` (its
// grid, columns, attributes and the signature: the whole spec, the effective config and, for
// network sweeps, the model file's digest). `net` receives the loaded network.
void prepare_sweep(const SweepSpec& spec, const Settings& base, const std::string& command_line,
                   SweepResults& results, std::optional<LoadedNetwork>& net);

// Computes point `index` of the grid (every shell and every MPI rank computes a point this
// way, so a point's numbers do not depend on where it ran). Throws lumac::Interrupted on a stop
// request and lumac::Error if the point fails.
PointResult compute_sweep_point(const SweepSpec& spec, const Settings& base,
                                const std::optional<LoadedNetwork>& net, const SweepGrid& grid,
                                std::int64_t index);

// A point's results as one flat array of doubles and back (exact: the MPI drivers send points
// between ranks this way). `unpack_point` checks the sizes against the sweep's columns.
std::vector<double> pack_point(const PointResult& p);
PointResult unpack_point(const std::vector<double>& packed, const SweepResults& results);

// The values of point `index` as "key=value, key=value" (for messages about a point).
std::string describe_point(const SweepGrid& grid, std::int64_t index);

// Computes every point not yet done, in order, calling `after_point` when one is finished
// (the shell writes the partial file there) and stopping early when `stop` returns true or a
// stop is requested during a point (core/interrupt.hpp: that point is discarded).
void run_sweep_points(const SweepSpec& spec, const Settings& base,
                      const std::optional<LoadedNetwork>& net, SweepResults& results,
                      const std::function<void()>& after_point, const std::function<bool()>& stop);

// The results' JSON form (lumac sweep --json).
Json to_json(const SweepResults& results, const std::string& out);
// One row per point: the axis values, the accuracy (mean, std and per seed), the ENOB of every
// layer, the extra ENOBs and the energies per MAC.
CsvTable to_csv(const SweepResults& results);

}  // namespace lumac
