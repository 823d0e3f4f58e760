#include "lumac/studies/results.hpp"

namespace lumac {

Json layer_energy_json(const LayerEnergy& e) {
  const EnergyFigures f = energy_figures(e);
  Json j;
  j["name"] = e.name;
  j["macs"] = e.macs;
  j["detected_optical_aJ_per_mac"] = f.detected_optical_aJ_per_mac;
  j["laser_optical_aJ_per_mac"] = f.laser_optical_aJ_per_mac;
  j["total_aJ_per_mac"] = f.total_aJ_per_mac;
  j["detected_optical_J"] = e.detected_optical_J;
  j["laser_optical_J"] = e.laser_optical_J;
  j["total_J"] = e.total_J;
  j["adc_bits"] = e.adc_bits;
  if (e.enob != 0) j["enob"] = e.enob;
  j["tile_s"] = e.tile_s;
  j["laser_power_W"] = e.laser_W;
  Json components = Json::object(), components_j = Json::object();
  for (std::size_t i = 0; i < energy_components.size(); ++i) {
    const std::string name(energy_components[i]);
    components[name] = f.components_aJ_per_mac[i];
    components_j[name] = e.components_J[i];
  }
  j["components"] = components;
  j["components_J"] = components_j;
  return j;
}

Json energy_json(const EnergyReport& r) {
  Json j = layer_energy_json(r.total);
  j.erase("adc_bits");
  Json layers = Json::array();
  for (const auto& l : r.layers) {
    Json lj = layer_energy_json(l);
    lj["operands"] = l.activation_operands ? "activations" : "weights";
    layers.push_back(std::move(lj));
  }
  j["layers"] = layers;
  j["static_power_W"] = r.static_W;
  j["batch"] = r.batch;
  j["macs_per_s"] = r.macs_per_s();
  j["inferences_per_s"] = r.inferences_per_s();
  j["latency_s"] = r.latency_s();
  if (r.accuracy >= 0) j["accuracy"] = r.accuracy;
  return j;
}

EnergyFigures energy_figures(const LayerEnergy& e) {
  EnergyFigures f;
  f.detected_optical_aJ_per_mac = e.aJ_per_mac(e.detected_optical_J);
  f.laser_optical_aJ_per_mac = e.aJ_per_mac(e.laser_optical_J);
  f.total_aJ_per_mac = e.aJ_per_mac(e.total_J);
  for (double c : e.components_J) f.components_aJ_per_mac.push_back(e.aJ_per_mac(c));
  return f;
}

}  // namespace lumac
