// Energy account of the optical MAC per layer and per component (PHYSICS.md §6-7), in joules
// per inference and attojoules per MAC, optical and total. docs/energy.md has every formula.
//
// Dataflow (Hamerly et al. 2019; circuits/system.hpp). A tile is B rows of M detectors: an
// input symbol serves the M outputs of its row (s = min(M, outputs) MACs used), a weight symbol
// the B rows (samples of the batch, or output positions of a convolution; the rows are taken to
// be full), a read-out the N MACs of its dot product. A layer of `outputs` x `positions` dot
// products of fan-in N with K repeats keeps the tile busy for
//   t = ceil(outputs / M) positions N K / (B f)        per inference (f the symbol rate)
// and costs, per inference:
//   laser (electrical)   P_el(P) t                    P: the laser power that gives the layer's
//                                                      detected photons per MAC; P_el from the
//                                                      laser's operating point, shared by
//                                                      system.tiles_per_laser tiles
//   laser optical        P t                          detected optical n_det K E_ph per MAC
//   input modulators     E_mod K MACs / s             E_mod = C (2 V_pi)^2 / 4 per symbol
//   weight modulators    E_mod K MACs / B
//   input DACs           E_dac K MACs / s
//   weight DACs          E_dac K MACs / B
//   read-out             E_readout R per dot product  R = K (digital) or 1 (analog)
//   ADC                  E_adc(b) R per dot product   b = adc.bits, or the read-out ENOB + 1
//   memory               SRAM: weights K b_w MACs / B, inputs K b_a MACs / s, outputs b_a per
//                        dot product; DRAM: the weights once per batch of B if
//                        energy.weights_in_dram
//   digital              (bias + activation + K averaging accumulations if digital) E_op per
//                        dot product
//   static               P_static t, P_static = (B + M) P_mod + P_lock + B M P_rx: bias control
//                        and trim of every modulator, signal-LO phase locking, receiver bias
// so per MAC the electronics go as E_x / M + E_w / B + E_out / N. The laser is counted
// electrically in the total; the optical figures are reported beside it. Each layer carries the
// ENOB its energy buys, and the report the tile's throughput and latency.
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
  bool weights_in_dram = false;       // weights fetched from DRAM once per batch
  AdcResolution adc_resolution = AdcResolution::configured;  // ADC energy at adc.bits or at
                                                             // the ENOB the read-out needs
  double modulator_static_W = 1e-3;   // bias control and phase trim of one modulator
  double phase_lock_W = 5e-3;         // signal-LO phase locking of one tile
  double receiver_static_W = 0.1e-3;  // static bias of one balanced receiver
};

template <class V>
void visit_fields(EnergyParams& p, V& v) {
  v.real("readout_J", p.readout_J, "J", "integrator, TIA and sampling energy per read-out");
  v.real("sram_J_per_byte", p.sram_J_per_byte, "J", "SRAM access energy per byte");
  v.real("dram_J_per_byte", p.dram_J_per_byte, "J", "DRAM access energy per byte");
  v.real("digital_op_J", p.digital_op_J, "J", "energy of one digital operation (8-bit add)");
  v.integer("bytes_per_weight", p.bytes_per_weight, "B", "storage width of a weight");
  v.integer("bytes_per_activation", p.bytes_per_activation, "B", "storage width of an activation");
  v.retired("weight_stationary",
            "weights stream through the LO modulators, reused over system.batch rows; set "
            "system.batch");
  v.boolean("weights_in_dram", p.weights_in_dram, "weights fetched from DRAM once per batch");
  v.choice("adc_resolution", p.adc_resolution,
           "ADC energy at adc.bits (configured) or at the read-out ENOB + 1 bit (matched)");
  v.real("modulator_static_W", p.modulator_static_W, "W",
         "static power of one modulator: bias control and phase trim");
  v.real("phase_lock_W", p.phase_lock_W, "W", "static power of the tile's signal-LO phase lock");
  v.real("receiver_static_W", p.receiver_static_W, "W",
         "static bias power of one balanced receiver");
}

void validate(const EnergyParams& p);

// The energy components, in the order they are reported.
inline constexpr std::array<std::string_view, 10> energy_components{
    "laser", "input_modulators", "weight_modulators", "input_dacs", "weight_dacs", "readout",
    "adc",   "memory",           "digital",           "static"};

// What the energy account needs to know of one matrix-product layer.
struct LayerWork {
  std::string name;
  std::int64_t fan_in = 0;     // N
  std::int64_t outputs = 0;    // features / output channels
  std::int64_t positions = 1;  // output positions per sample (1 for dense layers)
  std::int64_t weights = 0;    // weight count (0: a product of two activations holds none)
  // Rows (input vectors) that one weight symbol can serve: 0 means any number, so that each
  // weight symbol serves the tile's B rows; a product of two activations (attention), whose
  // second operand changes with every sample and head, serves at most the rows of one head's
  // first operand (M), so its weight side costs k MACs / min(B, M).
  std::int64_t weight_rows = 0;
  // Both operands are activations: the second operand's symbols are read from memory as
  // activations (energy.bytes_per_activation), not as weights.
  bool activation_operands = false;
  // K; may be fractional, even below 1: a mean over channels, or the E of thermal and weight
  // noise, a continuous relaxation of the repeat count that precision learning moves freely.
  double repeats = 1;
  double photons_per_mac = 0;  // detected photons per MAC per repeat (full scale)
  double readout_enob = 0;     // ENOB of the layer's read-out (for `matched`; reported), 0 unknown
  double macs() const { return static_cast<double>(fan_in * outputs * positions); }
};

struct LayerEnergy {
  std::string name;
  double macs = 0;                                              // per inference
  double detected_optical_J = 0;                                // photon energy detected
  double laser_optical_J = 0;                                   // optical energy leaving the laser
  std::array<double, energy_components.size()> components_J{};  // per inference
  double total_J = 0;                // sum of the components (laser electrical)
  double adc_bits = 0;               // resolution the ADC energy was computed at
  double enob = 0;                   // ENOB of the read-out this energy buys (0: not known)
  double tile_s = 0;                 // tile time per inference
  double laser_W = 0;                // optical laser power of the layer's photon budget
  bool activation_operands = false;  // a product of two activations (LayerWork's flag)
  double aJ_per_mac(double joules) const;
};

struct EnergyReport {
  std::vector<LayerEnergy> layers;
  LayerEnergy total;     // sums over the layers ("network")
  double static_W = 0;   // the tile's static power
  double batch = 1;      // B
  double accuracy = -1;  // the accuracy this energy buys, when evaluated (-1: not evaluated)
  // Throughput and latency of one tile: total.tile_s per inference, B inferences together.
  double macs_per_s() const { return total.tile_s > 0 ? total.macs / total.tile_s : 0.0; }
  double inferences_per_s() const { return total.tile_s > 0 ? 1 / total.tile_s : 0.0; }
  double latency_s() const { return total.tile_s * batch; }
};

// The energy of each layer and of the whole network for one inference. `digital_ops`: the
// digital operations of the network's other nodes (pooling, element-wise ops, batch norms that
// are not folded, ...), digital_op_J each, added to the network's `digital` component (not to
// any layer).
EnergyReport energy_report(const CircuitParams& circuit, const EnergyParams& energy,
                           const std::vector<LayerWork>& layers, double digital_ops = 0);

// Fraction of the laser power that reaches the M B detectors of the tile: (T_s + T_L) M B.
double path_transmission(const CircuitParams& circuit);

}  // namespace lumac
