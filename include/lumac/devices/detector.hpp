// Balanced homodyne detector with its receiver front end (PHYSICS.md §2, §6 and §7a).
//
// Signal and local-oscillator fields of real amplitudes a_s, a_L (sqrt(photons per symbol),
// phase locked) meet on a 50:50 splitter: the diodes receive n+ = (a_s + a_L)^2 / 2 and
// n- = (a_s - a_L)^2 / 2 photons and count Poisson(eta n+-) electrons. The difference count
// D = N+ - N- over a window of symbols (the fan-in) is the read-out:
//   E[D] = 2 eta sum a_s a_L,   Var_shot(D) = eta sum (a_s^2 + a_L^2).
// Noise of the read-out, in electrons (t the window):
//   dark       2 I_dark t / q                                  (both diodes)
//   RIN        eta^2 s_r^2 sum_j [(n+_j - n-_j)^2 + eps^2 (n+_j + n-_j)^2]
// where s_r^2 = 10^(RIN/10) / (2 T) is the relative power variance of one symbol of period T
// (independent between symbols) and eps = 10^(-CMRR/20) the pair's residual response to
// common-mode power (the static imbalance is trimmed), and, by front end:
//   integrator (the difference current charges a capacitor C, read once per window):
//     reset      kTC: std sqrt(k_B T C) / q, removed by correlated double sampling (CDS)
//     amplifier  i_n^2 t / (2 q^2)                       input current noise over the window
//              + (C e_n)^2 (pi / 2) B_r (1 + CDS) / q^2  read-out amplifier voltage noise over
//                                                         its bandwidth B_r, once per sample
//                                                         (twice with CDS)
//     capacity   C V_swing / q electrons; C = 0 sizes it to the charge the ADC spans or to
//                the full-scale charge (integrator_sizing)
//   tia (a transimpedance amplifier of feedback resistance R_f, its output integrated):
//     amplifier  (i_n^2 + 4 k_B T / R_f) t / (2 q^2)
//     capacity   a symbol's difference current clips at V_swing / R_f
#pragma once

#include <array>
#include <complex>
#include <cstdint>
#include <string_view>
#include <utility>

#include "lumac/core/config.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/devices/noise_sources.hpp"

namespace lumac {

// The receiver front end of the balanced pair.
enum class FrontEnd { integrator, tia };
template <>
struct EnumNames<FrontEnd> {
  static constexpr std::array<std::pair<FrontEnd, std::string_view>, 2> values{
      {{FrontEnd::integrator, "integrator"}, {FrontEnd::tia, "tia"}}};
};

// What an integrator with C = 0 is sized to hold: the charge the ADC spans (the read-out's
// range; the default), or the full-scale charge of every symbol at full scale.
enum class IntegratorSizing { adc_span, full_scale };
template <>
struct EnumNames<IntegratorSizing> {
  static constexpr std::array<std::pair<IntegratorSizing, std::string_view>, 2> values{
      {{IntegratorSizing::adc_span, "adc-span"}, {IntegratorSizing::full_scale, "full-scale"}}};
};

struct DetectorParams {
  FrontEnd front_end = FrontEnd::integrator;  // integrating capacitor or transimpedance amplifier
  double quantum_efficiency = 0.8;            // eta, electrons per incident photon
  double dark_current_A = 10e-9;              // dark current of each diode
  double integrator_capacitance_F = 0;        // C; 0 = sized (integrator_sizing)
  IntegratorSizing integrator_sizing = IntegratorSizing::adc_span;  // what a sized C holds
  double swing_V = 1.0;                         // output swing: capacitor voltage or TIA output
  bool correlated_double_sampling = true;       // CDS removes kTC, reads the amplifier twice
  double readout_noise_V_per_rtHz = 5e-9;       // read-out amplifier input voltage noise (e_n)
  double readout_bandwidth_Hz = 1e9;            // read-out amplifier 3 dB bandwidth (first order)
  double amplifier_noise_A_per_rtHz = 0.1e-12;  // input current noise density (i_n)
  double tia_feedback_ohm = 5e3;                // R_f of the TIA front end
  double cmrr_dB = 30;                          // common-mode rejection ratio of the balanced pair
  double bandwidth_Hz = 30e9;                   // photodiode/front-end 3 dB bandwidth (first order)
  double responsivity_mismatch = 0;             // static std of (eta+ - eta-) / eta of each pair
};

template <class V>
void visit_fields(DetectorParams& p, V& v) {
  v.choice("front_end", p.front_end,
           "integrator (capacitor read once per window) or tia (transimpedance amplifier)");
  v.real("quantum_efficiency", p.quantum_efficiency, "1", "electrons per incident photon");
  v.real("dark_current_A", p.dark_current_A, "A", "dark current of each diode");
  v.real("integrator_capacitance_F", p.integrator_capacitance_F, "F",
         "integrating capacitor; 0 sizes it (integrator_sizing) on swing_V");
  v.choice("integrator_sizing", p.integrator_sizing,
           "a sized integrator holds the charge the ADC spans (adc-span) or every symbol at full "
           "scale (full-scale)");
  v.real("swing_V", p.swing_V, "V",
         "largest output voltage: the integrator's capacitor or the TIA's output");
  v.boolean("correlated_double_sampling", p.correlated_double_sampling,
            "integrator: CDS removes kTC reset noise and reads the amplifier noise twice");
  v.real("readout_noise_V_per_rtHz", p.readout_noise_V_per_rtHz, "V/sqrt(Hz)",
         "integrator: read-out amplifier input voltage noise density");
  v.real("readout_bandwidth_Hz", p.readout_bandwidth_Hz, "Hz",
         "integrator: read-out amplifier 3 dB bandwidth (first order)");
  v.real("amplifier_noise_A_per_rtHz", p.amplifier_noise_A_per_rtHz, "A/sqrt(Hz)",
         "input-referred current noise density of the front-end amplifier");
  v.real("tia_feedback_ohm", p.tia_feedback_ohm, "Ohm", "tia: feedback resistance R_f");
  v.real("cmrr_dB", p.cmrr_dB, "dB", "common-mode rejection ratio of the balanced pair");
  v.real("bandwidth_Hz", p.bandwidth_Hz, "Hz", "photodiode and front-end 3 dB bandwidth");
  v.real("responsivity_mismatch", p.responsivity_mismatch, "1",
         "std of the relative responsivity difference (eta+ - eta-) / eta of each balanced pair, "
         "drawn once per device");
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
  // An integrator with C = 0 needs its capacitance sized first (circuits/homodyne_mac.hpp does,
  // from the full-scale charge): lumac::Error here.
  BalancedDetector(const DetectorParams& params, double wavelength_m, double temperature_K);
  const DetectorParams& params() const { return p_; }

  double responsivity_A_per_W() const;  // eta q lambda / (h c)
  double common_mode_leak() const;      // eps = 10^(-CMRR/20)
  double time_constant_s() const;       // 1 / (2 pi f_3dB)

  // Mean difference count 2 eta a_s a_L summed over the window: eta (plus - minus).
  double mean_difference(const WindowPhotons& w) const;
  // Variances of the difference count, electrons^2.
  double shot_variance(const WindowPhotons& w) const;     // eta (plus + minus)
  double dark_variance(double integration_time_s) const;  // 2 I_dark t / q
  // Integrator reset noise: sqrt(k_B T C) / q, 0 with CDS or for a TIA.
  double reset_std_electrons() const;
  // Amplifier noise of one read-out of window t (see the header), electrons^2.
  double amplifier_variance(double integration_time_s) const;
  // Its parts: the current noise over the window, and the integrator's sampled voltage noise.
  double current_noise_variance(double integration_time_s) const;
  double voltage_noise_variance() const;
  // Integrator: the charge it holds, C V_swing / q electrons.
  double capacity_electrons() const;
  // TIA: the difference current at which its output clips, V_swing / R_f.
  double max_current_A() const;
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
