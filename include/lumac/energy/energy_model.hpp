// Energy account of the optical MAC per layer and per component (PHYSICS.md §6-7), in joules
// per inference and attojoules per MAC, optical and total. docs/energy.md has every formula.
//
// A layer is a set of dot products of fan-in N: `outputs` (features or channels) at
// `positions` output positions per sample; it runs on tiles of M parallel outputs that share
// one input broadcast, so each input symbol serves s = min(M, outputs) MACs. With K repeats,
// per MAC:
//   laser (electrical)   P_L T K / (s WPE)            optical P_L T K / s at the laser output
//   detected optical     n_det K E_ph                  n_det = eta (n_s + n_L) at full scale
//   input modulators     E_mod K / s                   E_mod = C (2 V_pi)^2 / 4 per symbol
//   weight modulators    E_mod K                       0 when weight-stationary
//   input DACs           E_dac K / s
//   weight DACs          E_dac K                       0 when weight-stationary
//   read-out             E_readout R / N               R = K (digital) or 1 (analog)
//   ADC                  E_adc(b) R / N                b = adc.bits, or the read-out ENOB
//   memory               SRAM: streamed weights K b_w, inputs K b_a / s, outputs b_a / N;
//                        DRAM: the weights once per inference if energy.weights_in_dram
//   digital              (bias + activation + K averaging accumulations if digital) E_op / N
// The laser is counted electrically in the total; the optical figures are reported beside it.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lumac/circuits/circuit_params.hpp"
#include "lumac/core/config.hpp"

namespace lumac {

enum class AdcResolution { configured, matched };
template <>
struct EnumNames<AdcResolution> {
  static constexpr std::array<std::pair<AdcResolution, std::string_view>, 2> values{
      {{AdcResolution::configured, "configured"}, {AdcResolution::matched, "matched"}}};
};

struct EnergyParams {
  double readout_J = 0.1e-12;         // integrator, TIA and sampling energy per read-out
  double sram_J_per_byte = 1.25e-12;  // SRAM access, 8-32 KB arrays (Horowitz ISSCC 2014)
  double dram_J_per_byte = 160e-12;   // DRAM access (Horowitz)
  double digital_op_J = 0.03e-12;     // one 8-bit integer add (Horowitz, 45 nm)
  int bytes_per_weight = 1;           // weight storage width
  int bytes_per_activation = 1;       // activation storage width
  bool weight_stationary = false;     // weights held in the modulators (no per-MAC drive)
  bool weights_in_dram = false;       // weights fetched from DRAM once per inference
  AdcResolution adc_resolution = AdcResolution::configured;  // ADC energy at adc.bits or at
                                                             // the ENOB the read-out needs
};

template <class V>
void visit_fields(EnergyParams& p, V& v) {
  v.real("readout_J", p.readout_J, "J", "integrator, TIA and sampling energy per read-out");
  v.real("sram_J_per_byte", p.sram_J_per_byte, "J", "SRAM access energy per byte");
  v.real("dram_J_per_byte", p.dram_J_per_byte, "J", "DRAM access energy per byte");
  v.real("digital_op_J", p.digital_op_J, "J", "energy of one digital operation (8-bit add)");
  v.integer("bytes_per_weight", p.bytes_per_weight, "B", "storage width of a weight");
  v.integer("bytes_per_activation", p.bytes_per_activation, "B", "storage width of an activation");
  v.boolean("weight_stationary", p.weight_stationary,
            "weights held in the modulators: no per-MAC weight drive, DAC or memory read");
  v.boolean("weights_in_dram", p.weights_in_dram, "weights fetched from DRAM once per inference");
  v.choice("adc_resolution", p.adc_resolution,
           "ADC energy at adc.bits (configured) or at the read-out ENOB + 1 bit (matched)");
}

void validate(const EnergyParams& p);

// The energy components, in the order they are reported.
inline constexpr std::array<std::string_view, 9> energy_components{
    "laser",      "input_modulators", "weight_modulators",
    "input_dacs", "weight_dacs",      "readout",
    "adc",        "memory",           "digital"};

// What the energy account needs to know of one matrix-product layer.
struct LayerWork {
  std::string name;
  std::int64_t fan_in = 0;     // N
  std::int64_t outputs = 0;    // features / output channels
  std::int64_t positions = 1;  // output positions per sample (1 for dense layers)
  std::int64_t weights = 0;    // weight count
  // K; may be fractional, even below 1: a mean over channels, or the E of thermal and weight
  // noise, a continuous relaxation of the repeat count that precision learning moves freely.
  double repeats = 1;
  double photons_per_mac = 0;  // detected photons per MAC per repeat (full scale)
  double readout_enob = 0;     // ENOB of the read-out before the ADC (for `matched`)
  double macs() const { return static_cast<double>(fan_in * outputs * positions); }
};

struct LayerEnergy {
  std::string name;
  double macs = 0;                                              // per inference
  double detected_optical_J = 0;                                // photon energy detected
  double laser_optical_J = 0;                                   // optical energy leaving the laser
  std::array<double, energy_components.size()> components_J{};  // per inference
  double total_J = 0;   // sum of the components (laser electrical)
  double adc_bits = 0;  // resolution the ADC energy was computed at
  double aJ_per_mac(double joules) const;
};

struct EnergyReport {
  std::vector<LayerEnergy> layers;
  LayerEnergy total;  // sums over the layers ("network")
};

// The energy of each layer and of the whole network for one inference.
EnergyReport energy_report(const CircuitParams& circuit, const EnergyParams& energy,
                           const std::vector<LayerWork>& layers);

// Fraction of the laser power that reaches one output's two detectors: (T_s + T_L) M.
double path_transmission(const CircuitParams& circuit);

}  // namespace lumac
