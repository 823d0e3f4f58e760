#include "lumac/nn/pool.hpp"

#include <fmt/format.h>

#include <algorithm>

#include "lumac/core/error.hpp"
#include "lumac/nn/parallel.hpp"

namespace lumac::nn {

namespace {

struct Planes {
  int channels, h, w, ho, wo;
};

Planes planes(const Shape& in, const Shape& out) {
  return {in[0], in[1], in[2], out[1], out[2]};
}

// In 64 bits: a model file's geometry is not trusted to keep these sums inside an int.
int pooled_extent(std::int64_t in, std::int64_t pad_lo, std::int64_t pad_hi, std::int64_t kernel,
                  std::int64_t stride, bool ceil_mode) {
  const std::int64_t span = in + pad_lo + pad_hi - kernel;
  std::int64_t out = (ceil_mode ? (span + stride - 1) / stride : span / stride) + 1;
  // PyTorch: the last window must start inside the input or its leading padding.
  if (ceil_mode && (out - 1) * stride >= in + pad_lo) --out;
  return checked_axis(out, "pooling");
}

// The cells of window (oy, ox) inside the input: rows [y0, y1), columns [x0, x1).
struct Window {
  int y0, y1, x0, x1;
};

Window window(const Pool2dGeometry& g, const Planes& p, int oy, int ox) {
  const int ys = oy * g.stride_h - g.pad_top, xs = ox * g.stride_w - g.pad_left;
  return {std::max(ys, 0), std::min(ys + g.kernel_h, p.h), std::max(xs, 0),
          std::min(xs + g.kernel_w, p.w)};
}

// Index (within the channel plane) of the first maximum of a window (-1 if it is all padding).
int argmax(const float* plane, const Planes& p, const Window& win) {
  int best = -1;
  for (int y = win.y0; y < win.y1; ++y)
    for (int x = win.x0; x < win.x1; ++x) {
      const int idx = y * p.w + x;
      if (best < 0 || plane[idx] > plane[best]) best = idx;
    }
  return best;
}

// The window's maximum, the value at argmax's index, without its data-dependent branch (which
// mispredicts on real images): std::max(m, x) keeps m unless m < x, as argmax keeps its first
// maximum (and a NaN in the first cell, like argmax).
float window_max(const float* plane, const Planes& p, const Window& win) {
  float m = plane[win.y0 * p.w + win.x0];
  for (int y = win.y0; y < win.y1; ++y)
    for (int x = win.x0; x < win.x1; ++x) m = std::max(m, plane[y * p.w + x]);
  return m;
}

// AvgPool2d's divisor for window (oy, ox).
int divisor(const Pool2dGeometry& g, const Planes& p, const Window& win, int oy, int ox) {
  if (!g.count_include_pad) return (win.y1 - win.y0) * (win.x1 - win.x0);
  const int ys = oy * g.stride_h - g.pad_top, xs = ox * g.stride_w - g.pad_left;
  const int ye = std::min(ys + g.kernel_h, p.h + g.pad_bottom);
  const int xe = std::min(xs + g.kernel_w, p.w + g.pad_right);
  return (ye - ys) * (xe - xs);
}

}  // namespace

bool Pool2dGeometry::general() const {
  return kernel_w != kernel_h || stride_w != stride_h || pad_top != 0 || pad_left != 0 ||
         pad_bottom != 0 || pad_right != 0 || ceil_mode || count_include_pad;
}

void Pool2dGeometry::record(NodeRecord& r) const {
  r.op = "pool2d";
  r.put("kernel", {kernel_h, kernel_w});
  r.put("strides", {stride_h, stride_w});
  r.put("pads", {pad_top, pad_left, pad_bottom, pad_right});
  r.put("ceil_mode", {ceil_mode ? 1 : 0});
  r.put("count_include_pad", {count_include_pad ? 1 : 0});
}

Pool2dGeometry Pool2dGeometry::from_record(const NodeRecord& r) {
  const auto& k = r.get("kernel");
  const auto& s = r.get("strides");
  const auto& p = r.get("pads");
  if (k.size() != 2 || s.size() != 2 || p.size() != 4)
    fail("pooling: kernel, strides and pads must hold 2, 2 and 4 values");
  auto v = [](std::int64_t x, std::int64_t lo) {
    if (x < lo || x > 100000) fail("pooling: geometry value {} is out of range", x);
    return static_cast<int>(x);
  };
  Pool2dGeometry g;
  g.kernel_h = v(k[0], 1);
  g.kernel_w = v(k[1], 1);
  g.stride_h = v(s[0], 1);
  g.stride_w = v(s[1], 1);
  g.pad_top = v(p[0], 0);
  g.pad_left = v(p[1], 0);
  g.pad_bottom = v(p[2], 0);
  g.pad_right = v(p[3], 0);
  g.ceil_mode = r.get("ceil_mode").at(0) != 0;
  g.count_include_pad = r.get("count_include_pad").at(0) != 0;
  return g;
}

bool Pool2d::worth_threads(const Tensor& in) const {
  return static_cast<std::int64_t>(in.data.size()) * g_.kernel_h * g_.kernel_w /
             (g_.stride_h * g_.stride_w) >=
         parallel_min_macs;
}

Pool2d::Pool2d(int kernel, int stride)
    : Pool2d(Pool2dGeometry{.kernel_h = kernel,
                            .kernel_w = kernel,
                            .stride_h = stride == 0 ? kernel : stride,
                            .stride_w = stride == 0 ? kernel : stride}) {}

Pool2d::Pool2d(const Pool2dGeometry& g) : g_(g) {
  if (g_.kernel_h < 1 || g_.kernel_w < 1 || g_.stride_h < 1 || g_.stride_w < 1)
    fail("pooling: kernel = {}x{}, stride = {}x{}: must be >= 1", g_.kernel_h, g_.kernel_w,
         g_.stride_h, g_.stride_w);
  if (g_.pad_top < 0 || g_.pad_left < 0 || g_.pad_bottom < 0 || g_.pad_right < 0)
    fail("pooling: padding must be >= 0");
  if (std::max(g_.pad_top, g_.pad_bottom) >= g_.kernel_h ||
      std::max(g_.pad_left, g_.pad_right) >= g_.kernel_w)
    fail("pooling: padding {},{},{},{} must be smaller than the {}x{} window", g_.pad_top,
         g_.pad_left, g_.pad_bottom, g_.pad_right, g_.kernel_h, g_.kernel_w);
}

std::string Pool2d::describe() const {
  std::string s = fmt::format("{} {}x{} stride {}", layer_type_name(type()), g_.kernel_h,
                              g_.kernel_w, g_.stride_h);
  if (g_.general())
    s += fmt::format(" (strides {}x{}, pads {},{},{},{}{}{})", g_.stride_h, g_.stride_w, g_.pad_top,
                     g_.pad_left, g_.pad_bottom, g_.pad_right, g_.ceil_mode ? ", ceil" : "",
                     g_.count_include_pad ? ", count pad" : "");
  return s;
}

Shape Pool2d::output_shape(const Shape& input) const {
  if (input.size() != 3)
    fail("{} expects an input of channels x height x width, got shape {}", layer_type_name(type()),
         shape_string(input));
  if (std::int64_t{input[1]} + g_.pad_top + g_.pad_bottom < g_.kernel_h ||
      std::int64_t{input[2]} + g_.pad_left + g_.pad_right < g_.kernel_w)
    fail("{}: the {}x{} window does not fit the {}x{} input", layer_type_name(type()), g_.kernel_h,
         g_.kernel_w, input[1], input[2]);
  return {
      input[0],
      pooled_extent(input[1], g_.pad_top, g_.pad_bottom, g_.kernel_h, g_.stride_h, g_.ceil_mode),
      pooled_extent(input[2], g_.pad_left, g_.pad_right, g_.kernel_w, g_.stride_w, g_.ceil_mode)};
}

void MaxPool2d::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const Planes p = planes(in.shape, out.shape);
  parallel_for(in.batch, worth_threads(in), [&](int i) {
    for (int c = 0; c < p.channels; ++c) {
      const float* plane = in.sample(i) + static_cast<std::int64_t>(c) * p.h * p.w;
      float* o = out.sample(i) + static_cast<std::int64_t>(c) * p.ho * p.wo;
      for (int oy = 0; oy < p.ho; ++oy)
        for (int ox = 0; ox < p.wo; ++ox) {
          const int ys = oy * g_.stride_h - g_.pad_top, xs = ox * g_.stride_w - g_.pad_left;
          if (g_.kernel_h == 2 && g_.kernel_w == 2 && ys >= 0 && xs >= 0 && ys + 2 <= p.h &&
              xs + 2 <= p.w) {  // the common window, inside the input: unrolled, same order
            const float* a = plane + ys * p.w + xs;
            o[oy * p.wo + ox] = std::max(std::max(std::max(a[0], a[1]), a[p.w]), a[p.w + 1]);
          } else {
            o[oy * p.wo + ox] = window_max(plane, p, window(g_, p, oy, ox));
          }
        }
    }
  });
}

void MaxPool2d::backward(const Tensor& in, const Tensor& out, const Tensor& grad_out,
                         Tensor* grad_in, std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape, true);
  const Planes p = planes(in.shape, out.shape);
  parallel_for(in.batch, worth_threads(in), [&](int i) {
    for (int c = 0; c < p.channels; ++c) {
      const std::int64_t in_plane = static_cast<std::int64_t>(c) * p.h * p.w;
      const float* plane = in.sample(i) + in_plane;
      float* gi = grad_in->sample(i) + in_plane;
      const float* go = grad_out.sample(i) + static_cast<std::int64_t>(c) * p.ho * p.wo;
      for (int oy = 0; oy < p.ho; ++oy)
        for (int ox = 0; ox < p.wo; ++ox)
          gi[argmax(plane, p, window(g_, p, oy, ox))] += go[oy * p.wo + ox];
    }
  });
}

void AvgPool2d::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const Planes p = planes(in.shape, out.shape);
  parallel_for(in.batch, worth_threads(in), [&](int i) {
    for (int c = 0; c < p.channels; ++c) {
      const float* plane = in.sample(i) + static_cast<std::int64_t>(c) * p.h * p.w;
      float* o = out.sample(i) + static_cast<std::int64_t>(c) * p.ho * p.wo;
      for (int oy = 0; oy < p.ho; ++oy)
        for (int ox = 0; ox < p.wo; ++ox) {
          const Window win = window(g_, p, oy, ox);
          float sum = 0;
          for (int y = win.y0; y < win.y1; ++y)
            for (int x = win.x0; x < win.x1; ++x) sum += plane[y * p.w + x];
          o[oy * p.wo + ox] = sum * (1.0f / static_cast<float>(divisor(g_, p, win, oy, ox)));
        }
    }
  });
}

void AvgPool2d::backward(const Tensor& in, const Tensor& out, const Tensor& grad_out,
                         Tensor* grad_in, std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape, true);
  const Planes p = planes(in.shape, out.shape);
  parallel_for(in.batch, worth_threads(in), [&](int i) {
    for (int c = 0; c < p.channels; ++c) {
      float* gi = grad_in->sample(i) + static_cast<std::int64_t>(c) * p.h * p.w;
      const float* go = grad_out.sample(i) + static_cast<std::int64_t>(c) * p.ho * p.wo;
      for (int oy = 0; oy < p.ho; ++oy)
        for (int ox = 0; ox < p.wo; ++ox) {
          const Window win = window(g_, p, oy, ox);
          const float d =
              go[oy * p.wo + ox] * (1.0f / static_cast<float>(divisor(g_, p, win, oy, ox)));
          for (int y = win.y0; y < win.y1; ++y)
            for (int x = win.x0; x < win.x1; ++x) gi[y * p.w + x] += d;
        }
    }
  });
}

}  // namespace lumac::nn
