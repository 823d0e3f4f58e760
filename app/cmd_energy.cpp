// `lumac energy`: the energy account per layer and per component (energy/energy_model.hpp),
// for one dot product of --fan-in N on a full tile.
#include <fmt/format.h>

#include "app/circuit_options.hpp"
#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/energy_output.hpp"

namespace lumac {

namespace {

struct EnergyCommand {
  CommonOptions common;
  CircuitOptions circuit;
};

void run_energy(const EnergyCommand& o) {
  const Settings s = load_settings(o.common);
  if (o.circuit.fan_in < 1)
    fail("--fan-in = {}: must be >= 1 (lumac energy needs --fan-in)", o.circuit.fan_in);
  const CircuitParams params = apply_circuit_options(s.circuit, o.circuit);
  const DotProduct dp = circuit_dot_product(o.circuit, o.common.seed);
  const LayerWork w = dot_product_work(params, dp, parse_sources(o.circuit));
  const EnergyReport report = energy_report(params, s.energy, {w});
  if (o.common.json)
    print_json(energy_json(report));
  else
    print_energy_table(report);
}

}  // namespace

void register_energy(CLI::App& app) {
  auto* cmd = app.add_subcommand(
      "energy", "energy per MAC by component and layer (aJ/MAC, optical and total)");
  auto o = std::make_shared<EnergyCommand>();
  add_common_options(*cmd, o->common);
  add_circuit_options(*cmd, o->circuit, false);
  cmd->callback([o] { run_energy(*o); });
}

}  // namespace lumac
