// Laser source (PHYSICS.md §6, "Laser"): CW figures (photon energy and flux, electrical power
// through the wall-plug efficiency, relative intensity noise) and single-mode rate-equation
// dynamics in the Coldren and Corzine form, integrated with Boost.Odeint (adaptive
// Dormand-Prince), for an arbitrary drive-current waveform:
//   dN/dt = eta_i I/(q V) - R_sp(N) - v_g g(N) S
//   dS/dt = (Gamma v_g g(N) - 1/tau_p) S + Gamma beta_sp B N^2
//   g(N) = g0 ln((N + N_s)/(N_tr + N_s)),  R_sp(N) = A N + B N^2 + C N^3
// with tau_p = 1/(v_g (alpha_i + alpha_m)) and output power P = h nu v_g alpha_m S V/Gamma.
// The gain law is floored at g0 ln(1e-3) where it would diverge (N -> -N_s).
// Only radiative recombination (B N^2) couples into the lasing mode.
#pragma once

#include <functional>
#include <string_view>
#include <vector>

#include "lumac/core/units.hpp"

namespace lumac {

struct LaserParams {
  double power_W = 1e-3;              // CW optical output power
  double wavelength_m = 1550e-9;      // emission wavelength
  double wall_plug_efficiency = 0.2;  // optical output power / electrical input power
  double rin_dB_per_Hz = -150;        // relative intensity noise, one-sided PSD
  // Rate-equation parameters (Coldren and Corzine 980 nm single-quantum-well example).
  double injection_efficiency = 0.8;                // eta_i, fraction of current reaching the QW
  double active_volume_m3 = 4e-18;                  // V, active-region volume (4e-12 cm^3)
  double confinement_factor = 0.032;                // Gamma, optical confinement in the QW
  double group_index = 4.2;                         // n_g, v_g = c / n_g
  double mirror_loss_per_m = 4560;                  // alpha_m (45.6 /cm)
  double internal_loss_per_m = 500;                 // alpha_i (5 /cm)
  double srh_coefficient_per_s = 0;                 // A, defect recombination
  double radiative_coefficient_m3_per_s = 0.8e-16;  // B (0.8e-10 cm^3/s)
  double auger_coefficient_m6_per_s = 3.5e-42;      // C (3.5e-30 cm^6/s, Coldren)
  double transparency_density_per_m3 = 1.8e24;      // N_tr (1.8e18 /cm^3)
  double gain_offset_density_per_m3 = -0.4e24;      // N_s (-0.4e18 /cm^3)
  double gain_coefficient_per_m = 1.8e5;            // g0 (1800 /cm)
  double spontaneous_coupling = 1e-4;               // beta_sp, spontaneous emission into mode
};

template <class V>
void visit_fields(LaserParams& p, V& v) {
  v.real("power_W", p.power_W, "W", "CW optical output power");
  v.real("wavelength_m", p.wavelength_m, "m", "emission wavelength");
  v.real("wall_plug_efficiency", p.wall_plug_efficiency, "1",
         "optical output power / electrical input power");
  v.real("rin_dB_per_Hz", p.rin_dB_per_Hz, "dB/Hz", "relative intensity noise (one-sided PSD)");
  v.real("injection_efficiency", p.injection_efficiency, "1", "rate equations: eta_i");
  v.real("active_volume_m3", p.active_volume_m3, "m^3", "rate equations: active volume V");
  v.real("confinement_factor", p.confinement_factor, "1", "rate equations: Gamma");
  v.real("group_index", p.group_index, "1", "rate equations: group index n_g");
  v.real("mirror_loss_per_m", p.mirror_loss_per_m, "1/m", "rate equations: mirror loss alpha_m");
  v.real("internal_loss_per_m", p.internal_loss_per_m, "1/m",
         "rate equations: internal loss alpha_i");
  v.real("srh_coefficient_per_s", p.srh_coefficient_per_s, "1/s", "rate equations: A");
  v.real("radiative_coefficient_m3_per_s", p.radiative_coefficient_m3_per_s, "m^3/s",
         "rate equations: B");
  v.real("auger_coefficient_m6_per_s", p.auger_coefficient_m6_per_s, "m^6/s", "rate equations: C");
  v.real("transparency_density_per_m3", p.transparency_density_per_m3, "1/m^3",
         "rate equations: transparency carrier density N_tr");
  v.real("gain_offset_density_per_m3", p.gain_offset_density_per_m3, "1/m^3",
         "rate equations: gain-law offset N_s");
  v.real("gain_coefficient_per_m", p.gain_coefficient_per_m, "1/m",
         "rate equations: logarithmic gain coefficient g0");
  v.real("spontaneous_coupling", p.spontaneous_coupling, "1",
         "rate equations: spontaneous emission factor beta_sp");
}

// Throws lumac::Error naming the first invalid field.
void validate(const LaserParams& p);

// CW figures of a laser.
class Laser {
 public:
  explicit Laser(const LaserParams& params);
  const LaserParams& params() const { return p_; }

  double photon_energy_J() const;
  double photon_flux_per_s() const;   // P / E_ph
  double electrical_power_W() const;  // P / wall-plug efficiency
  // Variance of the relative power fluctuation seen through a bandwidth B: 10^(RIN/10) * B.
  double relative_intensity_variance(double bandwidth_Hz) const;
  // The shot-noise RIN floor 2 h nu / P in dB/Hz (-156 dB/Hz at 1 mW, 1550 nm).
  double shot_noise_rin_floor_dB_per_Hz() const;

 private:
  LaserParams p_;
};

// Rate-equation laser: analytic figures and numerical integration.
class RateEquationLaser {
 public:
  struct State {
    double carriers_per_m3 = 0;  // N
    double photons_per_m3 = 0;   // S
  };
  struct Sample {
    double time_s;
    double current_A;
    double carriers_per_m3;
    double photons_per_m3;
    double power_W;
  };

  explicit RateEquationLaser(const LaserParams& params);
  const LaserParams& params() const { return p_; }

  double group_velocity_m_per_s() const;
  double photon_lifetime_s() const;         // 1 / (v_g (alpha_i + alpha_m))
  double threshold_gain_per_m() const;      // (alpha_i + alpha_m) / Gamma
  double threshold_density_per_m3() const;  // g(N_th) = g_th
  double threshold_current_A() const;       // q V R_sp(N_th) / eta_i
  double slope_efficiency_W_per_A() const;  // eta_i alpha_m/(alpha_i+alpha_m) h nu / q
  double differential_gain_m2() const;      // a = dg/dN at threshold = g0 / (N_th + N_s)
  // Analytic above-threshold photon density, S = eta_i (I - I_th) / (q V v_g g_th).
  double analytic_photon_density_per_m3(double current_A) const;
  // Analytic relaxation frequency f_R = omega_R / (2 pi), omega_R^2 = v_g a S / tau_p.
  double analytic_relaxation_frequency_Hz(double current_A) const;
  // Analytic turn-on delay from zero carriers for a current step to I > I_th: the time for the
  // carriers to reach N_th, t_d = integral_0^N_th dN / (eta_i I / (q V) - R_sp(N)), stimulated
  // emission neglected below threshold (Gauss-Kronrod quadrature).
  double analytic_turn_on_delay_s(double current_A) const;
  // Output power for a photon density: h nu v_g alpha_m S V / Gamma.
  double output_power_W(double photons_per_m3) const;

  double gain_per_m(double carriers_per_m3) const;
  double recombination_per_m3_s(double carriers_per_m3) const;

  // Steady state at a constant current, found by integrating to equilibrium.
  State steady_state(double current_A) const;

  // Integrates from `initial` over [0, duration] for the drive current waveform, returning
  // samples every `sample_interval_s` (adaptive Dormand-Prince with dense output).
  std::vector<Sample> simulate(const std::function<double(double)>& current_A, State initial,
                               double duration_s, double sample_interval_s) const;

 private:
  LaserParams p_;
};

}  // namespace lumac
