// The full effective configuration of a lumac run: every config section, its loading from a
// preset plus --set overrides, and its validation. See docs/config.md for every key.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "lumac/circuits/circuit_params.hpp"
#include "lumac/core/config.hpp"
#include "lumac/core/h5.hpp"
#include "lumac/energy/energy_model.hpp"

namespace lumac {

struct Settings {
  CircuitParams circuit;
  EnergyParams energy;
};

template <class V>
void visit_sections(Settings& s, V& v) {
  visit_circuit_sections(s.circuit, v);
  v.section("energy", s.energy);
}

void validate(const Settings& s);

// The folder holding presets, models and dataset notes: $LUMAC_DATA_DIR if set, else the
// source tree's data/ folder, else the installed copy (share/lumac/data).
std::filesystem::path data_dir();
// data/presets/homodyne_1550.toml.
std::filesystem::path default_preset();

// Loads `config_file` (the default preset if empty), applies each "key=value" override in
// order, then validates everything.
Settings load_settings(const std::filesystem::path& config_file,
                       const std::vector<std::string>& overrides);

// The effective config as TOML text.
std::string settings_toml(const Settings& s);

// The header of an output file (h5::write_header) for these settings.
void write_header(H5::H5Object& root, const Settings& s, const std::string& kind,
                  const std::string& command_line);

}  // namespace lumac
