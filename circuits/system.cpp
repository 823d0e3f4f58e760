#include "lumac/circuits/system.hpp"

#include <cmath>

#include "lumac/core/error.hpp"
#include "lumac/core/units.hpp"

namespace lumac {

void validate(const SystemParams& p) {
  const FieldCheck c("system");
  c.positive("symbol_rate_Hz", p.symbol_rate_Hz);
  if (p.symbol_rate_Hz > 1e13) c.reject("symbol_rate_Hz", p.symbol_rate_Hz, "must be <= 1e13");
  c.open("temperature_K", p.temperature_K, 0, 1000);
  c.integer("fan_out", p.fan_out, 1, 1 << 20);
  c.open("signal_split", p.signal_split, 0, 1);
  c.non_negative("coupling_loss_dB", p.coupling_loss_dB);
  c.non_negative("waveguide_loss_dB", p.waveguide_loss_dB);
  c.non_negative("splitter_excess_loss_dB", p.splitter_excess_loss_dB);
  c.integer("repeats", p.repeats, 1, 1 << 20);
  c.integer("batch", p.batch, 1, 1 << 20);
  c.integer("tiles_per_laser", p.tiles_per_laser, 1, 1 << 20);
  c.closed("lo_phase_error_rad", p.lo_phase_error_rad, 0, 0.5);
  c.closed("lo_phase_noise_rad", p.lo_phase_noise_rad, 0, 0.5);
  c.closed("splitter_imbalance", p.splitter_imbalance, 0, 0.2);
  c.integer("device_seed", p.device_seed, 0, 2147483647);
}

LinkBudget::LinkBudget(const LaserParams& laser, const ModulatorParams& modulator,
                       const SystemParams& system)
    : laser_(laser), modulator_(modulator), system_(system) {
  validate(laser_);
  validate(modulator_);
  validate(system_);
}

int LinkBudget::splitter_stages() const {
  return 1 + static_cast<int>(std::ceil(std::log2(static_cast<double>(system_.fan_out)))) +
         static_cast<int>(std::ceil(std::log2(static_cast<double>(system_.batch))));
}

double LinkBudget::common_loss_dB() const {
  return system_.coupling_loss_dB + system_.waveguide_loss_dB +
         system_.splitter_excess_loss_dB * splitter_stages() + modulator_.insertion_loss_dB;
}

double LinkBudget::signal_transmission() const {
  return system_.signal_split / detectors() * loss_db_to_transmission(common_loss_dB());
}

double LinkBudget::lo_transmission() const {
  return (1 - system_.signal_split) / detectors() * loss_db_to_transmission(common_loss_dB());
}

double LinkBudget::detectors() const {
  return static_cast<double>(system_.fan_out) * system_.batch;
}

double LinkBudget::symbol_period_s() const {
  return 1.0 / system_.symbol_rate_Hz;
}

double LinkBudget::photon_energy_J() const {
  return lumac::photon_energy_J(laser_.wavelength_m);
}

double LinkBudget::signal_photons_per_symbol() const {
  return laser_.power_W * signal_transmission() * symbol_period_s() / photon_energy_J();
}

double LinkBudget::lo_photons_per_symbol() const {
  return laser_.power_W * lo_transmission() * symbol_period_s() / photon_energy_J();
}

double LinkBudget::laser_power_for_photons(double photons_per_symbol) const {
  return photons_per_symbol * photon_energy_J() /
         ((signal_transmission() + lo_transmission()) * symbol_period_s());
}

}  // namespace lumac
