#include "lumac/circuits/homodyne_mac.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <numeric>

#include "lumac/core/error.hpp"
#include "lumac/core/interrupt.hpp"
#include "lumac/core/precision.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/core/units.hpp"
#include "lumac/devices/converters.hpp"

namespace lumac {

namespace {

double norm2(const std::vector<double>& v) {
  return std::inner_product(v.begin(), v.end(), v.begin(), 0.0);
}

double max_abs(const std::vector<double>& v) {
  double m = 0;
  for (double a : v) m = std::max(m, std::abs(a));
  return m;
}

void check_dot_product(const DotProduct& dp) {
  if (dp.x.empty()) fail("dot product: fan-in must be >= 1");
  if (dp.x.size() != dp.w.size())
    fail("dot product: {} inputs but {} weights", dp.x.size(), dp.w.size());
  for (double v : dp.x)
    if (!std::isfinite(v)) fail("dot product: input {} is not finite", v);
  for (double v : dp.w)
    if (!std::isfinite(v)) fail("dot product: weight {} is not finite", v);
  if (!(dp.x_full_scale > 0) || !std::isfinite(dp.x_full_scale))
    fail("dot product: input full scale = {}: must be finite and > 0", dp.x_full_scale);
  if (!(dp.w_full_scale > 0) || !std::isfinite(dp.w_full_scale))
    fail("dot product: weight full scale = {}: must be finite and > 0", dp.w_full_scale);
  if (!(dp.range >= 0) || !std::isfinite(dp.range))
    fail("dot product: range = {}: must be finite and >= 0 (0 = Cauchy-Schwarz)", dp.range);
}

// Nodes and weights of 9-point Gauss-Hermite quadrature for a standard normal variable:
// E[f(z)] ~ sum_k w_k f(z_k), exact for polynomials of degree <= 17.
constexpr std::array<double, 9> gh_nodes{
    -4.512745863399783, -3.205429002856470, -2.076847978677830, -1.023255663789133, 0.0,
    1.023255663789133,  2.076847978677830,  3.205429002856470,  4.512745863399783};
constexpr std::array<double, 9> gh_weights{
    2.234584400774658e-05, 2.789141321231769e-03, 4.991640676521788e-02,
    2.440975028949394e-01, 4.063492063492064e-01, 2.440975028949394e-01,
    4.991640676521788e-02, 2.789141321231769e-03, 2.234584400774658e-05};

// E[(cos t - 1)^2] and E[sin^2 t] for t ~ N(0, s^2), and E[cos^2 t] - E[cos t]^2.
struct AngleMoments {
  double cos_err2 = 0, sin2 = 0, cos_var = 0, mean_cos = 1;
  explicit AngleMoments(double s) {
    const double m1 = std::exp(-s * s / 2), e2 = std::exp(-2 * s * s);
    const double m2 = (1 + e2) / 2;
    cos_err2 = m2 - 2 * m1 + 1;
    sin2 = (1 - e2) / 2;
    cos_var = m2 - m1 * m1;
    mean_cos = m1;
  }
};

// Counter words of the devices of draw_device.
enum DeviceKind : std::uint64_t {
  input_bias = 1,
  input_v_pi = 2,
  weight_bias = 3,
  weight_v_pi = 4,
  lo_phase = 5,
  mismatch = 6,
  signal_power = 7,
  lo_power = 8,
};

}  // namespace

bool has_device_spread(const CircuitParams& p, NoiseSources sources) {
  return (sources.has(NoiseSource::bias) && p.modulator.bias_error_rad > 0) ||
         (sources.has(NoiseSource::spread) &&
          (p.modulator.v_pi_spread > 0 || p.system.splitter_imbalance > 0)) ||
         (sources.has(NoiseSource::phase) && p.system.lo_phase_error_rad > 0) ||
         (sources.has(NoiseSource::mismatch) && p.detector.responsivity_mismatch > 0);
}

DeviceErrors draw_device(const CircuitParams& p, NoiseSources sources, const RandomStream& rng,
                         std::uint64_t chip, std::uint64_t row, std::uint64_t output) {
  DeviceErrors d;
  auto draw = [&](bool on, double std, DeviceKind kind, std::uint64_t index) {
    return on && std > 0 ? std * rng.normal(chip, kind, index, 0) : 0.0;
  };
  auto floor = [](double e) { return std::max(e, -0.9); };
  const bool bias = sources.has(NoiseSource::bias), spread = sources.has(NoiseSource::spread);
  const double sb = p.modulator.bias_error_rad, sv = p.modulator.v_pi_spread;
  const double sp = p.system.splitter_imbalance;
  const std::uint64_t detector = (row << 32) ^ output;
  d.input.bias_rad = draw(bias, sb, input_bias, row);
  d.input.v_pi_error = floor(draw(spread, sv, input_v_pi, row));
  d.weight.bias_rad = draw(bias, sb, weight_bias, output);
  d.weight.v_pi_error = floor(draw(spread, sv, weight_v_pi, output));
  d.lo_phase_rad =
      draw(sources.has(NoiseSource::phase), p.system.lo_phase_error_rad, lo_phase, detector);
  d.responsivity_mismatch = draw(sources.has(NoiseSource::mismatch),
                                 p.detector.responsivity_mismatch, mismatch, detector);
  d.signal_power_error = floor(draw(spread, sp, signal_power, detector));
  d.lo_power_error = floor(draw(spread, sp, lo_power, detector));
  return d;
}

double NoiseBudget::term(const std::string& name) const {
  for (const auto& t : terms)
    if (t.name == name) return t.std;
  return 0;
}

HomodyneMac::HomodyneMac(const CircuitParams& params, NoiseSources sources)
    : p_(params),
      sources_(sources),
      link_(params.laser, params.modulator, params.system),
      modulator_(params.modulator) {
  validate(p_);
  // A configured detector is checked now, not at the first dot product.
  (void)receiver(
      full_scale_charge(1, link_.signal_photons_per_symbol(), link_.lo_photons_per_symbol()));
}

double HomodyneMac::full_scale_charge(double fan_in, double n_signal, double n_lo) const {
  return 2 * p_.detector.quantum_efficiency * std::sqrt(n_signal * n_lo) * fan_in *
         readout_rule().repeats_per_readout();
}

double HomodyneMac::sizing_charge(double fan_in, double n_signal, double n_lo, double range,
                                  double gain) const {
  if (p_.detector.integrator_sizing == IntegratorSizing::full_scale)
    return full_scale_charge(fan_in, n_signal, n_lo);
  return p_.adc.range_scale * range * gain * readout_rule().repeats_per_readout() / 2;
}

BalancedDetector HomodyneMac::receiver(double full_scale_charge_electrons) const {
  DetectorParams d = p_.detector;
  if (d.front_end == FrontEnd::integrator && d.integrator_capacitance_F == 0) {
    // Sized to hold the full-scale charge; a floor of 1 aF keeps an unlit circuit defined.
    d.integrator_capacitance_F =
        std::max(full_scale_charge_electrons * constants::elementary_charge_C / d.swing_V, 1e-18);
  }
  return BalancedDetector(d, p_.laser.wavelength_m, p_.system.temperature_K);
}

HomodyneMac::Saturation HomodyneMac::saturation(const EncodedDotProduct& e,
                                                const BalancedDetector& rx) const {
  const double eta = p_.detector.quantum_efficiency;
  const double q = constants::elementary_charge_C;
  const int passes = readout_rule().repeats_per_readout();
  const bool integrator = p_.detector.front_end == FrontEnd::integrator;
  // The integrator holds the running charge within +-capacity over the window (and the K
  // windows of analog accumulation); a TIA clips each symbol's difference at its largest current.
  const double limit =
      integrator ? rx.capacity_electrons() : rx.max_current_A() * symbol_period_s() / q;
  double held = 0, free = 0, peak = 0;
  for (int r = 0; r < (integrator ? passes : 1); ++r)
    for (std::size_t j = 0; j < e.x_drive.size(); ++j) {
      WindowPhotons w;
      w.add_fields(symbol_field(e.x_drive[j], e.n_signal), symbol_field(e.w_drive[j], e.n_lo));
      const double d = eta * (w.plus - w.minus);  // mean electrons of this symbol
      free += d;
      if (integrator) {
        peak = std::max(peak, std::abs(free));
        held = std::clamp(held + d, -limit, limit);
      } else {
        peak = std::max(peak, std::abs(d));
        held += std::clamp(d, -limit, limit);
      }
    }
  Saturation s;
  // A TIA's K windows of analog accumulation repeat the same clipped symbols.
  s.error_electrons = (held - free) * (integrator ? 1 : passes);
  s.peak_V = integrator ? peak * q / rx.params().integrator_capacitance_F
                        : peak * q / symbol_period_s() * p_.detector.tia_feedback_ohm;
  return s;
}

double HomodyneMac::photons_per_mac_full_scale() const {
  return p_.detector.quantum_efficiency *
         (link_.signal_photons_per_symbol() + link_.lo_photons_per_symbol());
}

double HomodyneMac::rin_variance_per_symbol() const {
  return db_to_power_ratio(p_.laser.rin_dB_per_Hz) / (2 * symbol_period_s());
}

double HomodyneMac::extinction_residual() const {
  return sources_.has(NoiseSource::extinction) ? modulator_.field_imbalance() : 0.0;
}

double HomodyneMac::range_of(const DotProduct& dp) const {
  return dp.range > 0 ? dp.range : 2 * std::sqrt(norm2(dp.x) * norm2(dp.w));
}

EncodedDotProduct HomodyneMac::encode(const DotProduct& dp) const {
  check_dot_product(dp);
  const std::size_t n = dp.x.size();
  EncodedDotProduct e;
  const double ns_max = link_.signal_photons_per_symbol();
  const double nl_max = link_.lo_photons_per_symbol();
  if (p_.system.encoding == Encoding::full_scale) {
    e.x_scale = dp.x_full_scale;
    e.w_scale = dp.w_full_scale;
    e.n_signal = ns_max;
    e.n_lo = nl_max;
  } else {
    const double mx = max_abs(dp.x), mw = max_abs(dp.w);
    // An all-zero vector has nothing to encode: keep unit scales (zero photons either way).
    e.x_scale = mx > 0 ? mx : 1;
    e.w_scale = mw > 0 ? mw : 1;
    const double nx = norm2(dp.x), nw = norm2(dp.w);
    e.n_signal = nx > 0 ? static_cast<double>(n) * ns_max * mx * mx / nx : 0;
    e.n_lo = nw > 0 ? static_cast<double>(n) * nl_max * mw * mw / nw : 0;
  }
  const int bits = dac_bits();
  const bool pre = p_.modulator.predistortion;
  e.x_level.resize(n);
  e.w_level.resize(n);
  e.x_drive.resize(n);
  e.w_drive.resize(n);
  double clipped = 0, unclipped = 0;
  for (std::size_t j = 0; j < n; ++j) {
    const double v = dp.x[j] / e.x_scale, u = dp.w[j] / e.w_scale;
    const double vc = std::clamp(v, -1.0, 1.0), uc = std::clamp(u, -1.0, 1.0);
    clipped += vc * uc;
    unclipped += v * u;
    e.x_level[j] = vc;
    e.w_level[j] = uc;
    e.x_drive[j] = quantized_drive(vc, bits, pre);
    e.w_drive[j] = quantized_drive(uc, bits, pre);
  }
  e.clipping_error = (clipped - unclipped) * e.x_scale * e.w_scale;
  return e;
}

std::complex<double> HomodyneMac::symbol_field(double drive, double photons,
                                               const ModulatorErrors& errors) const {
  const double d = extinction_residual();
  if (errors.nominal()) {
    const double c = d > 0 ? d * std::sqrt(std::max(0.0, 1 - drive * drive)) : 0.0;
    return std::sqrt(photons) * std::complex<double>(c, drive);
  }
  // The angle of the drive (a noisy drive beyond +-1 keeps its excess, as the nominal field
  // does), scaled by the V_pi error and offset by the bias error.
  const double clamped = std::clamp(drive, -1.0, 1.0);
  const double theta = std::asin(clamped) / (1 + errors.v_pi_error) + errors.bias_rad;
  return std::sqrt(photons) *
         std::complex<double>(d * std::cos(theta), std::sin(theta) + (drive - clamped));
}

WindowPhotons HomodyneMac::window(const EncodedDotProduct& e,
                                  const std::vector<double>& weight_error,
                                  const DeviceErrors& device, double phase_rad) const {
  WindowPhotons w;
  const double ns = e.n_signal * (1 + device.signal_power_error);
  const double nl = e.n_lo * (1 + device.lo_power_error);
  const double phase = device.lo_phase_rad + phase_rad;
  const std::complex<double> rotation = std::polar(1.0, phase);
  for (std::size_t j = 0; j < e.x_drive.size(); ++j) {
    const double u = e.w_drive[j] + (weight_error.empty() ? 0.0 : weight_error[j]);
    std::complex<double> lo = symbol_field(u, nl, device.weight);
    if (phase != 0) lo *= rotation;
    w.add_fields(symbol_field(e.x_drive[j], ns, device.input), lo);
  }
  return w;
}

double HomodyneMac::mean_charge(const WindowPhotons& w, const DeviceErrors& device) const {
  return p_.detector.quantum_efficiency *
         ((w.plus - w.minus) + device.responsivity_mismatch / 2 * (w.plus + w.minus));
}

double HomodyneMac::zero_input_offset(const EncodedDotProduct& e,
                                      const DeviceErrors& device) const {
  if (!p_.system.offset_calibration) return 0;
  if (extinction_residual() == 0 && device.nominal()) return 0;  // exactly 0
  EncodedDotProduct zero = e;
  std::fill(zero.x_drive.begin(), zero.x_drive.end(), 0.0);
  return mean_charge(window(zero, {}, device), device);
}

HomodyneMac::DeviceTerms HomodyneMac::device_terms(const EncodedDotProduct& e) const {
  DeviceTerms t;
  // The calibrated mean read-out on a device (electrons).
  auto readout = [&](const DeviceErrors& d) {
    return mean_charge(window(e, {}, d), d) - zero_input_offset(e, d);
  };
  const DeviceErrors nominal;
  const double r0 = readout(nominal);
  // A phase or bias angle t: R(t) = cos t R(0) + sin t R(pi/2).
  auto angle_mse = [&](double s, const DeviceErrors& quarter) {
    if (s == 0) return 0.0;
    const AngleMoments m(s);
    const double r1 = readout(quarter);
    return m.cos_err2 * r0 * r0 + m.sin2 * r1 * r1;
  };
  const CircuitParams& p = p_;
  if (sources_.has(NoiseSource::phase)) {
    DeviceErrors q;
    q.lo_phase_rad = constants::pi / 2;
    t.phase = angle_mse(p.system.lo_phase_error_rad, q);
    const double st = p.system.lo_phase_noise_rad;
    if (st > 0) {
      // Temporal: the uncalibrated read-out A(t) = cos t A(0) + sin t A(pi/2) of each repeat.
      const AngleMoments m(st);
      const double a0 = mean_charge(window(e, {}), nominal);
      const double a1 = mean_charge(window(e, {}, q), q);
      t.phase_noise = m.cos_var * a0 * a0 + m.sin2 * a1 * a1;
      t.fading = (m.mean_cos - 1) * a0;
    }
  }
  if (sources_.has(NoiseSource::bias)) {
    DeviceErrors qi, qw;
    qi.input.bias_rad = constants::pi / 2;
    qw.weight.bias_rad = constants::pi / 2;
    t.bias = angle_mse(p.modulator.bias_error_rad, qi) + angle_mse(p.modulator.bias_error_rad, qw);
  }
  if (sources_.has(NoiseSource::mismatch) && p.detector.responsivity_mismatch > 0) {
    DeviceErrors q;
    q.responsivity_mismatch = 1;  // R is linear in m
    const double leak = readout(q) - r0;
    t.mismatch = std::pow(p.detector.responsivity_mismatch * leak, 2);
  }
  if (sources_.has(NoiseSource::spread)) {
    // V_pi errors of either modulator, by quadrature over the normal error.
    const double sv = p.modulator.v_pi_spread;
    for (int which = 0; sv > 0 && which < 2; ++which)
      for (std::size_t k = 0; k < gh_nodes.size(); ++k) {
        DeviceErrors d;
        (which == 0 ? d.input : d.weight).v_pi_error = std::max(sv * gh_nodes[k], -0.9);
        t.spread += gh_weights[k] * std::pow(readout(d) - r0, 2);
      }
    // Splitter errors a, b: R = sqrt((1 + a) (1 + b)) R(0), so
    // E[(R - R(0))^2] = (2 - 2 E[sqrt(1 + a)]^2) R(0)^2.
    const double sp = p.system.splitter_imbalance;
    if (sp > 0) {
      double mean_root = 0;
      for (std::size_t k = 0; k < gh_nodes.size(); ++k)
        mean_root += gh_weights[k] * std::sqrt(1 + std::max(sp * gh_nodes[k], -0.9));
      t.spread += (2 - 2 * mean_root * mean_root) * r0 * r0;
    }
  }
  return t;
}

double HomodyneMac::gain_electrons_per_unit(const EncodedDotProduct& e) const {
  return 2 * p_.detector.quantum_efficiency * std::sqrt(e.n_signal * e.n_lo) /
         (e.x_scale * e.w_scale);
}

NoiseBudget HomodyneMac::analyze(const DotProduct& dp) const {
  const EncodedDotProduct e = encode(dp);
  const std::size_t n = dp.x.size();
  const double fan_in = static_cast<double>(n);
  const ReadoutRule rule = readout_rule();
  const double k = rule.repeats;
  const double t_int = fan_in * symbol_period_s();
  const double eta = p_.detector.quantum_efficiency;

  NoiseBudget b;
  b.ideal = std::inner_product(dp.x.begin(), dp.x.end(), dp.w.begin(), 0.0);
  b.range = range_of(dp);
  b.signal_photons_per_symbol = e.n_signal;
  b.lo_photons_per_symbol = e.n_lo;
  b.photons_per_mac_full_scale = photons_per_mac_full_scale();
  b.laser_power_W = p_.laser.power_W;

  const WindowPhotons win = window(e, {});
  const double g = gain_electrons_per_unit(e);
  b.gain_electrons_per_unit = g;
  b.photons_per_mac_detected = eta * (win.plus + win.minus) / fan_in;

  // The receiver and its capacity.
  const BalancedDetector detector = receiver(sizing_charge(fan_in, e.n_signal, e.n_lo, b.range, g));
  b.front_end = p_.detector.front_end;
  b.capacitance_F =
      b.front_end == FrontEnd::integrator ? detector.params().integrator_capacitance_F : 0.0;
  b.full_scale_charge_electrons = full_scale_charge(fan_in, e.n_signal, e.n_lo);
  b.swing_V = p_.detector.swing_V;
  if (b.front_end == FrontEnd::integrator)
    b.full_scale_V =
        b.full_scale_charge_electrons * constants::elementary_charge_C / b.capacitance_F;
  else
    b.full_scale_V = 2 * eta * std::sqrt(e.n_signal * e.n_lo) * constants::elementary_charge_C /
                     symbol_period_s() * p_.detector.tia_feedback_ohm;
  const Saturation sat = saturation(e, detector);
  b.peak_V = sat.peak_V;
  // Per read-out in electrons; in units of y after the K_r repeats it holds.
  const double saturation_error =
      g > 0 ? sat.error_electrons / (g * rule.repeats_per_readout()) : 0.0;

  // Mean read-out in units of y, and the deterministic error terms.
  b.expected = g > 0 ? (detector.mean_difference(win) - zero_input_offset(e)) / g : 0.0;
  const DeterministicErrors det = deterministic_errors(dp, e, b.expected);
  const double dac_error = det.dac, extinction_error = det.extinction, x2 = det.x2;
  if (g == 0) b.expected = b.ideal + e.clipping_error + dac_error + det.nonlinearity;
  b.expected += saturation_error;
  // Static device errors (RMS over chips), temporal phase noise and its fading.
  const DeviceTerms dev = device_terms(e);
  const double fading_error = g > 0 ? dev.fading / g : 0.0;
  b.expected += fading_error;

  // Noise of one read-out of one repeat, electrons^2.
  const double sigma_w = rule.weight_noise_std;
  double v_shot = 0, v_dark = 0, v_amp = 0, v_rin = 0, v_reset = 0, v_adc = 0;
  if (sources_.has(NoiseSource::shot)) {
    // Weight noise adds eta n_L sigma_w^2 photons per symbol on average to the LO.
    v_shot = detector.shot_variance(win) + eta * e.n_lo * sigma_w * sigma_w * fan_in;
  }
  if (sources_.has(NoiseSource::dark)) v_dark = detector.dark_variance(t_int);
  double v_amp_voltage = 0;  // the read-out voltage noise, paid once per read-out
  if (sources_.has(NoiseSource::amplifier)) {
    v_amp = detector.current_noise_variance(t_int);
    v_amp_voltage = detector.voltage_noise_variance();
  }
  if (sources_.has(NoiseSource::rin)) v_rin = detector.rin_variance(win, rin_variance_per_symbol());
  if (sources_.has(NoiseSource::reset)) v_reset = std::pow(detector.reset_std_electrons(), 2);
  if (sources_.has(NoiseSource::adc)) {
    const double lsb = lsb_mid_rise(p_.adc.range_scale * b.range * g, p_.adc.bits);
    v_adc = lsb * lsb / 12;
  }
  // Weight noise in units of y: sigma_w m_w on each weight, times the encoded inputs.
  const double v_weight_y = sigma_w * sigma_w * e.w_scale * e.w_scale * x2 * e.x_scale * e.x_scale;

  // Repeats (see the header): y-variance of each term.
  const double g2 = g * g;
  auto per_repeat = [&](double v) { return g2 > 0 ? v / (k * g2) : 0.0; };
  auto per_readout = [&](double v) {
    return g2 > 0 ? v / (k * rule.repeats_per_readout() * g2) : 0.0;
  };
  const double y_shot = per_repeat(v_shot), y_dark = per_repeat(v_dark),
               y_amp = per_repeat(v_amp) + per_readout(v_amp_voltage), y_rin = per_repeat(v_rin);
  const double y_reset = per_readout(v_reset);
  const double y_adc = g2 > 0 ? v_adc / (rule.readouts() * g2) : 0.0;
  const double y_weight = v_weight_y / rule.weight_draws();
  auto static_y = [&](double v) { return g2 > 0 ? v / g2 : 0.0; };
  const double y_phase = static_y(dev.phase), y_bias = static_y(dev.bias),
               y_mismatch = static_y(dev.mismatch), y_spread = static_y(dev.spread);
  const double y_phase_noise = per_repeat(dev.phase_noise);

  b.terms = {{"shot", std::sqrt(y_shot), false},
             {"dark", std::sqrt(y_dark), false},
             {"reset", std::sqrt(y_reset), false},
             {"amplifier", std::sqrt(y_amp), false},
             {"rin", std::sqrt(y_rin), false},
             {"weight", std::sqrt(y_weight), false},
             {"adc", std::sqrt(y_adc), false},
             {"phase", std::sqrt(y_phase), false},
             {"phase_noise", std::sqrt(y_phase_noise), false},
             {"bias", std::sqrt(y_bias), false},
             {"mismatch", std::sqrt(y_mismatch), false},
             {"spread", std::sqrt(y_spread), false},
             {"dac", std::abs(dac_error), true},
             {"nonlinearity", std::abs(det.nonlinearity), true},
             {"extinction", std::abs(extinction_error), true},
             {"clipping", std::abs(e.clipping_error), true},
             {"saturation", std::abs(saturation_error), true},
             {"phase_fading", std::abs(fading_error), true}};
  const double noise_var = y_shot + y_dark + y_reset + y_amp + y_rin + y_weight + y_adc + y_phase +
                           y_phase_noise + y_bias + y_mismatch + y_spread;
  const double bias = b.expected - b.ideal;
  b.noise_std = std::sqrt(noise_var);
  b.total_std = std::sqrt(noise_var + bias * bias);
  b.enob = enob_bits(b.range, b.total_std);

  b.counts = counts(fan_in);
  return b;
}

HomodyneMac::DeterministicErrors HomodyneMac::deterministic_errors(const DotProduct& dp,
                                                                   const EncodedDotProduct& e,
                                                                   double expected) const {
  const double xy_scale = e.x_scale * e.w_scale;
  DeterministicErrors d;
  const bool pre = p_.modulator.predistortion;
  double sum_vu = 0, sum_ff = 0;  // clipped drives; their unquantized fields
  for (std::size_t j = 0; j < dp.x.size(); ++j) {
    const double v = e.x_level[j], u = e.w_level[j];
    sum_vu += v * u;
    sum_ff += quantized_drive(v, 0, pre) * quantized_drive(u, 0, pre);
    d.sum_xu += e.x_drive[j] * e.w_drive[j];
    d.x2 += e.x_drive[j] * e.x_drive[j];
  }
  d.nonlinearity = (sum_ff - sum_vu) * xy_scale;
  d.dac = (d.sum_xu - sum_ff) * xy_scale;
  d.extinction = expected - d.sum_xu * xy_scale;  // before the receiver's saturation
  return d;
}

MacCounts HomodyneMac::counts(double fan_in) const {
  const double k = p_.system.repeats;
  const double m = p_.system.fan_out;
  const double b = p_.system.batch;
  MacCounts c;
  c.laser_photons =
      p_.laser.power_W * fan_in * k * symbol_period_s() / (link_.photon_energy_J() * m * b);
  c.input_symbols = fan_in * k / m;
  c.weight_symbols = fan_in * k / b;
  c.dac_conversions = c.input_symbols + c.weight_symbols;
  c.adc_conversions = readout_rule().readouts();
  c.readouts = c.adc_conversions;
  return c;
}

NoisePolynomial& NoisePolynomial::operator+=(const NoisePolynomial& o) {
  constant += o.constant;
  s += o.s;
  u += o.u;
  c += o.c;
  s4 += o.s4;
  u4 += o.u4;
  return *this;
}

LayerNoiseModel HomodyneMac::layer_noise(double fan_in, double x_scale, double w_scale,
                                         double range, double photon_scale) const {
  if (!(fan_in >= 1) || !(x_scale > 0) || !(w_scale > 0) || !(range > 0) || !(photon_scale > 0) ||
      !std::isfinite(x_scale * w_scale * range * photon_scale))
    fail(
        "layer noise: fan-in {}, full scales {} and {}, range {} and photon scale {} must be "
        "finite and positive",
        fan_in, x_scale, w_scale, range, photon_scale);
  const double eta = p_.detector.quantum_efficiency;
  const double ns = photon_scale * link_.signal_photons_per_symbol();
  const double nl = photon_scale * link_.lo_photons_per_symbol();
  const ReadoutRule rule = readout_rule();
  const double k = rule.repeats;
  const double t_int = fan_in * symbol_period_s();
  const double xy2 = x_scale * x_scale * w_scale * w_scale;
  const double g2 = 4 * eta * eta * ns * nl / xy2;  // G^2
  const double per_repeat = 1 / (k * g2);
  const double sigma_w = rule.weight_noise_std;

  // The receiver of this layer (its capacitance sized to the layer's full-scale charge if the
  // preset asks): whether its read noise scales with the laser power.
  const BalancedDetector detector = receiver(sizing_charge(fan_in, ns, nl, range, std::sqrt(g2)));
  const bool sized =
      p_.detector.front_end == FrontEnd::integrator && p_.detector.integrator_capacitance_F == 0;

  LayerNoiseModel m;
  auto& [shot, dark, reset, amp, rin, weight, adc, dac] = m.by_source;
  if (sources_.has(NoiseSource::shot)) {
    shot.s = eta * ns * per_repeat;
    shot.u = eta * nl * per_repeat;
    shot.constant = eta * nl * sigma_w * sigma_w * fan_in * per_repeat;
  }
  if (sources_.has(NoiseSource::dark)) dark.constant = detector.dark_variance(t_int) * per_repeat;
  double amp_current = 0, amp_voltage = 0;  // the amplifier's two parts, y^2
  if (sources_.has(NoiseSource::amplifier)) {
    amp_current = detector.current_noise_variance(t_int) * per_repeat;
    amp_voltage = detector.voltage_noise_variance() * per_repeat / rule.repeats_per_readout();
    amp.constant = amp_current + amp_voltage;
  }
  if (sources_.has(NoiseSource::reset))
    reset.constant =
        std::pow(detector.reset_std_electrons(), 2) * per_repeat / rule.repeats_per_readout();
  if (sources_.has(NoiseSource::rin)) {
    // eta^2 s_r^2 sum[(n+ - n-)^2 + eps^2 (n+ + n-)^2] with n+ - n- = 2 sqrt(ns nl) v u and
    // n+ + n- = ns v^2 + nl u^2.
    const double a = eta * eta * rin_variance_per_symbol() * per_repeat;
    const double eps2 = std::pow(detector.common_mode_leak(), 2);
    rin.c = a * (4 * ns * nl + 2 * eps2 * ns * nl);
    rin.s4 = a * eps2 * ns * ns;
    rin.u4 = a * eps2 * nl * nl;
  }
  if (sigma_w > 0) weight.s = sigma_w * sigma_w * xy2 / rule.weight_draws();
  if (sources_.has(NoiseSource::adc)) {
    const double lsb = lsb_mid_rise(p_.adc.range_scale * range, p_.adc.bits);
    adc.constant = lsb * lsb / 12 / rule.readouts();
  }
  if (sources_.has(NoiseSource::dac)) {
    // The DAC's voltage step LSB (relative to V_pi) moves the field sin(pi t / 2) by
    // (pi / 2) sqrt(1 - v^2) LSB: variance k (1 - v^2) per drive, k (s + u - 2 c) on the product
    // (see the header).
    const double lsb = lsb_mid_tread(2.0, p_.dac.bits);
    const double kq = std::pow(constants::pi / 2, 2) * lsb * lsb / 12 * xy2;
    dac.s = dac.u = kq;
    dac.c = -2 * kq;
  }
  for (const auto& p : m.by_source) m.total += p;
  // With the laser power scaled by f, G^2 grows as f^2: shot variance (electrons ~ f) falls as
  // 1/f, electronic noise (dark, amplifier, reset; electrons fixed) as 1/f^2; RIN (electrons
  // ~ f^2), weight, ADC and DAC terms do not change. An integrator sized to the full-scale
  // charge has C ~ f: its kTC (electrons^2 ~ C) falls as 1/f and its read-out voltage noise
  // (electrons ~ C) does not change.
  auto add_scaled = [&](const NoisePolynomial& p, double f) {
    NoisePolynomial q = p;
    q.constant *= f;
    q.s *= f;
    q.u *= f;
    q.c *= f;
    q.s4 *= f;
    q.u4 *= f;
    m.d_total_d_log_scale += q;
  };
  add_scaled(shot, -1);
  add_scaled(dark, -2);
  NoisePolynomial current, voltage;
  current.constant = amp_current;
  voltage.constant = amp_voltage;
  add_scaled(current, -2);
  add_scaled(voltage, sized ? 0 : -2);
  add_scaled(reset, sized ? -1 : -2);
  return m;
}

MonteCarloResult HomodyneMac::monte_carlo(const DotProduct& dp, std::int64_t samples,
                                          std::uint64_t seed) const {
  if (samples < 2) fail("Monte Carlo: samples = {}: must be >= 2", samples);
  const EncodedDotProduct e = encode(dp);
  const std::size_t n = dp.x.size();
  const ReadoutRule rule = readout_rule();
  const int k = rule.repeats;
  const bool analog = rule.analog;
  const double t_int = static_cast<double>(n) * symbol_period_s();
  const double g = gain_electrons_per_unit(e);
  if (!(g > 0))
    fail("Monte Carlo: the dot product carries no signal (zero photons or a zero vector)");
  const double range = range_of(dp);
  const double ideal = std::inner_product(dp.x.begin(), dp.x.end(), dp.w.begin(), 0.0);
  const double sigma_w = rule.weight_noise_std;
  const bool static_w = rule.static_weight;
  const double rin_var = rin_variance_per_symbol();
  // Reset and read-out voltage noise are paid once per read-out: per repeat for digital
  // averaging, once for analog accumulation (which draws the amplifier's K windows of current
  // noise and its one read-out together below).
  const NoiseSources per_repeat =
      analog ? sources_.without(NoiseSource::reset).without(NoiseSource::amplifier) : sources_;
  const bool adc = sources_.has(NoiseSource::adc);
  const double span = p_.adc.range_scale * range * g * rule.repeats_per_readout();
  const MidRiseQuantizer quantizer(p_.adc.bits, -span / 2, span / 2);
  const RandomStream reset_rng(seed, Stream::reset), amp_rng(seed, Stream::amplifier);
  const RandomStream wt_rng(seed, Stream::weight_temporal), ws_rng(seed, Stream::weight_static);

  const BalancedDetector detector =
      receiver(sizing_charge(static_cast<double>(n), e.n_signal, e.n_lo, range, g));
  // The receiver's saturation acts on the mean charge of every read-out (of the nominal chip).
  const double saturation_error = saturation(e, detector).error_electrons;
  // The chip: a new one for every sample (device_seed 0), or chip device_seed for all.
  const auto device_seed = static_cast<std::uint64_t>(p_.system.device_seed);
  const bool fixed_chip = device_seed > 0;
  const bool spread = has_device_spread(p_, sources_);
  const RandomStream chip_rng(fixed_chip ? device_seed : seed, Stream::device);
  DeviceErrors device = fixed_chip ? draw_device(p_, sources_, chip_rng, 0, 0, 0) : DeviceErrors{};
  const double phase_std = sources_.has(NoiseSource::phase) ? p_.system.lo_phase_noise_rad : 0.0;
  const RandomStream phase_rng(seed, Stream::phase_noise);
  // Offset calibration subtracts the zero-input read-out of every repeat, measured on the chip.
  double offset = zero_input_offset(e, device);
  WindowPhotons fixed = window(e, {}, device);
  std::vector<double> weight_error(sigma_w > 0 ? n : 0);
  if (sigma_w > 0 && static_w && fixed_chip) {
    RandomStream(device_seed, Stream::weight_static).fill_normal(weight_error, 0, 0, 0);
    for (double& v : weight_error) v *= sigma_w;
  }
  const double eta = p_.detector.quantum_efficiency;
  double sum = 0, sum_sq = 0, sum_err_sq = 0;
  for (std::int64_t i = 0; i < samples; ++i) {
    if (i % 4096 == 0) throw_if_stop_requested("Monte Carlo");
    const auto si = static_cast<std::uint64_t>(i);
    if (spread && !fixed_chip) {
      device = draw_device(p_, sources_, chip_rng, si, 0, 0);
      offset = zero_input_offset(e, device);
      fixed = window(e, {}, device);
    }
    if (sigma_w > 0 && static_w && !fixed_chip) {
      ws_rng.fill_normal(weight_error, si, 0, 0);
      for (double& v : weight_error) v *= sigma_w;
    }
    double readout = 0;  // units of y
    double charge = 0;   // electrons (analog accumulation)
    for (int r = 0; r < k; ++r) {
      const auto sr = static_cast<std::uint64_t>(r);
      WindowPhotons w = fixed;
      if (sigma_w > 0 && !static_w) {
        wt_rng.fill_normal(weight_error, si, sr, 0);
        for (double& v : weight_error) v *= sigma_w;
      }
      const double phase = phase_std > 0 ? phase_std * phase_rng.normal(si, sr, 0, 0) : 0.0;
      if (sigma_w > 0 || phase != 0) w = window(e, weight_error, device, phase);
      // The responsivity mismatch leaks eta (m / 2) (n+ + n-) into the mean (its effect on the
      // shot variance, of order m, is left out).
      const double leak = device.responsivity_mismatch / 2 * eta * (w.plus + w.minus);
      const double d = detector.sample_difference(w, t_int, rin_var, per_repeat, ShotModel::poisson,
                                                  seed, {si, sr, 0}) +
                       leak + (analog ? 0.0 : saturation_error);
      // (The ADC converts the charge; the offset is subtracted from its digital value.)
      if (analog) {
        charge += d;
      } else {
        readout += ((adc ? quantizer.quantize(d) : d) - offset) / g;
      }
    }
    if (analog) {
      charge += saturation_error;
      if (sources_.has(NoiseSource::reset) && detector.reset_std_electrons() > 0)
        charge += detector.reset_std_electrons() * reset_rng.normal(si, 0, 1, 0);
      if (sources_.has(NoiseSource::amplifier))
        charge += std::sqrt(k * detector.current_noise_variance(t_int) +
                            detector.voltage_noise_variance()) *
                  amp_rng.normal(si, 0, 1, 0);
      readout = ((adc ? quantizer.quantize(charge) : charge) - offset * k) / (g * k);
    } else {
      readout /= k;
    }
    sum += readout;
    sum_sq += readout * readout;
    sum_err_sq += (readout - ideal) * (readout - ideal);
  }
  MonteCarloResult r;
  r.samples = samples;
  const double s = static_cast<double>(samples);
  r.mean = sum / s;
  r.noise_std = std::sqrt(std::max(0.0, (sum_sq - s * r.mean * r.mean) / (s - 1)));
  r.rms_error = std::sqrt(sum_err_sq / s);
  r.enob = enob_bits(range, r.rms_error);
  return r;
}

ReadoutRule readout_rule(const CircuitParams& params, NoiseSources sources) {
  ReadoutRule r;
  r.repeats = params.system.repeats;
  r.analog = params.system.averaging == Averaging::analog;
  r.weight_noise_std = sources.has(NoiseSource::weight) ? params.modulator.weight_noise_std : 0.0;
  r.static_weight = params.modulator.weight_noise_kind == WeightNoiseKind::static_;
  return r;
}

CircuitParams with_photons_per_mac(CircuitParams params, double photons_per_mac) {
  if (!(photons_per_mac > 0) || !std::isfinite(photons_per_mac))
    fail("photons per MAC = {}: must be finite and > 0", photons_per_mac);
  const LinkBudget link(params.laser, params.modulator, params.system);
  params.laser.power_W =
      link.laser_power_for_photons(photons_per_mac / params.detector.quantum_efficiency);
  return params;
}

}  // namespace lumac
