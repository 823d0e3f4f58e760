#include "lumac/circuits/mac_trace.hpp"

#include <array>
#include <boost/numeric/odeint.hpp>
#include <cmath>
#include <numeric>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
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

// Drive voltages of every symbol of every repeat, signal and LO: the DAC's (quantized) voltage
// for each drive level, pre-distorted or linear as the modulator is configured. The LO carries
// the weight drive noise, drawn per the read-out rule; like the statistical model it is referred
// to the field, so a noisy LO symbol is driven at the voltage whose field is the DAC level's
// field plus the noise.
void drive_levels(const MachZehnderModulator& mzm, const EncodedDotProduct& e, int dac_bits,
                  const ReadoutRule& rule, const TraceOptions& opt, std::uint64_t device_seed,
                  std::vector<double>& v_sig, std::vector<double>& v_lo) {
  const std::size_t n = e.x_drive.size();
  const double sigma_w = rule.weight_noise_std;
  const RandomStream wt_rng(opt.seed, Stream::weight_temporal),
      ws_rng(opt.seed, Stream::weight_static);
  v_sig.resize(n * static_cast<std::size_t>(rule.repeats));
  v_lo.resize(v_sig.size());
  std::vector<double> noise(n);
  // Static weight noise belongs to the chip: chip device_seed's (as the Monte Carlo draws it),
  // or with device_seed 0 a new one for every run.
  if (sigma_w > 0 && rule.static_weight) {
    if (device_seed > 0)
      RandomStream(device_seed, Stream::weight_static).fill_normal(noise, 0, 0, 0);
    else
      ws_rng.fill_normal(noise, opt.run, 0, 0);
  }
  for (int r = 0; r < rule.repeats; ++r) {
    if (sigma_w > 0 && !rule.static_weight)
      wt_rng.fill_normal(noise, opt.run, static_cast<std::uint64_t>(r), 0);
    for (std::size_t j = 0; j < n; ++j) {
      v_sig[r * n + j] = mzm.dac_voltage(e.x_level[j], dac_bits);
      v_lo[r * n + j] =
          sigma_w > 0 ? mzm.drive_voltage(std::clamp(e.w_drive[j] + sigma_w * noise[j], -1.0, 1.0))
                      : mzm.dac_voltage(e.w_level[j], dac_bits);
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

namespace {

// One time-domain run: the constants of the circuit and the dot product, the state of the
// devices, and the recorded trace.
class TraceRun {
 public:
  TraceRun(const HomodyneMac& mac, const DotProduct& dp, const TraceOptions& opt);
  MacTrace run();

 private:
  // Photon fluxes at the two diodes for modulator voltages (vs, vl) and the laser factor, on
  // the chip's devices with the current LO phase.
  void photon_fluxes(double vs, double vl, double& plus, double& minus) const;
  // The field angle of a modulator at voltage v with its V_pi and bias errors.
  double angle(double v, const ModulatorErrors& m) const;
  // Deterministic dynamics with piecewise-constant drives and laser factor.
  void derivatives(const State& x, State& dxdt) const;
  // One integration step from `step`, with its noise increments; adds the shot-noise charge
  // of the step to noise_plus and noise_minus.
  void advance(std::int64_t step, double& noise_plus, double& noise_minus);
  void record(double noise_plus, double noise_minus);
  // Closing a window: the integrator's charge is sampled (and converted by the ADC).
  void sample_window();

  const CircuitParams& p_;
  const TraceOptions& opt_;
  NoiseSources src_;
  EncodedDotProduct e_;
  MachZehnderModulator mzm_;
  BalancedDetector det_;
  ReadoutRule rule_;
  std::size_t n_, symbols_;
  double t_sym_, eta_, q_ = elementary_charge_C, d_, eps_, tau_m_, tau_d_;
  int substeps_;
  double h_, flux_s_, flux_l_, rin_psd_, dark_, amp_var_rate_, g_;
  double readout_std_C_ = 0, max_charge_C_ = 0, max_current_A_ = 0, offset_ = 0;
  bool tia_ = false;
  DeviceErrors device_;           // the chip's static errors
  std::vector<double> phases_;    // LO phase of every repeat (temporal phase noise)
  double phase_ = 0;              // the current LO phase
  std::int64_t delay_steps_ = 0;  // from a symbol boundary to its window's
  RandomStream rng_;
  bool adc_;
  MidRiseQuantizer quantizer_;
  std::vector<double> v_sig_, v_lo_, laser_shape_;
  MacTrace tr_;
  State x_{};
  double drive_s_ = 0, drive_l_ = 0, laser_ = 1, t_ = 0, readout_sum_ = 0;
  odeint::runge_kutta4<State> stepper_;
};

double adc_span(const HomodyneMac& mac, const DotProduct& dp, const EncodedDotProduct& e) {
  const double g = mac.gain_electrons_per_unit(e);
  if (!(g > 0))
    fail("time domain: the dot product carries no signal (zero photons or a zero vector)");
  return mac.params().adc.range_scale * mac.range_of(dp) * g *
         mac.readout_rule().repeats_per_readout();
}

TraceRun::TraceRun(const HomodyneMac& mac, const DotProduct& dp, const TraceOptions& opt)
    : p_(mac.params()),
      opt_(opt),
      src_(mac.sources()),
      e_(mac.encode(dp)),
      mzm_(p_.modulator),
      det_(mac.receiver(mac.sizing_charge(static_cast<double>(dp.x.size()), e_.n_signal, e_.n_lo,
                                          mac.range_of(dp), mac.gain_electrons_per_unit(e_)))),
      rule_(mac.readout_rule()),
      n_(dp.x.size()),
      symbols_(n_ * static_cast<std::size_t>(rule_.repeats)),
      t_sym_(mac.symbol_period_s()),
      eta_(p_.detector.quantum_efficiency),
      d_(mac.extinction_residual()),
      eps_(det_.common_mode_leak()),
      tau_m_(mzm_.time_constant_s()),
      tau_d_(det_.time_constant_s()),
      rng_(opt.seed, Stream::trace),
      adc_(src_.has(NoiseSource::adc)),
      quantizer_(p_.adc.bits, -adc_span(mac, dp, e_) / 2, adc_span(mac, dp, e_) / 2) {
  // Recorded step and the integration step (at most a quarter of the fastest time constant).
  const double dt_rec = t_sym_ / opt.samples_per_symbol;
  substeps_ = std::max(1, static_cast<int>(std::ceil(dt_rec / (0.25 * std::min(tau_m_, tau_d_)))));
  h_ = dt_rec / substeps_;
  // Photon fluxes at full scale (photons/s at the detector).
  flux_s_ = e_.n_signal / t_sym_;
  flux_l_ = e_.n_lo / t_sym_;
  rin_psd_ = db_to_power_ratio(p_.laser.rin_dB_per_Hz);
  dark_ = src_.has(NoiseSource::dark) ? p_.detector.dark_current_A : 0.0;
  // Amplifier current noise (C^2/s: its one-sided density / 2) and the read-out's voltage noise
  // (C, once per sample), from the receiver the statistical budget uses.
  amp_var_rate_ =
      src_.has(NoiseSource::amplifier) ? det_.current_noise_variance(1.0) * q_ * q_ : 0.0;
  readout_std_C_ =
      src_.has(NoiseSource::amplifier) ? std::sqrt(det_.voltage_noise_variance()) * q_ : 0.0;
  tia_ = p_.detector.front_end == FrontEnd::tia;
  max_charge_C_ = tia_ ? 0.0 : det_.capacity_electrons() * q_;
  max_current_A_ = tia_ ? det_.max_current_A() : 0.0;
  tr_.ideal = std::inner_product(dp.x.begin(), dp.x.end(), dp.w.begin(), 0.0);
  g_ = mac.gain_electrons_per_unit(e_);
  // The chip, as the Monte Carlo draws it: chip device_seed, or a new one for every run.
  const auto device_seed = static_cast<std::uint64_t>(p_.system.device_seed);
  device_ = device_seed > 0
                ? draw_device(p_, src_, RandomStream(device_seed, Stream::device), 0, 0, 0)
                : draw_device(p_, src_, RandomStream(opt.seed, Stream::device), opt.run, 0, 0);
  phase_ = device_.lo_phase_rad;
  const double phase_noise = src_.has(NoiseSource::phase) ? p_.system.lo_phase_noise_rad : 0.0;
  if (phase_noise > 0) {
    // One LO phase per repeat, drawn as the Monte Carlo draws it.
    const RandomStream phase_rng(opt.seed, Stream::phase_noise);
    for (int r = 0; r < rule_.repeats; ++r)
      phases_.push_back(device_.lo_phase_rad +
                        phase_noise *
                            phase_rng.normal(opt.run, static_cast<std::uint64_t>(r), 0, 0));
  }
  flux_s_ *= 1 + device_.signal_power_error;
  flux_l_ *= 1 + device_.lo_power_error;
  offset_ = mac.zero_input_offset(e_, device_);
  tr_.gain_electrons_per_unit = g_;
  tr_.adc_lsb_C = adc_ ? quantizer_.lsb() * q_ : 0.0;
  drive_levels(mzm_, e_, mac.dac_bits(), rule_, opt, device_seed, v_sig_, v_lo_);
  laser_shape_ = laser_envelope(p_, opt, static_cast<double>(symbols_) * t_sym_, h_);
  // Modulators start at the null (0 V), diodes at their dark current.
  x_ = State{0, 0, dark_, dark_, 0};
}

double TraceRun::angle(double v, const ModulatorErrors& m) const {
  if (m.nominal()) return mzm_.phase_rad(v);
  const double bias = mzm_.phase_rad(0);  // phi_b + pi/2: 0 at null bias
  return (mzm_.phase_rad(v) - bias) / (1 + m.v_pi_error) + bias + m.bias_rad;
}

void TraceRun::photon_fluxes(double vs, double vl, double& plus, double& minus) const {
  const double ts = angle(vs, device_.input), tl = angle(vl, device_.weight);
  const std::complex<double> es =
      std::sqrt(flux_s_ * laser_) * std::complex<double>(d_ * std::cos(ts), std::sin(ts));
  std::complex<double> el =
      std::sqrt(flux_l_ * laser_) * std::complex<double>(d_ * std::cos(tl), std::sin(tl));
  if (phase_ != 0) el *= std::polar(1.0, phase_);
  plus = 0.5 * std::norm(es + el);
  minus = 0.5 * std::norm(es - el);
}

void TraceRun::derivatives(const State& x, State& dxdt) const {
  double fp, fm;
  photon_fluxes(x[0], x[1], fp, fm);
  dxdt[0] = (drive_s_ - x[0]) / tau_m_;
  dxdt[1] = (drive_l_ - x[1]) / tau_m_;
  // The diodes' quantum efficiencies eta (1 +- m / 2) (responsivity mismatch m).
  const double m = device_.responsivity_mismatch / 2;
  dxdt[2] = (eta_ * (1 + m) * q_ * fp + dark_ - x[2]) / tau_d_;
  dxdt[3] = (eta_ * (1 - m) * q_ * fm + dark_ - x[3]) / tau_d_;
  // The integrator holds the difference current; a TIA's output clips at V_swing / R_f.
  dxdt[4] = tia_ ? std::clamp(x[2] - x[3], -max_current_A_, max_current_A_) : x[2] - x[3];
}

void TraceRun::advance(std::int64_t step, double& noise_plus, double& noise_minus) {
  const std::int64_t steps_per_symbol =
      static_cast<std::int64_t>(substeps_) * opt_.samples_per_symbol;
  const std::int64_t symbol = step / steps_per_symbol;
  const bool driven = symbol < static_cast<std::int64_t>(symbols_);
  drive_s_ = driven ? v_sig_[static_cast<std::size_t>(symbol)] : 0.0;
  drive_l_ = driven ? v_lo_[static_cast<std::size_t>(symbol)] : 0.0;
  if (!phases_.empty()) {
    // The LO phase changes with the repeat at its window's boundary (one group delay after its
    // first symbol), so each window sees one phase.
    const std::int64_t repeat = std::clamp<std::int64_t>(
        (step - delay_steps_) / (static_cast<std::int64_t>(n_) * steps_per_symbol), 0,
        static_cast<std::int64_t>(phases_.size()) - 1);
    phase_ = phases_[static_cast<std::size_t>(repeat)];
  }
  laser_ = opt_.rate_equation_laser
               ? laser_shape_[std::min(laser_shape_.size() - 1, static_cast<std::size_t>(step))]
               : 1.0;
  std::array<double, 8> z{};
  rng_.fill_normal(z, opt_.run, static_cast<std::uint64_t>(step), 0);
  double fp0, fm0;
  photon_fluxes(x_[0], x_[1], fp0, fm0);
  stepper_.do_step([this](const State& x, State& dxdt, double) { derivatives(x, dxdt); }, x_, t_,
                   h_);
  t_ += h_;
  // Euler-Maruyama increments of the integrated charge from the currents at step start.
  const double q = q_, h = h_;
  const double m = device_.responsivity_mismatch / 2;
  const double ip = eta_ * (1 + m) * q * fp0, im = eta_ * (1 - m) * q * fm0;
  double dq_plus = 0, dq_minus = 0, dq = 0;
  if (src_.has(NoiseSource::shot)) {
    dq_plus += std::sqrt(q * ip * h) * z[0];
    dq_minus += std::sqrt(q * im * h) * z[1];
  }
  if (dark_ > 0) {
    dq_plus += std::sqrt(q * dark_ * h) * z[2];
    dq_minus += std::sqrt(q * dark_ * h) * z[3];
  }
  if (amp_var_rate_ > 0) dq += std::sqrt(amp_var_rate_ * h) * z[4];
  if (src_.has(NoiseSource::rin)) {
    // Relative power fluctuation r over the step (variance S / (2 h)): it scales the
    // difference current, and the common-mode current leaks through the CMRR.
    const double r = std::sqrt(rin_psd_ / (2 * h)) * z[5];
    dq += ((ip - im) + eps_ * (ip + im)) * r * h;
  }
  x_[4] += dq + dq_plus - dq_minus;
  // An integrator's charge saturates at +-C V_swing.
  if (!tia_) x_[4] = std::clamp(x_[4], -max_charge_C_, max_charge_C_);
  noise_plus += dq_plus;
  noise_minus += dq_minus;
}

void TraceRun::record(double noise_plus, double noise_minus) {
  const double dt = substeps_ * h_;
  const double e_ph = photon_energy_J(p_.laser.wavelength_m);
  const double ts = angle(x_[0], device_.input), tl = angle(x_[1], device_.weight);
  tr_.time_s.push_back(t_);
  tr_.drive_signal_V.push_back(drive_s_);
  tr_.drive_lo_V.push_back(drive_l_);
  tr_.modulator_signal_V.push_back(x_[0]);
  tr_.modulator_lo_V.push_back(x_[1]);
  tr_.power_signal_W.push_back(flux_s_ * laser_ * e_ph *
                               (d_ * d_ * std::pow(std::cos(ts), 2) + std::pow(std::sin(ts), 2)));
  tr_.power_lo_W.push_back(flux_l_ * laser_ * e_ph *
                           (d_ * d_ * std::pow(std::cos(tl), 2) + std::pow(std::sin(tl), 2)));
  tr_.current_plus_A.push_back(x_[2] + noise_plus / dt);
  tr_.current_minus_A.push_back(x_[3] + noise_minus / dt);
  tr_.charge_C.push_back(x_[4]);
  tr_.laser_power_W.push_back(p_.laser.power_W * laser_);
}

void TraceRun::sample_window() {
  tr_.window_close_s.push_back(t_);
  // The read-out amplifier's voltage noise on the sampled charge (both samples with CDS).
  const double window = static_cast<double>(tr_.window_close_s.size() - 1);
  if (readout_std_C_ > 0)
    x_[4] += readout_std_C_ * rng_.normal(opt_.run, static_cast<std::uint64_t>(window), 0, 2);
  const double electrons = x_[4] / q_;
  tr_.readout_charge_C.push_back(x_[4]);
  const std::int64_t code = adc_ ? quantizer_.code(electrons) : -1;
  tr_.adc_codes.push_back(code);
  // Offset calibration: the zero-input read-out of the statistical model, subtracted digitally.
  readout_sum_ +=
      ((adc_ ? quantizer_.value(code) : electrons) - offset_ * rule_.repeats_per_readout()) /
      (g_ * rule_.repeats_per_readout());
}

MacTrace TraceRun::run() {
  // The integration windows are aligned with the signal: they open and close one group delay
  // (tau_m + tau_d) after the symbol boundaries, so only genuine inter-symbol interference
  // remains. After the last symbol the drives return to 0 V until the last window closes.
  const std::size_t window_symbols = rule_.analog ? symbols_ : n_;
  const std::size_t windows = symbols_ / window_symbols;
  const auto delay_steps = static_cast<std::int64_t>(std::llround((tau_m_ + tau_d_) / h_));
  delay_steps_ = delay_steps;
  const std::int64_t steps_per_symbol =
      static_cast<std::int64_t>(substeps_) * opt_.samples_per_symbol;
  const std::int64_t window_steps = static_cast<std::int64_t>(window_symbols) * steps_per_symbol;
  const std::int64_t total_steps =
      static_cast<std::int64_t>(symbols_) * steps_per_symbol + delay_steps;
  const std::int64_t recorded_steps = (total_steps + substeps_ - 1) / substeps_;
  const double reset_std_C = src_.has(NoiseSource::reset) ? det_.reset_std_electrons() * q_ : 0.0;
  std::int64_t step = 0;
  for (std::int64_t rec = 0; rec < recorded_steps; ++rec) {
    if (rec % 4096 == 0) throw_if_stop_requested("time-domain simulation");
    double noise_plus = 0, noise_minus = 0;  // shot-noise charge of the recorded step
    for (int sub = 0; sub < substeps_ && step < total_steps; ++sub, ++step) {
      // Window boundaries: open the first window, close (sample) and reopen the others.
      if (step >= delay_steps && (step - delay_steps) % window_steps == 0) {
        const auto w = static_cast<std::size_t>((step - delay_steps) / window_steps);
        if (w > 0) sample_window();
        if (w < windows) {
          x_[4] = reset_std_C * rng_.normal(opt_.run, w, 0, 1);
          tr_.window_open_s.push_back(t_);
        }
      }
      advance(step, noise_plus, noise_minus);
    }
    if (opt_.record) record(noise_plus, noise_minus);
  }
  sample_window();  // the last window closes at the end of the simulation
  tr_.readout = readout_sum_ / rule_.readouts();
  return std::move(tr_);
}

}  // namespace

MacTrace simulate_trace(const HomodyneMac& mac, const DotProduct& dp, const TraceOptions& opt) {
  if (opt.samples_per_symbol < 1 || opt.samples_per_symbol > 4096)
    fail("samples per symbol = {}: must be in [1, 4096]", opt.samples_per_symbol);
  return TraceRun(mac, dp, opt).run();
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
