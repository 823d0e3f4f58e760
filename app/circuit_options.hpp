// Options of the circuit-level commands (enob, trace, and energy and sweep without a model):
// the dot product to run and shortcuts for the system keys a study changes most.
#pragma once

#include <CLI/CLI.hpp>

#include <optional>
#include <string>

#include "app/settings.hpp"
#include "circuits/homodyne_mac.hpp"
#include "circuits/vectors.hpp"
#include "energy/energy_model.hpp"

namespace lumac {

struct CircuitOptions {
  std::int64_t fan_in = 0;
  std::optional<double> photons_per_mac;  // sets laser.power_W
  std::optional<int> repeats;             // system.repeats
  std::string encoding;                   // system.encoding
  std::string averaging;                  // system.averaging
  std::string sources = "all";
  std::string vectors = "uniform";
  double range = 0;  // 0: Cauchy-Schwarz
};

void add_circuit_options(CLI::App& cmd, CircuitOptions& o, bool fan_in_required);

// Applies the shortcuts to the circuit parameters (after --set; they win) and validates.
CircuitParams apply_circuit_options(CircuitParams params, const CircuitOptions& o);

NoiseSources parse_sources(const CircuitOptions& o);

// The seeded dot product the options describe.
DotProduct circuit_dot_product(const CircuitOptions& o, std::uint64_t seed);

// The energy account's view of one dot product on a full tile of M outputs: full-scale photons
// per MAC of the laser budget and the read-out ENOB before the ADC.
LayerWork dot_product_work(const CircuitParams& params, const DotProduct& dp, NoiseSources sources);

}  // namespace lumac
