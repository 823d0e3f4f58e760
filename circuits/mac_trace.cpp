#include "lumac/circuits/mac_trace.hpp"

#include <array>
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <numeric>

#include "lumac/core/error.hpp"
#include "lumac/core/precision.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/core/units.hpp"
#include "lumac/devices/converters.hpp"
#include "lumac/devices/laser.hpp"

namespace lumac {

namespace odeint = boost::numeric::odeint;
using constants::elementary_charge_C;

namespace {

// State: modulator voltages (signal, LO), filtered diode currents (+, -), integrator charge.
using State = std::array<double, 5>;

// Drive voltages of every symbol of every repeat, signal and LO (the LO carries the weight
// drive noise, drawn per the read-out rule).
void drive_levels(const MachZehnderModulator& mzm, const EncodedDotProduct& e,
                  const ReadoutRule& rule, const TraceOptions& opt, std::vector<double>& v_sig,
                  std::vector<double>& v_lo) {
  const std::size_t n = e.x_drive.size();
  const double sigma_w = rule.weight_noise_std;
  const RandomStream wt_rng(opt.seed, Stream::weight_temporal),
      ws_rng(opt.seed, Stream::weight_static);
  v_sig.resize(n * static_cast<std::size_t>(rule.repeats));
  v_lo.resize(v_sig.size());
  std::vector<double> noise(n);
  if (sigma_w > 0 && rule.static_weight) ws_rng.fill_normal(noise, opt.run, 0, 0);
  for (int r = 0; r < rule.repeats; ++r) {
    if (sigma_w > 0 && !rule.static_weight)
      wt_rng.fill_normal(noise, opt.run, static_cast<std::uint64_t>(r), 0);
    for (std::size_t j = 0; j < n; ++j) {
      const double u = e.w_drive[j] + (sigma_w > 0 ? sigma_w * noise[j] : 0.0);
      v_sig[r * n + j] = mzm.drive_voltage(e.x_drive[j]);
      v_lo[r * n + j] = mzm.drive_voltage(std::clamp(u, -1.0, 1.0));
    }
  }
}

// Laser power relative to its nominal value at every integration step: empty for CW, or the
// rate-equation laser switched on at -lead with a constant current, normalised to its steady
// state.
std::vector<double> laser_envelope(const CircuitParams& p, const TraceOptions& opt,
                                   double total_time, double h) {
  std::vector<double> laser_shape;
  if (!opt.rate_equation_laser) return laser_shape;
  if (!(opt.laser_lead_s >= 0) || !(opt.laser_bias_multiple > 1))
    fail("rate-equation laser: lead time {} s must be >= 0 and bias multiple {} > 1",
         opt.laser_lead_s, opt.laser_bias_multiple);
  const RateEquationLaser rel(p.laser);
  const double current = opt.laser_bias_multiple * rel.threshold_current_A();
  const double p_ss = rel.output_power_W(rel.steady_state(current).photons_per_m3);
  const auto s =
      rel.simulate([current](double) { return current; }, {}, opt.laser_lead_s + total_time + h, h);
  const auto first = static_cast<std::size_t>(std::llround(opt.laser_lead_s / h));
  for (std::size_t i = first; i < s.size(); ++i) laser_shape.push_back(s[i].power_W / p_ss);
  return laser_shape;
}

}  // namespace

MacTrace simulate_trace(const HomodyneMac& mac, const DotProduct& dp, const TraceOptions& opt) {
  if (opt.samples_per_symbol < 1 || opt.samples_per_symbol > 4096)
    fail("samples per symbol = {}: must be in [1, 4096]", opt.samples_per_symbol);
  const CircuitParams& p = mac.params();
  const NoiseSources src = mac.sources();
  const EncodedDotProduct e = mac.encode(dp);
  const MachZehnderModulator mzm(p.modulator);
  const BalancedDetector det(p.detector, p.laser.wavelength_m, p.system.temperature_K);
  const std::size_t n = dp.x.size();
  const ReadoutRule rule = mac.readout_rule();
  const int k = rule.repeats;
  const bool analog = rule.analog;
  const double t_sym = mac.symbol_period_s();
  const double eta = p.detector.quantum_efficiency;
  const double q = elementary_charge_C;
  const double d = mac.extinction_residual();
  const double eps = det.common_mode_leak();
  const double tau_m = mzm.time_constant_s(), tau_d = det.time_constant_s();
  // Recorded step and the integration step (at most a quarter of the fastest time constant).
  const double dt_rec = t_sym / opt.samples_per_symbol;
  const int substeps =
      std::max(1, static_cast<int>(std::ceil(dt_rec / (0.25 * std::min(tau_m, tau_d)))));
  const double h = dt_rec / substeps;
  // Photon fluxes at full scale (photons/s at the detector).
  const double flux_s = e.n_signal / t_sym, flux_l = e.n_lo / t_sym;
  const double rin_psd = db_to_power_ratio(p.laser.rin_dB_per_Hz);
  const double dark = src.has(NoiseSource::dark) ? p.detector.dark_current_A : 0.0;
  const double amp_var_rate = src.has(NoiseSource::amplifier)
                                  ? 0.5 * std::pow(p.detector.amplifier_noise_A_per_rtHz, 2)
                                  : 0.0;
  const RandomStream rng(opt.seed, Stream::trace);

  MacTrace tr;
  tr.ideal = std::inner_product(dp.x.begin(), dp.x.end(), dp.w.begin(), 0.0);
  const double g = mac.gain_electrons_per_unit(e);
  tr.gain_electrons_per_unit = g;
  if (!(g > 0))
    fail("time domain: the dot product carries no signal (zero photons or a zero vector)");
  const double range = mac.range_of(dp);
  const bool adc = src.has(NoiseSource::adc);
  const double span_e = p.adc.range_scale * range * g * rule.repeats_per_readout();
  const MidRiseQuantizer quantizer(p.adc.bits, -span_e / 2, span_e / 2);
  tr.adc_lsb_C = adc ? quantizer.lsb() * q : 0.0;

  const std::size_t symbols = n * static_cast<std::size_t>(k);
  std::vector<double> v_sig, v_lo;
  drive_levels(mzm, e, rule, opt, v_sig, v_lo);
  const std::vector<double> laser_shape =
      laser_envelope(p, opt, static_cast<double>(symbols) * t_sym, h);

  // Deterministic dynamics over one step with piecewise-constant drives and laser factor.
  double drive_s = 0, drive_l = 0, laser = 1;
  auto photon_fluxes = [&](double vs, double vl, double& plus, double& minus) {
    const double ts = mzm.phase_rad(vs), tl = mzm.phase_rad(vl);
    const std::complex<double> es =
        std::sqrt(flux_s * laser) * std::complex<double>(d * std::cos(ts), std::sin(ts));
    const std::complex<double> el =
        std::sqrt(flux_l * laser) * std::complex<double>(d * std::cos(tl), std::sin(tl));
    plus = 0.5 * std::norm(es + el);
    minus = 0.5 * std::norm(es - el);
  };
  auto system = [&](const State& x, State& dxdt, double) {
    double fp, fm;
    photon_fluxes(x[0], x[1], fp, fm);
    dxdt[0] = (drive_s - x[0]) / tau_m;
    dxdt[1] = (drive_l - x[1]) / tau_m;
    dxdt[2] = (eta * q * fp + dark - x[2]) / tau_d;
    dxdt[3] = (eta * q * fm + dark - x[3]) / tau_d;
    dxdt[4] = x[2] - x[3];
  };
  odeint::runge_kutta4<State> stepper;

  // The integration windows are aligned with the signal: they open and close one group delay
  // (tau_m + tau_d) after the symbol boundaries, so only genuine inter-symbol interference
  // remains. After the last symbol the drives return to 0 V until the last window closes.
  const std::size_t window_symbols = analog ? symbols : n;
  const std::size_t windows = symbols / window_symbols;
  const auto delay_steps = static_cast<std::int64_t>(std::llround((tau_m + tau_d) / h));
  const std::int64_t steps_per_symbol =
      static_cast<std::int64_t>(substeps) * opt.samples_per_symbol;
  const std::int64_t window_steps = static_cast<std::int64_t>(window_symbols) * steps_per_symbol;
  const std::int64_t total_steps =
      static_cast<std::int64_t>(symbols) * steps_per_symbol + delay_steps;
  const std::int64_t recorded_steps = (total_steps + substeps - 1) / substeps;

  // Modulators start at the null (0 V), diodes at their dark current.
  State x{0, 0, dark, dark, 0};
  const double reset_std_C = src.has(NoiseSource::reset) ? det.reset_std_electrons() * q : 0.0;
  auto reset = [&](std::uint64_t window) {
    x[4] = reset_std_C * rng.normal(opt.run, window, 0, 1);
  };
  double readout_sum = 0;
  // Closing a window: the integrator's charge is sampled (and converted by the ADC).
  auto sample_window = [&] {
    const double electrons = x[4] / q;
    tr.readout_charge_C.push_back(x[4]);
    const std::int64_t code = adc ? quantizer.code(electrons) : -1;
    tr.adc_codes.push_back(code);
    readout_sum += (adc ? quantizer.value(code) : electrons) / (g * rule.repeats_per_readout());
  };
  const double e_ph = photon_energy_J(p.laser.wavelength_m);
  std::array<double, 8> z{};
  std::int64_t step = 0;
  double t = 0;
  for (std::int64_t rec = 0; rec < recorded_steps; ++rec) {
    double noise_plus = 0, noise_minus = 0;  // shot-noise charge of the recorded step
    for (int sub = 0; sub < substeps && step < total_steps; ++sub, ++step) {
      // Window boundaries: open the first window, close (sample) and reopen the others.
      if (step >= delay_steps && (step - delay_steps) % window_steps == 0) {
        const auto w = static_cast<std::size_t>((step - delay_steps) / window_steps);
        if (w > 0) sample_window();
        if (w < windows) reset(w);
      }
      const std::int64_t symbol = step / steps_per_symbol;
      drive_s = symbol < static_cast<std::int64_t>(symbols)
                    ? v_sig[static_cast<std::size_t>(symbol)]
                    : 0.0;
      drive_l = symbol < static_cast<std::int64_t>(symbols) ? v_lo[static_cast<std::size_t>(symbol)]
                                                            : 0.0;
      laser = opt.rate_equation_laser
                  ? laser_shape[std::min(laser_shape.size() - 1, static_cast<std::size_t>(step))]
                  : 1.0;
      rng.fill_normal(z, opt.run, static_cast<std::uint64_t>(step), 0);
      double fp0, fm0;
      photon_fluxes(x[0], x[1], fp0, fm0);
      stepper.do_step(system, x, t, h);
      t += h;
      // Euler-Maruyama increments of the integrated charge from the currents at step start.
      const double ip = eta * q * fp0, im = eta * q * fm0;
      double dq_plus = 0, dq_minus = 0, dq = 0;
      if (src.has(NoiseSource::shot)) {
        dq_plus += std::sqrt(q * ip * h) * z[0];
        dq_minus += std::sqrt(q * im * h) * z[1];
      }
      if (dark > 0) {
        dq_plus += std::sqrt(q * dark * h) * z[2];
        dq_minus += std::sqrt(q * dark * h) * z[3];
      }
      if (amp_var_rate > 0) dq += std::sqrt(amp_var_rate * h) * z[4];
      if (src.has(NoiseSource::rin)) {
        // Relative power fluctuation r over the step (variance S / (2 h)): it scales the
        // difference current, and the common-mode current leaks through the CMRR.
        const double r = std::sqrt(rin_psd / (2 * h)) * z[5];
        dq += ((ip - im) + eps * (ip + im)) * r * h;
      }
      x[4] += dq + dq_plus - dq_minus;
      noise_plus += dq_plus;
      noise_minus += dq_minus;
    }
    if (opt.record) {
      const double dt = substeps * h;
      const double ts = mzm.phase_rad(x[0]), tl = mzm.phase_rad(x[1]);
      tr.time_s.push_back(t);
      tr.drive_signal_V.push_back(drive_s);
      tr.drive_lo_V.push_back(drive_l);
      tr.modulator_signal_V.push_back(x[0]);
      tr.modulator_lo_V.push_back(x[1]);
      tr.power_signal_W.push_back(flux_s * laser * e_ph *
                                  (d * d * std::pow(std::cos(ts), 2) + std::pow(std::sin(ts), 2)));
      tr.power_lo_W.push_back(flux_l * laser * e_ph *
                              (d * d * std::pow(std::cos(tl), 2) + std::pow(std::sin(tl), 2)));
      tr.current_plus_A.push_back(x[2] + noise_plus / dt);
      tr.current_minus_A.push_back(x[3] + noise_minus / dt);
      tr.charge_C.push_back(x[4]);
      tr.laser_power_W.push_back(p.laser.power_W * laser);
    }
  }
  sample_window();  // the last window closes at the end of the simulation
  tr.readout = readout_sum / rule.readouts();
  return tr;
}

MonteCarloResult time_domain_monte_carlo(const HomodyneMac& mac, const DotProduct& dp,
                                         std::int64_t runs, std::uint64_t seed,
                                         int samples_per_symbol) {
  if (runs < 2) fail("time-domain Monte Carlo: runs = {}: must be >= 2", runs);
  TraceOptions opt;
  opt.samples_per_symbol = samples_per_symbol;
  opt.record = false;
  opt.seed = seed;
  double sum = 0, sum_sq = 0, err_sq = 0;
  for (std::int64_t i = 0; i < runs; ++i) {
    opt.run = static_cast<std::uint64_t>(i);
    const MacTrace tr = simulate_trace(mac, dp, opt);
    sum += tr.readout;
    sum_sq += tr.readout * tr.readout;
    err_sq += (tr.readout - tr.ideal) * (tr.readout - tr.ideal);
  }
  MonteCarloResult r;
  const double s = static_cast<double>(runs);
  r.samples = runs;
  r.mean = sum / s;
  r.noise_std = std::sqrt(std::max(0.0, (sum_sq - s * r.mean * r.mean) / (s - 1)));
  r.rms_error = std::sqrt(err_sq / s);
  r.enob = enob_bits(mac.range_of(dp), r.rms_error);
  return r;
}

}  // namespace lumac
