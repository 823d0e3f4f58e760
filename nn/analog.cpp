#include "nn/analog.hpp"

#include <cmath>
#include <mutex>

#include "circuits/homodyne_mac.hpp"
#include "core/error.hpp"
#include "core/precision.hpp"
#include "core/rng.hpp"

namespace lumac::nn {

namespace {

constexpr std::size_t num_sources = LayerNoiseModel::source_names.size();

// Counter words of the noise of one layer: c1 = layer << 32 | kind.
std::uint64_t layer_word(int layer, std::uint64_t kind) {
  return (static_cast<std::uint64_t>(layer) << 32) | kind;
}

void atomic_add(std::atomic<double>& a, double v) {
  double old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, old + v, std::memory_order_relaxed)) {
  }
}

}  // namespace

struct AnalogExecutor::LayerState {
  // Physical mode: the circuit of this layer and its noise polynomial per distinct energy.
  std::unique_ptr<HomodyneMac> mac;
  double x_scale = 1, w_scale = 1;
  std::vector<LayerNoiseModel> models;  // one, or one per output channel
  // Statistics since the last reset.
  std::atomic<double> sum_var{0}, count{0};
  std::array<std::atomic<double>, num_sources> source_var{};
};

NoiseMode parse_noise_mode(std::string_view text) {
  return parse_enum<NoiseMode>(text, "--noise");
}

std::vector<AnalogLayer> analog_layers(const Model& model) {
  if (!model.calibrated())
    fail("the model has no calibration ranges (train it with lumac train, which calibrates)");
  std::vector<AnalogLayer> out;
  for (const MatmulLayerInfo& info : model.matmul_layers()) {
    const LayerCalibration& c = model.calibration(info.matmul_index);
    AnalogLayer a;
    a.name = info.name;
    a.fan_in = info.fan_in;
    a.outputs = info.outputs;
    a.input_lo = c.input_lo;
    a.input_hi = c.input_hi;
    a.output_lo = c.output_lo;
    a.output_hi = c.output_hi;
    a.weight_lo = c.weight_lo;
    a.weight_hi = c.weight_hi;
    out.push_back(std::move(a));
  }
  return out;
}

AnalogExecutor::AnalogExecutor(NoiseMode mode, std::vector<AnalogLayer> layers,
                               const CircuitParams& circuit, NoiseSources sources,
                               std::uint64_t seed)
    : mode_(mode), layers_(std::move(layers)), seed_(seed) {
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const AnalogLayer& a = layers_[l];
    if (a.fan_in < 1 || a.outputs < 1)
      fail("layer '{}': fan-in {} and outputs {} must be >= 1", a.name, a.fan_in, a.outputs);
    if (a.repeats < 1) fail("layer '{}': repeats = {}: must be >= 1", a.name, a.repeats);
    if (a.energy.size() != 1 && a.energy.size() != static_cast<std::size_t>(a.outputs))
      fail("layer '{}': {} energies given for {} output channels", a.name, a.energy.size(),
           a.outputs);
    for (double e : a.energy)
      if (!(e > 0) || !std::isfinite(e))
        fail("layer '{}': energy per MAC = {}: must be finite and > 0", a.name, e);
    if (!(a.output_range() > 0) || !std::isfinite(a.output_range()))
      fail("layer '{}': calibrated output range [{}, {}] is empty or not finite", a.name,
           a.output_lo, a.output_hi);
    if (mode_ == NoiseMode::enob && !(a.enob > 0 && a.enob < 64))
      fail("layer '{}': ENOB = {}: must be in (0, 64)", a.name, a.enob);
    auto st = std::make_unique<LayerState>();
    if (mode_ == NoiseMode::physical) {
      CircuitParams c = circuit;
      c.system.repeats = a.repeats;
      c.system.encoding = Encoding::full_scale;
      st->mac = std::make_unique<HomodyneMac>(c, sources.without(NoiseSource::extinction));
      const double xs = std::max(std::abs(a.input_lo), std::abs(a.input_hi));
      const double ws = std::max(std::abs(a.weight_lo), std::abs(a.weight_hi));
      st->x_scale = xs > 0 ? xs : 1;
      st->w_scale = ws > 0 ? ws : 1;
      for (double e : a.energy)
        st->models.push_back(st->mac->layer_noise(static_cast<double>(a.fan_in), st->x_scale,
                                                  st->w_scale, a.output_range(), e));
    }
    state_.push_back(std::move(st));
  }
}

AnalogExecutor::~AnalogExecutor() = default;

double AnalogExecutor::photons_per_mac(std::size_t layer) const {
  const AnalogLayer& a = layers_.at(layer);
  double mean_e = 0;
  for (double e : a.energy) mean_e += e / static_cast<double>(a.energy.size());
  if (mode_ == NoiseMode::shot) return mean_e;
  if (mode_ == NoiseMode::physical)
    return state_[layer]->mac->photons_per_mac_full_scale() * mean_e;
  return 0;
}

void AnalogExecutor::noise_std(const MatmulView& v, Eigen::MatrixXf& sigma,
                               Eigen::MatrixXf* d_var) const {
  const AnalogLayer& a = layers_.at(static_cast<std::size_t>(v.layer));
  const LayerState& st = *state_[static_cast<std::size_t>(v.layer)];
  const Eigen::Index rows = v.Y.rows(), cols = v.Y.cols();
  const double d = static_cast<double>(a.fan_in);
  const double k = a.repeats;
  sigma.resize(rows, cols);
  if (d_var) d_var->resize(rows, cols);
  switch (mode_) {
    case NoiseMode::none:
      sigma.setZero();
      if (d_var) d_var->setZero();
      return;
    case NoiseMode::shot:
    case NoiseMode::weight: {
      // shot: ||w_i||^2 ||x_j||^2 / (D E K); weight (output equivalent):
      // 0.01 R_w^2 ||x_j||^2 / (E K). Outer product of a row factor and the column norms.
      const Eigen::VectorXf x2 = v.X.colwise().squaredNorm().transpose();
      const double rw = a.weight_hi - a.weight_lo;
      Eigen::VectorXf row(rows);
      const Eigen::VectorXf w2 = v.W.rowwise().squaredNorm();
      for (Eigen::Index i = 0; i < rows; ++i) {
        const double e = a.energy_of(i) * k;
        row[i] =
            static_cast<float>(mode_ == NoiseMode::shot ? w2[i] / (d * e) : 0.01 * rw * rw / e);
      }
      sigma.noalias() = row * x2.transpose();
      if (d_var) *d_var = -sigma;
      sigma = sigma.array().sqrt().matrix();
      return;
    }
    case NoiseMode::thermal: {
      const double rw = a.weight_hi - a.weight_lo, rx = a.input_hi - a.input_lo;
      for (Eigen::Index i = 0; i < rows; ++i) {
        const double var = 1e-4 * d * rw * rw * rx * rx / (a.energy_of(i) * k);
        sigma.row(i).setConstant(static_cast<float>(std::sqrt(var)));
        if (d_var) d_var->row(i).setConstant(static_cast<float>(-var));
      }
      return;
    }
    case NoiseMode::enob: {
      const double s = rms_error_for_enob(a.output_range(), a.enob) / std::sqrt(k);
      sigma.setConstant(static_cast<float>(s));
      if (d_var) d_var->setZero();
      return;
    }
    case NoiseMode::physical: {
      // var_ij = A_i + B_i s_j + C_i s4_j (c = sum v^2 u^2 approximated by s u / D, inputs and
      // weights independent): per-row coefficients times per-column sums, as outer products.
      const float ix2 = static_cast<float>(1 / (st.x_scale * st.x_scale));
      const double iw2 = 1 / (st.w_scale * st.w_scale);
      const Eigen::VectorXf s = (v.X.colwise().squaredNorm() * ix2).transpose();
      const Eigen::VectorXf s4 =
          (v.X.array().square().square().colwise().sum() * (ix2 * ix2)).transpose();
      const Eigen::VectorXf w2 = v.W.rowwise().squaredNorm();
      const Eigen::VectorXf w4 = v.W.array().square().square().rowwise().sum();
      auto coefficients = [&](auto pick, Eigen::VectorXf& A, Eigen::VectorXf& B,
                              Eigen::VectorXf& C) {
        A.resize(rows);
        B.resize(rows);
        C.resize(rows);
        for (Eigen::Index i = 0; i < rows; ++i) {
          const NoisePolynomial& p =
              pick(st.models[st.models.size() == 1 ? 0 : static_cast<std::size_t>(i)]);
          const double u = w2[i] * iw2, u4 = w4[i] * iw2 * iw2;
          A[i] = static_cast<float>(p.constant + p.u * u + p.u4 * u4);
          B[i] = static_cast<float>(p.s + p.c * u / d);
          C[i] = static_cast<float>(p.s4);
        }
      };
      thread_local Eigen::VectorXf A, B, C;
      coefficients([](const LayerNoiseModel& m) -> const NoisePolynomial& { return m.total; }, A, B,
                   C);
      sigma.noalias() = B * s.transpose();
      sigma.noalias() += C * s4.transpose();
      sigma.colwise() += A;
      sigma = sigma.array().max(0.0f).sqrt().matrix();
      if (d_var) {
        coefficients(
            [](const LayerNoiseModel& m) -> const NoisePolynomial& {
              return m.d_total_d_log_scale;
            },
            A, B, C);
        d_var->noalias() = B * s.transpose();
        d_var->noalias() += C * s4.transpose();
        d_var->colwise() += A;
      }
      return;
    }
  }
}

// The per-sample weight perturbation of a convolution layer in weight mode (outputs x fan_in).
void AnalogExecutor::weight_perturbation(const MatmulView& v, Eigen::MatrixXf& noise) const {
  const AnalogLayer& a = layers_.at(static_cast<std::size_t>(v.layer));
  const RandomStream rng(seed_, Stream::layer_noise);
  noise.resize(v.W.rows(), v.W.cols());
  const double rw = a.weight_hi - a.weight_lo;
  thread_local Eigen::VectorXf eps;
  eps.resize(v.W.cols());
  for (Eigen::Index i = 0; i < v.W.rows(); ++i) {
    const double std_e = 0.1 * rw / std::sqrt(a.energy_of(i) * a.repeats);
    rng.fill_normal(std::span<float>(eps.data(), static_cast<std::size_t>(eps.size())),
                    static_cast<std::uint64_t>(v.first_sample), layer_word(v.layer, 1),
                    static_cast<std::uint64_t>(i));
    noise.row(i) = eps.transpose() * static_cast<float>(std_e);
  }
}

// The standard normals of column j of a product (the same in forward and backward).
void AnalogExecutor::column_normals(const MatmulView& v, Eigen::Index j,
                                    Eigen::VectorXf& eps) const {
  eps.resize(v.Y.rows());
  RandomStream(seed_, Stream::layer_noise)
      .fill_normal(std::span<float>(eps.data(), static_cast<std::size_t>(eps.size())),
                   static_cast<std::uint64_t>(v.sample_of(j)), layer_word(v.layer, 0),
                   static_cast<std::uint64_t>(v.position_of(j)));
}

void AnalogExecutor::forward(MatmulView& v) const {
  if (mode_ == NoiseMode::none) return;
  const Eigen::Index rows = v.Y.rows(), cols = v.Y.cols();
  const AnalogLayer& a = layers_.at(static_cast<std::size_t>(v.layer));
  LayerState& st = *state_[static_cast<std::size_t>(v.layer)];
  thread_local Eigen::MatrixXf sigma, noise;
  thread_local Eigen::VectorXf eps;
  if (mode_ == NoiseMode::weight && v.per_position) {
    // Convolution: one weight perturbation per sample shared by all positions, exactly.
    weight_perturbation(v, noise);
    v.Y.noalias() += noise * v.X;
    // Statistics: the std of output (i, j) is std_e,i ||x_j||.
    const double rw = a.weight_hi - a.weight_lo;
    const double x2 = v.X.colwise().squaredNorm().sum();
    double sum = 0;
    for (Eigen::Index i = 0; i < rows; ++i)
      sum += 0.01 * rw * rw / (a.energy_of(i) * a.repeats) * x2;
    atomic_add(st.sum_var, sum);
    atomic_add(st.count, static_cast<double>(rows * cols));
    return;
  }
  noise_std(v, sigma, nullptr);
  for (Eigen::Index j = 0; j < cols; ++j) {
    column_normals(v, j, eps);
    v.Y.col(j).array() += sigma.col(j).array() * eps.array();
  }
  atomic_add(st.sum_var, static_cast<double>(sigma.squaredNorm()));
  atomic_add(st.count, static_cast<double>(rows * cols));
  if (mode_ == NoiseMode::physical) {
    // Per-source variance from the column and row sums (the polynomials are linear in them).
    const double d = static_cast<double>(a.fan_in);
    const double ix2 = 1 / (st.x_scale * st.x_scale), iw2 = 1 / (st.w_scale * st.w_scale);
    const double sum_s = v.X.colwise().squaredNorm().sum() * ix2;
    const double sum_s4 = v.X.array().square().square().sum() * ix2 * ix2;
    const Eigen::ArrayXd u = (v.W.rowwise().squaredNorm().cast<double>() * iw2).array();
    const Eigen::ArrayXd u4 =
        v.W.array().square().square().rowwise().sum().cast<double>() * iw2 * iw2;
    for (std::size_t src = 0; src < num_sources; ++src) {
      double total = 0;
      for (Eigen::Index i = 0; i < rows; ++i) {
        const NoisePolynomial& p =
            st.models[st.models.size() == 1 ? 0 : static_cast<std::size_t>(i)].by_source[src];
        total += (p.constant + p.u * u[i] + p.u4 * u4[i]) * static_cast<double>(cols) +
                 (p.s + p.c * u[i] / d) * sum_s + p.s4 * sum_s4;
      }
      atomic_add(st.source_var[src], total);
    }
  }
}

void AnalogExecutor::backward_noise(const MatmulView& v, MatrixMap* dx,
                                    Eigen::VectorXd* d_log_energy) const {
  const Eigen::Index rows = v.Y.rows(), cols = v.Y.cols();
  if (d_log_energy) d_log_energy->setZero(rows);
  if (mode_ == NoiseMode::none || mode_ == NoiseMode::enob)
    return;  // sigma does not depend on E or X
  const AnalogLayer& a = layers_.at(static_cast<std::size_t>(v.layer));
  const LayerState& st = *state_[static_cast<std::size_t>(v.layer)];
  const auto& dy = v.Y;  // dL/dY
  thread_local Eigen::MatrixXf sigma, d_var, noise;
  thread_local Eigen::VectorXf eps;
  if (mode_ == NoiseMode::weight && v.per_position) {
    // Y += N X with N ~ E^(-1/2): dY/d ln E_i = -N X / 2, dL/dX += N^T dL/dY.
    weight_perturbation(v, noise);
    if (d_log_energy)
      *d_log_energy = -0.5 * ((noise * v.X).cast<double>().array() * dy.cast<double>().array())
                                 .rowwise()
                                 .sum()
                                 .matrix();
    if (dx) dx->noalias() += noise.transpose() * dy;
    return;
  }
  const bool physical = mode_ == NoiseMode::physical;
  noise_std(v, sigma, physical ? &d_var : nullptr);
  // Physical: d var / d s and d var / d s4 of every row (c = s u / D).
  Eigen::VectorXf a_s, a_s4;
  if (physical && dx) {
    const double d = static_cast<double>(a.fan_in), iw2 = 1 / (st.w_scale * st.w_scale);
    a_s.resize(rows);
    a_s4.resize(rows);
    for (Eigen::Index i = 0; i < rows; ++i) {
      const NoisePolynomial& p =
          st.models[st.models.size() == 1 ? 0 : static_cast<std::size_t>(i)].total;
      const double u = v.W.row(i).squaredNorm() * iw2;
      a_s[i] = static_cast<float>(p.s + p.c * u / d);
      a_s4[i] = static_cast<float>(p.s4);
    }
  }
  const float ix2 = static_cast<float>(1 / (st.x_scale * st.x_scale));
  for (Eigen::Index j = 0; j < cols; ++j) {
    column_normals(v, j, eps);
    const Eigen::ArrayXf n = sigma.col(j).array() * eps.array();  // the noise forward added
    const Eigen::ArrayXf g = dy.col(j).array();
    if (physical) {
      // d(sigma eps)/dz = eps (d var/dz) / (2 sigma) = n (d var/dz) / (2 var).
      const Eigen::ArrayXf var = sigma.col(j).array().square();
      const Eigen::ArrayXf w = (var > 0).select(g * n / (2 * var), 0.0f);
      if (d_log_energy) *d_log_energy += (w * d_var.col(j).array()).cast<double>().matrix();
      if (dx) {
        // var = ... + A_s s + A_s4 s4, s = sum x^2 / m_x^2, s4 = sum x^4 / m_x^4.
        const float b = (w * a_s.array()).sum(), c = (w * a_s4.array()).sum();
        const auto x = v.X.col(j).array();
        dx->col(j).array() += 2 * b * ix2 * x + 4 * c * ix2 * ix2 * x.cube();
      }
    } else {
      // shot, thermal, weight: sigma ~ E^(-1/2), so dY/d ln E = -n / 2.
      if (d_log_energy) *d_log_energy -= 0.5 * (g * n).cast<double>().matrix();
      // shot and weight: sigma ~ ||x_j||, so dY_ij/dx_kj = n_ij x_kj / ||x_j||^2.
      if (dx && mode_ != NoiseMode::thermal) {
        const float x2 = v.X.col(j).squaredNorm();
        if (x2 > 0) dx->col(j) += ((g * n).sum() / x2) * v.X.col(j);
      }
    }
  }
}

std::vector<LayerNoiseReport> AnalogExecutor::report() const {
  std::vector<LayerNoiseReport> out;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerState& st = *state_[l];
    LayerNoiseReport r;
    r.name = layers_[l].name;
    r.outputs_seen = st.count.load();
    r.noise_std = r.outputs_seen > 0 ? std::sqrt(st.sum_var.load() / r.outputs_seen) : 0.0;
    r.enob = mode_ == NoiseMode::none || r.noise_std == 0
                 ? std::numeric_limits<double>::infinity()
                 : enob_bits(layers_[l].output_range(), r.noise_std);
    if (mode_ == NoiseMode::physical && r.outputs_seen > 0)
      for (std::size_t s = 0; s < num_sources; ++s)
        r.by_source.emplace_back(
            std::string(LayerNoiseModel::source_names[s]),
            std::sqrt(std::max(0.0, st.source_var[s].load() / r.outputs_seen)));
    out.push_back(std::move(r));
  }
  return out;
}

void AnalogExecutor::reset_statistics() {
  for (auto& st : state_) {
    st->sum_var = 0;
    st->count = 0;
    for (auto& s : st->source_var) s = 0;
  }
}

}  // namespace lumac::nn
