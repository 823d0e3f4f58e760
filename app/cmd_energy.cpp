// `lumac energy`: the energy account per layer and per component (energy/energy_model.hpp),
// for a model or for one dot product of --fan-in N on a full tile.
#include <fmt/format.h>

#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/study_options.hpp"
#include "lumac/studies/results.hpp"

namespace lumac::cli {

namespace {

struct EnergyCommand {
  CommonOptions common;
  CircuitSpec circuit;
  NetworkSpec network;
  HardwareSpec hardware;
};

EnergyReport model_energy(const EnergyCommand& o, Settings s) {
  if (o.circuit.fan_in != 0) fail("--fan-in and --model exclude each other");
  HardwareSpec hardware = o.hardware;
  CircuitSpec circuit = o.circuit;
  move_circuit_shortcuts(circuit, hardware);
  s.circuit = apply_circuit_spec(s.circuit, circuit);
  return model_energy_report(o.network, hardware, s, o.common.seed);
}

EnergyReport circuit_energy(const EnergyCommand& o, const Settings& s) {
  if (o.circuit.fan_in < 1) fail("lumac energy needs --model F.h5 or --fan-in N (>= 1)");
  return circuit_energy_report(s, o.circuit, o.common.seed);
}

void run_energy(const EnergyCommand& o) {
  const Settings s = load_settings(o.common);
  const EnergyReport report = o.network.model.empty() ? circuit_energy(o, s) : model_energy(o, s);
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
  add_network_options(*cmd, o->network, false);
  // energy scores the accuracy beside the energy on 200 test samples unless told otherwise
  cmd->get_option("--limit")->description(
      "with --model: the accuracy next to the energy is scored on the first N test samples "
      "(default, or 0: 200)");
  cmd->add_option("--noise", o->hardware.noise,
                  "with --model: where photons per MAC come from: physical (default, the laser "
                  "budget) or shot (E)");
  cmd->add_option("--energy-per-layer", o->hardware.energy_per_layer, "E per layer")
      ->delimiter(',');
  cmd->add_option("--repeats-per-layer", o->hardware.repeats_per_layer, "K per layer")
      ->delimiter(',');
  cmd->callback([o] { run_energy(*o); });
}

}  // namespace lumac::cli
