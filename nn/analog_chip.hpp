// The chip a network's matrix products run on in physical mode (nn/analog.hpp): the static
// errors of its devices and the signal-LO phase noise of its read-outs, the field model of
// circuits/homodyne_mac.hpp ("Static device errors and phase") applied to whole products.
//
// The tile. Every layer runs on one tile of M = system.fan_out outputs and B = system.batch
// rows: output row i of a layer on physical output o = i % M, column j of the product on row
// b = (sample index) % B for Dense and b = (position within the image) % B for Conv2d (the
// columns of a convolution are the positions of one image). The devices of (b, o) are
// draw_device(params, sources, RandomStream(chip seed, Stream::device), chip 0, b, o): the input
// modulator of row b, the weight modulator of output o, and the LO phase, balanced pair and
// splitter power errors of detector (b, o). The chip seed is system.device_seed, or the noise
// seed when it is 0 (one chip per noise seed, fixed over the whole test set).
//
// The weights (once per layer). A weight W_ik of row i drives u = W_ik / m_w,i (clipped to
// [-1, 1]); with the `dac` source on, the weight DAC rounds it to the field
// u_q = quantized_drive(u, dac.bits, predistortion) (without pre-distortion only the DAC's part,
// u + quantized_drive(u, b, false) - quantized_drive(u, 0, false): networks leave the sine
// transfer out, as they always have); with the `weight` source on and
// modulator.weight_noise_kind = static each weight gets its programming error,
// u' = u_q + sigma_w z_ik, z_ik standard normal from RandomStream(chip seed,
// Stream::weight_static) at counter (layer, i, element k), the same for every sample and
// position. On the weight modulator of output o (V_pi error e, bias delta) the field angle is
// theta_w = asin(u') / (1 + e) + delta (u' clamped for the arcsine, its excess beyond +-1 added
// to the sine, as HomodyneMac::symbol_field does), a_w = d cos theta_w, b_w = sin theta_w:
//   P_ik = m_w,i b_w,   Q_ik = m_w,i a_w
// (nominal devices: P = m_w u', Q = m_w d sqrt(1 - u'^2)).
//
// The read-out of output (i, j) in units of y, exactly (d = the extinction residual), on
// detector (b, o) with LO phase phi_bo (c = cos phi_bo, s = sin phi_bo):
//   Y = s_bo [c U + s V] + leak,  U = P X1 + Q A1,  V = Q X1 - P A1,
//   X1 = X_eff - trim X0, A1 = A_x - trim A0, X_eff = m_x sin theta_x, A_x = m_x d cos theta_x,
// theta_x = asin(x / m_x) / (1 + e_b) + delta_b on the input modulator of row b; trim = 1 with
// system.offset_calibration, which subtracts the zero-input read-out measured on the same
// devices (X0 = m_x sin delta_b, A0 = m_x d cos delta_b); s_bo = sqrt((1 + a_bo)(1 + b_bo)) for
// the splitter's signal and LO power errors; and the responsivity mismatch m_bo of the pair
// leaks, with r = sqrt(n_s / n_L) (a ratio that does not depend on the layer's energy),
//   leak = (m_bo / 4) m_x m_w,i [r (1 + a_bo) (sum_k |e_s,kj|^2 - trim N |e_s(0)|^2)
//                                + (1 - trim) (1 + b_bo) sum_k |e_L,ik|^2 / r],
// |e|^2 = sin^2 theta + d^2 cos^2 theta of each field (the LO part is input-independent, so
// calibration removes it). U is computed as W X_c (the layer's product) + (P - W) X_c
// [+ P (X_eff - X_c - trim X0) when input modulators have errors] + m_x d Q (cos theta_x -
// trim cos delta_b); V, first order in d, only with extinction and LO phase errors or phase
// noise (two more products); then the rotation, s_bo and the leak. Without any static error
// only the extinction product runs (sqrt(1 - v^2) for cos theta_x).
//
// Phase noise (system.lo_phase_noise_rad = s_t, `phase` source): every repeat the LO phase moves
// by a new t ~ N(0, s_t^2), which turns the uncalibrated interference
// I = (Y - leak) / s_bo + trim (zero-input read-out) into cos t I + sin t J, with J =
// -sin(phi_bo) U + cos(phi_bo) V its quadrature (uncalibrated; first order in d, and with
// extinction the larger part: the circuit's phase_noise term). Over K repeats (digital or
// analog) Y -> s_bo (f I + g J - trim offset) + leak with f, g the means of K cosines and
// sines: f = cos(s_t z), g = sin(s_t z) for K = 1 (exact), and for K > 1 their normal
// approximations f = m1 + sqrt((m2 - m1^2) / K) z, g = sqrt(s2 / K) z' (uncorrelated),
// m1 = e^(-s_t^2 / 2), m2 = (1 + e^(-2 s_t^2)) / 2, s2 = (1 - e^(-2 s_t^2)) / 2, z and z'
// standard normal from RandomStream(noise seed, Stream::phase_noise) at the counters of the
// layer's other normals (sample, layer << 32 | 2 and | 3), element of (output, position). Left
// out: the phase noise of the calibration's own measurement.
#pragma once

#include <Eigen/Core>
#include <cstdint>
#include <vector>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/gemm.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/matmul_hook.hpp"
#include "nn/exact_sum.hpp"

namespace lumac::nn {

// out = a b (on lumac's GEMM kernel, core/gemm.hpp), multiplied in zero-padded blocks of
// dense_chunk_samples columns (as Dense does): a
// GEMM's bits for one column depend on the number of columns, and a hook's column count
// depends on how the samples were batched (DESIGN.md convention 5).
template <class A, class B>
void product_in_blocks(const A& a, const B& b, Eigen::MatrixXf& out) {
  constexpr Eigen::Index block = dense_chunk_samples;
  thread_local Eigen::MatrixXf bb, yb;
  out.resize(a.rows(), b.cols());
  bb.resize(b.rows(), block);
  for (Eigen::Index j0 = 0; j0 < b.cols(); j0 += block) {
    const Eigen::Index n = std::min(block, b.cols() - j0);
    bb.leftCols(n) = b.middleCols(j0, n);
    bb.rightCols(block - n).setZero();
    yb.resize(a.rows(), block);
    gemm(a, GemmOp::none, bb, GemmOp::none, yb, false, GemmColumns::batch);
    out.middleCols(j0, n) = yb.leftCols(n);
  }
}

// out = a b for the columns of a view: in blocks for Dense (whose column count depends on the
// batching), as one product for Conv2d (always all positions of one image, as the layer's own
// product).
template <class A, class B>
void product_of_view(const MatmulView& v, const A& a, const B& b, Eigen::MatrixXf& out) {
  if (v.per_position) {
    out.resize(a.rows(), b.cols());
    gemm(a, GemmOp::none, b, GemmOp::none, out, false, GemmColumns::fixed);
  } else {
    product_in_blocks(a, b, out);
  }
}

// The devices of the tile, drawn once for the chip. A vector is empty when all its devices are
// nominal.
struct Tile {
  int outputs = 1, rows = 1;            // M, B
  std::vector<ModulatorErrors> input;   // per row b
  std::vector<ModulatorErrors> weight;  // per output o
  // Per detector (b, o), at b M + o: cos and sin of the LO phase error, the responsivity
  // mismatch, and the splitter's 1 + a, 1 + b and sqrt((1 + a)(1 + b)).
  std::vector<float> cos_phase, sin_phase, mismatch;
  std::vector<float> signal_power, lo_power, split;
  bool nominal() const {
    return input.empty() && weight.empty() && cos_phase.empty() && mismatch.empty() &&
           split.empty();
  }
  // The row b of column j of a product.
  std::int64_t row_of(const MatmulView& v, Eigen::Index j) const {
    return (v.per_position ? static_cast<std::int64_t>(j) : v.sample_of(j)) % rows;
  }
};
Tile draw_tile(const CircuitParams& params, NoiseSources sources, std::uint64_t chip_seed);

// What the chip model needs of one layer's circuit.
struct ChipLayer {
  int layer = 0;
  int outputs = 1;  // the layer's outputs (a grouped convolution's products hold some of them)
  std::uint64_t chip_seed = 0;
  double fan_in = 1;             // N
  double x_scale = 1;            // m_x
  double d = 0;                  // extinction residual (0 without the extinction source)
  float trim = 1;                // 1 with offset calibration, else 0
  int dac_bits = 0;              // the weight DAC applied to W (0: the dac source is off)
  bool predistortion = true;     // modulator.predistortion
  double static_weight_std = 0;  // sigma_w of the static programming error (0: none)
  double photon_ratio = 1;       // r = sqrt(n_s / n_L)
  double phase_std = 0;          // s_t of the temporal LO phase noise (0: none)
  int repeats = 1;               // K
  // Whether the layer has static errors (the weight DAC, programming errors or a device with
  // errors), and whether anything beyond the nominal extinction term runs.
  bool static_errors(const Tile& t) const {
    return dac_bits > 0 || static_weight_std > 0 || !t.nominal();
  }
  bool active(const Tile& t) const { return static_errors(t) || phase_std > 0; }
};

// What the chip model needs of a layer's weights (computed once per layer): P = m_w b_w and
// Q = m_w a_w, the LO field's quadrature and in-phase parts (W1 and W2 before the detector's
// phase rotation: W1 = c P + s Q, W2 = c Q - s P).
struct ChipWeights {
  Eigen::MatrixXf d1;                    // P - W (empty when P is W)
  Eigen::MatrixXf w1;                    // P, when the products need it (else empty)
  Eigen::VectorXf w1_sum, ext_sum;       // row sums of P and of m_x d Q
  Eigen::VectorXf leak_signal, leak_lo;  // per row: m_x m_w,i r / 4 and
                                         // (1 - trim) m_x m_w,i sum_k |e_L,ik|^2 / (4 r)
};
// Fills `cw` and `ext` (= m_x d Q, outputs x fan_in; empty when d = 0) for weights W with row
// full scales w_scale; W's row i is the layer's output offset + i (a group of a grouped
// convolution), which sets its weight modulator and its programming errors.
void chip_weights(const ChipLayer& c, const Tile& tile, const ConstMatrixMap& W,
                  const Eigen::VectorXd& w_scale, Eigen::Index offset, ChipWeights& cw,
                  Eigen::MatrixXf& ext);

// root = sqrt(1 - (X / m_x)^2) - trim, element by element so that an element's bits do not
// depend on the column count (an Eigen expression's vectorised body and scalar tail round
// differently).
void extinction_root(const ConstMatrixMap& X, double x_scale, float trim, Eigen::MatrixXf& root);

// What apply_chip added, summed over the outputs: squares of the extinction term (m_x d Q ...,
// the in-phase residuals' product, before the LO phase) and of the static error (everything
// else the chip changes against W X_c plus that term), the phase noise's variance and its
// fading's squares.
// Sums over outputs of the chip's errors (exact: nn/exact_sum.hpp), added column by column.
struct ChipStats {
  ExactSum extinction_sq, static_sq, phase_var, fading_sq;
};

// Turns y, which holds W X_c for the clipped inputs vc.X, into the chip's read-out (the header's
// formula, phase noise included); x2 holds the column sums of vc.X^2. Deterministic given the
// counters, so forward and backward compute the same values.
void apply_chip(const ChipLayer& c, const Tile& tile, const ChipWeights& cw,
                const Eigen::MatrixXf& ext, const MatmulView& vc, const Eigen::VectorXf& x2,
                std::uint64_t noise_seed, MatrixMap y, ChipStats* stats);

}  // namespace lumac::nn
