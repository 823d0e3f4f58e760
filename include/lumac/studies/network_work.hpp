// The energy account's view of a network (energy/energy_model.hpp): one LayerWork per
// matrix-product layer of a model, with its repeats, detected photons per MAC and read-out ENOB.
#pragma once

#include <vector>

#include "lumac/energy/energy_model.hpp"
#include "lumac/nn/model.hpp"

namespace lumac {

// `repeats`, `photons_per_mac` and `readout_enob` have one value per matrix-product layer
// (or are empty: 1 repeat, 0 photons, 0 bits).
std::vector<LayerWork> network_work(const nn::Model& model, const std::vector<double>& repeats,
                                    const std::vector<double>& photons_per_mac,
                                    const std::vector<double>& readout_enob);

}  // namespace lumac
