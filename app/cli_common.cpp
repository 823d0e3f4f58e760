#include "app/cli_common.hpp"

#include <fmt/format.h>

#include <cstdio>

namespace lumac::cli {

void add_common_options(CLI::App& cmd, CommonOptions& o) {
  cmd.add_option("--config", o.config, "TOML preset (default: data/presets/homodyne_1550.toml)");
  cmd.add_option("--set", o.sets, "override a config key: section.key=value (repeatable)")
      ->allow_extra_args(false);
  cmd.add_option("--seed", o.seed, "random seed, a whole number >= 0 (default 1)")
      ->check(
          [](const std::string& v) {
            return v.rfind('-', 0) == 0 ? "must be a whole number >= 0 (got " + v + ")"
                                        : std::string();
          },
          "SEED >= 0");
  cmd.add_option_function<std::string>(
         "--device-seed",
         [&o](const std::string& v) { o.sets.push_back("system.device_seed=" + v); },
         "the chip whose static device spreads are drawn, a whole number >= 0 (same as --set "
         "system.device_seed=N; the default 0 draws a new chip per noise seed or Monte Carlo "
         "sample)")
      ->type_name("UINT");
  cmd.add_flag("--json", o.json, "machine-readable JSON on stdout");
}

void add_output_options(CLI::App& cmd, OutputOptions& o, bool required) {
  auto* opt = cmd.add_option("--out", o.out, "output HDF5 file");
  if (required) opt->required();
  cmd.add_flag("--force", o.force, "overwrite an existing output file");
}

Settings load_settings(const CommonOptions& o) {
  return lumac::load_settings(o.config, o.sets);
}

namespace {
std::string& command_line_storage() {
  static std::string line;
  return line;
}
}  // namespace

void set_command_line(int argc, char** argv) {
  std::string& line = command_line_storage();
  line.clear();
  for (int i = 0; i < argc; ++i) line += (i ? " " : "") + std::string(argv[i]);
}

const std::string& command_line() {
  return command_line_storage();
}

void print_json(const Json& object) {
  fmt::print("{}\n", to_json(object));
}

void print_figures(const std::string& title, const std::vector<Figure>& figures) {
  fmt::print("{}\n", title);
  std::size_t width = 0;
  for (const auto& f : figures) width = std::max(width, f.what.size());
  for (const auto& f : figures)
    fmt::print("  {:<{}}  {:>12.5g} {}\n", f.what, width, f.value, f.unit);
}

}  // namespace lumac::cli
