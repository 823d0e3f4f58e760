// Mach-Zehnder modulator (PHYSICS.md §6, "Mach-Zehnder modulator").
//
// Power transfer  T(V) = T_min + (T_max - T_min) cos^2(pi V / (2 V_pi) + phi_b),
// with T_max = 10^(-IL/10) and T_min = T_max / ER. The field transfer is that of a push-pull MZM
// whose arms are unbalanced by d = sqrt(T_min / T_max) (the origin of the finite extinction):
//   t(V) = sqrt(T_max) (d cos(theta) + i sin(theta)),  theta = pi V / (2 V_pi) + phi_b + pi/2,
// so |t|^2 = T(V). Biased at null (phi_b = -pi/2) the quadrature amplitude Im t / sqrt(T_max) =
// sin(pi V / (2 V_pi)) is signed; the arcsine pre-distortion V = (2 V_pi / pi) asin(x) makes it
// exactly x. The in-phase residual d cos(theta) is what finite extinction adds: it carries
// photons (shot noise) and, in a homodyne product of two modulated fields, an error d^2.
// Drive (issue 15 item 7). A DAC over [-V_pi, V_pi] has uniform *voltage* steps: for a drive
// x in [-1, 1] the voltage relative to V_pi is t(x) = (2 / pi) asin(x) with pre-distortion
// (`predistortion`, the default), or t(x) = x without; a b-bit DAC rounds t to its mid-tread grid
// Q(t) = k / (2^(b-1) - 1) (devices/converters.hpp); the field amplitude is sin(pi Q(t) / 2).
// With pre-distortion the effective drive is x_q = sin(pi/2 Q(asin(x) 2/pi)): near x the field
// step is (pi/2) sqrt(1 - x^2) times the voltage step, pi/2 times an amplitude-domain step near
// 0, where activations cluster. Without pre-distortion the transfer sin(pi x / 2) is itself an
// error, sin(pi x / 2) - x (full scale still maps to 1).
// Bandwidth: first-order RC response of the drive, tau = 1 / (2 pi f_3dB), integrated with
// Boost.Odeint. Drive energy per symbol of a lumped device: C V_pp^2 / 4 with V_pp = 2 V_pi for
// the full +-1 swing.
#pragma once

#include <complex>
#include <string_view>
#include <vector>

#include "lumac/core/config.hpp"
#include "lumac/core/units.hpp"

namespace lumac {

// Weight (modulator drive / programming) noise: redrawn every repeat, or fixed per device.
enum class WeightNoiseKind { temporal, static_ };
template <>
struct EnumNames<WeightNoiseKind> {
  static constexpr std::array<std::pair<WeightNoiseKind, std::string_view>, 2> values{
      {{WeightNoiseKind::temporal, "temporal"}, {WeightNoiseKind::static_, "static"}}};
};

struct ModulatorParams {
  double v_pi_V = 2;                           // half-wave voltage
  double extinction_ratio_dB = 30;             // T_max / T_min
  double insertion_loss_dB = 3;                // loss at maximum transmission
  double bandwidth_Hz = 30e9;                  // 3 dB electro-optic bandwidth (first-order RC)
  double capacitance_F = 50e-15;               // lumped drive capacitance
  double bias_phase_rad = -constants::pi / 2;  // phi_b; -pi/2 is the null (signed-field) bias
  double weight_noise_std = 0;                 // weight drive noise std, relative to full scale
  WeightNoiseKind weight_noise_kind = WeightNoiseKind::temporal;  // temporal or static
  bool predistortion = true;  // arcsine pre-distortion of the drive voltage (else V = V_pi x)
  double bias_error_rad = 0;  // static std of each modulator's bias offset from null
  double v_pi_spread = 0;     // static relative std of each modulator's V_pi
};

template <class V>
void visit_fields(ModulatorParams& p, V& v) {
  v.real("v_pi_V", p.v_pi_V, "V", "half-wave voltage");
  v.real("extinction_ratio_dB", p.extinction_ratio_dB, "dB", "maximum / minimum transmission");
  v.real("insertion_loss_dB", p.insertion_loss_dB, "dB", "loss at maximum transmission");
  v.real("bandwidth_Hz", p.bandwidth_Hz, "Hz", "3 dB bandwidth of the first-order RC response");
  v.real("capacitance_F", p.capacitance_F, "F", "lumped drive capacitance");
  v.real("bias_phase_rad", p.bias_phase_rad, "rad", "bias phase phi_b (-pi/2 = null bias)");
  v.real("weight_noise_std", p.weight_noise_std, "1",
         "weight drive noise std relative to the weight full scale");
  v.choice("weight_noise_kind", p.weight_noise_kind,
           "temporal (new every repeat) or static (fixed per device)");
  v.boolean("predistortion", p.predistortion,
            "arcsine pre-distortion of the drive voltage (false: V = V_pi x, field sin(pi x / 2))");
  v.real("bias_error_rad", p.bias_error_rad, "rad",
         "std of each modulator's bias offset from null (what bias control leaves), drawn once "
         "per device");
  v.real("v_pi_spread", p.v_pi_spread, "1",
         "relative std of each modulator's V_pi, drawn once per device");
}

void validate(const ModulatorParams& p);

// The drive voltage relative to V_pi for a drive x in [-1, 1]: (2 / pi) asin(x) with
// pre-distortion, x without; rounded to the mid-tread grid of a `bits`-bit DAC over
// [-V_pi, V_pi] when bits > 0 (bits = 0: no DAC). |x| > 1 is an error.
double drive_voltage_normalized(double x, int bits, bool predistortion);
// The field amplitude the modulator gives for drive x: sin(pi t / 2) of the voltage above,
// x_q = sin(pi/2 Q(asin(x) 2 / pi)) with pre-distortion, sin(pi/2 Q(x)) without. Exactly x with
// pre-distortion and no DAC; full scale (x = +-1) maps to +-1 in every case.
double quantized_drive(double x, int bits, bool predistortion);

class MachZehnderModulator {
 public:
  explicit MachZehnderModulator(const ModulatorParams& params);
  const ModulatorParams& params() const { return p_; }

  double max_transmission() const;  // T_max
  double min_transmission() const;  // T_min
  // Field imbalance d = sqrt(T_min / T_max) = 10^(-ER/20).
  double field_imbalance() const;

  // theta(V) = pi V / (2 V_pi) + phi_b + pi/2; the field is sqrt(T_max) (d cos theta + i sin
  // theta).
  double phase_rad(double voltage_V) const;
  double power_transmission(double voltage_V) const;
  std::complex<double> field_transmission(double voltage_V) const;

  // The inverse of the field transfer: the drive voltage whose quadrature amplitude is x,
  // |x| <= 1 (the arcsine pre-distortion), referred to the configured bias.
  double drive_voltage(double x) const;
  // The voltage the DAC (bits > 0; 0 = ideal drive) applies for drive x, |x| <= 1: V_pi times
  // drive_voltage_normalized(x, bits, predistortion), referred to the configured bias like
  // drive_voltage(). Its quadrature amplitude is quantized_drive(x, bits, predistortion).
  double dac_voltage(double x, int bits) const;
  // Encodes drive x (|x| <= 1) as an output field (relative to the input field) through the
  // configured drive (pre-distorted or linear), without a DAC.
  std::complex<double> encode(double x) const;
  // What a receiver that knows the sign reads from the field magnitude:
  // sign(Im t) |t| / sqrt(T_max). Exact for infinite ER; otherwise within
  // sqrt(x^2 + d^2 (1 - x^2)) - |x| <= d of x.
  double decode_magnitude(std::complex<double> field) const;

  double time_constant_s() const;  // tau = 1 / (2 pi f_3dB)
  double drive_energy_J() const;   // C (2 V_pi)^2 / 4

  // First-order RC response to a zero-order-hold drive (one level per symbol), integrated with
  // Odeint's Runge-Kutta 4 (steps <= tau/10) from v(0) = v0, sampled `samples_per_symbol` times
  // per symbol. Returns samples_per_symbol * levels.size() + 1 filtered voltages.
  std::vector<double> filtered_drive(const std::vector<double>& levels_V, double symbol_period_s,
                                     int samples_per_symbol, double v0 = 0) const;

 private:
  ModulatorParams p_;
};

}  // namespace lumac
