// `lumac energy`: the energy account per layer and per component (energy/energy_model.hpp),
// for one dot product of --fan-in N on a full tile.
#include <fmt/format.h>

#include "app/circuit_options.hpp"
#include "app/cli_common.hpp"
#include "app/commands.hpp"
#include "app/energy_output.hpp"
#include "app/network_eval.hpp"
#include "nn/model_file.hpp"

namespace lumac {

namespace {

struct EnergyCommand {
  CommonOptions common;
  CircuitOptions circuit;
  NetworkOptions network;
  HardwareCli hardware;
};

// The network's energy; the read-out ENOB (for energy.adc_resolution = matched) is measured on
// the first --limit test images (default 200).
EnergyReport model_energy(const EnergyCommand& o, Settings& s) {
  if (o.circuit.fan_in != 0) fail("--fan-in and --model exclude each other");
  // --photons-per-mac and --repeats act per layer; --averaging and --encoding on the circuit.
  HardwareCli cli = o.hardware;
  cli.photons_per_mac = o.circuit.photons_per_mac;
  cli.repeats = o.circuit.repeats;
  CircuitOptions circuit = o.circuit;
  circuit.photons_per_mac.reset();
  circuit.repeats.reset();
  s.circuit = apply_circuit_options(s.circuit, circuit);
  HardwareOptions h;
  NetworkOptions n = o.network;
  const bool measure = s.energy.adc_resolution == AdcResolution::matched;
  if (measure && n.limit == 0) n.limit = 200;
  if (!measure) {
    const nn::Model model = nn::load_model(n.model);
    h = resolve_hardware(cli, model, s.circuit);
    return network_energy(model, s, h, {});
  }
  const LoadedNetwork net =
      load_network(n, false, [&](const nn::Model& m) { h = resolve_hardware(cli, m, s.circuit); });
  return evaluate_on_hardware(net, s, h, o.common.seed, 1).energy;
}

void run_energy(const EnergyCommand& o) {
  Settings s = load_settings(o.common);
  if (!o.network.model.empty()) {
    const EnergyReport report = model_energy(o, s);
    if (o.common.json)
      print_json(energy_json(report));
    else
      print_energy_table(report);
    return;
  }
  if (o.circuit.fan_in < 1) fail("lumac energy needs --model F.h5 or --fan-in N (>= 1)");
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
  add_network_options(*cmd, o->network, false);
  o->hardware.noise = "physical";
  cmd->add_option("--noise", o->hardware.noise,
                  "with --model: where photons per MAC come from: physical (default, the laser "
                  "budget) or shot (E)");
  cmd->add_option("--energy-per-layer", o->hardware.energy_per_layer, "E per layer")
      ->delimiter(',');
  cmd->add_option("--repeats-per-layer", o->hardware.repeats_per_layer, "K per layer")
      ->delimiter(',');
  cmd->callback([o] { run_energy(*o); });
}

}  // namespace lumac
