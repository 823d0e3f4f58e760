// Laser source (PHYSICS.md §6, "Laser", and §7): CW figures (photon energy and flux, electrical
// power from the operating point P_el = V_f (I_th + P / eta_d) + cooler, with I_th and eta_d from
// the rate equations below, relative intensity noise) and single-mode rate-equation
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

// The default rate-equation set is rate_equations_ingaasp_1550nm() (see there for sources).
struct LaserParams {
  double power_W = 1e-3;          // CW optical output power
  double wavelength_m = 1550e-9;  // emission wavelength
  // Forward voltage at the operating current: h nu / q = 0.80 V plus the heterojunction and
  // series-resistance drops; 1.1-1.8 V is what 1550 nm InGaAsP DFB datasheets give, 1.5 V typical.
  double forward_voltage_V = 1.5;
  double cooler_power_W = 0;    // thermo-electric cooler power, if the laser has one (0: uncooled)
  double rin_dB_per_Hz = -150;  // relative intensity noise, one-sided PSD
  // Rate-equation parameters: a 1550 nm InGaAsP/InP multi-quantum-well DFB laser, the set of
  // rate_equations_ingaasp_1550nm() (sources there).
  double injection_efficiency = 0.8;              // eta_i, fraction of current reaching the QWs
  double active_volume_m3 = 2.5e-17;              // V = 250 um x 2 um x 50 nm of wells
  double confinement_factor = 0.085;              // Gamma, optical confinement in the QWs
  double group_index = 3.7;                       // n_g, v_g = c / n_g
  double mirror_loss_per_m = 2000;                // alpha_m (20 /cm, DFB with kappa L ~ 2)
  double internal_loss_per_m = 1000;              // alpha_i (10 /cm)
  double srh_coefficient_per_s = 0;               // A, defect recombination
  double radiative_coefficient_m3_per_s = 1e-16;  // B (1e-10 cm^3/s)
  double auger_coefficient_m6_per_s = 1.3e-40;    // C (1.3e-28 cm^6/s)
  double transparency_density_per_m3 = 1.5e24;    // N_tr (1.5e18 /cm^3)
  double gain_offset_density_per_m3 = 0;          // N_s (0: g = g0 ln(N / N_tr))
  double gain_coefficient_per_m = 9e4;            // g0 (900 /cm)
  double spontaneous_coupling = 1e-4;             // beta_sp, spontaneous emission into mode
};

// Rate-equation parameter sets (the other fields keep their LaserParams defaults).
//
// 1550 nm InGaAsP/InP strained multi-quantum-well DFB laser (the LaserParams default).
// From J. Carroll, J. Whiteaway and D. Plumb, Distributed Feedback Semiconductor Lasers
// (IEE/SPIE 1998), Appendix 11, the table of a 1.55 um MQW ridge DFB: total well thickness
// 0.05 um, ridge width 2 um, overall confinement Gamma = 0.085, group index 3.7, N_tr =
// 1.5e18 /cm^3, B = 1e-10 cm^3/s, C = 1.3e-28 cm^6/s (S. Hausser et al., Appl. Phys. Lett. 62,
// 663 (1993) measure 1.0e-28 in InGaAs/InGaAsP MQWs), A = 0, differential field gain 3e-16 cm^2,
// i.e. a power gain slope of 6e-16 cm^2 at transparency: g0 = 6e-16 cm^2 * N_tr = 900 /cm with
// N_s = 0. Cavity length 250 um; alpha_m = 20 /cm is the threshold mirror loss of a DFB with
// kappa L about 2 (a cleaved 250 um Fabry-Perot cavity would have 45.6 /cm); alpha_i = 10 /cm
// (8 /cm measured on a five-well 1.55 um InAsP/InGaAsP laser, Appl. Phys. Lett. 1997, with
// eta_i = 0.88; Carroll et al. take 30 /cm of waveguide loss); eta_i = 0.8; beta_sp = 1e-4.
// It gives I_th = 9.6 mA (published short 1.55 um DFBs: 8 mA, Broberg et al., Electron. Lett.
// 23, 624 (1987), to 15-30 mA), eta_d = 0.427 W/A and tau_p = 4.1 ps.
LaserParams rate_equations_ingaasp_1550nm();
// Coldren and Corzine's 980 nm InGaAs/GaAs single-quantum-well example (PHYSICS.md §6:
// tau_p 2.77 ps, I_th about 1 mA), with its own wavelength, 980 nm.
LaserParams rate_equations_gaas_980nm();

template <class V>
void visit_fields(LaserParams& p, V& v) {
  v.real("power_W", p.power_W, "W", "CW optical output power");
  v.real("wavelength_m", p.wavelength_m, "m", "emission wavelength");
  v.real("forward_voltage_V", p.forward_voltage_V, "V",
         "forward voltage at the operating current (electrical power)");
  v.real("cooler_power_W", p.cooler_power_W, "W", "thermo-electric cooler power (0: uncooled)");
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
  v.retired("wall_plug_efficiency",
            "the electrical power follows from the operating point, V_f (I_th + P / eta_d) + "
            "cooler: set laser.forward_voltage_V and laser.cooler_power_W");
}

// Throws lumac::Error naming the first invalid field.
void validate(const LaserParams& p);

// CW figures of a laser.
class Laser {
 public:
  explicit Laser(const LaserParams& params);
  const LaserParams& params() const { return p_; }

  double photon_energy_J() const;
  double photon_flux_per_s() const;  // P / E_ph
  // Drive current for the output power P: I_th + P / eta_d (the rate equations' L-I line).
  double drive_current_A() const;
  // V_f (I_th + P / eta_d) + cooler: at least V_f I_th (+ cooler) however little it emits.
  double electrical_power_W() const;
  double wall_plug_efficiency() const;  // P / electrical_power_W(), derived
  // Variance of the relative power fluctuation seen through a bandwidth B: 10^(RIN/10) * B.
  double relative_intensity_variance(double bandwidth_Hz) const;
  // The shot-noise RIN floor 2 h nu / P in dB/Hz (-156 dB/Hz at 1 mW, 1550 nm).
  double shot_noise_rin_floor_dB_per_Hz() const;

 private:
  LaserParams p_;
  double threshold_current_A_;
  double slope_efficiency_W_per_A_;
};

// The electrical power attributed to one tile when one laser feeds `tiles_per_laser` tiles, each
// receiving p.power_W: the laser emits T P and P_el(T P) / T is charged to each tile (threshold
// and cooler power shared): V_f I_th / T + V_f P / eta_d + cooler / T.
double tile_laser_electrical_power_W(const LaserParams& p, int tiles_per_laser);

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

  // Steady state at a constant current >= 0, from 0 across threshold: S(N) from dS/dt = 0, then
  // dN/dt = 0 solved for N by bisection on [0, N_th] (the balance is increasing in N there).
  State steady_state(double current_A) const;

  // Integrates from `initial` over [0, duration] for the drive current waveform, returning
  // samples every `sample_interval_s` (adaptive Dormand-Prince with dense output).
  std::vector<Sample> simulate(const std::function<double(double)>& current_A, State initial,
                               double duration_s, double sample_interval_s) const;

 private:
  LaserParams p_;
};

}  // namespace lumac
