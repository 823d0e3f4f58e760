#include "lumac/core/units.hpp"

#include <cmath>

namespace lumac {

double photon_energy_J(double wavelength_m) {
  return constants::planck_J_s * constants::speed_of_light_m_per_s / wavelength_m;
}

double db_to_power_ratio(double dB) {
  return std::pow(10.0, dB / 10.0);
}

double loss_db_to_transmission(double loss_dB) {
  return std::pow(10.0, -loss_dB / 10.0);
}

}  // namespace lumac
