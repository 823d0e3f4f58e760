// Analog execution of a network's matrix products (PHYSICS.md §5 and §2): a MatmulHook that
// adds to every pre-bias output Y_ij of every Dense and Conv2d layer the noise its hardware
// implies, sigma_ij * eps_ij with eps_ij standard normal drawn from the counter
// (sample, layer, position, output), so results do not depend on batch size or threads.
//
// Modes (E = the layer's energy knob, K its repeats; E may be one value per output channel):
//   none      no noise: identical to the plain forward pass
//   shot      sigma_ij = ||w_i|| ||x_j|| / sqrt(D E K), E = detected photons per MAC
//             (norm-adaptive homodyne shot noise; the seed authors' model)
//   thermal   sigma = 0.01 sqrt(D) R_w R_x / sqrt(E K), R_w, R_x the calibrated weight and
//             input ranges, E = repeats
//   weight    every weight gets noise of std 0.1 R_w / sqrt(E K), new for every sample and
//             forward pass: exact per-sample weight perturbations for convolutions, the
//             equivalent output noise sigma_ij = 0.1 R_w ||x_j|| / sqrt(E K) for dense layers
//   physical  the circuit model (circuits/homodyne_mac.hpp, full-scale encoding) for the
//             configured devices and laser power (scaled by E), with modulator full scales
//             m_x = max|calibrated input range| and m_w = max|W| of the layer
//             (system.weight_full_scale = layer) or of each output row (= row), the ADC
//             spanning the calibrated output range, and K repeats with the configured
//             averaging. Like the circuit's encode(), inputs beyond the full scale are clipped
//             (x -> m_x sign x) before the product. A product of two activations
//             (nn/act_matmul.hpp) has m_w = max|calibrated range of its second operand| (always
//             per layer), clips that operand at m_w too, and gets its weight DAC, extinction and
//             device terms from the W of each call; its backward passes no gradient through
//             the clip of W, nor through the dependence on W of the noise polynomial and of
//             the extinction and chip terms (dX has them as for any layer).
//             The chip (nn/analog_chip.hpp has the formulas): every layer runs on one tile of
//             M = system.fan_out outputs and B = system.batch rows, output row i on physical
//             output i % M, column j on row (sample index) % B for dense layers and (position
//             in the image) % B for convolutions (token-wise dense layers: the token; products
//             of two activations: the row of the head's first operand), whose devices are drawn
//             once for the chip
//             (system.device_seed, or the noise seed when it is 0) and are the same for every
//             sample, position and layer. Exact, as matrix products on the mean read-out: the
//             weight DAC (`dac`: W -> m_w quantized_drive(W / m_w), applied once to W), the
//             static weight programming error (`weight` with weight_noise_kind = static: a fixed
//             sigma_w z_ik on each weight's drive), and the devices' bias and V_pi errors, LO
//             phase errors, splitter power errors and responsivity mismatch leakage
//             (`bias`, `spread`, `phase`, `mismatch`), with offset calibration measuring each
//             output's zero-input read-out on its own devices; the extinction residual d
//             (`extinction`: ER -> d = 10^(-ER/20)) enters as the in-phase product
//             m_x d Q cos theta_x (Q = m_w d cos theta_w, the LO's in-phase field), on nominal
//             devices m_x m_w,i d^2 sum_k sqrt(1 - v_kj^2)
//             sqrt(1 - u_ik^2) (with calibration, its zero-input value, sqrt(1 - v^2) -> 1,
//             subtracted), and adds d^2 (1 - v^2) n_s + d^2 (1 - u^2) n_L shot photons per symbol.
//             Without static errors only the extinction product runs; the weight DAC (on by
//             default) costs one more product, (P - W) X per layer (P = m_w sin theta_w, the
//             weights as their quantized drives' fields), and LO phase errors with extinction
//             two more. Temporal LO phase noise
//             (system.lo_phase_noise_rad) scales each output by the mean of K cosines of its own
//             repeats' phases, cos(s_t z) for K = 1, a moment-matched normal for K > 1; its
//             quadrature part, of order (d + |phi|) s_t, is left out. Noise, as the circuit's
//             noise polynomial (layer_noise, evaluated per output): shot, dark, reset,
//             amplifier, RIN, temporal weight noise, ADC and the input DAC's quantization
//             as a noise equivalent (inputs change every sample); the noise std itself does
//             not see the static errors (their effect on the shot photons, of their order
//             relative, is left out). After the noise, Y is clipped at the ADC span,
//             range_scale R wide, centred on the calibrated output range (the circuit's ADC
//             spans +-range_scale R / 2 around 0).
//             Backward: clipped inputs have zero gradient, the extinction term's dependence on
//             X is included (differentiated as on nominal input modulators), the other chip
//             terms and the phase noise pass the layer's W^T dL/dY straight through (P ~ W),
//             and outputs the ADC clipped pass no gradient, the mask from the same chip
//             read-out as the forward's (physical_mean; the backward recomputes W X, so an
//             output within rounding of an edge may be masked differently).
//   enob      sigma = R / (sqrt(12) 2^b) for a given ENOB b per layer, R the output range
// The executor measures what it adds: per layer the mean noise variance of its outputs, from
// which the layer's ENOB log2(R / (sqrt(12) sigma_rms)) is reported.
#pragma once

#include <array>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lumac/circuits/circuit_params.hpp"
#include "lumac/core/config.hpp"
#include "lumac/devices/noise_sources.hpp"
#include "lumac/nn/matmul_hook.hpp"
#include "lumac/nn/model.hpp"
#include "lumac/nn/noise_mode.hpp"

namespace lumac::nn {

struct ChipStats;  // nn/analog_chip.hpp

// What the executor needs of one matrix-product layer.
struct AnalogLayer {
  std::string name;
  std::int64_t fan_in = 0;               // D
  std::int64_t outputs = 0;              // features / output channels
  double input_lo = 0, input_hi = 1;     // calibrated input range
  double output_lo = -1, output_hi = 1;  // calibrated pre-bias output range
  double weight_lo = -1, weight_hi = 1;  // weight range
  std::vector<double> energy{1.0};       // E: one value, or one per output channel
  int repeats = 1;                       // K
  double enob = 8;                       // for NoiseMode::enob
  // Both operands are activations (nn/act_matmul.hpp): W changes with every call, the weight
  // range is the calibrated range of the second operand, and weight noise is output noise.
  bool activation_operands = false;
  double output_range() const { return output_hi - output_lo; }
  double energy_of(Eigen::Index output) const {
    return energy.size() == 1 ? energy[0] : energy[static_cast<std::size_t>(output)];
  }
  // Mean E over the output channels (each channel does the same number of MACs).
  double mean_energy() const {
    double mean = 0;
    for (double e : energy) mean += e / static_cast<double>(energy.size());
    return mean;
  }
};

// What the executor measured on one layer since the last reset.
struct LayerNoiseReport {
  std::string name;
  double outputs_seen = 0;  // noisy outputs produced
  double noise_std = 0;     // RMS of the added noise std over those outputs
  double enob = 0;          // log2(R / (sqrt(12) noise_std))
  // physical: RMS std per noise source, then (with the extinction source) "extinction", the
  // RMS of the deterministic extinction term (m_x d Q ..., nn/analog_chip.hpp); with static
  // errors "static", the RMS of everything else the chip changes against the nominal product
  // W X (weight DAC, programming errors, devices; deterministic); with phase noise
  // "phase_noise", its RMS std (part of noise_std), and "phase_fading", the RMS of its mean
  // effect (m1 - 1) on the uncalibrated read-out (deterministic). The deterministic entries
  // are not part of noise_std.
  std::vector<std::pair<std::string, double>> by_source;
  // physical: input symbols encoded (entries of X, and of W for a product of two activations)
  double inputs_seen = 0;
  double input_clipped_fraction = 0;   // physical: of those, beyond the input full scale
  double output_clipped_fraction = 0;  // physical: of the outputs, clipped at the ADC span
};

class AnalogExecutor final : public MatmulHook {
 public:
  // `circuit` and `sources` are used by the physical mode only.
  AnalogExecutor(NoiseMode mode, std::vector<AnalogLayer> layers, const CircuitParams& circuit,
                 NoiseSources sources, std::uint64_t seed);
  ~AnalogExecutor() override;

  void forward(MatmulView& v) const override;
  // Shot, thermal, enob noise (and none) take the sums over a convolution's receptive fields
  // from its image; weight and physical noise read the patch matrix.
  bool reads_patch_matrix() const override {
    return mode_ == NoiseMode::weight_only || mode_ == NoiseMode::physical;
  }
  void backward(const MatmulView& v, MatrixMap* dx) const override {
    backward_noise(v, dx, nullptr);
  }
  // The backward pass through the noise of these columns (regenerated from the same counters):
  // adds to *dx the gradient through the noise std's dependence on X, and writes into
  // *d_log_energy, for every output row i, sum_j dL/dY_ij dY_ij/d ln E_i (v.Y holds dL/dY).
  // Used by precision learning (nn/precision.hpp), which reaches ln E through the noise.
  void backward_noise(const MatmulView& v, MatrixMap* dx, Eigen::VectorXd* d_log_energy) const;

  NoiseMode mode() const { return mode_; }
  const std::vector<AnalogLayer>& layers() const { return layers_; }
  std::vector<LayerNoiseReport> report() const;
  void reset_statistics();

  // Full-scale detected photons per MAC per repeat of a layer in physical mode (the laser
  // budget scaled by E), or E itself in shot mode; 0 for the other modes.
  double photons_per_mac(std::size_t layer) const;
  // The photon budget and repeats of a layer for the energy account (nn::layer_budget): in
  // thermal and weight mode E counts repeats of the circuit at the configured laser power.
  LayerBudget budget(std::size_t layer) const;

  // The noise std of every element of v.Y for the current mode (without drawing noise), and,
  // if `d_log_energy` is given, d sigma_ij^2 / d ln E_i for every element. Used by forward()
  // and by precision learning. Physical mode: the noise polynomial's (not the phase noise,
  // which scales the mean read-out).
  void noise_std(const MatmulView& v, Eigen::MatrixXf& sigma,
                 Eigen::MatrixXf* d_var_d_log_energy) const;

 private:
  struct LayerState;
  struct WeightState;
  struct ProductSums;
  // Returns a weight state to its thread's spares (nn/analog.cpp), or deletes it.
  struct Recycle {
    bool keep = false;
    template <class T>
    void operator()(T* p) const;
  };
  ProductSums sums(const MatmulView& v) const;
  // lumac::Error for rows outside the layer (a product of some of its outputs is a group of a
  // grouped convolution, which calls once per group).
  void check_whole_layer(const MatmulView& v) const;
  // The weight sums and noise models of W, the layer's rows offset ... offset + W.rows() - 1.
  void fill_weight_state(std::size_t layer, const ConstMatrixMap& W, Eigen::Index offset,
                         WeightState& ws) const;
  // Physical mode: v with its inputs clipped at the full scale (a copy in thread-local storage
  // when any is clipped; for a convolution, its image too); `clipped` counts them. If `y` is
  // given, adds W (X_clipped - X) to it.
  MatmulView clip_inputs(const MatmulView& v, MatrixMap* y, double& clipped) const;
  void physical_coefficients(std::size_t layer, const ProductSums& p, bool derivative,
                             Eigen::VectorXf& A, Eigen::VectorXf& B, Eigen::VectorXf& C) const;
  // Separable modes (all but physical): var_ij = R_i c_j. Fills R (one per output row, from
  // the row sums w2 of W^2) and returns true when c_j = ||x_j||^2 (shot, weight), false when
  // c_j = 1 (thermal, enob). `offset`: the layer's output index of row 0 (a grouped
  // convolution's group).
  bool separable_rows(std::size_t layer, const Eigen::VectorXf& w2, Eigen::Index offset,
                      Eigen::VectorXf& R) const;
  // Variance of every output's noise (and its derivative in ln E).
  void variance(const MatmulView& v, const ProductSums& p, Eigen::MatrixXf& var,
                Eigen::MatrixXf* d_var) const;
  void weight_perturbation(const MatmulView& v, Eigen::MatrixXf& noise) const;
  void normals(const MatmulView& v, Eigen::MatrixXf& eps) const;
  // Forward: adds sigma_ij z_ij to v.Y, drawing the normals z in cache-sized blocks beside
  // where they are used (the same z as normals()); column_var[j] receives the sum of the
  // variances of column j (the report sums them exactly).
  void add_noise(MatmulView& v, const ProductSums& p, std::vector<double>& column_var) const;
  // Physical mode: turns y, which holds W X of the clipped inputs vc.X, into the chip's mean
  // read-out with its phase noise (the extinction term alone on a nominal chip without phase
  // noise): the one function forward and backward (for the ADC clip's mask) use.
  void physical_mean(const MatmulView& vc, const ProductSums& p, MatrixMap y,
                     ChipStats* stats) const;
  // Physical mode: clipped inputs, the chip's read-out, noise and the ADC clip (forward); the
  // gradient through the noise, the extinction term and the input clip (backward).
  void physical_forward(MatmulView& v) const;
  void physical_backward(const MatmulView& v, MatrixMap* dx, Eigen::VectorXd* d_log_energy) const;
  NoiseMode mode_;
  bool row_full_scale_ = false;  // physical: m_w per output row (system.weight_full_scale)
  std::vector<AnalogLayer> layers_;
  std::vector<std::unique_ptr<LayerState>> state_;
  std::uint64_t seed_;
  double circuit_photons_ = 0;  // full-scale budget of the configured circuit (E counts repeats)
};

// The analog view of every matrix-product layer of a calibrated model (energy 1, 1 repeat);
// lumac::Error if the model has no calibration.
std::vector<AnalogLayer> analog_layers(const Model& model);

}  // namespace lumac::nn
