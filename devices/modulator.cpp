#include "lumac/devices/modulator.hpp"

#include <array>
#include <boost/numeric/odeint.hpp>
#include <cmath>

#include "lumac/core/error.hpp"
#include "lumac/devices/converters.hpp"

namespace lumac {

namespace odeint = boost::numeric::odeint;
using constants::pi;

void validate(const ModulatorParams& p) {
  const FieldCheck c("modulator");
  c.positive("v_pi_V", p.v_pi_V);
  c.positive("extinction_ratio_dB", p.extinction_ratio_dB);
  c.non_negative("insertion_loss_dB", p.insertion_loss_dB);
  c.positive("bandwidth_Hz", p.bandwidth_Hz);
  c.non_negative("capacitance_F", p.capacitance_F);
  c.closed("bias_phase_rad", p.bias_phase_rad, -2 * pi, 2 * pi);
  c.closed("weight_noise_std", p.weight_noise_std, 0, 10);
  c.closed("bias_error_rad", p.bias_error_rad, 0, 0.5);
  c.closed("v_pi_spread", p.v_pi_spread, 0, 0.2);
}

double drive_voltage_normalized(double x, int bits, bool predistortion) {
  if (!(std::abs(x) <= 1)) fail("modulator drive x = {}: must be in [-1, 1]", x);
  if (bits < 0) fail("DAC bits = {}: must be >= 0 (0 = no DAC)", bits);
  const double t = predistortion ? 2 / pi * std::asin(x) : x;
  return bits > 0 ? MidTreadQuantizer(bits).quantize(t) : t;
}

double quantized_drive(double x, int bits, bool predistortion) {
  if (bits == 0 && predistortion && std::abs(x) <= 1) return x;  // sin(asin(x)), exactly
  return std::sin(pi / 2 * drive_voltage_normalized(x, bits, predistortion));
}

MachZehnderModulator::MachZehnderModulator(const ModulatorParams& params) : p_(params) {
  validate(p_);
}

double MachZehnderModulator::max_transmission() const {
  return loss_db_to_transmission(p_.insertion_loss_dB);
}

double MachZehnderModulator::min_transmission() const {
  return max_transmission() / db_to_power_ratio(p_.extinction_ratio_dB);
}

double MachZehnderModulator::field_imbalance() const {
  return std::pow(10.0, -p_.extinction_ratio_dB / 20.0);
}

double MachZehnderModulator::power_transmission(double v) const {
  const double c = std::cos(pi * v / (2 * p_.v_pi_V) + p_.bias_phase_rad);
  return min_transmission() + (max_transmission() - min_transmission()) * c * c;
}

double MachZehnderModulator::phase_rad(double v) const {
  return pi * v / (2 * p_.v_pi_V) + p_.bias_phase_rad + pi / 2;
}

std::complex<double> MachZehnderModulator::field_transmission(double v) const {
  const double theta = phase_rad(v);
  const double d = field_imbalance();
  return std::sqrt(max_transmission()) * std::complex<double>(d * std::cos(theta), std::sin(theta));
}

double MachZehnderModulator::drive_voltage(double x) const {
  if (!(std::abs(x) <= 1)) fail("modulator input x = {}: must be in [-1, 1]", x);
  // Pre-distortion for the null bias, referred to the configured bias.
  return 2 * p_.v_pi_V / pi * (std::asin(x) - (p_.bias_phase_rad + pi / 2));
}

double MachZehnderModulator::dac_voltage(double x, int bits) const {
  // The same bias reference as drive_voltage(): theta = pi/2 drive_voltage_normalized(x).
  return p_.v_pi_V * drive_voltage_normalized(x, bits, p_.predistortion) -
         2 * p_.v_pi_V / pi * (p_.bias_phase_rad + pi / 2);
}

std::complex<double> MachZehnderModulator::encode(double x) const {
  return field_transmission(dac_voltage(x, 0));
}

double MachZehnderModulator::decode_magnitude(std::complex<double> field) const {
  const double magnitude = std::abs(field) / std::sqrt(max_transmission());
  return field.imag() < 0 ? -magnitude : magnitude;
}

double MachZehnderModulator::time_constant_s() const {
  return 1.0 / (2 * pi * p_.bandwidth_Hz);
}

double MachZehnderModulator::drive_energy_J() const {
  const double v_pp = 2 * p_.v_pi_V;
  return p_.capacitance_F * v_pp * v_pp / 4;
}

std::vector<double> MachZehnderModulator::filtered_drive(const std::vector<double>& levels_V,
                                                         double symbol_period_s,
                                                         int samples_per_symbol, double v0) const {
  if (!(symbol_period_s > 0) || samples_per_symbol < 1)
    fail("modulator drive: symbol period {} s and samples per symbol {} must be positive",
         symbol_period_s, samples_per_symbol);
  const double tau = time_constant_s();
  const double dt = symbol_period_s / samples_per_symbol;
  // RK4 is accurate and stable for steps well below tau: split each output step if needed.
  const int substeps = std::max(1, static_cast<int>(std::ceil(dt / (0.1 * tau))));
  const double h = dt / substeps;
  using state_type = std::array<double, 1>;
  odeint::runge_kutta4<state_type> stepper;
  state_type v{v0};
  std::vector<double> out;
  out.reserve(levels_V.size() * static_cast<std::size_t>(samples_per_symbol) + 1);
  out.push_back(v[0]);
  double t = 0;
  for (double level : levels_V) {
    auto rc = [&](const state_type& x, state_type& dxdt, double) {
      dxdt[0] = (level - x[0]) / tau;
    };
    for (int k = 0; k < samples_per_symbol; ++k) {
      for (int j = 0; j < substeps; ++j) {
        stepper.do_step(rc, v, t, h);
        t += h;
      }
      out.push_back(v[0]);
    }
  }
  return out;
}

}  // namespace lumac
