#include "lumac/studies/device_figures.hpp"

#include <cmath>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/circuits/system.hpp"
#include "lumac/core/units.hpp"
#include "lumac/devices/converters.hpp"
#include "lumac/devices/detector.hpp"
#include "lumac/devices/laser.hpp"
#include "lumac/devices/modulator.hpp"

namespace lumac {

std::vector<Figure> device_figures(const Settings& s) {
  const CircuitParams& c = s.circuit;
  const Laser laser(c.laser);
  const RateEquationLaser dyn(c.laser);
  const MachZehnderModulator mzm(c.modulator);
  const LinkBudget link(c.laser, c.modulator, c.system);
  // The receiver of a read-out of fan-in 1000 sized to its full-scale charge (the dot product's
  // range, which adc-span sizing needs, is not known here: lumac enob reports that capacitor).
  const HomodyneMac mac(c);
  const double q_fs =
      mac.full_scale_charge(1000, link.signal_photons_per_symbol(), link.lo_photons_per_symbol());
  const BalancedDetector det = mac.receiver(q_fs);
  const double t_symbol = link.symbol_period_s();
  const double i_bias = 3 * dyn.threshold_current_A();
  return {
      {"photon_energy_J", laser.photon_energy_J(), "J", "photon energy h c / lambda"},
      {"laser_power_W", c.laser.power_W, "W", "laser optical power"},
      {"laser_photon_flux_per_s", laser.photon_flux_per_s(), "1/s", "laser photon flux"},
      {"laser_electrical_power_W", laser.electrical_power_W(), "W",
       "laser electrical power V_f (I_th + P / eta_d) + cooler"},
      {"laser_drive_current_A", laser.drive_current_A(), "A",
       "laser drive current I_th + P / eta_d"},
      {"laser_wall_plug_efficiency", laser.wall_plug_efficiency(), "1",
       "laser wall-plug efficiency P / P_el (derived)"},
      {"laser_tile_electrical_power_W",
       tile_laser_electrical_power_W(c.laser, c.system.tiles_per_laser), "W",
       "laser electrical power charged to one tile (system.tiles_per_laser share one laser)"},
      {"laser_rin_shot_floor_dB_per_Hz", laser.shot_noise_rin_floor_dB_per_Hz(), "dB/Hz",
       "shot-noise RIN floor 2 h nu / P"},
      {"laser_threshold_current_A", dyn.threshold_current_A(), "A",
       "rate equations: threshold current"},
      {"laser_slope_efficiency_W_per_A", dyn.slope_efficiency_W_per_A(), "W/A",
       "rate equations: slope efficiency"},
      {"laser_photon_lifetime_s", dyn.photon_lifetime_s(), "s", "rate equations: photon lifetime"},
      {"laser_relaxation_frequency_3ith_Hz", dyn.analytic_relaxation_frequency_Hz(i_bias), "Hz",
       "rate equations: relaxation frequency at 3 I_th"},
      {"modulator_max_transmission", mzm.max_transmission(), "1", "modulator T_max"},
      {"modulator_min_transmission", mzm.min_transmission(), "1", "modulator T_min"},
      {"modulator_rise_time_s", mzm.time_constant_s() * std::log(9.0), "s",
       "modulator 10-90% rise time (tau ln 9)"},
      {"modulator_drive_energy_J", mzm.drive_energy_J(), "J",
       "modulator drive energy per symbol C (2 V_pi)^2 / 4"},
      {"responsivity_A_per_W", det.responsivity_A_per_W(), "A/W", "detector responsivity"},
      {"full_scale_charge_N1000_electrons", q_fs, "e",
       "full-scale charge of a read-out of fan-in 1000"},
      {"integrator_capacitance_N1000_F", det.params().integrator_capacitance_F, "F",
       "integrating capacitor holding that charge (the given one if "
       "detector.integrator_capacitance_F > 0)"},
      {"ktc_noise_N1000_electrons", det.reset_std_electrons(), "e",
       "kTC reset noise of that capacitor (std; 0 with CDS or a TIA)"},
      {"readout_noise_N1000_electrons", std::sqrt(det.voltage_noise_variance()), "e",
       "read-out amplifier voltage noise times that capacitor (std)"},
      {"dark_noise_electrons_per_symbol", std::sqrt(det.dark_variance(t_symbol)), "e",
       "dark-current noise over one symbol (std)"},
      {"amplifier_noise_electrons_per_symbol", std::sqrt(det.current_noise_variance(t_symbol)), "e",
       "front-end current noise over one symbol (std; with 4 k T / R_f for a TIA)"},
      {"link_loss_dB", link.common_loss_dB(), "dB",
       "loss on each path (coupling, waveguide, splitters, modulator)"},
      {"signal_transmission", link.signal_transmission(), "1",
       "laser power fraction reaching one detector, signal"},
      {"lo_transmission", link.lo_transmission(), "1",
       "laser power fraction reaching one detector, LO"},
      {"photons_per_symbol_signal", link.signal_photons_per_symbol(), "photons",
       "signal photons per symbol at one detector, full scale"},
      {"photons_per_symbol_lo", link.lo_photons_per_symbol(), "photons",
       "LO photons per symbol at one detector, full scale"},
      {"adc_energy_per_conversion_J", adc_energy_per_conversion_J(c.adc, c.adc.bits), "J",
       "ADC energy per conversion at adc.bits"},
      {"dac_energy_per_conversion_J", c.dac.energy_per_conversion_J, "J",
       "DAC energy per conversion"},
  };
}

Json to_json(const std::vector<Figure>& figures) {
  Json j = Json::object();
  for (const auto& f : figures) j[f.key] = f.value;
  return j;
}

}  // namespace lumac
