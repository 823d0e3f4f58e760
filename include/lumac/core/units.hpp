// Physical constants (exact SI values, 2019 redefinition) and unit conversions used everywhere.
// See shared/PHYSICS.md, "Constants". Every quantity in lumac is SI unless its name says otherwise.
#pragma once

namespace lumac {

namespace constants {
inline constexpr double elementary_charge_C = 1.602176634e-19;
inline constexpr double planck_J_s = 6.62607015e-34;
inline constexpr double speed_of_light_m_per_s = 299792458.0;
inline constexpr double boltzmann_J_per_K = 1.380649e-23;
inline constexpr double pi = 3.14159265358979323846;
}  // namespace constants

// Photon energy E = h c / lambda (J). 1.2816e-19 J at 1550 nm.
double photon_energy_J(double wavelength_m);

// Power ratio of a value in decibels: 10^(dB/10).
double db_to_power_ratio(double dB);

// Transmission of a loss in decibels: 10^(-loss_dB/10).
double loss_db_to_transmission(double loss_dB);

// Attojoules per joule.
inline constexpr double aJ_per_J = 1e18;

}  // namespace lumac
