#include "lumac/devices/detector.hpp"

#include <fmt/ranges.h>
#include <cmath>
#include <vector>

#include "lumac/core/error.hpp"
#include "lumac/core/units.hpp"

namespace lumac {

using constants::boltzmann_J_per_K;
using constants::elementary_charge_C;

namespace {

struct SourceName {
  NoiseSource source;
  std::string_view name;
};
constexpr SourceName source_names[] = {
    {NoiseSource::shot, "shot"},     {NoiseSource::dark, "dark"},
    {NoiseSource::reset, "reset"},   {NoiseSource::amplifier, "amplifier"},
    {NoiseSource::rin, "rin"},       {NoiseSource::weight, "weight"},
    {NoiseSource::adc, "adc"},       {NoiseSource::extinction, "extinction"},
    {NoiseSource::dac, "dac"},       {NoiseSource::phase, "phase"},
    {NoiseSource::bias, "bias"},     {NoiseSource::mismatch, "mismatch"},
    {NoiseSource::spread, "spread"},
};

}  // namespace

std::string_view noise_source_name(NoiseSource s) {
  for (const auto& n : source_names)
    if (n.source == s) return n.name;
  return "?";
}

NoiseSources NoiseSources::parse(std::string_view list) {
  if (list == "all") return all();
  if (list == "none" || list.empty()) return none();
  NoiseSources out = none();
  std::size_t start = 0;
  while (start <= list.size()) {
    const std::size_t end = std::min(list.find(',', start), list.size());
    const std::string_view item = list.substr(start, end - start);
    bool known = false;
    for (const auto& n : source_names) {
      if (n.name == item) {
        out = out.with(n.source);
        known = true;
      }
    }
    if (!known) {
      std::vector<std::string_view> valid;
      for (const auto& n : source_names) valid.push_back(n.name);
      fail("--sources: unknown noise source '{}' (valid: {}, all, none)", item,
           fmt::join(valid, ","));
    }
    start = end + 1;
  }
  return out;
}

std::string NoiseSources::to_string() const {
  std::vector<std::string_view> names;
  for (const auto& n : source_names)
    if (has(n.source)) names.push_back(n.name);
  return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ","));
}

void validate(const DetectorParams& p) {
  const FieldCheck c("detector");
  c.open_closed("quantum_efficiency", p.quantum_efficiency, 0, 1);
  c.non_negative("dark_current_A", p.dark_current_A);
  // Physical ranges (and no overflow of the noise variances, which square C e_n and i_n).
  c.closed("integrator_capacitance_F", p.integrator_capacitance_F, 0, 1e-6);
  c.open_closed("swing_V", p.swing_V, 1e-3, 100);
  c.closed("readout_noise_V_per_rtHz", p.readout_noise_V_per_rtHz, 0, 1e-3);
  c.open_closed("readout_bandwidth_Hz", p.readout_bandwidth_Hz, 0, 1e13);
  c.closed("amplifier_noise_A_per_rtHz", p.amplifier_noise_A_per_rtHz, 0, 1e-6);
  c.open_closed("tia_feedback_ohm", p.tia_feedback_ohm, 1e-3, 1e12);
  c.non_negative("cmrr_dB", p.cmrr_dB);
  c.positive("bandwidth_Hz", p.bandwidth_Hz);
  c.closed("responsivity_mismatch", p.responsivity_mismatch, 0, 0.2);
}

void WindowPhotons::add_symbol(double a_signal, double a_lo) {
  const double np = 0.5 * (a_signal + a_lo) * (a_signal + a_lo);
  const double nm = 0.5 * (a_signal - a_lo) * (a_signal - a_lo);
  plus += np;
  minus += nm;
  plus_sq += np * np;
  minus_sq += nm * nm;
  plus_minus += np * nm;
}

void WindowPhotons::add_fields(std::complex<double> signal, std::complex<double> lo) {
  const double np = 0.5 * std::norm(signal + lo);
  const double nm = 0.5 * std::norm(signal - lo);
  plus += np;
  minus += nm;
  plus_sq += np * np;
  minus_sq += nm * nm;
  plus_minus += np * nm;
}

BalancedDetector::BalancedDetector(const DetectorParams& params, double wavelength_m,
                                   double temperature_K)
    : p_(params), wavelength_m_(wavelength_m), temperature_K_(temperature_K) {
  validate(p_);
  if (p_.front_end == FrontEnd::integrator && p_.integrator_capacitance_F == 0)
    fail(
        "detector.integrator_capacitance_F = 0 (sized to the full-scale charge) needs a circuit "
        "to size it from; give a capacitance for a detector on its own");
  if (!(wavelength_m > 0) || !std::isfinite(wavelength_m))
    fail("detector wavelength = {} m: must be finite and > 0", wavelength_m);
  if (!(temperature_K > 0) || !std::isfinite(temperature_K))
    fail("detector temperature = {} K: must be finite and > 0", temperature_K);
}

double BalancedDetector::responsivity_A_per_W() const {
  return p_.quantum_efficiency * elementary_charge_C / photon_energy_J(wavelength_m_);
}

double BalancedDetector::common_mode_leak() const {
  return std::pow(10.0, -p_.cmrr_dB / 20.0);
}

double BalancedDetector::time_constant_s() const {
  return 1.0 / (2 * constants::pi * p_.bandwidth_Hz);
}

double BalancedDetector::mean_difference(const WindowPhotons& w) const {
  return p_.quantum_efficiency * (w.plus - w.minus);
}

double BalancedDetector::shot_variance(const WindowPhotons& w) const {
  return p_.quantum_efficiency * (w.plus + w.minus);
}

double BalancedDetector::dark_variance(double t) const {
  return 2 * p_.dark_current_A * t / elementary_charge_C;
}

double BalancedDetector::reset_std_electrons() const {
  if (p_.front_end != FrontEnd::integrator || p_.correlated_double_sampling) return 0;
  return std::sqrt(boltzmann_J_per_K * temperature_K_ * p_.integrator_capacitance_F) /
         elementary_charge_C;
}

double BalancedDetector::current_noise_variance(double t) const {
  const double in = p_.amplifier_noise_A_per_rtHz;
  double density = in * in;  // A^2/Hz, one-sided
  if (p_.front_end == FrontEnd::tia)
    density += 4 * boltzmann_J_per_K * temperature_K_ / p_.tia_feedback_ohm;
  return density * t / (2 * elementary_charge_C * elementary_charge_C);
}

double BalancedDetector::voltage_noise_variance() const {
  if (p_.front_end != FrontEnd::integrator) return 0;
  const double en = p_.readout_noise_V_per_rtHz;
  const double samples = p_.correlated_double_sampling ? 2 : 1;
  const double charge_C = p_.integrator_capacitance_F * en;  // C e_n per sqrt(Hz)
  return charge_C * charge_C * (constants::pi / 2) * p_.readout_bandwidth_Hz * samples /
         (elementary_charge_C * elementary_charge_C);
}

double BalancedDetector::amplifier_variance(double t) const {
  return current_noise_variance(t) + voltage_noise_variance();
}

double BalancedDetector::capacity_electrons() const {
  return p_.integrator_capacitance_F * p_.swing_V / elementary_charge_C;
}

double BalancedDetector::max_current_A() const {
  return p_.swing_V / p_.tia_feedback_ohm;
}

double BalancedDetector::rin_variance(const WindowPhotons& w, double rin_var_per_symbol) const {
  const double eta = p_.quantum_efficiency;
  const double eps = common_mode_leak();
  const double diff_sq = w.plus_sq - 2 * w.plus_minus + w.minus_sq;  // sum (n+ - n-)^2
  const double sum_sq = w.plus_sq + 2 * w.plus_minus + w.minus_sq;   // sum (n+ + n-)^2
  return eta * eta * rin_var_per_symbol * (diff_sq + eps * eps * sum_sq);
}

double BalancedDetector::sample_difference(const WindowPhotons& w, double t,
                                           double rin_var_per_symbol, NoiseSources sources,
                                           ShotModel shot, std::uint64_t seed,
                                           NoiseCounter k) const {
  const double eta = p_.quantum_efficiency;
  // RIN: u = sum n+_j r_j and v = sum n-_j r_j are jointly Gaussian (the r_j are independent
  // per symbol); draw them exactly from their 2x2 covariance.
  double u = 0, v = 0;
  if (sources.has(NoiseSource::rin) && rin_var_per_symbol > 0) {
    const RandomStream rs(seed, Stream::rin);
    double z[2];
    rs.fill_normal(std::span<double>(z, 2), k.a, k.b, k.c);
    const double s = std::sqrt(rin_var_per_symbol);
    if (w.plus_sq > 0) {
      const double sp = std::sqrt(w.plus_sq);
      u = s * sp * z[0];
      const double rest = std::max(0.0, w.minus_sq - w.plus_minus * w.plus_minus / w.plus_sq);
      v = s * (w.plus_minus / sp * z[0] + std::sqrt(rest) * z[1]);
    } else {
      v = s * std::sqrt(w.minus_sq) * z[1];
    }
  }
  const double mean_plus = std::max(0.0, eta * (w.plus + u));
  const double mean_minus = std::max(0.0, eta * (w.minus + v));
  double d = 0;
  if (sources.has(NoiseSource::shot)) {
    if (shot == ShotModel::poisson) {
      const RandomStream rs(seed, Stream::shot);
      d = static_cast<double>(rs.poisson(mean_plus, k.a, k.b, 2 * k.c) -
                              rs.poisson(mean_minus, k.a, k.b, 2 * k.c + 1));
    } else {
      const RandomStream rs(seed, Stream::shot);
      d = mean_plus - mean_minus + std::sqrt(mean_plus + mean_minus) * rs.normal(k.a, k.b, k.c, 0);
    }
  } else {
    d = mean_plus - mean_minus;
  }
  // Residual response of the balanced pair to the common-mode power fluctuation.
  d += common_mode_leak() * eta * (u + v);
  if (sources.has(NoiseSource::dark) && p_.dark_current_A > 0) {
    const RandomStream rs(seed, Stream::dark);
    const double mean = p_.dark_current_A * t / elementary_charge_C;
    d += static_cast<double>(rs.poisson(mean, k.a, k.b, 2 * k.c) -
                             rs.poisson(mean, k.a, k.b, 2 * k.c + 1));
  }
  if (sources.has(NoiseSource::reset) && reset_std_electrons() > 0)
    d += reset_std_electrons() * RandomStream(seed, Stream::reset).normal(k.a, k.b, k.c, 0);
  if (sources.has(NoiseSource::amplifier))
    d += std::sqrt(amplifier_variance(t)) *
         RandomStream(seed, Stream::amplifier).normal(k.a, k.b, k.c, 0);
  return d;
}

}  // namespace lumac
