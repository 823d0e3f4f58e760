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
  for (const auto& l : r.layers) layers.push_back(layer_energy_json(l));
  j["layers"] = layers;
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
