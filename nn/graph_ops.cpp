#include "lumac/nn/graph_ops.hpp"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "lumac/core/error.hpp"

namespace lumac::nn {

namespace {

std::vector<std::int64_t> to64(const std::vector<int>& v) {
  return {v.begin(), v.end()};
}

std::vector<int> to_int(const std::vector<std::int64_t>& v, std::int64_t lo, const char* what) {
  std::vector<int> out;
  for (std::int64_t x : v) {
    if (x < lo || x > 100000000) fail("{} value {} is out of range", what, x);
    out.push_back(static_cast<int>(x));
  }
  return out;
}

// Row-major strides of a shape.
std::vector<std::int64_t> strides_of(const Shape& s) {
  std::vector<std::int64_t> st(s.size(), 1);
  for (std::size_t k = s.size(); k-- > 1;) st[k - 1] = st[k] * s[k];
  return st;
}

// For every element of `extent` in row-major order, base + sum_k pos_k stride_k: the index map
// behind broadcasting, transposes, padding and slices.
std::vector<std::int64_t> strided_offsets(const Shape& extent,
                                          const std::vector<std::int64_t>& stride,
                                          std::int64_t base) {
  const std::int64_t n = shape_size(extent);
  std::vector<std::int64_t> idx(static_cast<std::size_t>(n));
  std::vector<int> pos(extent.size(), 0);
  std::int64_t off = base;
  for (std::int64_t e = 0; e < n; ++e) {
    idx[static_cast<std::size_t>(e)] = off;
    for (std::size_t k = extent.size(); k-- > 0;) {
      if (++pos[k] < extent[k]) {
        off += stride[k];
        break;
      }
      off -= stride[k] * (extent[k] - 1);
      pos[k] = 0;
    }
  }
  return idx;
}

}  // namespace

std::vector<std::int64_t> broadcast_index(const Shape& out, const Shape& in) {
  if (in == out) return {};
  const std::size_t r = out.size(), pad = r - in.size();
  const auto in_strides = strides_of(in);
  std::vector<std::int64_t> st(r, 0);
  for (std::size_t k = 0; k < in.size(); ++k) st[pad + k] = in[k] == 1 ? 0 : in_strides[k];
  return strided_offsets(out, st, 0);
}

namespace {

// d(a op b)/da and /db.
void partials(BinaryKind k, float a, float b, float& da, float& db) {
  switch (k) {
    case BinaryKind::add:
      da = 1;
      db = 1;
      return;
    case BinaryKind::sub:
      da = 1;
      db = -1;
      return;
    case BinaryKind::mul:
      da = b;
      db = a;
      return;
    case BinaryKind::div:
      da = 1 / b;
      db = -a / (b * b);
      return;
    case BinaryKind::equal:  // a step: zero almost everywhere
      da = 0;
      db = 0;
      return;
  }
}

const char* binary_name(BinaryKind k) {
  switch (k) {
    case BinaryKind::add:
      return "add";
    case BinaryKind::sub:
      return "sub";
    case BinaryKind::mul:
      return "mul";
    case BinaryKind::div:
      return "div";
    case BinaryKind::equal:
      return "equal";
  }
  return "?";
}

BinaryKind binary_kind(const std::string& s) {
  for (auto k :
       {BinaryKind::add, BinaryKind::sub, BinaryKind::mul, BinaryKind::div, BinaryKind::equal})
    if (s == binary_name(k)) return k;
  fail("unknown binary operation '{}'", s);
}

const char* unary_name(UnaryKind k) {
  switch (k) {
    case UnaryKind::leaky_relu:
      return "leaky_relu";
    case UnaryKind::clip:
      return "clip";
    case UnaryKind::sigmoid:
      return "sigmoid";
    case UnaryKind::tanh:
      return "tanh";
    case UnaryKind::exp:
      return "exp";
    case UnaryKind::neg:
      return "neg";
    case UnaryKind::sqrt:
      return "sqrt";
    case UnaryKind::abs:
      return "abs";
    case UnaryKind::erf:
      return "erf";
    case UnaryKind::pow:
      return "pow";
  }
  return "?";
}

// out[e] = op(a[e], b[e]) with an index map for an operand that is broadcast (empty: read in
// order) or a single value; the loops without a map vectorise (the same IEEE operation per
// element, so the same bits as the general loop).
template <class Op>
void binary_loop(Op op, const float* a, const std::vector<std::int64_t>& ia, bool a_one,
                 const float* b, const std::vector<std::int64_t>& ib, bool b_one, float* out,
                 std::int64_t n) {
  if (a_one && ib.empty()) {
    const float x = a[0];
    for (std::int64_t e = 0; e < n; ++e) out[e] = op(x, b[e]);
  } else if (b_one && ia.empty()) {
    const float y = b[0];
    for (std::int64_t e = 0; e < n; ++e) out[e] = op(a[e], y);
  } else if (ia.empty() && ib.empty()) {
    for (std::int64_t e = 0; e < n; ++e) out[e] = op(a[e], b[e]);
  } else {
    for (std::int64_t e = 0; e < n; ++e) {
      const float x = a[a_one ? 0 : ia.empty() ? e : ia[static_cast<std::size_t>(e)]];
      const float y = b[b_one ? 0 : ib.empty() ? e : ib[static_cast<std::size_t>(e)]];
      out[e] = op(x, y);
    }
  }
}

// The element-wise binary operation over a sample, with the index maps of both operands
// (a_one, b_one: that operand is a single value, its map unused).
void binary_forward(BinaryKind kind, const float* a, const std::vector<std::int64_t>& ia,
                    const float* b, const std::vector<std::int64_t>& ib, float* out, std::int64_t n,
                    bool a_one = false, bool b_one = false) {
  switch (kind) {
    case BinaryKind::add:
      return binary_loop([](float x, float y) { return x + y; }, a, ia, a_one, b, ib, b_one, out,
                         n);
    case BinaryKind::sub:
      return binary_loop([](float x, float y) { return x - y; }, a, ia, a_one, b, ib, b_one, out,
                         n);
    case BinaryKind::mul:
      return binary_loop([](float x, float y) { return x * y; }, a, ia, a_one, b, ib, b_one, out,
                         n);
    case BinaryKind::div:
      return binary_loop([](float x, float y) { return x / y; }, a, ia, a_one, b, ib, b_one, out,
                         n);
    case BinaryKind::equal:
      return binary_loop([](float x, float y) { return x == y ? 1.0f : 0.0f; }, a, ia, a_one, b, ib,
                         b_one, out, n);
  }
}

}  // namespace

Shape broadcast_shape(const Shape& a, const Shape& b) {
  const std::size_t r = std::max(a.size(), b.size());
  Shape out(r);
  for (std::size_t k = 0; k < r; ++k) {
    const int da = k + a.size() >= r ? a[k + a.size() - r] : 1;
    const int db = k + b.size() >= r ? b[k + b.size() - r] : 1;
    if (da != db && da != 1 && db != 1)
      fail("shapes {} and {} do not broadcast", shape_string(a), shape_string(b));
    out[k] = da == 1 ? db : da;
  }
  return out;
}

// ---- unary --------------------------------------------------------------------------------

Unary::Unary(UnaryKind kind, double a, double b)
    : kind_(kind), a_(static_cast<float>(a)), b_(static_cast<float>(b)) {
  if (!std::isfinite(a_) && kind != UnaryKind::clip)
    fail("{}: parameter {} is not finite", unary_name(kind), a);
  if (kind == UnaryKind::clip && !(a_ <= b_)) fail("clip: min {} above max {}", a, b);
}

std::string Unary::op_name() const {
  return unary_name(kind_);
}

std::string Unary::describe() const {
  if (kind_ == UnaryKind::leaky_relu) return fmt::format("leaky_relu alpha {}", a_);
  if (kind_ == UnaryKind::clip) return fmt::format("clip [{}, {}]", a_, b_);
  if (kind_ == UnaryKind::pow) return fmt::format("pow {}", a_);
  return op_name();
}

void Unary::record(NodeRecord& r) const {
  r.op = "unary";
  r.put("kind", {static_cast<std::int64_t>(kind_)});
  r.put_real("params", {a_, b_});
}

void Unary::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, in.shape);
  const auto n = static_cast<Eigen::Index>(in.data.size());
  const Eigen::Map<const Eigen::ArrayXf> x(in.data.data(), n);
  Eigen::Map<Eigen::ArrayXf> y(out.data.data(), n);
  switch (kind_) {
    case UnaryKind::leaky_relu:
      y = (x >= 0.0f).select(x, x * a_);
      break;
    case UnaryKind::clip:
      y = x.max(a_).min(b_);
      break;
    // Transcendental functions element by element with the C library: Eigen's vectorised
    // versions round differently from its scalar ones, which it uses for the elements before the
    // first aligned one, so a sample's result would depend on where it sits in the batch.
    case UnaryKind::sigmoid:
      for (Eigen::Index e = 0; e < n; ++e) y[e] = 1.0f / (1.0f + std::exp(-x[e]));
      break;
    case UnaryKind::tanh:
      for (Eigen::Index e = 0; e < n; ++e) y[e] = std::tanh(x[e]);
      break;
    case UnaryKind::exp:
      for (Eigen::Index e = 0; e < n; ++e) y[e] = std::exp(x[e]);
      break;
    case UnaryKind::neg:
      y = -x;
      break;
    case UnaryKind::sqrt:
      // Not Eigen's sqrt: with EIGEN_FAST_MATH its packet version may refine a reciprocal
      // square-root estimate instead of rounding correctly, unlike its scalar tail.
      for (Eigen::Index e = 0; e < n; ++e) y[e] = std::sqrt(x[e]);
      break;
    case UnaryKind::abs:
      y = x.abs();
      break;
    case UnaryKind::erf:
      for (Eigen::Index e = 0; e < n; ++e) y[e] = std::erf(x[e]);
      break;
    case UnaryKind::pow:
      if (a_ == 2.0f) {
        y = x * x;  // the exponent of a variance, exactly
      } else {
        for (Eigen::Index e = 0; e < n; ++e) y[e] = std::pow(x[e], a_);
      }
      break;
  }
}

void Unary::backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                     std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape);
  const auto n = static_cast<Eigen::Index>(in.data.size());
  const Eigen::Map<const Eigen::ArrayXf> x(in.data.data(), n), y(out.data.data(), n),
      g(grad_out.data.data(), n);
  Eigen::Map<Eigen::ArrayXf> d(grad_in->data.data(), n);
  switch (kind_) {
    case UnaryKind::leaky_relu:
      d = (x >= 0.0f).select(g, g * a_);
      break;
    case UnaryKind::clip:
      d = (x > a_ && x < b_).select(g, 0.0f);
      break;
    case UnaryKind::sigmoid:
      d = g * y * (1.0f - y);
      break;
    case UnaryKind::tanh:
      d = g * (1.0f - y.square());
      break;
    case UnaryKind::exp:
      d = g * y;
      break;
    case UnaryKind::neg:
      d = -g;
      break;
    case UnaryKind::sqrt:
      d = g * 0.5f / y;
      break;
    case UnaryKind::abs:
      d = (x > 0.0f).select(g, (x < 0.0f).select(-g, 0.0f));
      break;
    case UnaryKind::erf:
      for (Eigen::Index e = 0; e < n; ++e)
        d[e] = g[e] * (2.0f / std::sqrt(static_cast<float>(M_PI))) * std::exp(-x[e] * x[e]);
      break;
    case UnaryKind::pow:
      for (Eigen::Index e = 0; e < n; ++e)
        d[e] = a_ == 0.0f ? 0.0f : g[e] * a_ * std::pow(x[e], a_ - 1.0f);
      break;
  }
}

// ---- binary -------------------------------------------------------------------------------

std::string Binary::op_name() const {
  return binary_name(kind_);
}

Shape Binary::output_shape(const Shape&) const {
  fail("{} takes two inputs", op_name());
}

Shape Binary::output_shape_n(std::span<const Shape> inputs) const {
  if (inputs.size() != 2) fail("{} takes two inputs, not {}", op_name(), inputs.size());
  return broadcast_shape(inputs[0], inputs[1]);
}

void Binary::forward(const Tensor&, Tensor&, const Pass&) const {
  fail("{} takes two inputs", op_name());
}

void Binary::backward(const Tensor&, const Tensor&, const Tensor&, Tensor*,
                      std::span<std::vector<float>>, const Pass&) const {
  fail("{} takes two inputs", op_name());
}

void Binary::forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass&) const {
  const Tensor &a = *in[0], &b = *in[1];
  const Shape os = broadcast_shape(a.shape, b.shape);
  out.resize(a.batch, os);
  const auto ia = broadcast_index(os, a.shape), ib = broadcast_index(os, b.shape);
  const std::int64_t n = shape_size(os);
  for (int i = 0; i < a.batch; ++i)
    binary_forward(kind_, a.sample(i), ia, b.sample(i), ib, out.sample(i), n);
}

void Binary::backward_n(std::span<const Tensor* const> in, const Tensor&, const Tensor& grad_out,
                        std::span<Tensor* const> grad_in, std::span<std::vector<float>>,
                        const Pass&) const {
  const Tensor &a = *in[0], &b = *in[1];
  const Shape& os = grad_out.shape;
  const auto ia = broadcast_index(os, a.shape), ib = broadcast_index(os, b.shape);
  if (grad_in[0]) grad_in[0]->resize(a.batch, a.shape, true);
  if (grad_in[1]) grad_in[1]->resize(b.batch, b.shape, true);
  const std::int64_t n = shape_size(os);
  for (int i = 0; i < a.batch; ++i) {
    const float *pa = a.sample(i), *pb = b.sample(i), *g = grad_out.sample(i);
    float* ga = grad_in[0] ? grad_in[0]->sample(i) : nullptr;
    float* gb = grad_in[1] ? grad_in[1]->sample(i) : nullptr;
    for (std::int64_t e = 0; e < n; ++e) {
      const std::int64_t ka = ia.empty() ? e : ia[static_cast<std::size_t>(e)];
      const std::int64_t kb = ib.empty() ? e : ib[static_cast<std::size_t>(e)];
      float da = 0, db = 0;
      partials(kind_, pa[ka], pb[kb], da, db);
      if (ga) ga[ka] += g[e] * da;
      if (gb) gb[kb] += g[e] * db;
    }
  }
}

// ---- binary with a constant ---------------------------------------------------------------

BinaryConst::BinaryConst(BinaryKind kind, Shape shape, std::vector<float> values,
                         bool constant_left)
    : kind_(kind), shape_(std::move(shape)), values_(std::move(values)), left_(constant_left) {
  if (shape_size(shape_) != static_cast<std::int64_t>(values_.size()))
    fail("{}: a constant of shape {} holds {} values", binary_name(kind_), shape_string(shape_),
         values_.size());
  for (float v : values_)
    if (!std::isfinite(v)) fail("{}: the constant holds a non-finite value", binary_name(kind_));
}

std::string BinaryConst::describe() const {
  if (values_.size() == 1)
    return left_ ? fmt::format("{} {} by x", binary_name(kind_), values_[0])
                 : fmt::format("{} x by {}", binary_name(kind_), values_[0]);
  return fmt::format("{} {} constant {}", binary_name(kind_), left_ ? "(left)" : "(right)",
                     shape_string(shape_));
}

void BinaryConst::record(NodeRecord& r) const {
  r.op = "binary_const";
  r.put("kind", {static_cast<std::int64_t>(kind_)});
  r.put("constant_left", {left_ ? 1 : 0});
  r.put_array("constant", shape_.empty() ? std::vector<int>{1} : shape_, values_);
  r.put("constant_rank", {static_cast<std::int64_t>(shape_.size())});
}

Shape BinaryConst::output_shape(const Shape& input) const {
  return broadcast_shape(input, shape_);
}

void BinaryConst::forward(const Tensor& in, Tensor& out, const Pass&) const {
  const Shape os = output_shape(in.shape);
  out.resize(in.batch, os);
  // A single constant (x * 0.5, x / sqrt(d)) needs no index map.
  const bool one = values_.size() == 1;
  const auto ix = broadcast_index(os, in.shape);
  const auto ic = one ? std::vector<std::int64_t>{} : broadcast_index(os, shape_);
  const std::int64_t n = shape_size(os);
  for (int i = 0; i < in.batch; ++i) {
    if (left_)
      binary_forward(kind_, values_.data(), ic, in.sample(i), ix, out.sample(i), n, one, false);
    else
      binary_forward(kind_, in.sample(i), ix, values_.data(), ic, out.sample(i), n, false, one);
  }
}

void BinaryConst::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                           std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  const Shape& os = grad_out.shape;
  const auto ix = broadcast_index(os, in.shape), ic = broadcast_index(os, shape_);
  grad_in->resize(in.batch, in.shape, true);
  const std::int64_t n = shape_size(os);
  for (int i = 0; i < in.batch; ++i) {
    const float *x = in.sample(i), *g = grad_out.sample(i);
    float* gx = grad_in->sample(i);
    for (std::int64_t e = 0; e < n; ++e) {
      const std::int64_t kx = ix.empty() ? e : ix[static_cast<std::size_t>(e)];
      const float c =
          values_[static_cast<std::size_t>(ic.empty() ? e : ic[static_cast<std::size_t>(e)])];
      float da = 0, db = 0;
      if (left_) {
        partials(kind_, c, x[kx], db, da);
      } else {
        partials(kind_, x[kx], c, da, db);
      }
      gx[kx] += g[e] * da;
    }
  }
}

// ---- channel affine -----------------------------------------------------------------------

ChannelAffine::ChannelAffine(std::vector<float> scale, std::vector<float> shift)
    : scale_(std::move(scale)), shift_(std::move(shift)) {
  if (scale_.empty() || scale_.size() != shift_.size())
    fail("channel_affine: {} scales and {} shifts", scale_.size(), shift_.size());
  for (std::size_t c = 0; c < scale_.size(); ++c)
    if (!std::isfinite(scale_[c]) || !std::isfinite(shift_[c]))
      fail("channel_affine: channel {} has a non-finite scale or shift", c);
}

std::string ChannelAffine::describe() const {
  return fmt::format("batchnorm (x * scale + shift, {} channels)", scale_.size());
}

void ChannelAffine::record(NodeRecord& r) const {
  r.op = "channel_affine";
  const int c = static_cast<int>(scale_.size());
  r.put_array("scale", {c}, scale_);
  r.put_array("shift", {c}, shift_);
}

Shape ChannelAffine::output_shape(const Shape& input) const {
  if (input.empty() || input[0] != static_cast<int>(scale_.size()))
    fail("batchnorm of {} channels on an input of shape {}", scale_.size(), shape_string(input));
  return input;
}

void ChannelAffine::forward(const Tensor& in, Tensor& out, const Pass&) const {
  output_shape(in.shape);
  out.resize(in.batch, in.shape);
  const auto c = static_cast<Eigen::Index>(scale_.size());
  const Eigen::Index inner = static_cast<Eigen::Index>(in.sample_size()) / c;
  const Eigen::Map<const Eigen::ArrayXf> s(scale_.data(), c), t(shift_.data(), c);
  for (int i = 0; i < in.batch; ++i) {
    const Eigen::Map<const Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic>> x(in.sample(i),
                                                                                  inner, c);
    Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic>> y(out.sample(i), inner, c);
    y = (x.rowwise() * s.transpose()).rowwise() + t.transpose();
  }
}

void ChannelAffine::backward(const Tensor& in, const Tensor&, const Tensor& grad_out,
                             Tensor* grad_in, std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape);
  const auto c = static_cast<Eigen::Index>(scale_.size());
  const Eigen::Index inner = static_cast<Eigen::Index>(in.sample_size()) / c;
  const Eigen::Map<const Eigen::ArrayXf> s(scale_.data(), c);
  for (int i = 0; i < in.batch; ++i) {
    const Eigen::Map<const Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic>> g(
        grad_out.sample(i), inner, c);
    Eigen::Map<Eigen::Array<float, Eigen::Dynamic, Eigen::Dynamic>> d(grad_in->sample(i), inner, c);
    d = g.rowwise() * s.transpose();
  }
}

// ---- reduce mean --------------------------------------------------------------------------

ReduceMean::ReduceMean(std::vector<int> axes, bool keepdims, bool mean)
    : axes_(std::move(axes)), keepdims_(keepdims), mean_(mean) {
  std::sort(axes_.begin(), axes_.end());
  if (axes_.empty() || std::adjacent_find(axes_.begin(), axes_.end()) != axes_.end() ||
      axes_.front() < 0)
    fail("{}: axes must be distinct per-sample axes", op_name());
}

std::string ReduceMean::describe() const {
  return fmt::format("{} axes {}{}", op_name(), fmt::join(axes_, ","),
                     keepdims_ ? " keepdims" : "");
}

void ReduceMean::record(NodeRecord& r) const {
  r.op = op_name();
  r.put("axes", to64(axes_));
  r.put("keepdims", {keepdims_ ? 1 : 0});
}

Shape ReduceMean::output_shape(const Shape& input) const {
  if (axes_.back() >= static_cast<int>(input.size()))
    fail("{} over axis {} of a {}-axis input", op_name(), axes_.back(), input.size());
  Shape out;
  for (int k = 0; k < static_cast<int>(input.size()); ++k) {
    const bool reduced = std::binary_search(axes_.begin(), axes_.end(), k);
    if (!reduced)
      out.push_back(input[static_cast<std::size_t>(k)]);
    else if (keepdims_)
      out.push_back(1);
  }
  if (out.empty()) out.push_back(1);
  return out;
}

namespace {

// The input shape with reduced axes set to 1 (the keepdims shape) and the index map onto it.
std::vector<std::int64_t> reduce_index(const Shape& in, const std::vector<int>& axes,
                                       std::int64_t& count) {
  Shape kept = in;
  count = 1;
  for (int a : axes) {
    count *= in[static_cast<std::size_t>(a)];
    kept[static_cast<std::size_t>(a)] = 1;
  }
  auto idx = broadcast_index(in, kept);
  if (idx.empty()) {
    idx.resize(static_cast<std::size_t>(shape_size(in)));
    std::iota(idx.begin(), idx.end(), 0);
  }
  return idx;
}

}  // namespace

void ReduceMean::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape), true);
  std::int64_t count = 0;
  const auto idx = reduce_index(in.shape, axes_, count);
  const std::int64_t n = in.sample_size(), m = out.sample_size();
  const float inv = 1.0f / static_cast<float>(count);
  for (int i = 0; i < in.batch; ++i) {
    const float* x = in.sample(i);
    float* y = out.sample(i);
    for (std::int64_t e = 0; e < n; ++e) y[idx[static_cast<std::size_t>(e)]] += x[e];
    if (mean_)
      for (std::int64_t e = 0; e < m; ++e) y[e] *= inv;
  }
}

void ReduceMean::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                          std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape);
  std::int64_t count = 0;
  const auto idx = reduce_index(in.shape, axes_, count);
  const std::int64_t n = in.sample_size();
  const float inv = mean_ ? 1.0f / static_cast<float>(count) : 1.0f;
  for (int i = 0; i < in.batch; ++i) {
    const float* g = grad_out.sample(i);
    float* d = grad_in->sample(i);
    for (std::int64_t e = 0; e < n; ++e) d[e] = g[idx[static_cast<std::size_t>(e)]] * inv;
  }
}

// ---- gather -------------------------------------------------------------------------------

Gather::Gather(Shape table_shape, std::vector<float> table)
    : table_shape_(std::move(table_shape)), table_(std::move(table)) {
  if (table_shape_.empty() || table_shape_[0] < 1 || shape_size(table_shape_) < 1)
    fail("gather: the table of shape {} is empty", shape_string(table_shape_));
  if (table_shape_[0] > (1 << 24))
    fail("gather: a table of {} rows (ids are exact below 2^24)", table_shape_[0]);
  if (static_cast<std::int64_t>(table_.size()) != shape_size(table_shape_))
    fail("gather: a table of shape {} holds {} values", shape_string(table_shape_), table_.size());
  for (float v : table_)
    if (!std::isfinite(v)) fail("gather: the table holds a non-finite value");
}

std::string Gather::describe() const {
  return fmt::format("gather rows of a {} table", shape_string(table_shape_));
}

void Gather::record(NodeRecord& r) const {
  r.op = "gather";
  r.put_array("table", table_shape_, table_);
}

Shape Gather::output_shape(const Shape& input) const {
  Shape out = input;
  out.insert(out.end(), table_shape_.begin() + 1, table_shape_.end());
  return out;
}

void Gather::check_input_values(std::size_t, const Tensor& in,
                                std::span<const std::int64_t> samples) const {
  const std::int64_t n = in.sample_size();
  for (int i = 0; i < in.batch; ++i) {
    const float* x = in.sample(i);
    const std::int64_t sample = samples.empty() ? i : samples[static_cast<std::size_t>(i)];
    for (std::int64_t e = 0; e < n; ++e)
      if (!(x[e] >= 0 && x[e] < static_cast<float>(rows()) && x[e] == std::floor(x[e])))
        fail("sample {} position {}: id {} is not an integer in [0, {}), the table's rows", sample,
             e, x[e], rows());
  }
}

void Gather::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const std::int64_t n = in.sample_size();
  const std::int64_t row = shape_size(table_shape_) / rows();
  for (int i = 0; i < in.batch; ++i) {
    const float* x = in.sample(i);
    float* y = out.sample(i);
    for (std::int64_t e = 0; e < n; ++e, y += row) {
      if (x[e] >= 0 && x[e] < static_cast<float>(rows()) && x[e] == std::floor(x[e]))
        std::copy_n(table_.data() + static_cast<std::int64_t>(x[e]) * row, row, y);
      else
        std::fill_n(y, row, std::numeric_limits<float>::quiet_NaN());
    }
  }
}

void Gather::backward(const Tensor& in, const Tensor&, const Tensor&, Tensor* grad_in,
                      std::span<std::vector<float>>, const Pass&) const {
  if (grad_in) grad_in->resize(in.batch, in.shape, true);  // ids are not differentiable
}

// ---- concat -------------------------------------------------------------------------------

Concat::Concat(int axis) : axis_(axis) {
  if (axis_ < 0) fail("concat: per-sample axis {} must be >= 0", axis);
}

std::string Concat::describe() const {
  return fmt::format("concat axis {}", axis_);
}

void Concat::record(NodeRecord& r) const {
  r.op = "concat";
  r.put("axis", {axis_});
}

Shape Concat::output_shape_n(std::span<const Shape> inputs) const {
  if (inputs.empty()) fail("concat of no input");
  Shape out = inputs[0];
  if (axis_ >= static_cast<int>(out.size()))
    fail("concat along axis {} of a {}-axis input", axis_, out.size());
  const auto a = static_cast<std::size_t>(axis_);
  for (std::size_t k = 1; k < inputs.size(); ++k) {
    Shape s = inputs[k];
    if (s.size() != out.size())
      fail("concat of shapes {} and {}", shape_string(out), shape_string(s));
    s[a] = out[a];
    if (s != out)
      fail("concat along axis {} of shapes {} and {}", axis_, shape_string(inputs[0]),
           shape_string(inputs[k]));
    out[a] = checked_axis(std::int64_t{out[a]} + inputs[k][a], "concat");
  }
  return out;
}

void Concat::forward(const Tensor& in, Tensor& out, const Pass& pass) const {
  forward_via_n(in, out, pass);
}

void Concat::backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                      std::span<std::vector<float>> grads, const Pass& pass) const {
  backward_via_n(in, out, grad_out, grad_in, grads, pass);
}

namespace {

// Outer count (axes before `axis`) and inner block (axis and after) of each input.
void concat_blocks(const Shape& s, int axis, std::int64_t& outer, std::int64_t& block) {
  outer = 1;
  block = 1;
  for (std::size_t k = 0; k < s.size(); ++k) (static_cast<int>(k) < axis ? outer : block) *= s[k];
}

}  // namespace

void Concat::forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass&) const {
  std::vector<Shape> shapes;
  for (const Tensor* t : in) shapes.push_back(t->shape);
  out.resize(in[0]->batch, output_shape_n(shapes));
  std::int64_t outer = 0, out_block = 0;
  concat_blocks(out.shape, axis_, outer, out_block);
  for (int i = 0; i < out.batch; ++i) {
    std::int64_t offset = 0;
    for (const Tensor* t : in) {
      std::int64_t o = 0, block = 0;
      concat_blocks(t->shape, axis_, o, block);
      const float* src = t->sample(i);
      float* dst = out.sample(i) + offset;
      for (std::int64_t r = 0; r < outer; ++r)
        std::copy(src + r * block, src + (r + 1) * block, dst + r * out_block);
      offset += block;
    }
  }
}

void Concat::backward_n(std::span<const Tensor* const> in, const Tensor&, const Tensor& grad_out,
                        std::span<Tensor* const> grad_in, std::span<std::vector<float>>,
                        const Pass&) const {
  std::int64_t outer = 0, out_block = 0;
  concat_blocks(grad_out.shape, axis_, outer, out_block);
  std::int64_t offset = 0;
  for (std::size_t k = 0; k < in.size(); ++k) {
    std::int64_t o = 0, block = 0;
    concat_blocks(in[k]->shape, axis_, o, block);
    if (grad_in[k]) {
      grad_in[k]->resize(in[k]->batch, in[k]->shape);
      for (int i = 0; i < grad_out.batch; ++i) {
        const float* src = grad_out.sample(i) + offset;
        float* dst = grad_in[k]->sample(i);
        for (std::int64_t r = 0; r < outer; ++r)
          std::copy(src + r * out_block, src + r * out_block + block, dst + r * block);
      }
    }
    offset += block;
  }
}

// ---- reshape ------------------------------------------------------------------------------

Reshape::Reshape(Shape shape) : shape_(std::move(shape)) {
  if (shape_.empty()) fail("reshape to an empty per-sample shape");
  for (int d : shape_)
    if (d < 1)
      fail("reshape to per-sample shape {}: every dimension must be >= 1", shape_string(shape_));
}

std::string Reshape::describe() const {
  return "reshape " + shape_string(shape_);
}

void Reshape::record(NodeRecord& r) const {
  r.op = "reshape";
  r.put("shape", to64(shape_));
}

Shape Reshape::output_shape(const Shape& input) const {
  if (shape_size(input) != shape_size(shape_))
    fail("reshape of per-sample shape {} to {}: the sizes differ", shape_string(input),
         shape_string(shape_));
  return shape_;
}

void Reshape::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.batch = in.batch;
  out.shape = output_shape(in.shape);
  out.data = in.data;
}

void Reshape::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                       std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->batch = in.batch;
  grad_in->shape = in.shape;
  grad_in->data = grad_out.data;
}

// ---- transpose ----------------------------------------------------------------------------

Transpose::Transpose(std::vector<int> perm) : perm_(std::move(perm)) {
  std::vector<int> sorted = perm_;
  std::sort(sorted.begin(), sorted.end());
  for (std::size_t k = 0; k < sorted.size(); ++k)
    if (sorted[k] != static_cast<int>(k))
      fail("transpose: {} is not a permutation", fmt::join(perm_, ","));
}

std::string Transpose::describe() const {
  return fmt::format("transpose {}", fmt::join(perm_, ","));
}

void Transpose::record(NodeRecord& r) const {
  r.op = "transpose";
  r.put("perm", to64(perm_));
}

Shape Transpose::output_shape(const Shape& input) const {
  if (input.size() != perm_.size())
    fail("transpose {} of a {}-axis input", fmt::join(perm_, ","), input.size());
  Shape out;
  for (int p : perm_) out.push_back(input[static_cast<std::size_t>(p)]);
  return out;
}

namespace {

// For every output element of the transpose, the input element it reads.
std::vector<std::int64_t> transpose_index(const Shape& in, const std::vector<int>& perm) {
  Shape out;
  for (int p : perm) out.push_back(in[static_cast<std::size_t>(p)]);
  const auto in_st = strides_of(in);
  std::vector<std::int64_t> st;
  for (int p : perm) st.push_back(in_st[static_cast<std::size_t>(p)]);
  return strided_offsets(out, st, 0);
}

}  // namespace

void Transpose::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const auto idx = transpose_index(in.shape, perm_);
  const std::int64_t n = in.sample_size();
  for (int i = 0; i < in.batch; ++i) {
    const float* x = in.sample(i);
    float* y = out.sample(i);
    for (std::int64_t e = 0; e < n; ++e) y[e] = x[idx[static_cast<std::size_t>(e)]];
  }
}

void Transpose::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                         std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape);
  const auto idx = transpose_index(in.shape, perm_);
  const std::int64_t n = in.sample_size();
  for (int i = 0; i < in.batch; ++i) {
    const float* g = grad_out.sample(i);
    float* d = grad_in->sample(i);
    for (std::int64_t e = 0; e < n; ++e) d[idx[static_cast<std::size_t>(e)]] = g[e];
  }
}

// ---- pad ----------------------------------------------------------------------------------

Pad::Pad(std::vector<int> begin, std::vector<int> end, float value)
    : begin_(std::move(begin)), end_(std::move(end)), value_(value) {
  if (begin_.size() != end_.size())
    fail("pad: {} begin and {} end counts", begin_.size(), end_.size());
  for (std::size_t k = 0; k < begin_.size(); ++k)
    if (begin_[k] < 0 || end_[k] < 0) fail("pad: negative padding (cropping) is not supported");
  if (!std::isfinite(value_)) fail("pad: the value {} is not finite", value);
}

std::string Pad::describe() const {
  return fmt::format("pad begin {} end {} value {}", fmt::join(begin_, ","), fmt::join(end_, ","),
                     value_);
}

void Pad::record(NodeRecord& r) const {
  r.op = "pad";
  r.put("begin", to64(begin_));
  r.put("end", to64(end_));
  r.put_real("value", {value_});
}

Shape Pad::output_shape(const Shape& input) const {
  if (input.size() != begin_.size())
    fail("pad of {} axes on a {}-axis input", begin_.size(), input.size());
  Shape out = input;
  for (std::size_t k = 0; k < out.size(); ++k)
    out[k] = checked_axis(std::int64_t{out[k]} + begin_[k] + end_[k], "pad");
  return out;
}

namespace {

// For every input element, the index of the output element it lands on.
std::vector<std::int64_t> pad_index(const Shape& in, const Shape& out,
                                    const std::vector<int>& begin) {
  const auto st = strides_of(out);
  std::int64_t base = 0;
  for (std::size_t k = 0; k < in.size(); ++k) base += begin[k] * st[k];
  return strided_offsets(in, st, base);
}

}  // namespace

void Pad::forward(const Tensor& in, Tensor& out, const Pass&) const {
  const Shape os = output_shape(in.shape);
  out.resize(in.batch, os);
  std::fill(out.data.begin(), out.data.end(), value_);
  const auto idx = pad_index(in.shape, os, begin_);
  const std::int64_t n = in.sample_size();
  for (int i = 0; i < in.batch; ++i) {
    const float* x = in.sample(i);
    float* y = out.sample(i);
    for (std::int64_t e = 0; e < n; ++e) y[idx[static_cast<std::size_t>(e)]] = x[e];
  }
}

void Pad::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                   std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape);
  const auto idx = pad_index(in.shape, grad_out.shape, begin_);
  const std::int64_t n = in.sample_size();
  for (int i = 0; i < in.batch; ++i) {
    const float* g = grad_out.sample(i);
    float* d = grad_in->sample(i);
    for (std::int64_t e = 0; e < n; ++e) d[e] = g[idx[static_cast<std::size_t>(e)]];
  }
}

// ---- input part ---------------------------------------------------------------------------

InputPart::InputPart(std::int64_t offset, Shape shape) : offset_(offset), shape_(std::move(shape)) {
  if (offset_ < 0 || offset_ > (std::int64_t{1} << 40))
    fail("input part: offset {} is out of range", offset_);
  if (shape_.empty() || shape_size(shape_) < 1)
    fail("input part: empty shape {}", shape_string(shape_));
}

std::string InputPart::describe() const {
  return fmt::format("input part (packed values {} to {})", offset_,
                     offset_ + shape_size(shape_) - 1);
}

void InputPart::record(NodeRecord& r) const {
  r.op = "input_part";
  r.put("offset", {offset_});
  r.put("shape", to64(shape_));
}

Shape InputPart::output_shape(const Shape& input) const {
  if (input.size() != 1 || offset_ + shape_size(shape_) > input[0])
    fail("input part takes values {} to {} of a packed input of shape {}", offset_,
         offset_ + shape_size(shape_) - 1, shape_string(input));
  return shape_;
}

void InputPart::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const std::int64_t n = out.sample_size();
  for (int i = 0; i < in.batch; ++i) std::copy_n(in.sample(i) + offset_, n, out.sample(i));
}

void InputPart::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                         std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape, true);
  const std::int64_t n = grad_out.sample_size();
  for (int i = 0; i < in.batch; ++i)
    std::copy_n(grad_out.sample(i), n, grad_in->sample(i) + offset_);
}

// ---- slice --------------------------------------------------------------------------------

Slice::Slice(std::vector<int> start, std::vector<int> step, std::vector<int> count)
    : start_(std::move(start)), step_(std::move(step)), count_(std::move(count)) {
  if (start_.size() != step_.size() || start_.size() != count_.size() || start_.empty())
    fail("slice: start, step and count differ in length");
  for (std::size_t k = 0; k < start_.size(); ++k)
    if (step_[k] == 0 || count_[k] < 1 || start_[k] < 0)
      fail("slice: axis {} takes {} elements from {} by {}", k, count_[k], start_[k], step_[k]);
}

std::string Slice::describe() const {
  return fmt::format("slice start {} step {} count {}", fmt::join(start_, ","),
                     fmt::join(step_, ","), fmt::join(count_, ","));
}

void Slice::record(NodeRecord& r) const {
  r.op = "slice";
  r.put("start", to64(start_));
  r.put("step", to64(step_));
  r.put("count", to64(count_));
}

Shape Slice::output_shape(const Shape& input) const {
  if (input.size() != start_.size())
    fail("slice of {} axes on a {}-axis input", start_.size(), input.size());
  for (std::size_t k = 0; k < input.size(); ++k) {
    const std::int64_t last = start_[k] + std::int64_t{step_[k]} * (count_[k] - 1);
    if (start_[k] >= input[k] || last < 0 || last >= input[k])
      fail("slice: axis {} of extent {} has no elements {} to {}", k, input[k], start_[k], last);
  }
  return count_;
}

std::vector<std::int64_t> Slice::index(const Shape& input) const {
  const auto st = strides_of(input);
  std::vector<std::int64_t> stride;
  std::int64_t base = 0;
  for (std::size_t k = 0; k < st.size(); ++k) {
    stride.push_back(step_[k] * st[k]);
    base += start_[k] * st[k];
  }
  return strided_offsets(count_, stride, base);
}

void Slice::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const auto idx = index(in.shape);
  for (int i = 0; i < in.batch; ++i) {
    const float* x = in.sample(i);
    float* y = out.sample(i);
    for (std::size_t e = 0; e < idx.size(); ++e) y[e] = x[idx[e]];
  }
}

void Slice::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                     std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape, true);
  const auto idx = index(in.shape);
  for (int i = 0; i < in.batch; ++i) {
    const float* g = grad_out.sample(i);
    float* d = grad_in->sample(i);
    for (std::size_t e = 0; e < idx.size(); ++e) d[idx[e]] += g[e];
  }
}

// ---- stored form --------------------------------------------------------------------------

// ---- layer norm ---------------------------------------------------------------------------

namespace {

// Mean and 1 / sqrt(variance + eps) of n values (accumulated in double), as forward and
// backward both need them.
void row_statistics(const float* x, std::int64_t n, float eps, float& mean, float& rstd) {
  double sum = 0, var = 0;
  for (std::int64_t k = 0; k < n; ++k) sum += x[k];
  const double mu = sum / static_cast<double>(n);
  for (std::int64_t k = 0; k < n; ++k) var += (x[k] - mu) * (x[k] - mu);
  var /= static_cast<double>(n);
  mean = static_cast<float>(mu);
  rstd = 1.0f / std::sqrt(static_cast<float>(var) + eps);
}

}  // namespace

LayerNorm::LayerNorm(int axis, double epsilon, std::vector<float> scale, std::vector<float> bias)
    : axis_(axis),
      epsilon_(static_cast<float>(epsilon)),
      scale_(std::move(scale)),
      bias_(std::move(bias)) {
  if (axis_ < 0) fail("layer_norm: per-sample axis {} must be >= 0", axis);
  if (!(epsilon_ >= 0) || !std::isfinite(epsilon_))
    fail("layer_norm: epsilon {} must be finite and >= 0", epsilon);
  if (scale_.empty() || bias_.size() != scale_.size())
    fail("layer_norm: {} scale and {} bias values", scale_.size(), bias_.size());
}

std::string LayerNorm::describe() const {
  return fmt::format("layer_norm axis {} eps {}", axis_, epsilon_);
}

void LayerNorm::record(NodeRecord& r) const {
  r.op = "layer_norm";
  r.put("axis", {axis_});
  r.put_real("epsilon", {epsilon_});
  r.put_array("scale", {static_cast<int>(scale_.size())}, scale_);
  r.put_array("bias", {static_cast<int>(bias_.size())}, bias_);
}

Shape LayerNorm::output_shape(const Shape& input) const {
  if (axis_ >= static_cast<int>(input.size()))
    fail("layer_norm from axis {} of a {}-axis input", axis_, input.size());
  std::int64_t inner = 1;
  for (std::size_t k = static_cast<std::size_t>(axis_); k < input.size(); ++k) inner *= input[k];
  if (inner != static_cast<std::int64_t>(scale_.size()))
    fail("layer_norm over {} values with {} scale values", inner, scale_.size());
  return input;
}

void LayerNorm::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const auto inner = static_cast<std::int64_t>(scale_.size());
  const std::int64_t rows = in.sample_size() / inner * in.batch;
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = in.data.data() + r * inner;
    float* y = out.data.data() + r * inner;
    float m = 0, rstd = 0;
    row_statistics(x, inner, epsilon_, m, rstd);
    for (std::int64_t k = 0; k < inner; ++k)
      y[k] = (x[k] - m) * rstd * scale_[static_cast<std::size_t>(k)] +
             bias_[static_cast<std::size_t>(k)];
  }
}

void LayerNorm::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                         std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape);
  const auto inner = static_cast<std::int64_t>(scale_.size());
  const std::int64_t rows = in.sample_size() / inner * in.batch;
  std::vector<float> xhat(static_cast<std::size_t>(inner)), gh(static_cast<std::size_t>(inner));
  for (std::int64_t r = 0; r < rows; ++r) {
    const float* x = in.data.data() + r * inner;
    const float* g = grad_out.data.data() + r * inner;
    float* d = grad_in->data.data() + r * inner;
    float m = 0, rstd = 0;
    row_statistics(x, inner, epsilon_, m, rstd);
    // dx = rstd (gh - mean(gh) - xhat mean(gh xhat)), gh = g scale.
    double mg = 0, mgx = 0;
    for (std::int64_t k = 0; k < inner; ++k) {
      const auto u = static_cast<std::size_t>(k);
      xhat[u] = (x[k] - m) * rstd;
      gh[u] = g[k] * scale_[u];
      mg += gh[u];
      mgx += static_cast<double>(gh[u]) * xhat[u];
    }
    mg /= static_cast<double>(inner);
    mgx /= static_cast<double>(inner);
    for (std::int64_t k = 0; k < inner; ++k) {
      const auto u = static_cast<std::size_t>(k);
      d[k] = rstd * static_cast<float>(gh[u] - mg - xhat[u] * mgx);
    }
  }
}

// ---- softmax ------------------------------------------------------------------------------

Softmax::Softmax(int axis) : axis_(axis) {
  if (axis_ < 0) fail("softmax: per-sample axis {} must be >= 0", axis);
}

std::string Softmax::describe() const {
  return fmt::format("softmax axis {}", axis_);
}

void Softmax::record(NodeRecord& r) const {
  r.op = "softmax";
  r.put("axis", {axis_});
}

Shape Softmax::output_shape(const Shape& input) const {
  if (axis_ >= static_cast<int>(input.size()))
    fail("softmax over axis {} of a {}-axis input", axis_, input.size());
  return input;
}

namespace {

// The per-sample array as outer x n x inner, n the softmax axis.
void softmax_layout(const Shape& s, int axis, std::int64_t& outer, std::int64_t& n,
                    std::int64_t& inner) {
  outer = inner = 1;
  for (int k = 0; k < axis; ++k) outer *= s[static_cast<std::size_t>(k)];
  n = s[static_cast<std::size_t>(axis)];
  for (std::size_t k = static_cast<std::size_t>(axis) + 1; k < s.size(); ++k) inner *= s[k];
}

}  // namespace

void Softmax::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  std::int64_t outer = 0, n = 0, inner = 0;
  softmax_layout(in.shape, axis_, outer, n, inner);
  for (int b = 0; b < in.batch; ++b) {
    const float* x = in.sample(b);
    float* y = out.sample(b);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) {
        const std::int64_t base = o * n * inner + i;
        float m = -std::numeric_limits<float>::infinity();
        for (std::int64_t k = 0; k < n; ++k) m = std::max(m, x[base + k * inner]);
        float sum = 0;
        for (std::int64_t k = 0; k < n; ++k) {
          const float e = std::exp(x[base + k * inner] - m);
          y[base + k * inner] = e;
          sum += e;
        }
        const float inv = 1.0f / sum;
        for (std::int64_t k = 0; k < n; ++k) y[base + k * inner] *= inv;
      }
  }
}

void Softmax::backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                       std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape);
  std::int64_t outer = 0, n = 0, inner = 0;
  softmax_layout(in.shape, axis_, outer, n, inner);
  // dx_k = y_k (g_k - sum_l g_l y_l).
  for (int b = 0; b < in.batch; ++b) {
    const float* y = out.sample(b);
    const float* g = grad_out.sample(b);
    float* d = grad_in->sample(b);
    for (std::int64_t o = 0; o < outer; ++o)
      for (std::int64_t i = 0; i < inner; ++i) {
        const std::int64_t base = o * n * inner + i;
        float dot = 0;
        for (std::int64_t k = 0; k < n; ++k) dot += g[base + k * inner] * y[base + k * inner];
        for (std::int64_t k = 0; k < n; ++k)
          d[base + k * inner] = y[base + k * inner] * (g[base + k * inner] - dot);
      }
  }
}

// ---- where ----------------------------------------------------------------------------------

Where::Where(std::array<Operand, 3> operands) : ops_(std::move(operands)) {
  if (arity() == 0) fail("where: every operand is a constant (it folds at import)");
  for (const Operand& o : ops_) {
    if (!o.constant) continue;
    if (shape_size(o.shape) != static_cast<std::int64_t>(o.values.size()))
      fail("where: a constant of shape {} holds {} values", shape_string(o.shape), o.values.size());
    for (float v : o.values)
      if (!std::isfinite(v)) fail("where: a constant holds a non-finite value");
  }
}

int Where::arity() const {
  return static_cast<int>(
      std::count_if(ops_.begin(), ops_.end(), [](const Operand& o) { return !o.constant; }));
}

std::string Where::describe() const {
  std::string s = "where";
  const char* names[] = {"cond", "x", "y"};
  for (std::size_t k = 0; k < 3; ++k) {
    if (!ops_[k].constant) continue;
    s += ops_[k].values.size() == 1
             ? fmt::format(" {}={}", names[k], ops_[k].values[0])
             : fmt::format(" {}=constant {}", names[k], shape_string(ops_[k].shape));
  }
  return s;
}

void Where::record(NodeRecord& r) const {
  r.op = "where";
  std::vector<std::int64_t> constant, rank;
  for (std::size_t k = 0; k < 3; ++k) {
    constant.push_back(ops_[k].constant ? 1 : 0);
    rank.push_back(static_cast<std::int64_t>(ops_[k].shape.size()));
    if (ops_[k].constant)
      r.put_array(fmt::format("constant{}", k),
                  ops_[k].shape.empty() ? std::vector<int>{1} : ops_[k].shape, ops_[k].values);
  }
  r.put("constant", constant);
  r.put("constant_rank", rank);
}

std::array<Shape, 3> Where::shapes(std::span<const Shape> inputs) const {
  if (static_cast<int>(inputs.size()) != arity())
    fail("where takes {} input(s), not {}", arity(), inputs.size());
  std::array<Shape, 3> s;
  std::size_t next = 0;
  for (std::size_t k = 0; k < 3; ++k) s[k] = ops_[k].constant ? ops_[k].shape : inputs[next++];
  return s;
}

Shape Where::output_shape(const Shape& input) const {
  return output_shape_n(std::span<const Shape>(&input, 1));
}

Shape Where::output_shape_n(std::span<const Shape> inputs) const {
  const auto s = shapes(inputs);
  return broadcast_shape(broadcast_shape(s[0], s[1]), s[2]);
}

void Where::forward(const Tensor& in, Tensor& out, const Pass& pass) const {
  forward_via_n(in, out, pass);
}

void Where::backward(const Tensor& in, const Tensor& out, const Tensor& grad_out, Tensor* grad_in,
                     std::span<std::vector<float>> grads, const Pass& pass) const {
  backward_via_n(in, out, grad_out, grad_in, grads, pass);
}

void Where::forward_n(std::span<const Tensor* const> in, Tensor& out, const Pass&) const {
  std::vector<Shape> in_shapes;
  for (const Tensor* t : in) in_shapes.push_back(t->shape);
  const auto s = shapes(in_shapes);
  const Shape os = broadcast_shape(broadcast_shape(s[0], s[1]), s[2]);
  out.resize(in[0]->batch, os);
  // An index map per broadcast operand; none for one that is a single value (masked_fill's
  // fill), read at 0.
  std::array<std::vector<std::int64_t>, 3> idx;
  std::array<bool, 3> one{};
  for (std::size_t k = 0; k < 3; ++k) {
    one[k] = shape_size(s[k]) == 1;
    if (!one[k]) idx[k] = broadcast_index(os, s[k]);
  }
  const std::int64_t n = shape_size(os);
  for (int i = 0; i < out.batch; ++i) {
    std::array<const float*, 3> src;
    std::size_t next = 0;
    for (std::size_t k = 0; k < 3; ++k)
      src[k] = ops_[k].constant ? ops_[k].values.data() : in[next++]->sample(i);
    float* y = out.sample(i);
    for (std::int64_t e = 0; e < n; ++e) {
      auto at = [&](std::size_t k) {
        return src[k][one[k] ? 0 : idx[k].empty() ? e : idx[k][static_cast<std::size_t>(e)]];
      };
      y[e] = at(0) != 0.0f ? at(1) : at(2);
    }
  }
}

void Where::backward_n(std::span<const Tensor* const> in, const Tensor&, const Tensor& grad_out,
                       std::span<Tensor* const> grad_in, std::span<std::vector<float>>,
                       const Pass&) const {
  std::vector<Shape> in_shapes;
  for (const Tensor* t : in) in_shapes.push_back(t->shape);
  const auto s = shapes(in_shapes);
  const Shape& os = grad_out.shape;
  std::array<std::vector<std::int64_t>, 3> idx;
  for (std::size_t k = 0; k < 3; ++k) idx[k] = broadcast_index(os, s[k]);
  // The input index of each operand (-1: a constant).
  std::array<int, 3> input{-1, -1, -1};
  for (int k = 0, next = 0; k < 3; ++k)
    if (!ops_[static_cast<std::size_t>(k)].constant) input[static_cast<std::size_t>(k)] = next++;
  for (std::size_t j = 0; j < in.size(); ++j)
    if (grad_in[j]) grad_in[j]->resize(in[j]->batch, in[j]->shape, true);
  const std::int64_t n = shape_size(os);
  for (int i = 0; i < grad_out.batch; ++i) {
    const float* cond =
        input[0] < 0 ? ops_[0].values.data() : in[static_cast<std::size_t>(input[0])]->sample(i);
    const float* g = grad_out.sample(i);
    std::array<float*, 3> gd{nullptr, nullptr, nullptr};
    for (std::size_t k = 1; k < 3; ++k)
      if (input[k] >= 0 && grad_in[static_cast<std::size_t>(input[k])])
        gd[k] = grad_in[static_cast<std::size_t>(input[k])]->sample(i);
    for (std::int64_t e = 0; e < n; ++e) {
      const auto at = [&](std::size_t k) {
        return idx[k].empty() ? e : idx[k][static_cast<std::size_t>(e)];
      };
      const std::size_t k = cond[at(0)] != 0.0f ? 1 : 2;
      if (gd[k]) gd[k][at(k)] += g[e];
    }
  }
}

std::unique_ptr<Layer> make_graph_op(const NodeRecord& r) {
  const std::string& op = r.op;
  if (op == "unary") {
    const auto k = r.get("kind").at(0);
    if (k < 0 || k > static_cast<std::int64_t>(UnaryKind::pow)) fail("unary kind {} is unknown", k);
    const auto& p = r.get_real("params");
    if (p.size() != 2) fail("unary: 'params' must hold 2 values");
    return std::make_unique<Unary>(static_cast<UnaryKind>(k), p[0], p[1]);
  }
  auto bkind = [&] {
    const auto k = r.get("kind").at(0);
    if (k < 0 || k > static_cast<std::int64_t>(BinaryKind::equal))
      fail("binary kind {} is unknown", k);
    return static_cast<BinaryKind>(k);
  };
  if (op == "add" || op == "sub" || op == "mul" || op == "div" || op == "equal")
    return std::make_unique<Binary>(binary_kind(op));
  if (op == "binary_const") {
    const auto& a = r.get_array("constant");
    const auto rank = r.get("constant_rank").at(0);
    Shape shape = rank == 0 ? Shape{} : a.dims;
    if (rank != static_cast<std::int64_t>(shape.size()))
      fail("binary_const: rank {} for {} dims", rank, a.dims.size());
    return std::make_unique<BinaryConst>(bkind(), shape, a.values,
                                         r.get("constant_left").at(0) != 0);
  }
  if (op == "channel_affine")
    return std::make_unique<ChannelAffine>(r.get_array("scale").values,
                                           r.get_array("shift").values);
  if (op == "reduce_mean" || op == "reduce_sum")
    return std::make_unique<ReduceMean>(to_int(r.get("axes"), 0, "reduction axis"),
                                        r.get("keepdims").at(0) != 0, op == "reduce_mean");
  if (op == "concat")
    return std::make_unique<Concat>(to_int(r.get("axis"), 0, "concat axis").at(0));
  if (op == "reshape")
    return std::make_unique<Reshape>(to_int(r.get("shape"), 1, "reshape dimension"));
  if (op == "transpose")
    return std::make_unique<Transpose>(to_int(r.get("perm"), 0, "transpose axis"));
  if (op == "pad") {
    const auto& v = r.get_real("value");
    return std::make_unique<Pad>(to_int(r.get("begin"), 0, "pad"), to_int(r.get("end"), 0, "pad"),
                                 static_cast<float>(v.at(0)));
  }
  if (op == "input_part")
    return std::make_unique<InputPart>(r.get("offset").at(0),
                                       to_int(r.get("shape"), 1, "input_part dimension"));
  if (op == "slice")
    return std::make_unique<Slice>(to_int(r.get("start"), 0, "slice start"),
                                   to_int(r.get("step"), -100000000, "slice step"),
                                   to_int(r.get("count"), 1, "slice count"));
  if (op == "layer_norm")
    return std::make_unique<LayerNorm>(to_int(r.get("axis"), 0, "layer_norm axis").at(0),
                                       r.get_real("epsilon").at(0), r.get_array("scale").values,
                                       r.get_array("bias").values);
  if (op == "softmax")
    return std::make_unique<Softmax>(to_int(r.get("axis"), 0, "softmax axis").at(0));
  if (op == "gather") {
    const auto& t = r.get_array("table");
    return std::make_unique<Gather>(t.dims, t.values);
  }
  if (op == "where") {
    const auto& constant = r.get("constant");
    const auto& rank = r.get("constant_rank");
    if (constant.size() != 3 || rank.size() != 3)
      fail("where: 'constant' and 'constant_rank' must hold 3 values");
    std::array<Where::Operand, 3> ops;
    for (std::size_t k = 0; k < 3; ++k) {
      if (constant[k] == 0) continue;
      const auto& a = r.get_array(fmt::format("constant{}", k));
      ops[k].constant = true;
      ops[k].shape = rank[k] == 0 ? Shape{} : a.dims;
      if (rank[k] != static_cast<std::int64_t>(ops[k].shape.size()))
        fail("where: rank {} for {} dims", rank[k], a.dims.size());
      ops[k].values = a.values;
    }
    return std::make_unique<Where>(std::move(ops));
  }
  fail("unknown graph operation '{}'", op);
}

}  // namespace lumac::nn
