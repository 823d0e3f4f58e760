#include "nn/analog_chip.hpp"

#include <algorithm>
#include <cmath>
#include <span>

#include "lumac/devices/modulator.hpp"

namespace lumac::nn {

Tile draw_tile(const CircuitParams& p, NoiseSources sources, std::uint64_t chip_seed) {
  Tile t;
  t.outputs = p.system.fan_out;
  t.rows = p.system.batch;
  if (!has_device_spread(p, sources)) return t;
  const RandomStream rng(chip_seed, Stream::device);
  const auto m = static_cast<std::size_t>(t.outputs), b = static_cast<std::size_t>(t.rows);
  // Input modulators depend on the row only, weight modulators on the output only, the rest
  // on the detector (row, output).
  std::vector<ModulatorErrors> input(b), weight(m);
  bool any_input = false, any_weight = false;
  for (std::size_t r = 0; r < b; ++r) {
    input[r] = draw_device(p, sources, rng, 0, r, 0).input;
    any_input = any_input || !input[r].nominal();
  }
  for (std::size_t o = 0; o < m; ++o) {
    weight[o] = draw_device(p, sources, rng, 0, 0, o).weight;
    any_weight = any_weight || !weight[o].nominal();
  }
  if (any_input) t.input = std::move(input);
  if (any_weight) t.weight = std::move(weight);
  const bool phase = sources.has(NoiseSource::phase) && p.system.lo_phase_error_rad > 0;
  const bool mismatch = sources.has(NoiseSource::mismatch) && p.detector.responsivity_mismatch > 0;
  const bool split = sources.has(NoiseSource::spread) && p.system.splitter_imbalance > 0;
  if (!phase && !mismatch && !split) return t;
  const std::size_t detectors = m * b;
  if (phase) {
    t.cos_phase.resize(detectors);
    t.sin_phase.resize(detectors);
  }
  if (mismatch) t.mismatch.resize(detectors);
  if (split) {
    t.signal_power.resize(detectors);
    t.lo_power.resize(detectors);
    t.split.resize(detectors);
  }
  for (std::size_t r = 0; r < b; ++r)
    for (std::size_t o = 0; o < m; ++o) {
      const DeviceErrors d = draw_device(p, sources, rng, 0, r, o);
      const std::size_t at = r * m + o;
      if (phase) {
        t.cos_phase[at] = static_cast<float>(std::cos(d.lo_phase_rad));
        t.sin_phase[at] = static_cast<float>(std::sin(d.lo_phase_rad));
      }
      if (mismatch) t.mismatch[at] = static_cast<float>(d.responsivity_mismatch);
      if (split) {
        t.signal_power[at] = static_cast<float>(1 + d.signal_power_error);
        t.lo_power[at] = static_cast<float>(1 + d.lo_power_error);
        t.split[at] =
            static_cast<float>(std::sqrt((1 + d.signal_power_error) * (1 + d.lo_power_error)));
      }
    }
  return t;
}

void chip_weights(const ChipLayer& c, const Tile& tile, const ConstMatrixMap& W,
                  const Eigen::VectorXd& w_scale, Eigen::Index offset, ChipWeights& cw,
                  Eigen::MatrixXf& ext) {
  const Eigen::Index rows = W.rows(), n = W.cols();
  // P differs from W when the weight side has anything to change.
  const bool changes = c.dac_bits > 0 || c.static_weight_std > 0 || !tile.weight.empty();
  const bool extinction = c.d > 0;
  // P itself: for the input modulators' product and for the quadrature product (LO phase
  // errors or phase noise, with extinction).
  const bool keep_w1 =
      !tile.input.empty() || (extinction && (!tile.cos_phase.empty() || c.phase_std > 0));
  cw.d1.resize(changes ? rows : 0, changes ? n : 0);
  cw.w1.resize(keep_w1 ? rows : 0, keep_w1 ? n : 0);
  ext.resize(extinction ? rows : 0, extinction ? n : 0);
  cw.w1_sum.resize(rows);
  cw.ext_sum.resize(rows);
  const bool leak = !tile.mismatch.empty();
  cw.leak_signal.setZero(leak ? rows : 0);
  cw.leak_lo.setZero(leak ? rows : 0);
  const RandomStream programming(c.chip_seed, Stream::weight_static);
  std::vector<double> z(static_cast<std::size_t>(c.static_weight_std > 0 ? n : 0));
  const double d = c.d, mx = c.x_scale;
  for (Eigen::Index i = 0; i < rows; ++i) {
    const auto o = static_cast<std::size_t>((offset + i) % tile.outputs);
    const ModulatorErrors me = tile.weight.empty() ? ModulatorErrors{} : tile.weight[o];
    const double mw = w_scale[i];
    if (!z.empty())
      programming.fill_normal(std::span<double>(z), static_cast<std::uint64_t>(c.layer),
                              static_cast<std::uint64_t>(offset + i), 0);
    double sum_p = 0, sum_q = 0, lo_power = 0;
    for (Eigen::Index k = 0; k < n; ++k) {
      const double w = W(i, k);
      double u = std::clamp(w / mw, -1.0, 1.0);
      if (c.dac_bits > 0)
        u = c.predistortion
                ? quantized_drive(u, c.dac_bits, true)
                : u + quantized_drive(u, c.dac_bits, false) - quantized_drive(u, 0, false);
      if (!z.empty()) u += c.static_weight_std * z[static_cast<std::size_t>(k)];
      double a = 0, b = 0;  // in-phase d cos theta and quadrature sin theta of the LO field
      if (me.nominal()) {
        b = u;
        a = d * std::sqrt(std::max(0.0, 1 - u * u));
      } else {
        const double clamped = std::clamp(u, -1.0, 1.0);
        const double theta = std::asin(clamped) / (1 + me.v_pi_error) + me.bias_rad;
        a = d * std::cos(theta);
        b = std::sin(theta) + (u - clamped);
      }
      const double pk = changes ? mw * b : w, qk = mx * d * mw * a;
      if (changes) cw.d1(i, k) = static_cast<float>(pk - w);
      if (keep_w1) cw.w1(i, k) = static_cast<float>(pk);
      if (extinction) ext(i, k) = static_cast<float>(qk);
      sum_p += pk;
      sum_q += qk;
      lo_power += a * a + b * b;
    }
    cw.w1_sum[i] = static_cast<float>(sum_p);
    cw.ext_sum[i] = static_cast<float>(sum_q);
    if (leak) {
      const double g = mx * mw / 4;
      cw.leak_signal[i] = static_cast<float>(g * c.photon_ratio);
      cw.leak_lo[i] = static_cast<float>((1 - c.trim) * g * lo_power / c.photon_ratio);
    }
  }
}

void extinction_root(const ConstMatrixMap& X, double x_scale, float trim, Eigen::MatrixXf& root) {
  const auto ix = static_cast<float>(1 / x_scale);
  root.resize(X.rows(), X.cols());
  for (Eigen::Index j = 0; j < X.cols(); ++j) {
    const float* x = X.col(j).data();
    float* r = root.col(j).data();
    for (Eigen::Index k = 0; k < X.rows(); ++k) {
      const float v = x[k] * ix;
      r[k] = std::sqrt(std::max(0.0f, 1 - v * v)) - trim;
    }
  }
}

namespace {

// The phase factors f and g of every output (see the header): the mean cosine and sine of the
// K repeats' phase noise. K = 1: cos(s z) and sin(s z) of the normals z of
// (sample, layer << 32 | 2); K > 1: their normal approximations m1 + sqrt(Var[cos] / K) z and
// sqrt(E[sin^2] / K) z' (z' of (sample, layer << 32 | 3): the cosine and the sine of a phase are
// uncorrelated). One sequence per column for Dense, one for the whole image for Conv2d. g is
// filled only if `sine` (the quadrature read-out is non-zero: with extinction).
void phase_normals(const MatmulView& v, const RandomStream& rng, std::uint64_t word, int outputs,
                   Eigen::MatrixXf& z) {
  z.resize(v.Y.rows(), v.Y.cols());
  if (v.per_position && (v.output_offset != 0 || z.rows() != outputs)) {
    // A group of a grouped convolution: its outputs' normals of the whole image's sequence.
    NoiseSequence image(rng, static_cast<std::uint64_t>(v.first_sample), word, 0);
    for (Eigen::Index j = 0; j < z.cols(); ++j)
      image.fill(std::span<float>(z.col(j).data(), static_cast<std::size_t>(z.rows())),
                 static_cast<std::uint64_t>((v.first_position + j) * outputs + v.output_offset));
  } else if (v.per_position) {
    NoiseSequence(rng, static_cast<std::uint64_t>(v.first_sample), word, 0)
        .fill(std::span<float>(z.data(), static_cast<std::size_t>(z.size())),
              static_cast<std::uint64_t>(v.first_position * z.rows()));
  } else {
    for (Eigen::Index j = 0; j < z.cols(); ++j)
      NoiseSequence(rng, static_cast<std::uint64_t>(v.sample_of(j)), word, 0)
          .fill(std::span<float>(z.col(j).data(), static_cast<std::size_t>(z.rows())));
  }
}

void phase_factors(const ChipLayer& c, const MatmulView& v, std::uint64_t seed, bool sine,
                   Eigen::MatrixXf& f, Eigen::MatrixXf& g) {
  const RandomStream rng(seed, Stream::phase_noise);
  const std::uint64_t word = static_cast<std::uint64_t>(c.layer) << 32;
  phase_normals(v, rng, word | 2, c.outputs, f);
  // Element by element (not an Eigen expression, whose vectorised body and scalar tail round
  // differently, so that an element's bits would depend on the column count).
  const double s = c.phase_std;
  const double m1 = std::exp(-s * s / 2), e2 = std::exp(-2 * s * s);
  const double m2 = (1 + e2) / 2, sin2 = (1 - e2) / 2;
  const auto sd = static_cast<float>(std::sqrt((m2 - m1 * m1) / c.repeats));
  const auto fs = static_cast<float>(s), fm1 = static_cast<float>(m1);
  float* z = f.data();
  if (sine) {
    if (c.repeats == 1) {
      g.resize(f.rows(), f.cols());
      float* w = g.data();
      for (Eigen::Index e = 0; e < f.size(); ++e) w[e] = std::sin(fs * z[e]);
    } else {
      phase_normals(v, rng, word | 3, c.outputs, g);
      const auto gs = static_cast<float>(std::sqrt(sin2 / c.repeats));
      float* w = g.data();
      for (Eigen::Index e = 0; e < g.size(); ++e) w[e] = gs * w[e];
    }
  }
  for (Eigen::Index e = 0; e < f.size(); ++e)
    z[e] = c.repeats == 1 ? std::cos(fs * z[e]) : fm1 + sd * z[e];
}

// The arithmetic of input_fields for one column, free of calls and branches so that the
// compiler vectorises it: with V_pi errors (VPi) st, ct hold sin t and cos t of
// t = (g - 1) asin v.
template <bool VPi, bool Root>
void column_fields(const float* xc, Eigen::Index n, double ix, double mx, double sd, double cd,
                   double off_sin, double off_cos, const double* st, const double* ct, double* sn,
                   float* out, float* rc) {
  for (Eigen::Index k = 0; k < n; ++k) {
    const double x = xc[k], vk = std::clamp(x * ix, -1.0, 1.0);
    const double ca0 = std::sqrt(1 - vk * vk);
    double sa = vk, ca = ca0;  // sin and cos of g a
    if constexpr (VPi) {
      sa = vk * ct[k] + ca0 * st[k];
      ca = ca0 * ct[k] - vk * st[k];
    }
    sn[k] = sa * cd + ca * sd;
    out[k] = static_cast<float>(mx * sn[k] - x - off_sin);
    if constexpr (Root) rc[k] = static_cast<float>(ca * cd - sa * sd - off_cos);
  }
}

// Input modulators with errors: xd = X_eff - X_c - trim m_x sin delta_b, root = cos theta_x -
// trim cos delta_b (when `root` is wanted), and, when `sin2` is wanted, per column
// sum_k sin^2 theta_x. The angle theta = g a + delta, a = asin v, g = 1 / (1 + e), by angle
// addition: sin a = v, cos a = sqrt(1 - v^2), and for g != 1 the sine and cosine of
// t = (g - 1) a, by their Taylor series to t^9 and t^10 while |g - 1| <= 0.25 (|t| <= 0.4:
// remainders below 1e-12), so that only the arcsine is transcendental (a pass of its own) and
// the rest vectorises.
void input_fields(const ChipLayer& c, const Tile& tile, const MatmulView& v, Eigen::MatrixXf& xd,
                  Eigen::MatrixXf* root, Eigen::VectorXf* sin2) {
  const Eigen::Index n = v.X.rows(), cols = v.X.cols();
  const double mx = c.x_scale, ix = 1 / mx, trim = c.trim;
  xd.resize(n, cols);
  if (root) root->resize(n, cols);
  if (sin2) sin2->resize(cols);
  thread_local std::vector<double> sin_t, cos_t, sine;
  sin_t.resize(static_cast<std::size_t>(n));
  cos_t.resize(static_cast<std::size_t>(n));
  sine.resize(static_cast<std::size_t>(n));
  double* st = sin_t.data();
  double* ct = cos_t.data();
  double* sn = sine.data();
  for (Eigen::Index j = 0; j < cols; ++j) {
    const ModulatorErrors& me = tile.input[static_cast<std::size_t>(tile.row_of(v, j))];
    const double eps = 1 / (1 + me.v_pi_error) - 1, delta = me.bias_rad;
    const double sd = std::sin(delta), cd = std::cos(delta);
    const double off_sin = trim * mx * sd, off_cos = trim * cd;
    const float* xc = v.X.col(j).data();
    float* out = xd.col(j).data();
    float* rc = root ? root->col(j).data() : nullptr;
    const bool vpi = eps != 0;
    if (vpi) {
      const bool series = std::abs(eps) <= 0.25;
      constexpr double i6 = 1.0 / 6, i20 = 1.0 / 20, i42 = 1.0 / 42, i72 = 1.0 / 72;
      constexpr double i2 = 1.0 / 2, i12 = 1.0 / 12, i30 = 1.0 / 30, i56 = 1.0 / 56, i90 = 1.0 / 90;
      // The arcsine in float: its error (1e-7 of the angle) reaches the field only as
      // (g - 1) 1e-7, below a float's resolution.
      const auto fix = static_cast<float>(ix);
      for (Eigen::Index k = 0; k < n; ++k) {
        const double t = eps * std::asin(std::clamp(xc[k] * fix, -1.0f, 1.0f)), t2 = t * t;
        if (series) {
          st[k] = t * (1 - t2 * i6 * (1 - t2 * i20 * (1 - t2 * i42 * (1 - t2 * i72))));
          ct[k] = 1 - t2 * i2 * (1 - t2 * i12 * (1 - t2 * i30 * (1 - t2 * i56 * (1 - t2 * i90))));
        } else {
          st[k] = std::sin(t);
          ct[k] = std::cos(t);
        }
      }
    }
    if (vpi && rc)
      column_fields<true, true>(xc, n, ix, mx, sd, cd, off_sin, off_cos, st, ct, sn, out, rc);
    else if (vpi)
      column_fields<true, false>(xc, n, ix, mx, sd, cd, off_sin, off_cos, st, ct, sn, out, rc);
    else if (rc)
      column_fields<false, true>(xc, n, ix, mx, sd, cd, off_sin, off_cos, st, ct, sn, out, rc);
    else
      column_fields<false, false>(xc, n, ix, mx, sd, cd, off_sin, off_cos, st, ct, sn, out, rc);
    if (sin2) {
      double acc[4] = {0, 0, 0, 0};  // four fixed partial sums
      for (Eigen::Index k = 0; k < n; ++k) acc[k % 4] += sn[k] * sn[k];
      (*sin2)[j] = static_cast<float>((acc[0] + acc[1]) + (acc[2] + acc[3]));
    }
  }
}

}  // namespace

void apply_chip(const ChipLayer& c, const Tile& tile, const ChipWeights& cw,
                const Eigen::MatrixXf& ext, const MatmulView& vc, const Eigen::VectorXf& x2,
                std::uint64_t noise_seed, MatrixMap y, ChipStats* stats) {
  const Eigen::Index rows = y.rows(), cols = y.cols();
  const bool has_ext = ext.size() > 0, inputs = !tile.input.empty();
  const bool has_t = cw.d1.size() > 0 || inputs;
  const bool split = !tile.split.empty(), leak = !tile.mismatch.empty();
  const bool phase = c.phase_std > 0;
  // The quadrature read-out V (first order in d) enters with LO phase errors or phase noise.
  const bool rotate = !tile.cos_phase.empty(), quadrature = (rotate || phase) && has_ext;
  const double mx = c.x_scale, ix = 1 / mx, md = c.x_scale * c.d;
  thread_local Eigen::MatrixXf t, e, tmp, xd, root, f, g, q, x1;
  thread_local Eigen::VectorXf sin2;
  // U = P X1 + Q A1 = W X_c + t + e: t what P changes of the product, e the extinction term.
  if (cw.d1.size() > 0)
    product_of_view(vc, cw.d1, vc.X, t);
  else if (has_t)
    t.setZero(rows, cols);
  if (inputs) {
    input_fields(c, tile, vc, xd, has_ext ? &root : nullptr,
                 tile.mismatch.empty() ? nullptr : &sin2);
    product_of_view(vc, cw.w1, xd, tmp);
    t += tmp;
  } else if (has_ext) {
    extinction_root(vc.X, c.x_scale, c.trim, root);
  }
  if (has_ext) product_of_view(vc, ext, root, e);
  // With LO phase errors or noise and extinction, V = Q X1 - P A1 = (m_x d Q) X1 / (m_x d) - m_x d
  // P root.
  if (quadrature) {
    if (inputs) {
      x1 = vc.X + xd;
      product_of_view(vc, ext, x1, q);
    } else {
      product_of_view(vc, ext, vc.X, q);
    }
    product_of_view(vc, cw.w1, root, tmp);
    q = q * static_cast<float>(1 / md) - tmp * static_cast<float>(md);
  }
  if (phase) phase_factors(c, vc, noise_seed, quadrature, f, g);
  const double d2 = c.d * c.d, n = c.fan_in, trim = c.trim;
  const double m1 = std::exp(-c.phase_std * c.phase_std / 2);
  // The variance of f: of one cosine (K = 1), or of the mean of K.
  const double var_f =
      phase ? ((1 + std::exp(-2 * c.phase_std * c.phase_std)) / 2 - m1 * m1) / c.repeats : 0.0;
  // The variance of g, the mean of K sines.
  const double var_g = phase ? (1 - std::exp(-2 * c.phase_std * c.phase_std)) / 2 / c.repeats : 0.0;
  if (!split && !leak && !phase && !rotate) {
    // Only P and the extinction term: y + t + e (additions only, so Eigen's vectorised body
    // and scalar tail give the same bits).
    if (has_t) y += t;
    if (has_ext) y += e;
    if (stats) {
      SampleSums ext_sq(stats->extinction_sq, vc.per_position);
      SampleSums static_sq(stats->static_sq, vc.per_position);
      for (Eigen::Index j = 0; j < cols; ++j) {
        if (has_ext) ext_sq.add(static_cast<double>(e.col(j).squaredNorm()));
        if (has_t) static_sq.add(static_cast<double>(t.col(j).squaredNorm()));
      }
    }
    return;
  }
  ExactSum unused;  // the sums' target without stats
  SampleSums ext_sq(stats ? stats->extinction_sq : unused, vc.per_position);
  SampleSums static_sq(stats ? stats->static_sq : unused, vc.per_position);
  SampleSums phase_var(stats ? stats->phase_var : unused, vc.per_position);
  SampleSums fading_sq(stats ? stats->fading_sq : unused, vc.per_position);
  thread_local std::vector<std::size_t> output_of;  // o = i % M of every row
  output_of.resize(static_cast<std::size_t>(rows));
  for (Eigen::Index i = 0; i < rows; ++i)
    output_of[static_cast<std::size_t>(i)] =
        static_cast<std::size_t>((vc.output_offset + i) % tile.outputs);
  for (Eigen::Index j = 0; j < cols; ++j) {
    const std::int64_t b = tile.row_of(vc, j);
    const ModulatorErrors me = inputs ? tile.input[static_cast<std::size_t>(b)] : ModulatorErrors{};
    // The zero-input read-out's inputs: X0 = trim m_x sin delta, A0 = trim m_x d cos delta.
    const float off_sin = static_cast<float>(trim * mx * std::sin(me.bias_rad));
    const float off_cos = static_cast<float>(trim * std::cos(me.bias_rad));
    // The leak's input part: sum_k |e_s|^2 - trim N |e_s(0)|^2, |e|^2 = d^2 + (1 - d^2) sin^2.
    float power = 0;
    if (leak) {
      const double s2 = inputs ? sin2[j] : x2[j] * ix * ix;
      const double s0 = std::sin(me.bias_rad);
      power = static_cast<float>((1 - d2) * (s2 - trim * n * s0 * s0) + (1 - trim) * n * d2);
    }
    const std::size_t at = static_cast<std::size_t>(b) * tile.outputs;
    float* yc = y.col(j).data();
    const float* tc = has_t ? t.col(j).data() : nullptr;
    const float* ec = has_ext ? e.col(j).data() : nullptr;
    const float* vc_q = quadrature ? q.col(j).data() : nullptr;
    const float* fc = phase ? f.col(j).data() : nullptr;
    const float* gc = phase && quadrature ? g.col(j).data() : nullptr;
    float e2 = 0, s2 = 0, a2 = 0, b2 = 0;  // this column's sums of squares
    for (Eigen::Index i = 0; i < rows; ++i) {
      const std::size_t o = output_of[static_cast<std::size_t>(i)];
      const float ti = tc ? tc[i] : 0.0f, ei = ec ? ec[i] : 0.0f, vi = vc_q ? vc_q[i] : 0.0f;
      const float u = yc[i] + ti + ei;  // U, calibrated, at the nominal gain
      const float cp = rotate ? tile.cos_phase[at + o] : 1.0f;
      const float sp = rotate ? tile.sin_phase[at + o] : 0.0f;
      const float interference = cp * u + sp * vi;
      const float sc = split ? tile.split[at + o] : 1.0f;
      float lk = 0;
      if (leak)
        lk = tile.mismatch[at + o] *
             (cw.leak_signal[i] * (split ? tile.signal_power[at + o] : 1.0f) * power +
              cw.leak_lo[i] * (split ? tile.lo_power[at + o] : 1.0f));
      float out = sc * interference + lk;
      if (fc) {
        // f multiplies the uncalibrated interference; the calibration subtracts its offset,
        // c (X0 sum P + A0 sum Q) + s (X0 sum Q - A0 sum P).
        const float off_u = off_sin * cw.w1_sum[i] + off_cos * cw.ext_sum[i];
        const float off_v = quadrature ? off_sin * cw.ext_sum[i] * static_cast<float>(1 / md) -
                                             off_cos * static_cast<float>(md) * cw.w1_sum[i]
                                       : 0.0f;
        const float offset = cp * off_u + sp * off_v;
        const float uncal = interference + offset;
        // A phase t more turns cos(phi) U + sin(phi) V into cos t (that) + sin t J, with the
        // quadrature J = -sin(phi) U + cos(phi) V of the uncalibrated read-out.
        const float quad = gc ? -sp * (u + off_u) + cp * (vi + off_v) : 0.0f;
        out = sc * (fc[i] * uncal + (gc ? gc[i] * quad : 0.0f) - offset) + lk;
        a2 += (sc * uncal) * (sc * uncal);
        b2 += (sc * quad) * (sc * quad);
      }
      yc[i] = out;
      // Against the nominal W X_c + e: out - (yc + ei).
      const float st = ti + (sc * cp - 1) * u + sc * sp * vi + lk;
      e2 += ei * ei;
      s2 += st * st;
    }
    ext_sq.add(e2);
    static_sq.add(s2);
    phase_var.add(a2 * var_f + b2 * var_g);
    fading_sq.add((m1 - 1) * (m1 - 1) * a2);
  }
}

}  // namespace lumac::nn
