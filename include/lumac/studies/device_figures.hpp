// The derived figures of every device of a config (PHYSICS.md §6): what `lumac devices` prints
// and the Python module's lumac.devices() returns.
#pragma once

#include <string>
#include <vector>

#include "lumac/core/json.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

// One named figure with its unit.
struct Figure {
  std::string key;  // JSON key, unit in the name
  double value;
  std::string unit;
  std::string what;  // description for the table
};

std::vector<Figure> device_figures(const Settings& s);

// {key: value} of the figures (lumac devices --json).
Json to_json(const std::vector<Figure>& figures);

}  // namespace lumac
