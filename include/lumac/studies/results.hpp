// Printing an energy report (energy/energy_model.hpp) as a table or as JSON; shared by
// lumac energy, eval, precision and sweep.
#pragma once

#include <vector>

#include "lumac/core/json.hpp"
#include "lumac/energy/energy_model.hpp"

namespace lumac {

// The figures every study reports from an energy account, in aJ per MAC.
struct EnergyFigures {
  double detected_optical_aJ_per_mac = 0;
  double laser_optical_aJ_per_mac = 0;
  double total_aJ_per_mac = 0;
  std::vector<double> components_aJ_per_mac;  // in energy_components order
};
EnergyFigures energy_figures(const LayerEnergy& e);

// {detected_optical_aJ_per_mac, laser_optical_aJ_per_mac, total_aJ_per_mac, components,
//  macs, total_J, ...} of one layer or of the network.
Json layer_energy_json(const LayerEnergy& e);
// The network figures at top level plus `layers`, a list of layer objects.
Json energy_json(const EnergyReport& r);

}  // namespace lumac
