// Learning the precision of every layer of a frozen, pre-trained network (PHYSICS.md §1, §5;
// Garg et al. 2023). Each matrix-product layer l has a trainable log-energy theta_l (or one per
// output channel), E = exp(theta): detected photons per MAC (shot), repeats (thermal, weight) or
// the laser power scale (physical). The weights stay fixed; the loss
//   constrained:    CE + lambda max(0, ln E_avg - ln E_target)
//   unconstrained:  CE + lambda ln E_avg
// with E_avg = sum_l E_l MACs_l / sum_l MACs_l (per channel: each channel's share of the MACs)
// is minimised with Adam over mini-batches of the training set. The gradient reaches theta
// through the noise by reparameterisation: the noise added to output Y_ij is sigma_ij(E) eps_ij
// with eps fixed, so dY_ij / d theta = d(sigma_ij eps_ij) / d ln E (nn/analog.hpp, add_noise).
// When E counts repeats, the forward pass uses round(E) (at least 1) and the gradient passes
// the rounding unchanged (straight-through estimator).
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "lumac/circuits/circuit_params.hpp"
#include "lumac/devices/noise_sources.hpp"
#include "lumac/nn/analog.hpp"
#include "lumac/nn/dataset.hpp"
#include "lumac/nn/model.hpp"

namespace lumac::nn {

struct PrecisionOptions {
  NoiseMode mode = NoiseMode::shot_only;
  bool per_channel = false;  // one E per output channel instead of per layer
  bool constrained = true;   // the hinge on ln E_target, else lambda ln E_avg
  double lambda = 2;         // 2 for shot, 8 for thermal and weight (PHYSICS.md §5)
  double target_energy = 1;  // E_target (also the starting E of every layer)
  int steps = 1500;          // mini-batches
  int batch = 64;
  double learning_rate = 0.01;   // Adam
  bool integer_repeats = false;  // E counts repeats: round with a straight-through estimator
  std::uint64_t seed = 1;
  std::function<void(int step, double loss)> on_step;  // progress
};

struct PrecisionCurve {
  std::vector<double> loss, cross_entropy, mean_energy;  // one per step
};

struct PrecisionResult {
  // Learned E per layer: one value, or one per output channel.
  std::vector<std::vector<double>> energy;
  PrecisionCurve curve;
  double seconds = 0;
  // A stop was requested (core/interrupt.hpp): learning ended after `curve.loss.size()` steps
  // and `energy` holds what it had learned.
  bool interrupted = false;
};

// E as the forward pass uses it: round(E), at least 1, when E counts repeats.
double forward_energy(double e, bool integer_repeats);

// The MAC-weighted mean of per-layer (or per-channel) energies.
double mean_energy(const Model& model, const std::vector<std::vector<double>>& energy);

// `layers` are the model's analog layers (nn::analog_layers), whose energies are replaced.
PrecisionResult learn_precision(const Model& model, const Dataset& train,
                                std::vector<AnalogLayer> layers, const CircuitParams& circuit,
                                NoiseSources sources, const PrecisionOptions& options);

// d loss / d theta for one mini-batch (the learner's gradient, exposed for tests): the loss
// and its gradient with respect to every theta, at the given energies.
struct PrecisionGradient {
  double loss = 0, cross_entropy = 0;
  std::vector<std::vector<double>> d_theta;
};
PrecisionGradient precision_gradient(const Model& model, const Batch& batch,
                                     const std::vector<AnalogLayer>& layers,
                                     const CircuitParams& circuit, NoiseSources sources,
                                     const PrecisionOptions& options, std::uint64_t noise_seed);

// Iso-accuracy comparison: the lowest global scale s of an allocation (E = s r) whose accuracy
// meets `target`, by bracketing with factors of 4 from `start` and bisecting in log scale until
// hi / lo <= tolerance_ratio. Assumes accuracy grows with s (evaluated with a fixed seed, so it
// is a deterministic function). `reached` is false if no scale up to 1e9 x start meets it.
struct IsoAccuracy {
  double scale = 0;
  double accuracy = 0;
  int evaluations = 0;
  bool reached = false;
};
IsoAccuracy lowest_energy_scale(const std::function<double(double)>& accuracy_at, double target,
                                double start, double tolerance_ratio = 1.05,
                                int max_evaluations = 40);

}  // namespace lumac::nn
