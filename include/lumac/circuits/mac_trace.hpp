// Time-domain simulation of the homodyne MAC of circuits/homodyne_mac.hpp (PHYSICS.md §2):
//   DAC drives (zero-order hold at the symbol rate): the drive voltage, arcsine pre-distorted
//      (or V_pi x with modulator.predistortion = false), on the DAC's uniform voltage grid
//      when the `dac` source is on, so the fields are encode()'s
//   -> modulator RC responses (signal and LO)              dv/dt = (V_drive - v) / tau_m
//   -> optical fields sqrt(Phi) (d cos theta(v) + i sin theta(v)) with the laser power
//      (CW with RIN, or the rate-equation laser switched on before the first symbol)
//   -> photocurrents of both diodes R |E_s +- E_L|^2 / 2 + I_dark through the detector
//      bandwidth                                            di/dt = (I - i) / tau_d
//   -> integrator charge                                    dQ/dt = i+ - i-
//   -> sample at the end of the window -> ADC code -> read-out.
// The deterministic part is integrated with Boost.Odeint (classical Runge-Kutta 4, steps at
// most a quarter of the fastest time constant). Noise enters every step as Euler-Maruyama
// increments with the spectral densities of PHYSICS.md, so its integrated variance is right
// for any step size: shot noise of each diode (photo and dark current) as charge increments of
// variance q I dt, amplifier current noise i_n^2 dt / 2 (with 4 k T / R_f for a TIA), relative
// intensity noise r of variance 10^(RIN/10) / (2 dt) held over the step (with the CMRR leak of
// common-mode power), weight drive noise on the LO DAC levels, kTC noise at every integrator
// reset (none with CDS) and the read-out amplifier's voltage noise on every sample. The
// receiver is the one the statistical budget uses (its capacitance sized the same way); the
// integrator's charge saturates at +-C V_swing, a TIA's difference current at V_swing / R_f.
// Finite bandwidths give inter-symbol interference; finite extinction and bias errors act
// through the modulator transfer itself. The run is on a chip (homodyne_mac.hpp, "Static
// device errors"): chip system.device_seed, or with 0 a new chip for every run as the Monte
// Carlo draws one per sample. Its modulators' bias and V_pi errors enter the transfer's angle,
// its splitter errors the fluxes, its LO phase (static, plus the temporal phase noise of each
// repeat, drawn as the Monte Carlo does) rotates the LO field, and the diodes' quantum
// efficiencies are eta (1 +- m / 2).
#pragma once

#include <cstdint>
#include <vector>

#include "lumac/circuits/homodyne_mac.hpp"

namespace lumac {

struct TraceOptions {
  int samples_per_symbol = 16;       // recorded samples per symbol (the step is finer if needed)
  bool record = true;                // keep the waveforms
  bool rate_equation_laser = false;  // laser power from the rate equations (switched on at -lead)
  double laser_lead_s = 5e-9;        // time from laser turn-on to the first symbol
  double laser_bias_multiple = 3;    // rate-equation drive current / threshold current
  std::uint64_t seed = 1;
  std::uint64_t run = 0;  // index of this run (RNG counter)
};

struct MacTrace {
  // Waveforms, one value per recorded sample (when TraceOptions::record).
  std::vector<double> time_s;
  std::vector<double> drive_signal_V, drive_lo_V;          // DAC outputs (zero-order hold)
  std::vector<double> modulator_signal_V, modulator_lo_V;  // after the modulator RC response
  std::vector<double> power_signal_W, power_lo_W;          // |E_s|^2, |E_L|^2 at the detector
  std::vector<double> current_plus_A, current_minus_A;     // diode currents with noise
  std::vector<double> charge_C;                            // integrator charge
  std::vector<double> laser_power_W;                       // laser output
  // Per read-out (K for digital averaging, 1 for analog accumulation).
  std::vector<double> readout_charge_C;  // integrator charge sampled at the end of each window
  std::vector<double> window_open_s, window_close_s;  // each integration window (s)
  std::vector<std::int64_t> adc_codes;  // ADC code of each read-out (-1 if the ADC is off)
  double readout = 0;  // the dot product read out (units of y), averaged over repeats
  double ideal = 0;    // x . w
  double gain_electrons_per_unit = 0;
  double adc_lsb_C = 0;  // ADC step, charge units (0 if the ADC is off)
};

// Simulates the circuit of `mac` computing `dp` (with the repeats and averaging of its config).
MacTrace simulate_trace(const HomodyneMac& mac, const DotProduct& dp, const TraceOptions& options);

// Monte Carlo over `runs` time-domain runs of the same dot product.
MonteCarloResult time_domain_monte_carlo(const HomodyneMac& mac, const DotProduct& dp,
                                         std::int64_t runs, std::uint64_t seed,
                                         int samples_per_symbol);

}  // namespace lumac
