#include "lumac/nn/quantize.hpp"

#include <algorithm>
#include <cmath>

#include "lumac/core/error.hpp"
#include "lumac/core/gemm.hpp"

namespace lumac::nn {

AffineQuantizer::AffineQuantizer(int bits, double lo, double hi) {
  if (bits < 1 || bits > 24) fail("--bits = {}: must be in [1, 24]", bits);
  if (!(hi >= lo) || !std::isfinite(lo) || !std::isfinite(hi))
    fail("quantizer range [{}, {}] is not a finite interval", lo, hi);
  lo_ = static_cast<float>(lo);
  max_level_ = static_cast<float>(std::ldexp(1.0, bits) - 1);
  step_ = hi > lo ? static_cast<float>((hi - lo) / max_level_) : 1.0f;
}

float AffineQuantizer::operator()(float v) const {
  const float k = std::clamp(std::nearbyint((v - lo_) / step_), 0.0f, max_level_);
  return lo_ + k * step_;
}

DigitalQuantization::DigitalQuantization(int bits, std::vector<AnalogLayer> layers) : bits_(bits) {
  for (const AnalogLayer& a : layers) {
    weights_.emplace_back(bits, a.weight_lo, a.weight_hi);
    inputs_.emplace_back(bits, a.input_lo, a.input_hi);
  }
}

void DigitalQuantization::forward(MatmulView& v) const {
  const auto l = static_cast<std::size_t>(v.layer);
  const AffineQuantizer& qw = weights_.at(l);
  const AffineQuantizer& qx = inputs_.at(l);
  // Products over a fixed number of columns (multiples of 32), so that a column's bits do not
  // depend on how many columns share the call (Eigen's GEMM blocking; see nn/dense.cpp).
  constexpr Eigen::Index block = 32;
  thread_local Eigen::MatrixXf w, x, y;
  w = v.W.unaryExpr(qw);
  const Eigen::Index cols = v.X.cols();
  const Eigen::Index padded = (cols + block - 1) / block * block;
  x.setZero(v.X.rows(), padded);
  x.leftCols(cols) = v.X.unaryExpr(qx);
  y.resize(v.Y.rows(), block);
  for (Eigen::Index c = 0; c < padded; c += block) {
    gemm(w, GemmOp::none, x.middleCols(c, block), GemmOp::none, y, false,
         v.per_position ? GemmColumns::fixed : GemmColumns::batch);
    const Eigen::Index n = std::min(block, cols - c);
    v.Y.middleCols(c, n) = y.leftCols(n);
  }
}

}  // namespace lumac::nn
