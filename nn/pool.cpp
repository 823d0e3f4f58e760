#include "lumac/nn/pool.hpp"

#include <fmt/format.h>

#include "lumac/core/error.hpp"
#include "lumac/nn/parallel.hpp"

namespace lumac::nn {

namespace {

struct Geometry {
  int channels, h, w, ho, wo;
};

Geometry geometry(const Shape& in, const Shape& out) {
  return {in[0], in[1], in[2], out[1], out[2]};
}

// Index (within the channel plane) of the first maximum of window (oy, ox).
int argmax(const float* plane, const Geometry& g, int kernel, int stride, int oy, int ox) {
  int best = (oy * stride) * g.w + ox * stride;
  for (int ky = 0; ky < kernel; ++ky)
    for (int kx = 0; kx < kernel; ++kx) {
      const int idx = (oy * stride + ky) * g.w + ox * stride + kx;
      if (plane[idx] > plane[best]) best = idx;
    }
  return best;
}

}  // namespace

bool Pool2d::worth_threads(const Tensor& in) const {
  return static_cast<std::int64_t>(in.data.size()) * kernel_ * kernel_ / (stride_ * stride_) >=
         parallel_min_macs;
}

Pool2d::Pool2d(int kernel, int stride) : kernel_(kernel), stride_(stride == 0 ? kernel : stride) {
  if (kernel_ < 1 || stride_ < 1)
    fail("pooling: kernel = {}, stride = {}: must be >= 1", kernel_, stride_);
}

std::string Pool2d::describe() const {
  return fmt::format("{} {}x{} stride {}", layer_type_name(type()), kernel_, kernel_, stride_);
}

Shape Pool2d::output_shape(const Shape& input) const {
  if (input.size() != 3)
    fail("{} expects an input of channels x height x width, got shape {}", layer_type_name(type()),
         shape_string(input));
  if (input[1] < kernel_ || input[2] < kernel_)
    fail("{}: the {}x{} window does not fit the {}x{} input", layer_type_name(type()), kernel_,
         kernel_, input[1], input[2]);
  return {input[0], (input[1] - kernel_) / stride_ + 1, (input[2] - kernel_) / stride_ + 1};
}

void MaxPool2d::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const Geometry g = geometry(in.shape, out.shape);
  parallel_for(in.batch, worth_threads(in), [&](int i) {
    for (int c = 0; c < g.channels; ++c) {
      const float* plane = in.sample(i) + static_cast<std::int64_t>(c) * g.h * g.w;
      float* o = out.sample(i) + static_cast<std::int64_t>(c) * g.ho * g.wo;
      for (int oy = 0; oy < g.ho; ++oy)
        for (int ox = 0; ox < g.wo; ++ox)
          o[oy * g.wo + ox] = plane[argmax(plane, g, kernel_, stride_, oy, ox)];
    }
  });
}

void MaxPool2d::backward(const Tensor& in, const Tensor& out, const Tensor& grad_out,
                         Tensor* grad_in, std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape, true);
  const Geometry g = geometry(in.shape, out.shape);
  parallel_for(in.batch, worth_threads(in), [&](int i) {
    for (int c = 0; c < g.channels; ++c) {
      const std::int64_t in_plane = static_cast<std::int64_t>(c) * g.h * g.w;
      const float* plane = in.sample(i) + in_plane;
      float* gi = grad_in->sample(i) + in_plane;
      const float* go = grad_out.sample(i) + static_cast<std::int64_t>(c) * g.ho * g.wo;
      for (int oy = 0; oy < g.ho; ++oy)
        for (int ox = 0; ox < g.wo; ++ox)
          gi[argmax(plane, g, kernel_, stride_, oy, ox)] += go[oy * g.wo + ox];
    }
  });
}

void AvgPool2d::forward(const Tensor& in, Tensor& out, const Pass&) const {
  out.resize(in.batch, output_shape(in.shape));
  const Geometry g = geometry(in.shape, out.shape);
  const float scale = 1.0f / static_cast<float>(kernel_ * kernel_);
  parallel_for(in.batch, worth_threads(in), [&](int i) {
    for (int c = 0; c < g.channels; ++c) {
      const float* plane = in.sample(i) + static_cast<std::int64_t>(c) * g.h * g.w;
      float* o = out.sample(i) + static_cast<std::int64_t>(c) * g.ho * g.wo;
      for (int oy = 0; oy < g.ho; ++oy)
        for (int ox = 0; ox < g.wo; ++ox) {
          float sum = 0;
          for (int ky = 0; ky < kernel_; ++ky)
            for (int kx = 0; kx < kernel_; ++kx)
              sum += plane[(oy * stride_ + ky) * g.w + ox * stride_ + kx];
          o[oy * g.wo + ox] = sum * scale;
        }
    }
  });
}

void AvgPool2d::backward(const Tensor& in, const Tensor& out, const Tensor& grad_out,
                         Tensor* grad_in, std::span<std::vector<float>>, const Pass&) const {
  if (!grad_in) return;
  grad_in->resize(in.batch, in.shape, true);
  const Geometry g = geometry(in.shape, out.shape);
  const float scale = 1.0f / static_cast<float>(kernel_ * kernel_);
  parallel_for(in.batch, worth_threads(in), [&](int i) {
    for (int c = 0; c < g.channels; ++c) {
      float* gi = grad_in->sample(i) + static_cast<std::int64_t>(c) * g.h * g.w;
      const float* go = grad_out.sample(i) + static_cast<std::int64_t>(c) * g.ho * g.wo;
      for (int oy = 0; oy < g.ho; ++oy)
        for (int ox = 0; ox < g.wo; ++ox) {
          const float d = go[oy * g.wo + ox] * scale;
          for (int ky = 0; ky < kernel_; ++ky)
            for (int kx = 0; kx < kernel_; ++kx)
              gi[(oy * stride_ + ky) * g.w + ox * stride_ + kx] += d;
        }
    }
  });
}

}  // namespace lumac::nn
