#include <fmt/format.h>

#include <algorithm>

#include "app/cli_common.hpp"

namespace lumac::cli {

void print_energy_table(const EnergyReport& r) {
  fmt::print(
      "energy per MAC (aJ/MAC); laser counted electrically in the total; ENOB: what the layer's "
      "read-out buys\n");
  // Columns as wide as the longest node name (imported graphs name nodes "blocks.0.attn_2"):
  // a name is never cut.
  std::size_t w = 12;
  for (const auto& l : r.layers) w = std::max(w, l.name.size());
  fmt::print("{:<16}", "component");
  for (const auto& l : r.layers) fmt::print(" {:>{}}", l.name, w);
  fmt::print(" {:>{}}\n", r.layers.size() > 1 ? "network" : "", w);
  auto row = [&](const std::string& label, auto value) {
    fmt::print("{:<16}", label);
    for (const auto& l : r.layers) fmt::print(" {:>{}.4g}", value(l), w);
    if (r.layers.size() > 1) fmt::print(" {:>{}.4g}", value(r.total), w);
    fmt::print("\n");
  };
  for (std::size_t i = 0; i < energy_components.size(); ++i)
    row(std::string(energy_components[i]),
        [&](const LayerEnergy& l) { return l.aJ_per_mac(l.components_J[i]); });
  row("total", [](const LayerEnergy& l) { return l.aJ_per_mac(l.total_J); });
  row("laser optical", [](const LayerEnergy& l) { return l.aJ_per_mac(l.laser_optical_J); });
  row("detected optical", [](const LayerEnergy& l) { return l.aJ_per_mac(l.detected_optical_J); });
  row("MACs", [](const LayerEnergy& l) { return l.macs; });
  fmt::print("{:<16}", "ENOB (bits)");
  for (const auto& l : r.layers)
    fmt::print(" {:>{}}", l.enob != 0 ? fmt::format("{:.4g}", l.enob) : std::string("-"), w);
  if (r.layers.size() > 1) fmt::print(" {:>{}}", "-", w);
  fmt::print("\n");
  row("laser power (W)", [](const LayerEnergy& l) { return l.laser_W; });
  fmt::print("total per inference: {:.4g} J ({:.4g} MACs){}\n", r.total.total_J, r.total.macs,
             r.accuracy >= 0 ? fmt::format(" at accuracy {:.4f}", r.accuracy) : std::string());
  fmt::print(
      "tile of {} row(s): {:.4g} MAC/s effective (idle outputs counted), {:.4g} inferences/s, "
      "latency {:.4g} s per batch; static "
      "{:.4g} W\n",
      r.batch, r.macs_per_s(), r.inferences_per_s(), r.latency_s(), r.static_W);
}

}  // namespace lumac::cli
