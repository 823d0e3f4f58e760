// Command-line options that fill the study layer's specs (studies/): the dot product of the
// circuit commands, the network and its hardware.
#pragma once

#include <CLI/CLI.hpp>

#include "lumac/studies/circuit_study.hpp"
#include "lumac/studies/evaluation.hpp"
#include "lumac/studies/network.hpp"

namespace lumac::cli {

// --fan-in, --photons-per-mac, --repeats, --encoding, --averaging, --sources, --vectors, --range.
void add_circuit_options(CLI::App& cmd, CircuitSpec& o, bool fan_in_required);
// --model, --dataset, --limit, --batch.
void add_network_options(CLI::App& cmd, NetworkSpec& o, bool model_required);
// --noise, --photons-per-mac, --energy-per-layer, --repeats, --repeats-per-layer, --enob,
// --enob-per-layer, --bits, --sources.
void add_hardware_options(CLI::App& cmd, HardwareSpec& o);

// After parsing: --bits without --noise selects the digital baseline (noise none); under an
// explicit --noise other than physical, every --set of a device or system key (--device-seed
// included) and every sweep axis over one gets a warning on stderr that it does not change the
// accuracy.
void settle_noise(const CLI::App& cmd, HardwareSpec& o, const std::vector<std::string>& sets,
                  const std::vector<std::string>& axes = {});

}  // namespace lumac::cli
