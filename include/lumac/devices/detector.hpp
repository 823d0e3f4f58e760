// Balanced homodyne detector with an integrating read-out (PHYSICS.md §2 and §6).
//
// Signal and local-oscillator fields of real amplitudes a_s, a_L (sqrt(photons per symbol),
// phase locked) meet on a 50:50 splitter: the diodes receive n+ = (a_s + a_L)^2 / 2 and
// n- = (a_s - a_L)^2 / 2 photons and count Poisson(eta n+-) electrons. The difference count
// D = N+ - N- is integrated on a capacitor over a window of symbols:
//   E[D] = 2 eta sum a_s a_L,   Var_shot(D) = eta sum (a_s^2 + a_L^2).
// Other noise of the integrated charge, in electrons:
//   dark      2 I_dark t / q                         (both diodes)
//   reset     kTC: std sqrt(k_B T C) / q             (40.3 e at 10 fF, 300 K)
//   amplifier i_n^2 t / (2 q^2)                      (white current noise, one-sided density)
//   RIN       eta^2 s_r^2 sum_j [(n+_j - n-_j)^2 + eps^2 (n+_j + n-_j)^2]
// where s_r^2 = 10^(RIN/10) / (2 T) is the relative power variance of one symbol of period T
// (independent between symbols) and eps = 10^(-CMRR/20) is the balanced pair's residual
// response to common-mode power. The static imbalance is assumed trimmed (offset calibrated);
// CMRR sets how much of the common-mode power fluctuation leaks into D.
#pragma once

#include <complex>
#include <cstdint>

#include "lumac/core/rng.hpp"
#include "lumac/devices/noise_sources.hpp"

namespace lumac {

struct DetectorParams {
  double quantum_efficiency = 0.8;            // eta, electrons per incident photon
  double dark_current_A = 10e-9;              // dark current of each diode
  double integrator_capacitance_F = 10e-15;   // integrating capacitor (sets kTC noise)
  double amplifier_noise_A_per_rtHz = 3e-12;  // input-referred amplifier current noise density
  double cmrr_dB = 30;                        // common-mode rejection ratio of the balanced pair
  double bandwidth_Hz = 30e9;                 // photodiode/front-end 3 dB bandwidth (first order)
};

template <class V>
void visit_fields(DetectorParams& p, V& v) {
  v.real("quantum_efficiency", p.quantum_efficiency, "1", "electrons per incident photon");
  v.real("dark_current_A", p.dark_current_A, "A", "dark current of each diode");
  v.real("integrator_capacitance_F", p.integrator_capacitance_F, "F",
         "integrating capacitor (sets kTC reset noise)");
  v.real("amplifier_noise_A_per_rtHz", p.amplifier_noise_A_per_rtHz, "A/sqrt(Hz)",
         "input-referred amplifier current noise density");
  v.real("cmrr_dB", p.cmrr_dB, "dB", "common-mode rejection ratio of the balanced pair");
  v.real("bandwidth_Hz", p.bandwidth_Hz, "Hz", "photodiode and front-end 3 dB bandwidth");
}

void validate(const DetectorParams& p);

// Photons reaching the two diodes over one integration window, with the second moments the RIN
// term needs. Add one symbol at a time.
struct WindowPhotons {
  double plus = 0;        // sum n+_j
  double minus = 0;       // sum n-_j
  double plus_sq = 0;     // sum n+_j^2
  double minus_sq = 0;    // sum n-_j^2
  double plus_minus = 0;  // sum n+_j n-_j
  void add_symbol(double a_signal, double a_lo);
  // A symbol of complex fields (sqrt(photons), relative to the LO phase reference): the diodes
  // receive |E_s +- E_L|^2 / 2.
  void add_fields(std::complex<double> signal, std::complex<double> lo);
};

// Shot-noise sampling: exact Poisson counts, or their Gaussian approximation.
enum class ShotModel { poisson, gaussian };

// Counter prefix that addresses the random draws of one read-out.
struct NoiseCounter {
  std::uint64_t a = 0, b = 0, c = 0;
};

class BalancedDetector {
 public:
  BalancedDetector(const DetectorParams& params, double wavelength_m, double temperature_K);
  const DetectorParams& params() const { return p_; }

  double responsivity_A_per_W() const;  // eta q lambda / (h c)
  double common_mode_leak() const;      // eps = 10^(-CMRR/20)
  double time_constant_s() const;       // 1 / (2 pi f_3dB)

  // Mean difference count 2 eta a_s a_L summed over the window: eta (plus - minus).
  double mean_difference(const WindowPhotons& w) const;
  // Variances of the difference count, electrons^2.
  double shot_variance(const WindowPhotons& w) const;          // eta (plus + minus)
  double dark_variance(double integration_time_s) const;       // 2 I_dark t / q
  double reset_std_electrons() const;                          // sqrt(k_B T C) / q
  double amplifier_variance(double integration_time_s) const;  // i_n^2 t / (2 q^2)
  // RIN term for a relative power variance per symbol `rin_var_per_symbol`.
  double rin_variance(const WindowPhotons& w, double rin_var_per_symbol) const;

  // One sampled difference count (electrons) of a window: Poisson (or Gaussian) counts of both
  // diodes with their RIN-modulated means, dark counts, reset and amplifier noise, each only if
  // its source is selected. Draws are addressed by `counter` (and the seed), one stream per
  // source.
  double sample_difference(const WindowPhotons& w, double integration_time_s,
                           double rin_var_per_symbol, NoiseSources sources, ShotModel shot,
                           std::uint64_t seed, NoiseCounter counter) const;

 private:
  DetectorParams p_;
  double wavelength_m_;
  double temperature_K_;
};

}  // namespace lumac
