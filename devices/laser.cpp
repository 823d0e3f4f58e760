#include "lumac/devices/laser.hpp"

#include <array>
#include <boost/math/quadrature/gauss_kronrod.hpp>
#include <boost/numeric/odeint.hpp>
#include <cmath>

#include "lumac/core/error.hpp"

namespace lumac {

namespace odeint = boost::numeric::odeint;
using constants::elementary_charge_C;

void validate(const LaserParams& p) {
  const FieldCheck c("laser");
  c.positive("power_W", p.power_W);
  c.open("wavelength_m", p.wavelength_m, 100e-9, 20e-6);
  // V_f >= h nu / q keeps the wall-plug efficiency below 1 (P / (V_f P / eta_d) <= 1).
  c.open_closed("forward_voltage_V", p.forward_voltage_V, 0, 10);
  const double photon_V = photon_energy_J(p.wavelength_m) / elementary_charge_C;
  if (p.forward_voltage_V < photon_V)
    c.reject("forward_voltage_V", p.forward_voltage_V,
             fmt::format("must be >= the photon energy h nu / q = {:.3g} V", photon_V));
  c.non_negative("cooler_power_W", p.cooler_power_W);
  c.open("rin_dB_per_Hz", p.rin_dB_per_Hz, -250, 0);
  c.open_closed("injection_efficiency", p.injection_efficiency, 0, 1);
  c.positive("active_volume_m3", p.active_volume_m3);
  c.open_closed("confinement_factor", p.confinement_factor, 0, 1);
  c.closed("group_index", p.group_index, 1, 10);
  c.positive("mirror_loss_per_m", p.mirror_loss_per_m);
  c.non_negative("internal_loss_per_m", p.internal_loss_per_m);
  c.non_negative("srh_coefficient_per_s", p.srh_coefficient_per_s);
  c.positive("radiative_coefficient_m3_per_s", p.radiative_coefficient_m3_per_s);
  c.non_negative("auger_coefficient_m6_per_s", p.auger_coefficient_m6_per_s);
  c.positive("transparency_density_per_m3", p.transparency_density_per_m3);
  c.finite("gain_offset_density_per_m3", p.gain_offset_density_per_m3);
  if (p.transparency_density_per_m3 + p.gain_offset_density_per_m3 <= 0)
    c.reject("gain_offset_density_per_m3", p.gain_offset_density_per_m3,
             "must be > -laser.transparency_density_per_m3");
  c.positive("gain_coefficient_per_m", p.gain_coefficient_per_m);
  c.closed("spontaneous_coupling", p.spontaneous_coupling, 0, 1);
}

LaserParams rate_equations_ingaasp_1550nm() {
  return LaserParams{};
}

LaserParams rate_equations_gaas_980nm() {
  LaserParams p;
  p.wavelength_m = 980e-9;
  p.injection_efficiency = 0.8;
  p.active_volume_m3 = 4e-18;  // 4e-12 cm^3
  p.confinement_factor = 0.032;
  p.group_index = 4.2;
  p.mirror_loss_per_m = 4560;   // 45.6 /cm
  p.internal_loss_per_m = 500;  // 5 /cm
  p.srh_coefficient_per_s = 0;
  p.radiative_coefficient_m3_per_s = 0.8e-16;  // 0.8e-10 cm^3/s
  p.auger_coefficient_m6_per_s = 3.5e-42;      // 3.5e-30 cm^6/s
  p.transparency_density_per_m3 = 1.8e24;      // 1.8e18 /cm^3
  p.gain_offset_density_per_m3 = -0.4e24;      // -0.4e18 /cm^3
  p.gain_coefficient_per_m = 1.8e5;            // 1800 /cm
  p.spontaneous_coupling = 1e-4;
  return p;
}

Laser::Laser(const LaserParams& params) : p_(params) {
  const RateEquationLaser dynamics(p_);  // validates
  threshold_current_A_ = dynamics.threshold_current_A();
  slope_efficiency_W_per_A_ = dynamics.slope_efficiency_W_per_A();
}

double Laser::photon_energy_J() const {
  return lumac::photon_energy_J(p_.wavelength_m);
}

double Laser::photon_flux_per_s() const {
  return p_.power_W / photon_energy_J();
}

double Laser::drive_current_A() const {
  return threshold_current_A_ + p_.power_W / slope_efficiency_W_per_A_;
}

double Laser::electrical_power_W() const {
  return p_.forward_voltage_V * drive_current_A() + p_.cooler_power_W;
}

double Laser::wall_plug_efficiency() const {
  return p_.power_W / electrical_power_W();
}

double tile_laser_electrical_power_W(const LaserParams& p, int tiles_per_laser) {
  if (tiles_per_laser < 1) fail("system.tiles_per_laser = {}: must be >= 1", tiles_per_laser);
  LaserParams shared = p;
  shared.power_W = p.power_W * tiles_per_laser;
  return Laser(shared).electrical_power_W() / tiles_per_laser;
}

double Laser::relative_intensity_variance(double bandwidth_Hz) const {
  return db_to_power_ratio(p_.rin_dB_per_Hz) * bandwidth_Hz;
}

double Laser::shot_noise_rin_floor_dB_per_Hz() const {
  return 10 * std::log10(2 * photon_energy_J() / p_.power_W);
}

RateEquationLaser::RateEquationLaser(const LaserParams& params) : p_(params) {
  validate(p_);
}

double RateEquationLaser::group_velocity_m_per_s() const {
  return constants::speed_of_light_m_per_s / p_.group_index;
}

double RateEquationLaser::photon_lifetime_s() const {
  return 1.0 / (group_velocity_m_per_s() * (p_.internal_loss_per_m + p_.mirror_loss_per_m));
}

double RateEquationLaser::threshold_gain_per_m() const {
  return (p_.internal_loss_per_m + p_.mirror_loss_per_m) / p_.confinement_factor;
}

double RateEquationLaser::gain_per_m(double n) const {
  // The logarithmic law diverges as N -> -N_s (and is undefined below); it is floored at
  // g0 ln(1e-3), strong absorption, which only matters for the first picoseconds of a start
  // from zero carriers, when there are no photons to absorb.
  const double ref = p_.transparency_density_per_m3 + p_.gain_offset_density_per_m3;
  return p_.gain_coefficient_per_m *
         std::log(std::max(n + p_.gain_offset_density_per_m3, 1e-3 * ref) / ref);
}

double RateEquationLaser::recombination_per_m3_s(double n) const {
  return p_.srh_coefficient_per_s * n + p_.radiative_coefficient_m3_per_s * n * n +
         p_.auger_coefficient_m6_per_s * n * n * n;
}

double RateEquationLaser::threshold_density_per_m3() const {
  // Invert g(N_th) = g_th.
  return (p_.transparency_density_per_m3 + p_.gain_offset_density_per_m3) *
             std::exp(threshold_gain_per_m() / p_.gain_coefficient_per_m) -
         p_.gain_offset_density_per_m3;
}

double RateEquationLaser::threshold_current_A() const {
  return elementary_charge_C * p_.active_volume_m3 *
         recombination_per_m3_s(threshold_density_per_m3()) / p_.injection_efficiency;
}

double RateEquationLaser::slope_efficiency_W_per_A() const {
  return p_.injection_efficiency * p_.mirror_loss_per_m /
         (p_.internal_loss_per_m + p_.mirror_loss_per_m) * photon_energy_J(p_.wavelength_m) /
         elementary_charge_C;
}

double RateEquationLaser::differential_gain_m2() const {
  return p_.gain_coefficient_per_m / (threshold_density_per_m3() + p_.gain_offset_density_per_m3);
}

double RateEquationLaser::analytic_photon_density_per_m3(double current_A) const {
  const double above = std::max(0.0, current_A - threshold_current_A());
  return p_.injection_efficiency * above /
         (elementary_charge_C * p_.active_volume_m3 * group_velocity_m_per_s() *
          threshold_gain_per_m());
}

double RateEquationLaser::analytic_relaxation_frequency_Hz(double current_A) const {
  const double s = analytic_photon_density_per_m3(current_A);
  const double omega2 = group_velocity_m_per_s() * differential_gain_m2() * s / photon_lifetime_s();
  return std::sqrt(omega2) / (2 * constants::pi);
}

double RateEquationLaser::analytic_turn_on_delay_s(double current_A) const {
  if (!(current_A > threshold_current_A()))
    fail("turn-on delay: drive current {} A must exceed the threshold {} A", current_A,
         threshold_current_A());
  const double pump =
      p_.injection_efficiency * current_A / (elementary_charge_C * p_.active_volume_m3);
  auto rate = [&](double n) { return 1.0 / (pump - recombination_per_m3_s(n)); };
  return boost::math::quadrature::gauss_kronrod<double, 61>::integrate(
      rate, 0.0, threshold_density_per_m3(), 15, 1e-10);
}

double RateEquationLaser::output_power_W(double photons_per_m3) const {
  return photon_energy_J(p_.wavelength_m) * group_velocity_m_per_s() * p_.mirror_loss_per_m *
         photons_per_m3 * p_.active_volume_m3 / p_.confinement_factor;
}

RateEquationLaser::State RateEquationLaser::steady_state(double current_A) const {
  if (!(current_A >= 0) || !std::isfinite(current_A))
    fail("laser drive current = {} A: must be finite and >= 0", current_A);
  // dS/dt = 0 gives S(N) = Gamma beta B N^2 / (1/tau_p - Gamma v_g g(N)) for N < N_th; then
  // dN/dt = 0 reads f(N) = R_sp(N) + B N^2 beta G/(1/tau_p - G) - pump = 0 with G = Gamma v_g g(N)
  // in (-inf, 1/tau_p), so G/(1/tau_p - G) > -1 and f' >= 2 B N (1 - beta) > 0: f is increasing
  // on [0, N_th), f(0) = -pump < 0 and f -> +inf at N_th. Bisect on [0, N_th]. The carriers sit
  // below -N_s (where the gain law is floored) at drives under about 10 uA, so the bracket
  // must start at 0, not at -N_s.
  const double vg = group_velocity_m_per_s();
  const double inv_tau_p = 1.0 / photon_lifetime_s();
  const double pump =
      p_.injection_efficiency * current_A / (elementary_charge_C * p_.active_volume_m3);
  auto photons = [&](double n) {
    return p_.confinement_factor * p_.spontaneous_coupling * p_.radiative_coefficient_m3_per_s * n *
           n / (inv_tau_p - p_.confinement_factor * vg * gain_per_m(n));
  };
  auto balance = [&](double n) {
    return recombination_per_m3_s(n) + vg * gain_per_m(n) * photons(n) - pump;
  };
  if (current_A == 0) return {0.0, 0.0};
  double lo = 0;
  double hi = threshold_density_per_m3();
  for (int i = 0; i < 400 && hi - lo > 1e-15 * hi; ++i) {
    const double mid = 0.5 * (lo + hi);
    (balance(mid) < 0 ? lo : hi) = mid;
  }
  const double n = 0.5 * (lo + hi);
  return {n, photons(n)};
}

std::vector<RateEquationLaser::Sample> RateEquationLaser::simulate(
    const std::function<double(double)>& current_A, State initial, double duration_s,
    double sample_interval_s) const {
  if (!(duration_s > 0) || !(sample_interval_s > 0) || sample_interval_s > duration_s)
    fail(
        "laser simulation: duration {} s and sample interval {} s must be > 0, interval <= "
        "duration",
        duration_s, sample_interval_s);
  // Normalised state keeps both components O(1) for the error control.
  const double n_scale = p_.transparency_density_per_m3;
  const double s_scale = 1e20;
  const double vg = group_velocity_m_per_s();
  const double inv_tau_p = 1.0 / photon_lifetime_s();
  const double qv = elementary_charge_C * p_.active_volume_m3;
  using state_type = std::array<double, 2>;
  auto system = [&](const state_type& x, state_type& dxdt, double t) {
    const double n = x[0] * n_scale;
    const double s = std::max(0.0, x[1]) * s_scale;
    const double g = gain_per_m(n);
    const double dn =
        p_.injection_efficiency * current_A(t) / qv - recombination_per_m3_s(n) - vg * g * s;
    const double ds =
        (p_.confinement_factor * vg * g - inv_tau_p) * s +
        p_.confinement_factor * p_.spontaneous_coupling * p_.radiative_coefficient_m3_per_s * n * n;
    dxdt[0] = dn / n_scale;
    dxdt[1] = ds / s_scale;
  };
  state_type x{initial.carriers_per_m3 / n_scale, initial.photons_per_m3 / s_scale};
  std::vector<Sample> out;
  auto observer = [&](const state_type& s, double t) {
    const double photons = std::max(0.0, s[1]) * s_scale;
    out.push_back({t, current_A(t), s[0] * n_scale, photons, output_power_W(photons)});
  };
  // The step never exceeds the sample interval, so a drive step between samples is not missed.
  auto stepper = odeint::make_dense_output(1e-12, 1e-9, sample_interval_s,
                                           odeint::runge_kutta_dopri5<state_type>());
  odeint::integrate_const(stepper, system, x, 0.0, duration_s, sample_interval_s, observer);
  return out;
}

}  // namespace lumac
