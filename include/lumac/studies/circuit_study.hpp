// Studies of one dot product on the optical MAC (lumac enob, trace, energy and sweep without a
// model): the dot product to run, shortcuts for the system keys a study changes most, and the
// noise budget with its Monte Carlo and time-domain checks.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/circuits/vectors.hpp"
#include "lumac/core/json.hpp"
#include "lumac/energy/energy_model.hpp"
#include "lumac/studies/settings.hpp"

namespace lumac {

struct CircuitSpec {
  std::int64_t fan_in = 0;                // N, MACs per output
  std::optional<double> photons_per_mac;  // sets laser.power_W (detected, at full scale)
  std::optional<int> repeats;             // system.repeats
  std::string encoding;                   // system.encoding (empty: the config's)
  std::string averaging;                  // system.averaging (empty: the config's)
  std::string sources = "all";            // noise and error sources to keep
  std::string vectors = "uniform";        // uniform | positive | ones
  double range = 0;                       // output full-scale range R (0: Cauchy-Schwarz)
};

// The limits shared by every Monte Carlo and time-domain run of a circuit study.
inline constexpr std::int64_t max_monte_carlo_samples = 100'000'000;
inline constexpr std::int64_t default_time_domain_runs = 200;

// Applies the shortcuts to the circuit parameters (after the config; they win) and validates.
CircuitParams apply_circuit_spec(CircuitParams params, const CircuitSpec& spec);
NoiseSources circuit_sources(const CircuitSpec& spec);

// The seeded dot product the spec describes.
DotProduct circuit_dot_product(const CircuitSpec& spec, std::uint64_t seed);

// The energy account's view of one dot product on a full tile of M outputs: full-scale photons
// per MAC of the laser budget and the read-out ENOB before the ADC.
LayerWork dot_product_work(const CircuitParams& params, const DotProduct& dp, NoiseSources sources);

// The energy account of one dot product of fan-in spec.fan_in (>= 1) on a full tile (lumac
// energy --fan-in N).
EnergyReport circuit_energy_report(const Settings& settings, const CircuitSpec& spec,
                                   std::uint64_t seed);

// The noise budget of one dot product, with the optional Monte Carlo (`monte_carlo` samples)
// and time-domain (`monte_carlo` runs, default_time_domain_runs if 0) checks.
struct EnobStudy {
  CircuitParams params;
  NoiseSources sources = NoiseSources::all();
  std::int64_t fan_in = 0;
  NoiseBudget budget;
  std::optional<MonteCarloResult> monte_carlo, time_domain;
};
EnobStudy run_enob_study(const Settings& settings, const CircuitSpec& spec, std::uint64_t seed,
                         std::int64_t monte_carlo, bool time_domain, int samples_per_symbol = 4);
// lumac::Error unless 0 <= samples <= max_monte_carlo_samples.
void check_monte_carlo(std::int64_t samples);

// The study's JSON form (lumac enob --json).
Json to_json(const EnobStudy& study);

}  // namespace lumac
