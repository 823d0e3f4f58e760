#include "app/energy_output.hpp"

#include <fmt/format.h>

namespace lumac {

Json layer_energy_json(const LayerEnergy& e) {
  Json j;
  j.insert_or_assign("name", e.name);
  j.insert_or_assign("macs", e.macs);
  j.insert_or_assign("detected_optical_aJ_per_mac", e.aJ_per_mac(e.detected_optical_J));
  j.insert_or_assign("laser_optical_aJ_per_mac", e.aJ_per_mac(e.laser_optical_J));
  j.insert_or_assign("total_aJ_per_mac", e.aJ_per_mac(e.total_J));
  j.insert_or_assign("detected_optical_J", e.detected_optical_J);
  j.insert_or_assign("laser_optical_J", e.laser_optical_J);
  j.insert_or_assign("total_J", e.total_J);
  j.insert_or_assign("adc_bits", e.adc_bits);
  Json components, components_j;
  for (std::size_t i = 0; i < energy_components.size(); ++i) {
    components.insert_or_assign(energy_components[i], e.aJ_per_mac(e.components_J[i]));
    components_j.insert_or_assign(energy_components[i], e.components_J[i]);
  }
  j.insert_or_assign("components", components);
  j.insert_or_assign("components_J", components_j);
  return j;
}

Json energy_json(const EnergyReport& r) {
  Json j = layer_energy_json(r.total);
  j.erase("adc_bits");
  toml::array layers;
  for (const auto& l : r.layers) layers.push_back(layer_energy_json(l));
  j.insert_or_assign("layers", layers);
  return j;
}

void print_energy_table(const EnergyReport& r) {
  fmt::print("energy per MAC (aJ/MAC); laser counted electrically in the total\n");
  fmt::print("{:<16}", "component");
  for (const auto& l : r.layers) fmt::print(" {:>12.12}", l.name);
  fmt::print(" {:>12}\n", r.layers.size() > 1 ? "network" : "");
  auto row = [&](const std::string& label, auto value) {
    fmt::print("{:<16}", label);
    for (const auto& l : r.layers) fmt::print(" {:>12.4g}", value(l));
    if (r.layers.size() > 1) fmt::print(" {:>12.4g}", value(r.total));
    fmt::print("\n");
  };
  for (std::size_t i = 0; i < energy_components.size(); ++i)
    row(std::string(energy_components[i]),
        [&](const LayerEnergy& l) { return l.aJ_per_mac(l.components_J[i]); });
  row("total", [](const LayerEnergy& l) { return l.aJ_per_mac(l.total_J); });
  row("laser optical", [](const LayerEnergy& l) { return l.aJ_per_mac(l.laser_optical_J); });
  row("detected optical", [](const LayerEnergy& l) { return l.aJ_per_mac(l.detected_optical_J); });
  row("MACs", [](const LayerEnergy& l) { return l.macs; });
  fmt::print("total per inference: {:.4g} J ({:.4g} MACs)\n", r.total.total_J, r.total.macs);
}

}  // namespace lumac
