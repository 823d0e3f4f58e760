#include "lumac/nn/conv2d.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "lumac/core/error.hpp"
#include "lumac/core/gemm.hpp"
#include "lumac/nn/parallel.hpp"

namespace lumac::nn {

namespace {

// Images whose parameter gradients one thread accumulates in order; the groups' sums are then
// added in group order, so the gradients do not depend on the thread count.
constexpr int images_per_group = 4;

int out_size(int in, int kernel, int stride, int padding) {
  return (in + 2 * padding - kernel) / stride + 1;
}

}  // namespace

void receptive_field_sums(const PatchSource& g, Eigen::VectorXf& s2, Eigen::VectorXf* s4) {
  using Vec = Eigen::Map<Eigen::VectorXf>;
  using ConstVec = Eigen::Map<const Eigen::VectorXf>;
  const int ho = out_size(g.height, g.kernel_h, g.stride, g.padding);
  const int wo = out_size(g.width, g.kernel_w, g.stride, g.padding);
  const int hp = g.height + 2 * g.padding, wp = g.width + 2 * g.padding;
  const Eigen::Index plane = static_cast<Eigen::Index>(g.height) * g.width;
  const Eigen::Index padded = static_cast<Eigen::Index>(hp) * wp;
  const int powers = s4 ? 2 : 1;
  // t[k]: x^2 (k = 0) and x^4 (k = 1) summed over channels; q[k]: t on the zero-padded grid.
  thread_local Eigen::VectorXf t[2], q[2], r[2], o[2];
  for (int k = 0; k < powers; ++k) t[k].setZero(plane);
  for (int c = 0; c < g.channels; ++c) {
    const auto x = ConstVec(g.image + c * plane, plane).array();
    t[0].array() += x.square();
    if (powers == 2) t[1].array() += x.square().square();
  }
  for (int k = 0; k < powers; ++k) {
    const Eigen::VectorXf* grid = &t[k];
    if (g.padding > 0) {
      q[k].setZero(padded);
      for (int y = 0; y < g.height; ++y)
        Vec(q[k].data() + static_cast<Eigen::Index>(y + g.padding) * wp + g.padding, g.width) =
            ConstVec(t[k].data() + static_cast<Eigen::Index>(y) * g.width, g.width);
      grid = &q[k];
    }
    Eigen::VectorXf& out = k == 0 ? s2 : *s4;
    out.resize(static_cast<Eigen::Index>(ho) * wo);
    if (g.stride == 1) {
      // On the flat padded grid: r_i = sum_kx grid_(i + kx), o_i = sum_ky r_(i + ky wp); output
      // (oy, ox) is o at oy wp + ox. (Entries past a row's last full window mix two rows and
      // are not read.)
      const Eigen::Index nr = padded - (g.kernel_w - 1),
                         no = nr - static_cast<Eigen::Index>(g.kernel_h - 1) * wp;
      r[k] = grid->head(nr);
      for (int kx = 1; kx < g.kernel_w; ++kx) r[k] += grid->segment(kx, nr);
      o[k] = r[k].head(no);
      for (int ky = 1; ky < g.kernel_h; ++ky)
        o[k] += r[k].segment(static_cast<Eigen::Index>(ky) * wp, no);
      for (int oy = 0; oy < ho; ++oy)
        Vec(out.data() + static_cast<Eigen::Index>(oy) * wo, wo) =
            ConstVec(o[k].data() + static_cast<Eigen::Index>(oy) * wp, wo);
    } else {
      out.setZero();
      for (int oy = 0; oy < ho; ++oy)
        for (int ky = 0; ky < g.kernel_h; ++ky) {
          const float* row = grid->data() + static_cast<Eigen::Index>(oy * g.stride + ky) * wp;
          for (int ox = 0; ox < wo; ++ox)
            for (int kx = 0; kx < g.kernel_w; ++kx)
              out[static_cast<Eigen::Index>(oy) * wo + ox] += row[ox * g.stride + kx];
        }
    }
  }
}

bool Conv2dGeometry::general() const {
  return sw() != sh() || pl() != pt() || pb() != pt() || pr() != pt() || dilation_h != 1 ||
         dilation_w != 1 || groups != 1;
}

void Conv2dGeometry::record(NodeRecord& r) const {
  r.op = "conv2d";
  r.put("strides", {sh(), sw()});
  r.put("pads", {pt(), pl(), pb(), pr()});
  r.put("dilations", {dilation_h, dilation_w});
  r.put("group", {groups});
}

void Conv2dGeometry::read_extra(const NodeRecord& r) {
  const auto& s = r.get("strides");
  const auto& p = r.get("pads");
  const auto& d = r.get("dilations");
  const auto& g = r.get("group");
  if (s.size() != 2 || p.size() != 4 || d.size() != 2 || g.size() != 1)
    fail("conv2d: strides, pads, dilations and group must hold 2, 4, 2 and 1 values");
  auto in_range = [](std::int64_t v, std::int64_t lo) {
    if (v < lo || v > 100000) fail("conv2d: geometry value {} is out of range", v);
    return static_cast<int>(v);
  };
  stride = in_range(s[0], 1);
  stride_w = in_range(s[1], 1);
  padding = in_range(p[0], 0);
  pad_left = in_range(p[1], 0);
  pad_bottom = in_range(p[2], 0);
  pad_right = in_range(p[3], 0);
  dilation_h = in_range(d[0], 1);
  dilation_w = in_range(d[1], 1);
  groups = in_range(g[0], 1);
}

namespace {

int fan_in_of(const Conv2dGeometry& g) {
  if (g.groups < 1 || g.in_channels % g.groups != 0 || g.out_channels % g.groups != 0)
    fail("conv2d: {} groups do not divide {} input and {} output channels", g.groups, g.in_channels,
         g.out_channels);
  return g.in_channels / g.groups * g.kernel_h * g.kernel_w;
}

}  // namespace

Conv2d::Conv2d(std::string name, const Conv2dGeometry& g)
    : MatmulLayer(std::move(name), g.out_channels, fan_in_of(g)), g_(g) {
  if (g.in_channels < 1 || g.out_channels < 1 || g.kernel_h < 1 || g.kernel_w < 1 || g.stride < 1 ||
      g.padding < 0 || g.sw() < 1 || g.pl() < 0 || g.pb() < 0 || g.pr() < 0 || g.dilation_h < 1 ||
      g.dilation_w < 1)
    fail(
        "conv2d layer '{}': channels {}->{}, kernel {}x{}, stride {}, padding {}: channels, "
        "kernel, stride and dilation must be >= 1, padding >= 0",
        name_, g.in_channels, g.out_channels, g.kernel_h, g.kernel_w, g.stride, g.padding);
}

std::string Conv2d::describe() const {
  std::string s = fmt::format("conv2d {} {}->{} {}x{} stride {} pad {}", name_, g_.in_channels,
                              g_.out_channels, g_.kernel_h, g_.kernel_w, g_.stride, g_.padding);
  if (g_.general())
    s += fmt::format(" (strides {}x{}, pads {},{},{},{}, dilation {}x{}, groups {})", g_.sh(),
                     g_.sw(), g_.pt(), g_.pl(), g_.pb(), g_.pr(), g_.dilation_h, g_.dilation_w,
                     g_.groups);
  return s;
}

namespace {

// In 64 bits: a model file's geometry is not trusted to keep these sums inside an int.
int out_extent(std::int64_t in, std::int64_t pad_sum, std::int64_t kernel, std::int64_t dilation,
               std::int64_t stride) {
  return checked_axis((in + pad_sum - dilation * (kernel - 1) - 1) / stride + 1, "conv2d");
}

}  // namespace

Shape Conv2d::output_shape(const Shape& input) const {
  if (input.size() != 3 || input[0] != g_.in_channels)
    fail("conv2d layer '{}' expects an input of {} channels x height x width, got shape {}", name_,
         g_.in_channels, shape_string(input));
  using I = std::int64_t;
  const I eh = I{g_.dilation_h} * (g_.kernel_h - 1) + 1,
          ew = I{g_.dilation_w} * (g_.kernel_w - 1) + 1;
  const I ph = I{input[1]} + g_.pt() + g_.pb(), pw = I{input[2]} + g_.pl() + g_.pr();
  if (ph < eh || pw < ew)
    fail("conv2d layer '{}': the {}x{} kernel does not fit the padded {}x{} input", name_, eh, ew,
         ph, pw);
  return {g_.out_channels,
          out_extent(input[1], g_.pt() + g_.pb(), g_.kernel_h, g_.dilation_h, g_.sh()),
          out_extent(input[2], g_.pl() + g_.pr(), g_.kernel_w, g_.dilation_w, g_.sw())};
}

int Conv2d::positions(const Shape& input) const {
  const Shape o = output_shape(input);
  return checked_axis(std::int64_t{o[1]} * o[2], "conv2d positions");
}

void Conv2d::im2col(const float* image, int h, int w, Eigen::MatrixXf& cols, int group) const {
  const int ho = out_extent(h, g_.pt() + g_.pb(), g_.kernel_h, g_.dilation_h, g_.sh());
  const int wo = out_extent(w, g_.pl() + g_.pr(), g_.kernel_w, g_.dilation_w, g_.sw());
  const int cin = g_.in_channels / g_.groups, c0 = group * cin;
  const int kh = g_.kernel_h, kw = g_.kernel_w, dh = g_.dilation_h, dw = g_.dilation_w;
  const int sh = g_.sh(), sw = g_.sw(), pt = g_.pt(), pl = g_.pl();
  const Eigen::Index k = fan_in();
  cols.resize(k, static_cast<Eigen::Index>(ho) * wo);
  // The output positions whose kw taps all fall inside a row: ox in [ox_lo, ox_hi).
  const int reach = (kw - 1) * dw;
  int ox_lo = 0, ox_hi = 0;
  while (ox_lo < wo && ox_lo * sw - pl < 0) ++ox_lo;
  ox_hi = ox_lo;
  while (ox_hi < wo && ox_hi * sw - pl + reach < w) ++ox_hi;
  // One output row at a time (its columns stay in cache), row (c, ky) of the receptive field
  // by row: the taps of a position are read from one input row, left to right.
  for (int oy = 0; oy < ho; ++oy) {
    float* row_cols = cols.data() + static_cast<Eigen::Index>(oy) * wo * k;
    for (int c = 0; c < cin; ++c) {
      const float* plane = image + static_cast<std::int64_t>(c0 + c) * h * w;
      for (int ky = 0; ky < kh; ++ky) {
        const int iy = oy * sh - pt + ky * dh;
        float* first = row_cols + static_cast<Eigen::Index>(c * kh + ky) * kw;
        if (iy < 0 || iy >= h) {
          for (int ox = 0; ox < wo; ++ox) std::fill_n(first + ox * k, kw, 0.0f);
          continue;
        }
        const float* src = plane + static_cast<std::int64_t>(iy) * w;
        const auto edge = [&](int ox) {  // taps that may fall into the padding
          float* d = first + ox * k;
          const int ix0 = ox * sw - pl;
          for (int kx = 0; kx < kw; ++kx) {
            const int ix = ix0 + kx * dw;
            d[kx] = (ix >= 0 && ix < w) ? src[ix] : 0.0f;
          }
        };
        for (int ox = 0; ox < ox_lo; ++ox) edge(ox);
        if (dw == 1 && kw == 3) {  // the common kernel, unrolled (a call to memmove per
                                   // position would cost more than the copy)
          for (int ox = ox_lo; ox < ox_hi; ++ox) {
            float* d = first + ox * k;
            const float* s = src + (ox * sw - pl);
            d[0] = s[0];
            d[1] = s[1];
            d[2] = s[2];
          }
        } else if (dw == 1) {
          for (int ox = ox_lo; ox < ox_hi; ++ox) {
            float* d = first + ox * k;
            const float* s = src + (ox * sw - pl);
            for (int kx = 0; kx < kw; ++kx) d[kx] = s[kx];
          }
        } else {
          for (int ox = ox_lo; ox < ox_hi; ++ox) {
            float* d = first + ox * k;
            const float* s = src + (ox * sw - pl);
            for (int kx = 0; kx < kw; ++kx) d[kx] = s[kx * dw];
          }
        }
        for (int ox = ox_hi; ox < wo; ++ox) edge(ox);
      }
    }
  }
}

void Conv2d::im2row(const float* image, int h, int w, Eigen::MatrixXf& rows, int group) const {
  const int ho = out_extent(h, g_.pt() + g_.pb(), g_.kernel_h, g_.dilation_h, g_.sh());
  const int wo = out_extent(w, g_.pl() + g_.pr(), g_.kernel_w, g_.dilation_w, g_.sw());
  const int cin = g_.in_channels / g_.groups, c0 = group * cin;
  const int kh = g_.kernel_h, kw = g_.kernel_w, dh = g_.dilation_h, dw = g_.dilation_w;
  const int sh = g_.sh(), sw = g_.sw(), pt = g_.pt(), pl = g_.pl();
  rows.resize(static_cast<Eigen::Index>(ho) * wo, fan_in());
  // Per tap kx, the output columns whose input column ix = ox sw + kx dw - pl lies inside the
  // row: ox in [lo[kx], hi[kx]) (ix grows with ox).
  thread_local std::vector<int> lo, hi;
  lo.assign(static_cast<std::size_t>(kw), 0);
  hi.assign(static_cast<std::size_t>(kw), 0);
  for (int kx = 0; kx < kw; ++kx) {
    const int off = kx * dw - pl;
    int a = 0;
    while (a < wo && a * sw + off < 0) ++a;
    int b = a;
    while (b < wo && b * sw + off < w) ++b;
    lo[static_cast<std::size_t>(kx)] = a;
    hi[static_cast<std::size_t>(kx)] = b;
  }
  // Stride 1 across rows and rows as wide as the input's: the runs of consecutive output rows
  // are consecutive in the input too, so each entry's column is one copy, then the taps that
  // fell into the padding (carried over from the neighbouring row) are zeroed.
  const bool flat = sh == 1 && sw == 1 && wo == w;
  for (int c = 0; c < cin; ++c) {
    const float* plane = image + static_cast<std::int64_t>(c0 + c) * h * w;
    for (int ky = 0; ky < kh; ++ky)
      for (int kx = 0; kx < kw; ++kx) {
        float* col = rows.col(static_cast<Eigen::Index>((c * kh + ky) * kw + kx)).data();
        const int a = lo[static_cast<std::size_t>(kx)], b = hi[static_cast<std::size_t>(kx)];
        const int off = kx * dw - pl;
        if (flat) {
          // Output rows [y0, y1) read input rows y0 - pt + ky dh ... inside the image.
          int y0 = 0;
          while (y0 < ho && y0 - pt + ky * dh < 0) ++y0;
          int y1 = y0;
          while (y1 < ho && y1 - pt + ky * dh < h) ++y1;
          std::fill_n(col, static_cast<std::int64_t>(y0) * wo, 0.0f);
          if (y1 > y0 && b > a) {
            const std::int64_t first = static_cast<std::int64_t>(y0) * wo + a;
            const std::int64_t last = static_cast<std::int64_t>(y1 - 1) * wo + b;  // exclusive
            const float* src = plane + static_cast<std::int64_t>(y0 - pt + ky * dh) * w + a + off;
            std::copy(src, src + (last - first), col + first);
            for (int oy = y0; oy < y1; ++oy) {
              float* d = col + static_cast<std::int64_t>(oy) * wo;
              for (int ox = 0; ox < a; ++ox) d[ox] = 0.0f;
              for (int ox = b; ox < wo; ++ox) d[ox] = 0.0f;
            }
          } else if (y1 > y0) {
            std::fill_n(col + static_cast<std::int64_t>(y0) * wo,
                        static_cast<std::int64_t>(y1 - y0) * wo, 0.0f);
          }
          std::fill_n(col + static_cast<std::int64_t>(y1) * wo,
                      static_cast<std::int64_t>(ho - y1) * wo, 0.0f);
          continue;
        }
        for (int oy = 0; oy < ho; ++oy) {
          float* d = col + static_cast<std::int64_t>(oy) * wo;
          const int iy = oy * sh - pt + ky * dh;
          if (iy < 0 || iy >= h) {
            std::fill_n(d, wo, 0.0f);
            continue;
          }
          // Input row iy from column off on (a pointer only ever indexed inside the row).
          const float* src = plane + static_cast<std::int64_t>(iy) * w;
          std::fill_n(d, a, 0.0f);
          if (sw == 1) {
            std::copy(src + (a + off), src + (b + off), d + a);
          } else if (sw == 2) {  // a constant stride, which the compiler vectorises
            const float* s2 = src + (2 * a + off);
            float* d2 = d + a;
            for (int j = 0; j < b - a; ++j) d2[j] = s2[2 * j];
          } else {
            for (int ox = a; ox < b; ++ox) d[ox] = src[ox * sw + off];
          }
          std::fill_n(d + b, wo - b, 0.0f);
        }
      }
  }
}

void Conv2d::col2im(const Eigen::MatrixXf& cols, int h, int w, float* image, int group) const {
  const int ho = out_extent(h, g_.pt() + g_.pb(), g_.kernel_h, g_.dilation_h, g_.sh());
  const int wo = out_extent(w, g_.pl() + g_.pr(), g_.kernel_w, g_.dilation_w, g_.sw());
  const int cin = g_.in_channels / g_.groups, c0 = group * cin;
  const int dh = g_.dilation_h, dw = g_.dilation_w;
  const float* col = cols.data();
  for (int oy = 0; oy < ho; ++oy) {
    for (int ox = 0; ox < wo; ++ox) {
      const int y0 = oy * g_.sh() - g_.pt(), x0 = ox * g_.sw() - g_.pl();
      for (int c = c0; c < c0 + cin; ++c) {
        float* plane = image + static_cast<std::int64_t>(c) * h * w;
        for (int ky = 0; ky < g_.kernel_h; ++ky) {
          const int iy = y0 + ky * dh;
          if (iy < 0 || iy >= h) {
            col += g_.kernel_w;
            continue;
          }
          for (int kx = 0; kx < g_.kernel_w; ++kx, ++col) {
            const int ix = x0 + kx * dw;
            if (ix >= 0 && ix < w) plane[iy * w + ix] += *col;
          }
        }
      }
    }
  }
}

PatchSource Conv2d::patch_source(const float* image, int h, int w) const {
  return {.image = image,
          .channels = g_.in_channels,
          .height = h,
          .width = w,
          .kernel_h = g_.kernel_h,
          .kernel_w = g_.kernel_w,
          .stride = g_.stride,
          .padding = g_.padding};
}

void Conv2d::forward(const Tensor& in, Tensor& out, const Pass& pass) const {
  const Shape os = output_shape(in.shape);
  const int h = in.shape[1], w = in.shape[2];
  const int cout = g_.out_channels, k = fan_in(), p = os[1] * os[2];
  const int groups = g_.groups, cg = cout / groups;
  const bool simple = !g_.general();
  // The patch matrix by position where nothing reads the one by receptive field (the hook's
  // v.X) and the kernel multiplies by it transposed with the same bits: the same product,
  // filled faster. Not for a product of one row or one column (a depthwise convolution, one
  // output channel, one position), which Eigen multiplies as matrix by vector, in an order that
  // depends on the layout.
  const bool by_position = (!pass.hook || (simple && !pass.hook->reads_patch_matrix())) && cg > 1 &&
                           p > 1 &&
                           gemm_kernel_transpose_exact(gemm_kernel_for(GemmColumns::fixed));
  const bool pointwise = by_position && g_.kernel_h == 1 && g_.kernel_w == 1 && g_.sh() == 1 &&
                         g_.sw() == 1 && g_.pt() == 0 && g_.pl() == 0 && g_.pb() == 0 &&
                         g_.pr() == 0;
  out.resize(in.batch, os);
  parallel_for(in.batch, std::int64_t{in.batch} * k * cout * p >= parallel_min_macs, [&](int i) {
    thread_local Eigen::MatrixXf cols, y;
    y.resize(cout, p);
    for (int gi = 0; gi < groups; ++gi) {
      // A 1x1 convolution of stride 1 without padding: the group's channels of the image are
      // already its patch matrix by position (H*W x Cin/groups, column-major).
      const float* direct = pointwise ? in.sample(i) + std::int64_t{gi} * k * p : nullptr;
      if (direct == nullptr) {
        if (by_position)
          im2row(in.sample(i), h, w, cols, gi);
        else
          im2col(in.sample(i), h, w, cols, gi);
      }
      // (pointwise implies by_position)
      const ConstMatrixMap patches_of(direct != nullptr ? direct : cols.data(), by_position ? p : k,
                                      by_position ? k : p);
      const GemmOp op = by_position ? GemmOp::transpose : GemmOp::none;
      if (groups == 1)
        gemm(weight_, GemmOp::none, patches_of, op, y, false, GemmColumns::fixed);
      else
        gemm(weight_.middleRows(gi * cg, cg), GemmOp::none, patches_of, op,
             y.middleRows(gi * cg, cg), false, GemmColumns::fixed);
      if (pass.hook) {
        const PatchSource patches = patch_source(in.sample(i), h, w);
        thread_local Eigen::MatrixXf wg, yg;
        const float* wp = weight_.data();
        float* yp = y.data();
        if (groups > 1) {
          wg = weight_.middleRows(gi * cg, cg);
          yg = y.middleRows(gi * cg, cg);
          wp = wg.data();
          yp = yg.data();
        }
        MatmulView v{.layer = matmul_index_,
                     .first_sample = pass.sample(i),
                     .per_position = true,
                     .W = ConstMatrixMap(wp, cg, k),
                     .X = ConstMatrixMap(by_position ? nullptr : cols.data(), k, p),
                     .Y = MatrixMap(yp, cg, p),
                     .patches = simple ? &patches : nullptr,
                     .output_offset = gi * cg};
        pass.hook->forward(v);
        if (groups > 1) y.middleRows(gi * cg, cg) = yg;
      }
    }
    Eigen::Map<RowMatrixXf>(out.sample(i), cout, p) = y.colwise() + bias_;
  });
}

void Conv2d::backward(const Tensor& in, const Tensor&, const Tensor& grad_out, Tensor* grad_in,
                      std::span<std::vector<float>> grads, const Pass& pass) const {
  const Shape os = output_shape(in.shape);
  const int h = in.shape[1], w = in.shape[2];
  const int cout = g_.out_channels, k = fan_in(), p = os[1] * os[2];
  const int ng = g_.groups, cg = cout / ng;
  const bool simple = !g_.general();
  const bool want_params = !grads.empty();
  if (grad_in) grad_in->resize(in.batch, in.shape, true);
  const int groups = (in.batch + images_per_group - 1) / images_per_group;
  std::vector<Eigen::MatrixXf> dw(want_params ? groups : 0);
  std::vector<Eigen::VectorXf> db(want_params ? groups : 0);
  parallel_for(groups, std::int64_t{in.batch} * k * cout * p >= parallel_min_macs, [&](int gi) {
    if (want_params) {
      dw[gi].setZero(cout, k);
      db[gi].setZero(cout);
    }
    const int end = std::min(in.batch, (gi + 1) * images_per_group);
    for (int i = gi * images_per_group; i < end; ++i) {
      thread_local Eigen::MatrixXf cols, dy, dcols, wg;
      for (int c = 0; c < ng; ++c) {
        im2col(in.sample(i), h, w, cols, c);
        if (ng == 1) {
          dy = Eigen::Map<const RowMatrixXf>(grad_out.sample(i), cout, p);
        } else {
          dy = Eigen::Map<const RowMatrixXf>(grad_out.sample(i), cout, p).middleRows(c * cg, cg);
          wg = weight_.middleRows(c * cg, cg);  // contiguous, for the hook's view
        }
        if (grad_in) {
          dcols.resize(k, p);
          gemm(ng == 1 ? weight_ : wg, GemmOp::transpose, dy, GemmOp::none, dcols, false,
               GemmColumns::fixed);
        }
        if (pass.hook) {
          const PatchSource patches = patch_source(in.sample(i), h, w);
          const MatmulView v{.layer = matmul_index_,
                             .first_sample = pass.sample(i),
                             .per_position = true,
                             .W = ConstMatrixMap(ng == 1 ? weight_.data() : wg.data(), cg, k),
                             .X = ConstMatrixMap(cols.data(), k, p),
                             .Y = MatrixMap(dy.data(), cg, p),
                             .patches = simple ? &patches : nullptr,
                             .output_offset = c * cg};
          MatrixMap dx(grad_in ? dcols.data() : nullptr, k, p);
          pass.hook->backward(v, grad_in ? &dx : nullptr);
        }
        if (grad_in) col2im(dcols, h, w, grad_in->sample(i), c);
        if (want_params) {
          if (ng == 1) {
            gemm(dy, GemmOp::none, cols, GemmOp::transpose, dw[gi], true, GemmColumns::fixed);
            db[gi] += dy.rowwise().sum();
          } else {
            gemm(dy, GemmOp::none, cols, GemmOp::transpose, dw[gi].middleRows(c * cg, cg), true,
                 GemmColumns::fixed);
            db[gi].segment(c * cg, cg) += dy.rowwise().sum();
          }
        }
      }
    }
  });
  if (!want_params) return;
  grads[0].resize(static_cast<std::size_t>(weight_.size()));
  grads[1].resize(static_cast<std::size_t>(bias_.size()));
  Eigen::Map<Eigen::MatrixXf> gw(grads[0].data(), cout, k);
  Eigen::Map<Eigen::VectorXf> gb(grads[1].data(), cout);
  gw.setZero();
  gb.setZero();
  for (int gi = 0; gi < groups; ++gi) {
    gw += dw[gi];
    gb += db[gi];
  }
}

}  // namespace lumac::nn
