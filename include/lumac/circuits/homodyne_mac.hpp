// The homodyne optical MAC (PHYSICS.md §2-4): statistical noise budget, ENOB and Monte Carlo of
// one dot product y = sum_j x_j w_j of fan-in N on one output of a tile of M outputs.
//
// Encoding. Inputs drive the signal modulator and weights the LO modulator with drives
// v = x / m_x and u = w / m_w in [-1, 1] (clipped), where m is the modulator full scale. The
// modulator drive (devices/modulator.hpp) turns a drive into the field amplitude
// v' = quantized_drive(v, b, predistortion): the drive voltage (2 V_pi / pi) asin(v) with
// pre-distortion, V_pi v without, rounded to the b-bit DAC's uniform voltage grid if the `dac`
// source is on, and v' = sin(pi V / (2 V_pi)). The fields at the detector are
//   E_s,j = sqrt(n_s) (d sqrt(1 - v'_j^2) + i v'_j),  E_L,j = sqrt(n_L) (d sqrt(1 - u'_j^2) + i
//   u'_j)
// with d = 10^(-ER/20) if the `extinction` source is on (else 0), n_s, n_L the photons per
// symbol at full scale. full-scale encoding: m_x, m_w are the given full scales and n_s, n_L
// follow from the laser power through the link budget. norm-adaptive encoding (Hamerly; the
// seed's code): m_x = max|x|, m_w = max|w| and the power is scaled per dot product so that
// exactly N n_MAC photons are detected, n_MAC = eta (n_s,max + n_L,max):
// n_s = N n_s,max m_x^2 / ||x||^2, n_L likewise.
//
// Read-out. D = N+ - N- integrated over N symbols (one repeat): E[D] = 2 eta sum Re(E_s E_L*),
// gain G = 2 eta sqrt(n_s n_L) / (m_x m_w) electrons per unit of y. Noise of one read-out
// (electrons^2): shot eta sum(|E_s|^2 + |E_L|^2); dark 2 I_dark N T / q; the front end's
// amplifier and reset noise (devices/detector.hpp: an integrator's current noise over the
// window, read-out voltage noise times C, kTC unless CDS; a TIA's current noise and 4 k T / R_f);
// RIN after CMRR; weight noise, std sigma_w m_w on every weight: y-variance
// sigma_w^2 m_w^2 sum x'^2, temporal (new every repeat) or static (fixed per device); ADC
// quantization LSB^2 / 12 with the ADC span range_scale * R * G (times K for analog
// accumulation, which must hold K times the charge).
//
// Receiver capacity. The full-scale charge of a read-out is Q_fs = 2 eta sqrt(n_s n_L) N K_r
// electrons (every symbol at full scale; K_r = K for analog accumulation, else 1). An integrator
// with detector.integrator_capacitance_F = 0 is sized, C = Q q / V_swing, to hold the charge the
// ADC spans, Q = range_scale R G K_r / 2 (integrator_sizing = adc-span, the default: what the
// read-out must digitise; partial sums beyond it saturate), or Q = Q_fs (full-scale: nothing
// can saturate). Either way its read-out voltage noise is a fixed fraction of what it holds,
// whatever the laser power, and kTC grows as sqrt(C); a given C
// holds C V_swing / q electrons, and the mean charge, integrated symbol by symbol, saturates at
// +-C V_swing / q. A TIA clips each symbol's difference current at V_swing / R_f. What
// saturation removes is the deterministic error term "saturation" (the noise is taken as
// riding on the clipped mean).
//
// Repeats K (§4). digital: K read-outs averaged, every temporal variance / K (ADC included,
// assuming the read-out noise dithers the quantizer), static weight noise not reduced.
// analog: the charge of K repeats integrates before one read-out: shot, dark, amplifier, RIN and
// temporal weight variances grow K times while the signal grows K times (-> / K in y), reset
// noise is paid once (-> / K^2), the ADC must span K times the charge (-> unchanged in y).
//
// Deterministic errors (against the ideal x.w), in units of y: with f(v) the unquantized field
// (v with pre-distortion, sin(pi v / 2) without), the sine transfer's error
// `nonlinearity` = m_x m_w sum (f(v) f(u) - v u) (0 with pre-distortion; always on without),
// DAC quantization of the drive voltages `dac` = m_x m_w sum (v' u' - f(v) f(u)), the
// d^2 sqrt(1-v'^2) sqrt(1-u'^2) term of finite extinction (`extinction`), and clipping of inputs
// beyond full scale (always on). With system.offset_calibration (the default) each output's
// mean read-out at zero input, m_x m_w d^2 sum sqrt(1-u'^2), measured once, is subtracted from
// every read-out (in the budget, the Monte Carlo and the trace), so what is left of the
// extinction error is m_x m_w d^2 sum (sqrt(1-v'^2) - 1) sqrt(1-u'^2), second order in v.
//
// Static device errors and phase (issue 15 items 4 and 5). Every device of the tile has static
// errors drawn once per chip (DeviceErrors, draw_device): each modulator a bias offset delta
// from null and a V_pi error e (field angle theta = asin(v') / (1 + e) + delta, field
// sqrt(n) (d cos theta + i sin theta)), each output a signal-LO phase error phi (E_L e^(i phi)),
// a responsivity mismatch m of its balanced pair (diodes eta (1 +- m / 2): the read-out leaks
// eta (m / 2) sum (n+ + n-) = eta (m / 2) sum (|E_s|^2 + |E_L|^2)) and splitter power errors
// (n_s (1 + a), n_L (1 + b)); the LO phase also has temporal noise, new every repeat.
// Offset calibration measures each output's zero-input read-out on its own devices, so it
// removes the input modulator's bias error at v = 0 and the LO part of the mismatch leakage,
// not the data-dependent rest (delta_w sum v sqrt(1 - u^2), (m / 2) eta n_s sum v^2, ...).
// analyze() reports the static errors as their RMS over chips (terms phase, bias, mismatch,
// spread, each computed with the other errors at zero): a read-out R (electrons, calibrated) is
// exactly R(t) = cos t R(0) + sin t R(pi/2) in a phase or bias angle t, so for t ~ N(0, s^2)
// E[(R(t) - R(0))^2] = (m2 - 2 m1 + 1) R(0)^2 + s2 R(pi/2)^2, m1 = e^(-s^2/2),
// m2 = (1 + e^(-2 s^2)) / 2, s2 = (1 - e^(-2 s^2)) / 2; linear in m (exact); V_pi and splitter
// errors by 9-point Gauss-Hermite quadrature. Temporal phase noise of std s_t: per repeat the
// uncalibrated read-out A has variance (m2 - m1^2) A(0)^2 + s2 A(pi/2)^2 (term phase_noise,
// / K) and its mean falls to m1 A(0) (deterministic term phase_fading, (m1 - 1) A(0)).
// monte_carlo() draws a chip per sample (system.device_seed = 0, so that it averages over chips
// as the budget does) or uses chip device_seed for every sample.
// ENOB = log2(R / (sqrt(12) sigma_total)), sigma_total^2 =
// sum of noise variances + (total deterministic error)^2; R defaults to the Cauchy-Schwarz
// range 2 ||x|| ||w||.
#pragma once

#include <array>
#include <complex>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lumac/circuits/circuit_params.hpp"
#include "lumac/circuits/system.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/devices/detector.hpp"
#include "lumac/devices/modulator.hpp"
#include "lumac/devices/noise_sources.hpp"

namespace lumac {

// One dot product to run on the circuit.
struct DotProduct {
  std::vector<double> x, w;
  double x_full_scale = 1;  // input that drives the signal modulator to +-1 (full-scale encoding)
  double w_full_scale = 1;  // weight that drives the LO modulator to +-1
  double range = 0;         // output full-scale range R for ENOB; 0 = 2 ||x|| ||w||
};

// The static errors of the devices one output's dot product runs on: the input modulator of its
// row, its weight modulator, its LO phase, its balanced pair and the power the splitter trees
// deliver to its detectors. All zero is the nominal chip.
struct ModulatorErrors {
  double bias_rad = 0;    // bias offset from null: field angle theta + bias_rad
  double v_pi_error = 0;  // relative V_pi error: field angle theta / (1 + v_pi_error)
  bool nominal() const { return bias_rad == 0 && v_pi_error == 0; }
};
struct DeviceErrors {
  ModulatorErrors input, weight;
  double lo_phase_rad = 0;           // static signal-LO phase error of the output
  double responsivity_mismatch = 0;  // m = (eta+ - eta-) / eta of the output's pair
  double signal_power_error = 0;     // a: the detector receives n_s (1 + a)
  double lo_power_error = 0;         // b: n_L (1 + b)
  bool nominal() const {
    return input.nominal() && weight.nominal() && lo_phase_rad == 0 && responsivity_mismatch == 0 &&
           signal_power_error == 0 && lo_power_error == 0;
  }
};

// The devices of chip `chip` drawn from `rng` (RandomStream(seed, Stream::device)): the input
// modulator of row `row`, the weight modulator of output `output`, and the LO phase, balanced
// pair and splitter errors of detector (row, output) (the tile has B M pairs), each an independent
// normal of its configured std (modulator.bias_error_rad, modulator.v_pi_spread,
// system.lo_phase_error_rad, detector.responsivity_mismatch, system.splitter_imbalance) where
// its source (bias, spread, phase, mismatch) is on; zero otherwise. V_pi and power errors are
// kept above -0.9. The same (chip, row, output) always gives the same devices.
DeviceErrors draw_device(const CircuitParams& params, NoiseSources sources, const RandomStream& rng,
                         std::uint64_t chip, std::uint64_t row, std::uint64_t output);
// Whether any static spread of draw_device is configured and on.
bool has_device_spread(const CircuitParams& params, NoiseSources sources);

// What one dot product (one output, all repeats) consumes, for the energy account.
struct MacCounts {
  double laser_photons = 0;    // photons leaving the laser attributable to this output
  double input_symbols = 0;    // input modulator symbols (shared by the M outputs: N K / M)
  double weight_symbols = 0;   // weight modulator symbols (shared by the B rows: N K / B)
  double dac_conversions = 0;  // input + weight DAC conversions
  double adc_conversions = 0;  // K (digital averaging) or 1 (analog accumulation)
  double readouts = 0;         // integrator resets / TIA read-outs
};

// One term of the error budget, in units of the dot product.
struct ErrorTerm {
  std::string name;
  double std = 0;  // RMS (noise) or |error| (deterministic)
  bool deterministic = false;
};

struct NoiseBudget {
  double ideal = 0;                    // x . w
  double expected = 0;                 // mean read-out, deterministic errors included
  double range = 0;                    // R used for the ENOB
  double gain_electrons_per_unit = 0;  // G (one repeat)
  std::vector<ErrorTerm> terms;        // shot, dark, reset, amplifier, rin, weight, adc, phase,
                                       // phase_noise, bias, mismatch, spread, dac, nonlinearity,
                                       // extinction, clipping, saturation, phase_fading (after
                                       // repeats)
  double noise_std = 0;                // RMS of the noise terms
  double total_std = 0;                // RMS error: noise and deterministic error
  double enob = 0;
  double signal_photons_per_symbol = 0;   // n_s at modulator full scale
  double lo_photons_per_symbol = 0;       // n_L
  double photons_per_mac_full_scale = 0;  // eta (n_s,max + n_L,max) of the laser budget
  double photons_per_mac_detected = 0;    // eta sum(|E_s|^2 + |E_L|^2) / N, this dot product
  double laser_power_W = 0;
  // The receiver: capacitance (integrator; sized or given), the full-scale charge of one
  // read-out and what it needs (V on C, or the TIA's output at the full-scale current), the
  // largest mean charge (integrator) or TIA output of this dot product, and the swing.
  FrontEnd front_end = FrontEnd::integrator;
  double capacitance_F = 0;
  double full_scale_charge_electrons = 0;
  double full_scale_V = 0;
  double peak_V = 0;
  double swing_V = 0;
  bool saturates() const { return peak_V > swing_V * (1 + 1e-9); }  // beyond rounding
  MacCounts counts;
  double term(const std::string& name) const;  // std of a named term (0 if absent)
};

struct MonteCarloResult {
  std::int64_t samples = 0;
  double mean = 0;       // mean read-out (units of y)
  double noise_std = 0;  // standard deviation of the read-outs
  double rms_error = 0;  // RMS of read-out - ideal
  double enob = 0;       // log2(R / (sqrt(12) rms_error))
};

// The drives and photon numbers of one encoded dot product.
struct EncodedDotProduct {
  double x_scale = 1, w_scale = 1;       // m_x, m_w
  double n_signal = 0, n_lo = 0;         // photons per symbol at modulator full scale
  std::vector<double> x_level, w_level;  // drives x / m_x, w / m_w clipped to [-1, 1]
  std::vector<double> x_drive, w_drive;  // field amplitudes quantized_drive(level) in [-1, 1]
  double clipping_error = 0;             // (clipped - unclipped) . products, units of y
};

// The noise variance of one read-out (units of y^2, after repeats) as a polynomial of the sums
// a dot product's noise depends on, for full-scale encoding without extinction:
//   s = sum v^2, u = sum u^2, c = sum v^2 u^2, s4 = sum v^4, u4 = sum u^4
// (v = x / m_x, u = w / m_w the drives). Used by networks on the hardware (nn/analog.hpp),
// which evaluate it for every output. DAC quantization enters as its noise equivalent: the DAC
// rounds the drive voltage t = V / V_pi (step LSB = 1 / (2^(b-1) - 1), error variance
// LSB^2 / 12) and the field sin(pi t / 2) moves by (pi / 2) sqrt(1 - v^2) per unit of t, so a
// drive v carries field variance k (1 - v^2), k = (pi / 2)^2 LSB^2 / 12, and the product
// sum v u (errors e_v u + v e_u, independent) gets k sum (u^2 (1 - v^2) + v^2 (1 - u^2)):
// s = u = k m_x^2 m_w^2, c = -2 k m_x^2 m_w^2. Without pre-distortion the same k (1 - f^2) holds
// in the field f = sin(pi v / 2); the polynomial evaluates it at f ~ v, and the sine error
// itself (deterministic) is not in it. Tied to analyze() by a test. The receiver does not
// saturate here.
struct NoisePolynomial {
  double constant = 0, s = 0, u = 0, c = 0, s4 = 0, u4 = 0;
  double operator()(double s_, double u_, double c_, double s4_, double u4_) const {
    return constant + s * s_ + u * u_ + c * c_ + s4 * s4_ + u4 * u4_;
  }
  NoisePolynomial& operator+=(const NoisePolynomial& o);
};

// One polynomial per source, in the order shot, dark, reset, amplifier, rin, weight, adc, dac.
struct LayerNoiseModel {
  static constexpr std::array<std::string_view, 8> source_names{
      "shot", "dark", "reset", "amplifier", "rin", "weight", "adc", "dac"};
  std::array<NoisePolynomial, 8> by_source{};
  NoisePolynomial total;
  // Derivative of the total variance with respect to ln(photon scale), as a polynomial.
  NoisePolynomial d_total_d_log_scale;
};

// How the K repeats of one dot product become its read-out, and which weight noise they see:
// the one rule ("Repeats" above) that the noise budget, the layer noise model of networks, the
// Monte Carlo and the time-domain trace all follow.
struct ReadoutRule {
  int repeats = 1;              // K
  bool analog = false;          // analog accumulation (one read-out) or digital averaging
  double weight_noise_std = 0;  // sigma_w of the weight drives; 0 when the source is off
  bool static_weight = false;   // weight noise drawn once per device, the same every repeat
  // Repeats whose charge integrates before one read-out (and one reset): K analog, else 1.
  int repeats_per_readout() const { return analog ? repeats : 1; }
  // Read-outs (ADC conversions) averaged digitally: 1 analog, else K.
  int readouts() const { return analog ? 1 : repeats; }
  // Independent weight-noise draws averaged over the repeats: 1 static, else K.
  int weight_draws() const { return static_weight ? 1 : repeats; }
};
ReadoutRule readout_rule(const CircuitParams& params, NoiseSources sources);

class HomodyneMac {
 public:
  explicit HomodyneMac(const CircuitParams& params, NoiseSources sources = NoiseSources::all());
  const CircuitParams& params() const { return p_; }
  const LinkBudget& link() const { return link_; }
  NoiseSources sources() const { return sources_; }
  ReadoutRule readout_rule() const { return lumac::readout_rule(p_, sources_); }

  // eta (n_s,max + n_L,max): detected photons per MAC of the laser budget at full scale.
  double photons_per_mac_full_scale() const;
  double symbol_period_s() const { return link_.symbol_period_s(); }
  // Relative power variance of one symbol from the laser RIN: 10^(RIN/10) / (2 T).
  double rin_variance_per_symbol() const;
  // Field imbalance d used for the encoding (0 unless the extinction source is on).
  double extinction_residual() const;
  // Resolution of the drive DAC: dac.bits if the `dac` source is on, else 0 (an ideal drive).
  int dac_bits() const { return sources_.has(NoiseSource::dac) ? p_.dac.bits : 0; }

  EncodedDotProduct encode(const DotProduct& dp) const;
  // Field of one symbol: sqrt(n) (d sqrt(1 - v^2) + i v), or on a modulator with errors
  // sqrt(n) (d cos theta + i sin theta), theta = asin(v) / (1 + e) + delta.
  std::complex<double> symbol_field(double drive, double photons,
                                    const ModulatorErrors& errors = {}) const;
  // Photons at the two diodes over one repeat, optionally with weight drives perturbed by
  // `weight_error` (added to the LO drives, may be empty), on the devices `device` with a
  // temporal LO phase `phase_rad` added to its static one.
  WindowPhotons window(const EncodedDotProduct& e, const std::vector<double>& weight_error,
                       const DeviceErrors& device = {}, double phase_rad = 0) const;
  // The mean difference count of a window on `device` (electrons): eta (n+ - n-) plus the
  // responsivity mismatch leakage eta (m / 2) (n+ + n-).
  double mean_charge(const WindowPhotons& w, const DeviceErrors& device = {}) const;
  double gain_electrons_per_unit(const EncodedDotProduct& e) const;
  // The mean read-out at zero input (electrons, one repeat) on `device` that offset
  // calibration subtracts; 0 without it.
  double zero_input_offset(const EncodedDotProduct& e, const DeviceErrors& device = {}) const;
  double range_of(const DotProduct& dp) const;
  // Q_fs of a read-out of fan-in N with n_s, n_L photons per symbol at full scale (electrons).
  double full_scale_charge(double fan_in, double n_signal, double n_lo) const;
  // The charge a sized integrator holds (electrons): the ADC's half span range_scale R G K_r / 2
  // for a read-out of range R and gain G (integrator_sizing = adc-span), or Q_fs (full-scale).
  double sizing_charge(double fan_in, double n_signal, double n_lo, double range,
                       double gain) const;
  // The detector for a read-out of full-scale charge Q_fs: the configured one, its integrating
  // capacitance sized to Q_fs q / V_swing when the preset gives 0.
  BalancedDetector receiver(double full_scale_charge_electrons) const;

  NoiseBudget analyze(const DotProduct& dp) const;
  // The per-read-out noise polynomial of a layer: fan-in N, modulator full scales m_x, m_w,
  // output range R, and the laser power scaled by `photon_scale`. Full-scale encoding; the
  // extinction residual is not included.
  LayerNoiseModel layer_noise(double fan_in, double x_scale, double w_scale, double range,
                              double photon_scale = 1) const;
  // Samples of the read-out: temporal noise new for every sample, and the static errors of a
  // new chip for every sample (system.device_seed = 0) or of chip device_seed for all.
  MonteCarloResult monte_carlo(const DotProduct& dp, std::int64_t samples,
                               std::uint64_t seed) const;

 private:
  // What one dot product of fan-in N consumes (for the energy account).
  MacCounts counts(double fan_in) const;
  // The deterministic errors of the encoded dot product in units of y: the modulator's sine
  // transfer without pre-distortion, DAC quantization and finite extinction (`expected` is the
  // mean read-out); also sum x'^2 of the encoded inputs.
  struct DeterministicErrors {
    double dac = 0, nonlinearity = 0, extinction = 0, x2 = 0, sum_xu = 0;
  };
  DeterministicErrors deterministic_errors(const DotProduct& dp, const EncodedDotProduct& e,
                                           double expected) const;
  // The mean charge of one read-out after the receiver's saturation, against without (electrons),
  // and the largest output it reaches (V on the capacitor, or at the TIA output).
  struct Saturation {
    double error_electrons = 0;
    double peak_V = 0;
  };
  Saturation saturation(const EncodedDotProduct& e, const BalancedDetector& rx) const;
  // The static and phase terms of analyze() (electrons^2 of one read-out of one repeat, and
  // the phase-noise fading in electrons).
  struct DeviceTerms {
    double phase = 0, phase_noise = 0, bias = 0, mismatch = 0, spread = 0, fading = 0;
  };
  DeviceTerms device_terms(const EncodedDotProduct& e) const;
  CircuitParams p_;
  NoiseSources sources_;
  LinkBudget link_;
  MachZehnderModulator modulator_;
};

// The same circuit with the laser power set so that eta (n_s,max + n_L,max) = photons_per_mac.
CircuitParams with_photons_per_mac(CircuitParams params, double photons_per_mac);

}  // namespace lumac
