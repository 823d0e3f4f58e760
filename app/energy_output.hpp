// Printing an energy report (energy/energy_model.hpp) as a table or as JSON; shared by
// lumac energy, eval, precision and sweep.
#pragma once

#include "core/json.hpp"
#include "energy/energy_model.hpp"

namespace lumac {

// {detected_optical_aJ_per_mac, laser_optical_aJ_per_mac, total_aJ_per_mac, components,
//  macs, total_J, ...} of one layer or of the network.
Json layer_energy_json(const LayerEnergy& e);
// The network figures at top level plus `layers`, a list of layer objects.
Json energy_json(const EnergyReport& r);
void print_energy_table(const EnergyReport& r);

}  // namespace lumac
