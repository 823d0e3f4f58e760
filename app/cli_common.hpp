// Options every lumac command shares (DESIGN.md "Command line contract"): --config, repeatable
// --set, --seed, --json, and for commands that write data --out and --force.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

#include "lumac/core/interrupt.hpp"
#include "lumac/core/json.hpp"
#include "lumac/energy/energy_model.hpp"
#include "lumac/studies/device_figures.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac::cli {

inline constexpr std::uint64_t default_seed = 1;

struct CommonOptions {
  std::string config;             // preset file; empty means the default preset
  std::vector<std::string> sets;  // "section.key=value" overrides, applied in order
  std::uint64_t seed = default_seed;
  bool json = false;
};

struct OutputOptions {
  std::string out;
  bool force = false;
};

void add_common_options(CLI::App& cmd, CommonOptions& o);
void add_output_options(CLI::App& cmd, OutputOptions& o, bool required);

// Loads and validates the settings the options describe.
Settings load_settings(const CommonOptions& o);

// The command line of this run, for output files.
void set_command_line(int argc, char** argv);
const std::string& command_line();

// Prints a JSON object on stdout.
void print_json(const Json& object);

void print_figures(const std::string& title, const std::vector<Figure>& figures);

// An energy report as a table of aJ/MAC by component and layer (app/energy_table.cpp).
void print_energy_table(const EnergyReport& r);

}  // namespace lumac::cli
