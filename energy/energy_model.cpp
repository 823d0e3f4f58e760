#include "lumac/energy/energy_model.hpp"

#include <algorithm>
#include <cmath>

#include "lumac/circuits/system.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/units.hpp"
#include "lumac/devices/converters.hpp"
#include "lumac/devices/modulator.hpp"

namespace lumac {

namespace {

enum Component {
  laser_component,
  input_modulators,
  weight_modulators,
  input_dacs,
  weight_dacs,
  readout,
  adc,
  memory,
  digital,
  static_power
};

}  // namespace

void validate(const EnergyParams& p) {
  const FieldCheck c("energy");
  c.non_negative("readout_J", p.readout_J);
  c.non_negative("sram_J_per_byte", p.sram_J_per_byte);
  c.non_negative("dram_J_per_byte", p.dram_J_per_byte);
  c.non_negative("digital_op_J", p.digital_op_J);
  c.integer("bytes_per_weight", p.bytes_per_weight, 1, 8);
  c.integer("bytes_per_activation", p.bytes_per_activation, 1, 8);
  c.non_negative("modulator_static_W", p.modulator_static_W);
  c.non_negative("phase_lock_W", p.phase_lock_W);
  c.non_negative("receiver_static_W", p.receiver_static_W);
}

double LayerEnergy::aJ_per_mac(double joules) const {
  return macs > 0 ? joules * aJ_per_J / macs : 0.0;
}

double path_transmission(const CircuitParams& c) {
  const LinkBudget link(c.laser, c.modulator, c.system);
  return (link.signal_transmission() + link.lo_transmission()) * link.detectors();
}

EnergyReport energy_report(const CircuitParams& circuit, const EnergyParams& e,
                           const std::vector<LayerWork>& layers, double digital_ops) {
  if (!(digital_ops >= 0) || !std::isfinite(digital_ops))
    fail("digital operations = {}: must be finite and >= 0", digital_ops);
  validate(circuit);
  validate(e);
  const MachZehnderModulator mzm(circuit.modulator);
  const LinkBudget link(circuit.laser, circuit.modulator, circuit.system);
  const double e_ph = photon_energy_J(circuit.laser.wavelength_m);
  const double eta = circuit.detector.quantum_efficiency;
  const double f = circuit.system.symbol_rate_Hz;
  // Detected photons per symbol at one detector per watt of laser power, at full scale.
  const double detected_per_W =
      eta * (link.signal_transmission() + link.lo_transmission()) / (f * e_ph);
  const bool analog = circuit.system.averaging == Averaging::analog;
  const double m = circuit.system.fan_out;
  const double b = circuit.system.batch;

  EnergyReport report;
  report.total.name = "network";
  report.batch = b;
  report.static_W = (b + m) * e.modulator_static_W + e.phase_lock_W + b * m * e.receiver_static_W;
  for (const LayerWork& w : layers) {
    if (w.fan_in < 1 || w.outputs < 1 || w.positions < 1)
      fail("layer '{}': fan-in {}, outputs {} and positions {} must all be >= 1", w.name, w.fan_in,
           w.outputs, w.positions);
    if (w.weight_rows < 0) fail("layer '{}': weight rows {} must be >= 0", w.name, w.weight_rows);
    if (!(w.repeats > 0) || !std::isfinite(w.repeats))
      fail("layer '{}': repeats = {}: must be finite and > 0", w.name, w.repeats);
    if (!(w.photons_per_mac >= 0) || !std::isfinite(w.photons_per_mac))
      fail("layer '{}': photons per MAC = {}: must be finite and >= 0", w.name, w.photons_per_mac);
    LayerEnergy le;
    le.name = w.name;
    le.activation_operands = w.activation_operands;
    le.macs = w.macs();
    le.enob = w.readout_enob;
    const double macs = le.macs;
    const double k = w.repeats;
    const double share = std::min(m, static_cast<double>(w.outputs));  // MACs per input symbol
    const double dot_products = static_cast<double>(w.outputs * w.positions);
    const double readouts = dot_products * (analog ? 1 : k);
    // Rows each weight symbol serves: the tile's B, or fewer when the weights change with the
    // sample (a product of two activations).
    const double wb = w.weight_rows > 0 ? std::min(b, static_cast<double>(w.weight_rows)) : b;
    // Tile time: ceil(outputs / M) passes over the positions, N K symbols each, wb rows at once
    // (B, or the rows that share a product of two activations' second operand when fewer).
    le.tile_s = std::ceil(static_cast<double>(w.outputs) / m) *
                static_cast<double>(w.positions * w.fan_in) * k / (wb * f);

    le.detected_optical_J = w.photons_per_mac * k * e_ph * macs;
    le.laser_W = w.photons_per_mac / detected_per_W;
    le.laser_optical_J = le.laser_W * le.tile_s;
    auto& c = le.components_J;
    // Electrical power at the layer's operating point (at least the threshold's, however little
    // it emits); none without a photon budget (noise-free or digital evaluation).
    if (le.laser_W > 0) {
      LaserParams laser = circuit.laser;
      laser.power_W = le.laser_W;
      c[laser_component] =
          tile_laser_electrical_power_W(laser, circuit.system.tiles_per_laser) * le.tile_s;
    }
    c[input_modulators] = mzm.drive_energy_J() * k * macs / share;
    c[weight_modulators] = mzm.drive_energy_J() * k * macs / wb;
    c[input_dacs] = circuit.dac.energy_per_conversion_J * k * macs / share;
    c[weight_dacs] = circuit.dac.energy_per_conversion_J * k * macs / wb;
    c[readout] = e.readout_J * readouts;
    le.adc_bits = circuit.adc.bits;
    if (e.adc_resolution == AdcResolution::matched)
      le.adc_bits =
          std::clamp(std::ceil(w.readout_enob + 1), 1.0, static_cast<double>(circuit.adc.bits));
    c[adc] = adc_energy_per_conversion_J(circuit.adc, le.adc_bits) * readouts;
    const double weight_bytes = w.activation_operands ? e.bytes_per_activation : e.bytes_per_weight;
    const double act_bytes = e.bytes_per_activation;
    double sram = 0, dram = 0;
    sram += weight_bytes * k * macs / wb;  // streamed weight symbols, each serving wb rows
    sram += act_bytes * k * macs / share;  // input symbols
    sram += act_bytes * dot_products;      // outputs written
    if (e.weights_in_dram) dram += weight_bytes * static_cast<double>(w.weights) / b;
    c[memory] = sram * e.sram_J_per_byte + dram * e.dram_J_per_byte;
    // Bias and activation per output; K accumulations per output when averaging digitally.
    c[digital] = e.digital_op_J * dot_products * (2 + (analog ? 0 : k));
    c[static_power] = report.static_W * le.tile_s;
    for (double v : c) le.total_J += v;

    report.total.macs += le.macs;
    report.total.detected_optical_J += le.detected_optical_J;
    report.total.laser_optical_J += le.laser_optical_J;
    report.total.tile_s += le.tile_s;
    for (std::size_t i = 0; i < c.size(); ++i) report.total.components_J[i] += c[i];
    report.total.total_J += le.total_J;
    report.layers.push_back(std::move(le));
  }
  if (digital_ops > 0) {
    const double j = digital_ops * e.digital_op_J;
    report.total.components_J[digital] += j;
    report.total.total_J += j;
  }
  // The network's laser power: the time average over its layers.
  if (report.total.tile_s > 0)
    report.total.laser_W = report.total.laser_optical_J / report.total.tile_s;
  return report;
}

}  // namespace lumac
