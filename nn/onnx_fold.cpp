#include "nn/onnx_fold.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "lumac/core/error.hpp"
#include "lumac/nn/graph_ops.hpp"

namespace lumac::nn::onnx_detail {

std::vector<std::int64_t> Const::ints() const {
  std::vector<std::int64_t> out;
  // int64 extremes (Slice's "to the end") do not survive the trip through double exactly.
  constexpr double big = 9.2e18;
  for (double x : v)
    out.push_back(x >= big    ? std::numeric_limits<std::int64_t>::max()
                  : x <= -big ? std::numeric_limits<std::int64_t>::min()
                              : static_cast<std::int64_t>(x));
  return out;
}

std::vector<float> Const::floats() const {
  return {v.begin(), v.end()};
}

namespace {

template <class T>
void append_raw(const std::string& raw, std::vector<double>& out) {
  if (raw.size() % sizeof(T) != 0)
    fail("raw tensor data of {} bytes is not whole values", raw.size());
  const std::size_t n = raw.size() / sizeof(T);
  for (std::size_t k = 0; k < n; ++k) {
    T x;
    std::memcpy(&x, raw.data() + k * sizeof(T), sizeof(T));
    out.push_back(static_cast<double>(x));
  }
}

// Constants lumac builds itself (ConstantOfShape, Expand, Range) stay below this many values.
constexpr double max_folded_values = 1e7;

Shape dims_of(const std::vector<std::int64_t>& d) {
  Shape s;
  double n = 1;
  for (std::int64_t x : d) {
    if (x < 0 || x > 2000000000) fail("tensor dimension {} is out of range", x);
    n *= static_cast<double>(x);
    s.push_back(static_cast<int>(x));
  }
  if (n > 4e9) fail("a tensor of {} values is too large", n);
  return s;
}

void check_folded_size(const Shape& dims, const char* op) {
  double n = 1;
  for (int d : dims) n *= d;
  if (n > max_folded_values) fail("{} would build a constant of {} values", op, n);
}

int norm_axis(std::int64_t axis, std::size_t rank, const char* op) {
  const auto r = static_cast<std::int64_t>(rank);
  if (axis < -r || axis >= r) fail("{}: axis {} of a rank-{} tensor", op, axis, rank);
  return static_cast<int>(axis < 0 ? axis + r : axis);
}

Const scalar(double x, bool integer) {
  return Const{{}, {x}, integer};
}

Const binary(const std::string& op, const Const& a, const Const& b) {
  Const out;
  out.dims = broadcast_shape(a.dims, b.dims);
  check_folded_size(out.dims, "a broadcast");
  out.integer = a.integer && b.integer;
  const auto ia = broadcast_index(out.dims, a.dims), ib = broadcast_index(out.dims, b.dims);
  const std::int64_t n = out.size();
  out.v.resize(static_cast<std::size_t>(n));
  for (std::int64_t e = 0; e < n; ++e) {
    const double x =
        a.v[static_cast<std::size_t>(ia.empty() ? e : ia[static_cast<std::size_t>(e)])];
    const double y =
        b.v[static_cast<std::size_t>(ib.empty() ? e : ib[static_cast<std::size_t>(e)])];
    double r = 0;
    if (op == "Add")
      r = x + y;
    else if (op == "Sub")
      r = x - y;
    else if (op == "Mul")
      r = x * y;
    else if (op == "Div")
      r = out.integer ? (y == 0 ? 0 : std::trunc(x / y)) : x / y;
    else if (op == "Equal")
      r = x == y ? 1 : 0;
    else if (op == "Pow")
      r = std::pow(x, y);
    if (!out.integer && (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Pow"))
      r = static_cast<float>(r);  // float32 arithmetic, as the runtime does
    out.v[static_cast<std::size_t>(e)] = r;
  }
  if (op == "Equal") out.integer = true;
  return out;
}

// Strides of a row-major shape.
std::vector<std::int64_t> strides(const Shape& s) {
  std::vector<std::int64_t> st(s.size(), 1);
  for (std::size_t k = s.size(); k-- > 1;) st[k - 1] = st[k] * s[k];
  return st;
}

// Visits every multi-index of `shape` in row-major order.
template <class F>
void for_each_index(const Shape& shape, F&& f) {
  const std::int64_t n = shape_size(shape);
  std::vector<int> pos(shape.size(), 0);
  for (std::int64_t e = 0; e < n; ++e) {
    f(pos);
    for (std::size_t k = shape.size(); k-- > 0;) {
      if (++pos[k] < shape[k]) break;
      pos[k] = 0;
    }
  }
}

Const gather(const Const& data, const Const& idx, std::int64_t axis_attr) {
  if (data.dims.empty()) fail("Gather of a scalar");
  const int axis = norm_axis(axis_attr, data.dims.size(), "Gather");
  Const out;
  out.integer = data.integer;
  for (int k = 0; k < axis; ++k) out.dims.push_back(data.dims[static_cast<std::size_t>(k)]);
  for (int d : idx.dims) out.dims.push_back(d);
  for (std::size_t k = static_cast<std::size_t>(axis) + 1; k < data.dims.size(); ++k)
    out.dims.push_back(data.dims[k]);
  const auto st = strides(data.dims);
  const int extent = data.dims[static_cast<std::size_t>(axis)];
  const std::size_t ir = idx.dims.size();
  for_each_index(out.dims, [&](const std::vector<int>& pos) {
    // pos = [outer axes (axis of them), index axes (ir), inner axes].
    std::int64_t flat_idx = 0;
    for (std::size_t k = 0; k < ir; ++k)
      flat_idx = flat_idx * idx.dims[k] + pos[static_cast<std::size_t>(axis) + k];
    std::int64_t i = static_cast<std::int64_t>(idx.v[static_cast<std::size_t>(flat_idx)]);
    if (i < -extent || i >= extent)
      fail("Gather: index {} out of range [-{}, {})", i, extent, extent);
    if (i < 0) i += extent;
    std::int64_t off = i * st[static_cast<std::size_t>(axis)];
    for (int k = 0; k < axis; ++k)
      off += pos[static_cast<std::size_t>(k)] * st[static_cast<std::size_t>(k)];
    for (std::size_t k = static_cast<std::size_t>(axis) + 1; k < data.dims.size(); ++k)
      off += pos[k - 1 + ir] * st[k];
    out.v.push_back(data.v[static_cast<std::size_t>(off)]);
  });
  return out;
}

}  // namespace

std::vector<std::int64_t> split_sizes(const onnx::NodeProto& n, std::int64_t dim,
                                      const std::vector<std::int64_t>* split) {
  const auto parts = static_cast<std::int64_t>(n.output_size());
  if (parts < 1) fail("Split without outputs");
  if (split) {
    if (static_cast<std::int64_t>(split->size()) != parts)
      fail("Split: 'split' lists {} sizes for {} outputs", split->size(), parts);
    std::int64_t sum = 0;
    for (const std::int64_t v : *split) {
      if (v < 0 || v > dim) fail("Split: a size of {} on an axis of {}", v, dim);
      sum += v;
    }
    if (sum != dim) fail("Split: the sizes add up to {}, not the axis's {}", sum, dim);
    return *split;
  }
  if (dim % parts != 0)
    fail("Split: an axis of {} does not cut into {} equal parts (give 'split')", dim, parts);
  return std::vector<std::int64_t>(static_cast<std::size_t>(parts), dim / parts);
}

namespace {

Const slice(const Const& data, const std::vector<std::optional<Const>>& in) {
  const auto starts = in.at(1)->ints(), ends = in.at(2)->ints();
  std::vector<std::int64_t> axes, steps;
  if (in.size() > 3 && in[3]) axes = in[3]->ints();
  if (in.size() > 4 && in[4]) steps = in[4]->ints();
  if (axes.empty())
    for (std::size_t k = 0; k < starts.size(); ++k) axes.push_back(static_cast<std::int64_t>(k));
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() || steps.size() != starts.size())
    fail("Slice: starts, ends, axes and steps differ in length");
  const std::size_t r = data.dims.size();
  std::vector<std::int64_t> b(r, 0), s(r, 1);
  Shape od = data.dims;
  for (std::size_t k = 0; k < starts.size(); ++k) {
    const int a = norm_axis(axes[k], r, "Slice");
    const std::int64_t dim = data.dims[static_cast<std::size_t>(a)];
    if (steps[k] == 0) fail("Slice: step 0");
    // A step longer than the axis takes at most one element, as a step of dim + 1 does (and
    // keeps the arithmetic below in range).
    const std::int64_t step = std::clamp<std::int64_t>(steps[k], -(dim + 1), dim + 1);
    std::int64_t st = starts[k], en = ends[k];
    if (st < 0) st += dim;
    if (en < 0) en += dim;
    if (step > 0) {
      st = std::clamp<std::int64_t>(st, 0, dim);
      en = std::clamp<std::int64_t>(en, 0, dim);
    } else {
      st = std::clamp<std::int64_t>(st, 0, dim - 1);
      en = std::clamp<std::int64_t>(en, -1, dim - 1);
    }
    const std::int64_t count = step > 0 ? std::max<std::int64_t>(0, (en - st + step - 1) / step)
                                        : std::max<std::int64_t>(0, (st - en - step - 1) / -step);
    b[static_cast<std::size_t>(a)] = st;
    s[static_cast<std::size_t>(a)] = step;
    od[static_cast<std::size_t>(a)] = static_cast<int>(count);
  }
  Const out{od, {}, data.integer};
  const auto str = strides(data.dims);
  for_each_index(od, [&](const std::vector<int>& pos) {
    std::int64_t off = 0;
    for (std::size_t k = 0; k < r; ++k) off += (b[k] + pos[k] * s[k]) * str[k];
    out.v.push_back(data.v[static_cast<std::size_t>(off)]);
  });
  return out;
}

Const concat(const std::vector<std::optional<Const>>& in, std::int64_t axis_attr) {
  const Const& first = *in.at(0);
  if (first.dims.empty()) fail("Concat of scalars");
  const int axis = norm_axis(axis_attr, first.dims.size(), "Concat");
  Const out{first.dims, {}, true};
  out.dims[static_cast<std::size_t>(axis)] = 0;
  std::int64_t outer = 1;
  for (int k = 0; k < axis; ++k) outer *= first.dims[static_cast<std::size_t>(k)];
  for (const auto& c : in) {
    if (c->dims.size() != first.dims.size()) fail("Concat of tensors of different ranks");
    out.dims[static_cast<std::size_t>(axis)] += c->dims[static_cast<std::size_t>(axis)];
    out.integer = out.integer && c->integer;
  }
  for (std::int64_t o = 0; o < outer; ++o)
    for (const auto& c : in) {
      const std::int64_t block = c->size() / std::max<std::int64_t>(outer, 1);
      out.v.insert(out.v.end(), c->v.begin() + o * block, c->v.begin() + (o + 1) * block);
    }
  return out;
}

Const transpose(const Const& data, std::optional<std::vector<std::int64_t>> perm) {
  const std::size_t r = data.dims.size();
  std::vector<std::int64_t> p(r);
  if (perm)
    p = *perm;
  else
    for (std::size_t k = 0; k < r; ++k) p[k] = static_cast<std::int64_t>(r - 1 - k);
  if (p.size() != r) fail("Transpose: perm of {} axes for a rank-{} tensor", p.size(), r);
  Shape od;
  for (auto a : p) od.push_back(data.dims.at(static_cast<std::size_t>(a)));
  const auto st = strides(data.dims);
  Const out{od, {}, data.integer};
  for_each_index(od, [&](const std::vector<int>& pos) {
    std::int64_t off = 0;
    for (std::size_t k = 0; k < r; ++k) off += pos[k] * st[static_cast<std::size_t>(p[k])];
    out.v.push_back(data.v[static_cast<std::size_t>(off)]);
  });
  return out;
}

Const reshape(const Const& data, const std::vector<std::int64_t>& target) {
  Shape od;
  int infer = -1;
  std::int64_t known = 1;
  for (std::size_t k = 0; k < target.size(); ++k) {
    std::int64_t d = target[k];
    if (d == 0) d = data.dims.at(k);
    if (d == -1) {
      if (infer >= 0) fail("Reshape: two -1 dimensions");
      infer = static_cast<int>(k);
      od.push_back(1);
      continue;
    }
    if (d < 0) fail("Reshape: dimension {}", d);
    if (d > max_axis_size) fail("Reshape: dimension {} is too large", d);
    if (d > 0 && known > (std::int64_t{1} << 62) / d) fail("Reshape: more than 2^62 values");
    known *= d;
    od.push_back(static_cast<int>(d));
  }
  if (infer >= 0) {
    if (known == 0 || data.size() % known != 0) fail("Reshape: {} values do not fit", data.size());
    od[static_cast<std::size_t>(infer)] = static_cast<int>(data.size() / known);
  }
  if (shape_size(od) != data.size())
    fail("Reshape of {} values to {}", data.size(), shape_string(od));
  return Const{od, data.v, data.integer};
}

std::vector<int> unsqueeze_dims(const Shape& in, std::vector<std::int64_t> axes) {
  const std::size_t r = in.size() + axes.size();
  for (auto& a : axes) a = norm_axis(a, r, "Unsqueeze");
  std::sort(axes.begin(), axes.end());
  Shape out;
  std::size_t next = 0, src = 0;
  for (std::size_t k = 0; k < r; ++k) {
    if (next < axes.size() && axes[next] == static_cast<std::int64_t>(k)) {
      out.push_back(1);
      ++next;
    } else {
      out.push_back(in.at(src++));
    }
  }
  return out;
}

}  // namespace

Const tensor_const(const onnx::TensorProto& t) {
  Const c;
  c.dims = dims_of({t.dims().begin(), t.dims().end()});
  const std::string& raw = t.raw_data();
  using TP = onnx::TensorProto;
  switch (t.data_type()) {
    case TP::FLOAT:
      if (!raw.empty())
        append_raw<float>(raw, c.v);
      else
        c.v.assign(t.float_data().begin(), t.float_data().end());
      break;
    case TP::DOUBLE:
      if (!raw.empty())
        append_raw<double>(raw, c.v);
      else
        c.v.assign(t.double_data().begin(), t.double_data().end());
      for (double& x : c.v) x = static_cast<float>(x);
      break;
    case TP::INT64:
      c.integer = true;
      if (!raw.empty())
        append_raw<std::int64_t>(raw, c.v);
      else
        c.v.assign(t.int64_data().begin(), t.int64_data().end());
      break;
    case TP::INT32:
    case TP::INT8:
    case TP::UINT8:
    case TP::INT16:
    case TP::BOOL:
      c.integer = true;
      if (!raw.empty()) {
        if (t.data_type() == TP::INT32)
          append_raw<std::int32_t>(raw, c.v);
        else if (t.data_type() == TP::INT16)
          append_raw<std::int16_t>(raw, c.v);
        else if (t.data_type() == TP::INT8)
          append_raw<std::int8_t>(raw, c.v);
        else
          append_raw<std::uint8_t>(raw, c.v);
      } else {
        c.v.assign(t.int32_data().begin(), t.int32_data().end());
      }
      break;
    default:
      fail(
          "tensor '{}' has ONNX data type {}, which lumac does not read (float, double and "
          "integers)",
          t.name(), t.data_type());
  }
  if (static_cast<std::int64_t>(c.v.size()) != c.size())
    fail("tensor '{}' of shape {} holds {} values", t.name(), shape_string(c.dims), c.v.size());
  return c;
}

bool has_attr(const onnx::NodeProto& n, const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return true;
  return false;
}

std::int64_t attr_int(const onnx::NodeProto& n, const std::string& name, std::int64_t fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.i();
  return fallback;
}

double attr_float(const onnx::NodeProto& n, const std::string& name, double fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.f();
  return fallback;
}

std::string attr_string(const onnx::NodeProto& n, const std::string& name,
                        const std::string& fallback) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return a.s();
  return fallback;
}

std::optional<std::vector<std::int64_t>> attr_ints(const onnx::NodeProto& n,
                                                   const std::string& name) {
  for (const auto& a : n.attribute())
    if (a.name() == name) return std::vector<std::int64_t>(a.ints().begin(), a.ints().end());
  return std::nullopt;
}

std::optional<std::vector<Const>> fold_node(const onnx::NodeProto& n,
                                            const std::vector<std::optional<Const>>& in) {
  const std::string& op = n.op_type();
  auto need = [&](std::size_t k) -> const Const& {
    if (k >= in.size() || !in[k]) fail("{} lacks input {}", op, k);
    return *in[k];
  };
  if (op == "Constant") {
    for (const auto& a : n.attribute()) {
      if (a.name() == "value") return std::vector<Const>{tensor_const(a.t())};
      if (a.name() == "value_float") return std::vector<Const>{scalar(a.f(), false)};
      if (a.name() == "value_int")
        return std::vector<Const>{scalar(static_cast<double>(a.i()), true)};
      if (a.name() == "value_floats")
        return std::vector<Const>{
            Const{{a.floats_size()}, {a.floats().begin(), a.floats().end()}, false}};
      if (a.name() == "value_ints")
        return std::vector<Const>{Const{{a.ints_size()}, {a.ints().begin(), a.ints().end()}, true}};
    }
    fail("Constant without a value lumac reads (value, value_float(s), value_int(s))");
  }
  if (op == "Identity" || op == "Dropout") return std::vector<Const>{need(0)};
  if (op == "Cast") {
    Const c = need(0);
    const auto to = attr_int(n, "to", 1);
    using TP = onnx::TensorProto;
    if (to == TP::FLOAT || to == TP::DOUBLE) {
      c.integer = false;
      for (double& x : c.v) x = static_cast<float>(x);
    } else if (to == TP::INT64 || to == TP::INT32 || to == TP::INT16 || to == TP::INT8) {
      c.integer = true;
      for (double& x : c.v) x = std::trunc(x);
    } else if (to == TP::BOOL) {
      c.integer = true;
      for (double& x : c.v) x = x != 0 ? 1 : 0;
    } else {
      fail("Cast to ONNX data type {}", to);
    }
    return std::vector<Const>{c};
  }
  if (op == "Shape") {
    const Const& c = need(0);
    std::vector<double> d(c.dims.begin(), c.dims.end());
    std::int64_t r = static_cast<std::int64_t>(d.size());
    std::int64_t start = attr_int(n, "start", 0), end = attr_int(n, "end", r);
    if (start < 0) start += r;
    if (end < 0) end += r;
    start = std::clamp<std::int64_t>(start, 0, r);
    end = std::clamp<std::int64_t>(end, start, r);
    return std::vector<Const>{
        Const{{static_cast<int>(end - start)}, {d.begin() + start, d.begin() + end}, true}};
  }
  if (op == "Add" || op == "Sub" || op == "Mul" || op == "Div" || op == "Equal" || op == "Pow")
    return std::vector<Const>{binary(op, need(0), need(1))};
  if (op == "Neg" || op == "Sqrt" || op == "Relu" || op == "Exp" || op == "Reciprocal") {
    Const c = need(0);
    for (double& x : c.v) {
      if (op == "Neg")
        x = -x;
      else if (op == "Sqrt")
        x = static_cast<float>(std::sqrt(x));
      else if (op == "Relu")
        x = std::max(x, 0.0);
      else if (op == "Exp")
        x = static_cast<float>(std::exp(x));
      else
        x = static_cast<float>(1.0 / x);
    }
    return std::vector<Const>{c};
  }
  if (op == "Trilu") {  // opset 14: the upper (or lower) triangle of the last two axes
    Const c = need(0);
    if (c.dims.size() < 2) fail("Trilu of a tensor of rank {}", c.dims.size());
    std::int64_t k = 0;
    if (n.input_size() > 1 && !n.input(1).empty()) {
      const auto kk = need(1).ints();
      if (kk.size() != 1) fail("Trilu: k must be one value");
      k = kk[0];
    }
    const bool upper = attr_int(n, "upper", 1) != 0;
    const std::int64_t rows = c.dims[c.dims.size() - 2], cols = c.dims.back();
    for (std::int64_t e = 0; e < c.size(); ++e) {
      const std::int64_t j = e % cols, i = (e / cols) % rows;
      if (upper ? j - i < k : j - i > k) c.v[static_cast<std::size_t>(e)] = 0;
    }
    return std::vector<Const>{c};
  }
  if (op == "Not") {
    Const c = need(0);
    c.integer = true;
    for (double& x : c.v) x = x == 0 ? 1 : 0;
    return std::vector<Const>{c};
  }
  if (op == "Split") {
    const Const& c = need(0);
    const int a = norm_axis(attr_int(n, "axis", 0), c.dims.size(), "Split");
    std::vector<std::int64_t> given;
    const bool has = n.input_size() > 1 && !n.input(1).empty();
    if (has) given = need(1).ints();
    const auto sizes = split_sizes(n, c.dims[static_cast<std::size_t>(a)], has ? &given : nullptr);
    std::vector<Const> out;
    std::int64_t start = 0;
    for (const std::int64_t size : sizes) {
      const Const starts{{1}, {static_cast<double>(start)}, true},
          ends{{1}, {static_cast<double>(start + size)}, true},
          axes{{1}, {static_cast<double>(a)}, true};
      out.push_back(slice(c, {c, starts, ends, axes}));
      start += size;
    }
    return out;
  }
  if (op == "Where") {
    const Const &c = need(0), &x = need(1), &y = need(2);
    Const out;
    out.dims = broadcast_shape(broadcast_shape(c.dims, x.dims), y.dims);
    out.integer = x.integer && y.integer;
    const auto ic = broadcast_index(out.dims, c.dims), ix = broadcast_index(out.dims, x.dims),
               iy = broadcast_index(out.dims, y.dims);
    for (std::int64_t e = 0; e < out.size(); ++e) {
      auto at = [e](const Const& t, const std::vector<std::int64_t>& i) {
        return t.v[static_cast<std::size_t>(i.empty() ? e : i[static_cast<std::size_t>(e)])];
      };
      out.v.push_back(at(c, ic) != 0 ? at(x, ix) : at(y, iy));
    }
    return std::vector<Const>{out};
  }
  if (op == "Gather") return std::vector<Const>{gather(need(0), need(1), attr_int(n, "axis", 0))};
  if (op == "Slice") {
    need(0);
    need(1);
    need(2);
    return std::vector<Const>{slice(*in[0], in)};
  }
  if (op == "Concat") {
    for (std::size_t k = 0; k < in.size(); ++k) need(k);
    return std::vector<Const>{concat(in, attr_int(n, "axis", 0))};
  }
  if (op == "Unsqueeze") {
    Const c = need(0);
    c.dims = unsqueeze_dims(c.dims, need(1).ints());
    return std::vector<Const>{c};
  }
  if (op == "Squeeze") {
    Const c = need(0);
    Shape out;
    std::vector<std::int64_t> axes;
    if (in.size() > 1 && in[1]) axes = in[1]->ints();
    for (auto& a : axes) a = norm_axis(a, c.dims.size(), "Squeeze");
    for (std::size_t k = 0; k < c.dims.size(); ++k) {
      const bool listed =
          std::find(axes.begin(), axes.end(), static_cast<std::int64_t>(k)) != axes.end();
      if (listed && c.dims[k] != 1) fail("Squeeze of axis {} of extent {}", k, c.dims[k]);
      if (!(listed || (axes.empty() && c.dims[k] == 1))) out.push_back(c.dims[k]);
    }
    c.dims = out;
    return std::vector<Const>{c};
  }
  if (op == "Reshape") return std::vector<Const>{reshape(need(0), need(1).ints())};
  if (op == "Flatten") {
    Const c = need(0);
    const int axis = norm_axis(attr_int(n, "axis", 1), c.dims.size() + 1, "Flatten");
    std::int64_t outer = 1;
    for (int k = 0; k < axis; ++k) outer *= c.dims[static_cast<std::size_t>(k)];
    c.dims = {static_cast<int>(outer), static_cast<int>(outer ? c.size() / outer : 0)};
    return std::vector<Const>{c};
  }
  if (op == "Transpose") return std::vector<Const>{transpose(need(0), attr_ints(n, "perm"))};
  if (op == "ConstantOfShape") {
    const auto shape = need(0).ints();
    Const value = scalar(0, false);
    for (const auto& a : n.attribute())
      if (a.name() == "value") value = tensor_const(a.t());
    if (value.v.size() != 1) fail("ConstantOfShape: value must hold one element");
    // A shape computed from an activation's (zeros_like(mask)) holds the batch size as a
    // multiple of the marker: every sample's values are the same, so the constant keeps one
    // sample along that axis and broadcasts over the batch where it is read.
    std::vector<std::int64_t> per_sample = shape;
    for (auto& v : per_sample)
      if (v >= batch_marker && v % batch_marker == 0) v = 1;
    Shape d = dims_of(per_sample);
    check_folded_size(d, "ConstantOfShape");
    return std::vector<Const>{
        Const{d, std::vector<double>(static_cast<std::size_t>(shape_size(d)), value.v[0]),
              value.integer}};
  }
  if (op == "Expand") {
    const Const& c = need(0);
    const Shape target = dims_of(need(1).ints());
    Const out;
    out.dims = broadcast_shape(c.dims, target);
    check_folded_size(out.dims, "Expand");
    out.integer = c.integer;
    const auto idx = broadcast_index(out.dims, c.dims);
    for (std::int64_t e = 0; e < out.size(); ++e)
      out.v.push_back(
          c.v[static_cast<std::size_t>(idx.empty() ? e : idx[static_cast<std::size_t>(e)])]);
    return std::vector<Const>{out};
  }
  if (op == "Range") {
    const double start = need(0).v.at(0), limit = need(1).v.at(0), delta = need(2).v.at(0);
    if (delta == 0) fail("Range with delta 0");
    const auto count = static_cast<std::int64_t>(std::max(0.0, std::ceil((limit - start) / delta)));
    if (count > max_folded_values) fail("Range of {} elements", count);
    Const out{{static_cast<int>(count)}, {}, need(0).integer};
    for (std::int64_t k = 0; k < count; ++k)
      out.v.push_back(start + static_cast<double>(k) * delta);
    return std::vector<Const>{out};
  }
  return std::nullopt;
}

}  // namespace lumac::nn::onnx_detail
