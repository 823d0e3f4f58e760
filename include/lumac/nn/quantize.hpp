// The digital baseline: a network with weights and activations quantized to b bits, for
// comparison with the ENOB of analog execution (PHYSICS.md §1). Every matrix product becomes
// Y = Q_w(W) Q_x(X) with per-tensor affine quantizers of 2^b levels over the calibrated ranges
// (weights: their range; inputs: the 0.01% and 99.99% percentiles of the calibration set),
// values outside clipped. A MatmulHook, so it plugs into the same execution path.
#pragma once

#include <vector>

#include "lumac/nn/analog.hpp"
#include "lumac/nn/matmul_hook.hpp"

namespace lumac::nn {

// Per-tensor affine quantizer: 2^bits levels lo + k (hi - lo) / (2^bits - 1).
class AffineQuantizer {
 public:
  AffineQuantizer(int bits, double lo, double hi);
  float operator()(float v) const;

 private:
  float lo_, step_, max_level_;
};

class DigitalQuantization final : public MatmulHook {
 public:
  DigitalQuantization(int bits, std::vector<AnalogLayer> layers);
  void forward(MatmulView& v) const override;
  int bits() const { return bits_; }

 private:
  int bits_;
  std::vector<AffineQuantizer> weights_, inputs_;
};

}  // namespace lumac::nn
