#include "lumac/nn/analog.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>

#include "lumac/circuits/homodyne_mac.hpp"
#include "lumac/core/error.hpp"
#include "lumac/core/precision.hpp"
#include "lumac/core/rng.hpp"
#include "lumac/nn/dense.hpp"
#include "nn/analog_chip.hpp"

namespace lumac::nn {

namespace {

constexpr std::size_t num_sources = LayerNoiseModel::source_names.size();

// Counter words of the noise of one layer: c1 = layer << 32 | kind.
std::uint64_t layer_word(int layer, std::uint64_t kind) {
  return (static_cast<std::uint64_t>(layer) << 32) | kind;
}

// What a layer's noise has added: sums over outputs, each term one sample's (exact:
// nn/exact_sum.hpp, so the report does not depend on the thread count or the batch size).
// Accumulated per thread (one cache line each at least, so the threads do not contend) and
// summed by report().
struct alignas(64) NoiseStats {
  ExactSum sum_var, count;
  std::array<ExactSum, num_sources> source_var{};
  // Physical mode: inputs encoded and clipped, outputs clipped at the ADC span, and the chip's
  // sums (nn/analog_chip.hpp: squares of the extinction and static errors and of the phase
  // noise's fading, the phase noise's variance).
  ExactSum inputs, inputs_clipped, outputs_clipped;
  ChipStats chip;
};

void merge(NoiseStats& into, const NoiseStats& d) {
  into.sum_var += d.sum_var;
  into.count += d.count;
  for (std::size_t k = 0; k < num_sources; ++k) into.source_var[k] += d.source_var[k];
  into.inputs += d.inputs;
  into.inputs_clipped += d.inputs_clipped;
  into.outputs_clipped += d.outputs_clipped;
  into.chip.extinction_sq += d.chip.extinction_sq;
  into.chip.static_sq += d.chip.static_sq;
  into.chip.phase_var += d.chip.phase_var;
  into.chip.fading_sq += d.chip.fading_sq;
}

// Finite extinction (HomodyneMac::symbol_field): a drive v sends n (v^2 + d^2 (1 - v^2))
// photons, so the shot variance a_s s + a_u u of the polynomial (s = sum v^2, u = sum u^2)
// becomes a_s ((1 - d^2) s + d^2 N) + a_u ((1 - d^2) u + d^2 N). Shot variance scales as
// 1 / photon scale, so its derivative in ln E changes by minus the same amount.
void add_extinction_shot(LayerNoiseModel& m, double d2, double fan_in) {
  const NoisePolynomial& shot = m.by_source[0];  // source_names[0] == "shot"
  NoisePolynomial delta, minus;
  delta.constant = d2 * fan_in * (shot.s + shot.u);
  delta.s = -d2 * shot.s;
  delta.u = -d2 * shot.u;
  minus.constant = -delta.constant;
  minus.s = -delta.s;
  minus.u = -delta.u;
  m.by_source[0] += delta;
  m.total += delta;
  m.d_total_d_log_scale += minus;
}

// What the chip applies to W exactly (nn/analog_chip.hpp) leaves the polynomial: the weight
// DAC's part of the `dac` source, k (s - c) of k (s + u - 2 c) (HomodyneMac::layer_noise: the
// input DAC's error times u, k (u - c), stays a noise equivalent, the inputs changing every
// sample), and the static programming error's `weight` term. Neither scales with the photons.
void remove_exact_terms(LayerNoiseModel& m, bool weight_dac, bool static_weight) {
  NoisePolynomial delta;
  if (weight_dac) {
    NoisePolynomial& dac = m.by_source[7];  // source_names[7] == "dac"
    NoisePolynomial d;
    d.s = -dac.s;  // dac.s = k
    d.c = dac.s;   // dac.c = -2 k -> -k
    dac += d;
    delta += d;
  }
  if (static_weight) {
    NoisePolynomial& weight = m.by_source[5];  // source_names[5] == "weight"
    NoisePolynomial d;
    d.constant = -weight.constant;
    d.s = -weight.s;
    d.u = -weight.u;
    d.c = -weight.c;
    d.s4 = -weight.s4;
    d.u4 = -weight.u4;
    weight = NoisePolynomial{};
    delta += d;
  }
  m.total += delta;
}

// An index unique to the calling OS thread for the life of the process (0, 1, 2, ... in order
// of first use). Not omp_get_thread_num(): that is 0 in a nested region of one thread (a layer's
// loop inside Model::forward's loop over sample groups), so two threads running at once would
// share it; nor a combination of the enclosing teams' positions, which collides when nested
// teams differ in size (the last, smaller sample group runs its layers on one thread).
std::size_t thread_index() {
  static std::atomic<std::size_t> next{0};
  thread_local const std::size_t index = next.fetch_add(1, std::memory_order_relaxed);
  return index;
}

// Spare objects of type T of the calling thread: the weight state of a product whose weights
// change with every call (a product of two activations) is recycled rather than allocated anew
// with its vectors, which cost as much as the noise of a 16 x 16 product.
template <class T>
std::vector<std::unique_ptr<T>>& spares() {
  thread_local std::vector<std::unique_ptr<T>> pool;
  return pool;
}

}  // namespace

template <class T>
void AnalogExecutor::Recycle::operator()(T* p) const {
  if (keep && p)
    spares<T>().emplace_back(p);
  else
    delete p;
}

// Per noise source: sum over rows of (constant, s, s4) coefficients of its variance.
using SourceTerms = std::array<std::array<double, 3>, num_sources>;

SourceTerms source_terms(const std::vector<LayerNoiseModel>& models, const Eigen::VectorXd& w_scale,
                         double d, const Eigen::VectorXf& w2, const Eigen::VectorXf& w4) {
  SourceTerms out{};
  for (std::size_t src = 0; src < num_sources; ++src)
    for (Eigen::Index i = 0; i < w2.size(); ++i) {
      const NoisePolynomial& q =
          models[models.size() == 1 ? 0 : static_cast<std::size_t>(i)].by_source[src];
      const double iw2 = 1 / (w_scale[i] * w_scale[i]);
      const double u = w2[i] * iw2, u4 = w4[i] * iw2 * iw2;
      out[src][0] += q.constant + q.u * u + q.u4 * u4;
      out[src][1] += q.s + q.c * u / d;
      out[src][2] += q.s4;
    }
  return out;
}

// What a product's noise needs of the layer's weights, computed on first use and cached: the
// weights of a layer do not change while an executor runs it.
struct AnalogExecutor::WeightState {
  const float* of = nullptr;
  Eigen::VectorXf w2, w4;  // row sums of w^2 and w^4
  // Physical mode: the weight full scale m_w,i of every row (the layer's, or the row's max|W|),
  // the noise polynomial (one, or one per row: per output channel energy or per row full
  // scale), per noise source the row sums of the constant, s and s4 coefficients of its
  // variance (the statistics are linear in them), and with extinction m_x d Q (outputs x
  // fan_in; empty without), on nominal devices d^2 m_x m_w,i sqrt(1 - u_ik^2), u = W / m_w;
  // with the chip model on, what it needs of the weights.
  Eigen::VectorXd w_scale;
  std::vector<LayerNoiseModel> models;
  SourceTerms source_terms{};
  Eigen::MatrixXf extinction;
  ChipWeights chip;
  // Separable modes (all but physical): R_i of var_ij = R_i c_j (separable_rows), sqrt(R_i),
  // sum_i R_i, and whether c_j = ||x_j||^2 (shot, weight) or 1 (thermal, enob).
  Eigen::VectorXf R, root_r;
  double r_sum = 0;
  bool column_norms = false;
  const LayerNoiseModel& model(Eigen::Index i) const {
    return models[models.size() == 1 ? 0 : static_cast<std::size_t>(i)];
  }
};

struct AnalogExecutor::LayerState {
  // Physical mode: the circuit of this layer, its full scales, its noise polynomial per distinct
  // energy at the layer's weight full scale, and d^2 of the extinction (0 without).
  std::unique_ptr<HomodyneMac> mac;
  double x_scale = 1, w_scale = 1, d2 = 0;
  float offset_trim = 1;  // 1 with offset calibration: the zero-input read-out is subtracted
  std::vector<LayerNoiseModel> models;  // one, or one per output channel
  // The chip (nn/analog_chip.hpp): the tile all layers share, this layer's part, whether it
  // runs (static errors or phase noise; otherwise only the nominal extinction term) and which
  // polynomial terms it applies exactly instead.
  std::shared_ptr<const Tile> tile;
  ChipLayer chip;
  bool chip_active = false, static_errors = false, exact_dac = false, exact_static_weight = false;
  std::once_flag weights_once;
  WeightState weights;
  // Statistics since the last reset: one slot per thread (by thread_index()), so threads do not
  // contend; a thread beyond the slots adds to `overflow` under a lock. The sums are exact, so
  // they do not depend on which thread added what.
  std::vector<NoiseStats> stats = std::vector<NoiseStats>(256);
  NoiseStats overflow;
  std::mutex overflow_mutex;
  void add(const NoiseStats& d) {
    update([&](NoiseStats& into) { merge(into, d); });
  }
  // f(this thread's statistics).
  template <class F>
  void update(F&& f) {
    const std::size_t t = thread_index();
    if (t < stats.size()) {
      f(stats[t]);
      return;
    }
    const std::lock_guard<std::mutex> lock(overflow_mutex);
    f(overflow);
  }
};

// The sums a product's noise depends on: per column (input vector) and per row (weights).
struct AnalogExecutor::ProductSums {
  Eigen::VectorXf x2, x4;  // per column: sum x^2, sum x^4 (x4 in physical mode only)
  const WeightState* w = nullptr;
  const Eigen::VectorXf* w2 = nullptr;
  const Eigen::VectorXf* w4 = nullptr;
  // When the weights are not the cached ones; recycled in separable modes, where
  // fill_weight_state sets every field it has.
  std::unique_ptr<WeightState, Recycle> local;
};

std::vector<AnalogLayer> analog_layers(const Model& model) {
  if (!model.calibrated())
    fail(
        "the model has no calibration ranges (lumac train, or lumac import with its dataset, "
        "calibrates it)");
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
    a.activation_operands = info.activation_operands();
    out.push_back(std::move(a));
  }
  return out;
}

AnalogExecutor::AnalogExecutor(NoiseMode mode, std::vector<AnalogLayer> layers,
                               const CircuitParams& circuit, NoiseSources sources,
                               std::uint64_t seed)
    : mode_(mode),
      row_full_scale_(circuit.system.weight_full_scale == WeightFullScale::row),
      layers_(std::move(layers)),
      seed_(seed) {
  if (noise_mode_info(mode_).counts_repeats())
    circuit_photons_ = HomodyneMac(circuit).photons_per_mac_full_scale();
  // Physical mode: the chip all layers run on, one per noise seed unless system.device_seed
  // names one (nn/analog_chip.hpp).
  const std::uint64_t chip_seed = circuit.system.device_seed > 0
                                      ? static_cast<std::uint64_t>(circuit.system.device_seed)
                                      : seed_;
  std::shared_ptr<const Tile> tile;
  if (mode_ == NoiseMode::physical)
    tile = std::make_shared<const Tile>(draw_tile(circuit, sources, chip_seed));
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
      st->mac = std::make_unique<HomodyneMac>(c, sources);
      const double xs = std::max(std::abs(a.input_lo), std::abs(a.input_hi));
      const double ws = std::max(std::abs(a.weight_lo), std::abs(a.weight_hi));
      st->x_scale = xs > 0 ? xs : 1;
      st->w_scale = ws > 0 ? ws : 1;
      st->d2 = std::pow(st->mac->extinction_residual(), 2);
      st->offset_trim = circuit.system.offset_calibration ? 1.0f : 0.0f;
      const ReadoutRule rule = st->mac->readout_rule();
      ChipLayer& chip = st->chip;
      chip.layer = static_cast<int>(l);
      chip.outputs = static_cast<int>(a.outputs);
      chip.chip_seed = chip_seed;
      chip.fan_in = static_cast<double>(a.fan_in);
      chip.x_scale = st->x_scale;
      chip.d = st->mac->extinction_residual();
      chip.trim = st->offset_trim;
      chip.dac_bits = st->mac->dac_bits();
      chip.predistortion = circuit.modulator.predistortion;
      chip.static_weight_std = rule.static_weight ? rule.weight_noise_std : 0.0;
      const LinkBudget& link = st->mac->link();
      if (link.lo_photons_per_symbol() > 0)
        chip.photon_ratio =
            std::sqrt(link.signal_photons_per_symbol() / link.lo_photons_per_symbol());
      chip.phase_std = sources.has(NoiseSource::phase) ? circuit.system.lo_phase_noise_rad : 0.0;
      chip.repeats = a.repeats;
      st->tile = tile;
      st->chip_active = chip.active(*tile);
      st->static_errors = chip.static_errors(*tile);
      st->exact_dac = chip.dac_bits > 0;
      st->exact_static_weight = chip.static_weight_std > 0;
      for (double e : a.energy) {
        st->models.push_back(st->mac->layer_noise(static_cast<double>(a.fan_in), st->x_scale,
                                                  st->w_scale, a.output_range(), e));
        add_extinction_shot(st->models.back(), st->d2, static_cast<double>(a.fan_in));
        remove_exact_terms(st->models.back(), st->exact_dac, st->exact_static_weight);
      }
    }
    state_.push_back(std::move(st));
  }
}

AnalogExecutor::~AnalogExecutor() = default;

LayerBudget AnalogExecutor::budget(std::size_t layer) const {
  const AnalogLayer& a = layers_.at(layer);
  return layer_budget(mode_, a.repeats, a.mean_energy(), photons_per_mac(layer), circuit_photons_);
}

double AnalogExecutor::photons_per_mac(std::size_t layer) const {
  const AnalogLayer& a = layers_.at(layer);
  const double mean_e = a.mean_energy();
  if (mode_ == NoiseMode::shot_only) return mean_e;
  if (mode_ == NoiseMode::physical)
    return state_[layer]->mac->photons_per_mac_full_scale() * mean_e;
  return 0;
}

AnalogExecutor::ProductSums AnalogExecutor::sums(const MatmulView& v) const {
  LayerState& st = *state_[static_cast<std::size_t>(v.layer)];
  ProductSums p;
  if (v.patches) {
    // Convolution: box sums over the receptive fields, from the image.
    receptive_field_sums(*v.patches, p.x2, mode_ == NoiseMode::physical ? &p.x4 : nullptr);
  } else if (mode_ == NoiseMode::physical) {
    // Both sums in one pass over X (each column is read twice while in the L1 cache); the same
    // reductions as X.colwise().squaredNorm() and X^4 summed by column, bit for bit.
    const Eigen::Index cols = v.X.cols();
    p.x2.resize(cols);
    p.x4.resize(cols);
    for (Eigen::Index j = 0; j < cols; ++j) {
      const auto sq = v.X.col(j).array().square();
      p.x2[j] = sq.sum();
      p.x4[j] = sq.square().sum();
    }
  } else {
    p.x2 = v.X.colwise().squaredNorm().transpose();
  }
  const auto l = static_cast<std::size_t>(v.layer);
  // The cache holds the whole layer's weights; a grouped convolution's group (whose rows live
  // in a buffer of the caller's) gets its own.
  // A product of two activations has a new W at every call: never cached.
  const bool whole =
      v.output_offset == 0 && v.W.rows() == layers_[l].outputs && !layers_[l].activation_operands;
  if (whole) std::call_once(st.weights_once, [&] { fill_weight_state(l, v.W, 0, st.weights); });
  if (whole && st.weights.of == v.W.data() && st.weights.w2.size() == v.W.rows()) {
    p.w = &st.weights;
  } else {
    // Physical mode's weight state has more than fill_weight_state always sets: a new one.
    auto& pool = spares<WeightState>();
    const bool recycle = mode_ != NoiseMode::physical;
    if (recycle && !pool.empty()) {
      p.local = std::unique_ptr<WeightState, Recycle>(pool.back().release(), Recycle{true});
      pool.pop_back();
    } else {
      p.local = std::unique_ptr<WeightState, Recycle>(new WeightState(), Recycle{recycle});
    }
    fill_weight_state(l, v.W, v.output_offset, *p.local);
    p.w = p.local.get();
  }
  p.w2 = &p.w->w2;
  p.w4 = &p.w->w4;
  return p;
}

void AnalogExecutor::fill_weight_state(std::size_t layer, const ConstMatrixMap& W,
                                       Eigen::Index offset, WeightState& ws) const {
  const AnalogLayer& a = layers_[layer];
  const LayerState& st = *state_[layer];
  ws.of = W.data();
  ws.w2 = W.rowwise().squaredNorm();
  if (mode_ != NoiseMode::physical) {
    if (mode_ == NoiseMode::none) return;
    ws.column_norms = separable_rows(layer, ws.w2, offset, ws.R);
    ws.root_r = ws.R.cwiseSqrt();
    ws.r_sum = ws.R.cast<double>().sum();
    return;
  }
  ws.w4 = W.array().square().square().rowwise().sum().matrix();
  const double fan_in = static_cast<double>(a.fan_in);
  const Eigen::Index rows = W.rows();
  ws.w_scale.setConstant(rows, st.w_scale);
  if (row_full_scale_ && !a.activation_operands) {
    // Each row's LO at its own full scale: m_w,i = max_j |W_ij| (a zero row keeps the layer's).
    ws.models.clear();
    for (Eigen::Index i = 0; i < rows; ++i) {
      const double m = W.row(i).cwiseAbs().maxCoeff();
      if (m > 0) ws.w_scale[i] = m;
      ws.models.push_back(st.mac->layer_noise(fan_in, st.x_scale, ws.w_scale[i], a.output_range(),
                                              a.energy_of(i + offset)));
      add_extinction_shot(ws.models.back(), st.d2, fan_in);
      remove_exact_terms(ws.models.back(), st.exact_dac, st.exact_static_weight);
    }
  } else if (st.models.size() == 1) {
    ws.models = st.models;
  } else {  // one model per output: this product's rows (a group of a grouped convolution)
    ws.models.assign(st.models.begin() + offset, st.models.begin() + offset + rows);
  }
  ws.source_terms = source_terms(ws.models, ws.w_scale, fan_in, ws.w2, ws.w4);
  if (st.chip_active) {
    chip_weights(st.chip, *st.tile, W, ws.w_scale, offset, ws.chip, ws.extinction);
  } else if (st.d2 > 0) {
    const Eigen::ArrayXf iw = ws.w_scale.cwiseInverse().cast<float>().array();
    const Eigen::ArrayXf gain = (st.d2 * st.x_scale * ws.w_scale.array()).cast<float>();
    const Eigen::ArrayXXf u = W.array().colwise() * iw;
    ws.extinction = ((1 - u.square()).max(0.0f).sqrt().colwise() * gain).matrix();
  }
}

MatmulView AnalogExecutor::clip_inputs(const MatmulView& v, MatrixMap* y, double& clipped) const {
  const LayerState& st = *state_[static_cast<std::size_t>(v.layer)];
  const auto xs = static_cast<float>(st.x_scale);
  const double x_clipped = static_cast<double>((v.X.array().abs() > xs).count());
  // A product of two activations: its W is an activation too, clipped at the weight full scale
  // (the calibrated range of the second operand), as the LO modulator drives it.
  const bool dynamic = layers_[static_cast<std::size_t>(v.layer)].activation_operands;
  const auto ws = static_cast<float>(st.w_scale);
  const double w_clipped = dynamic ? static_cast<double>((v.W.array().abs() > ws).count()) : 0.0;
  clipped = x_clipped + w_clipped;
  if (clipped == 0) return v;
  thread_local Eigen::MatrixXf xc, wc;
  thread_local std::vector<float> image;
  thread_local PatchSource patches;
  xc = v.X.cwiseMax(-xs).cwiseMin(xs);
  if (y && x_clipped > 0) {
    // Y += W (X_clipped - X), column by column over the clipped inputs only.
    for (Eigen::Index j = 0; j < v.X.cols(); ++j)
      for (Eigen::Index k = 0; k < v.X.rows(); ++k)
        if (std::abs(v.X(k, j)) > xs) y->col(j) += v.W.col(k) * (xc(k, j) - v.X(k, j));
  }
  ConstMatrixMap w_used = v.W;
  if (w_clipped > 0) {
    wc = v.W.cwiseMax(-ws).cwiseMin(ws);
    if (y) {
      // Y += (W_clipped - W) X_clipped.
      thread_local Eigen::MatrixXf dw;
      dw = wc - v.W;
      y->noalias() += dw * xc;
    }
    new (&w_used) ConstMatrixMap(wc.data(), wc.rows(), wc.cols());
  }
  if (v.patches) {
    // The columns of X are receptive fields of the image (and zeros of the padding): clipping
    // the image clips them all.
    patches = *v.patches;
    const std::size_t n = static_cast<std::size_t>(patches.channels) *
                          static_cast<std::size_t>(patches.height) *
                          static_cast<std::size_t>(patches.width);
    image.assign(patches.image, patches.image + n);
    for (float& x : image) x = std::clamp(x, -xs, xs);
    patches.image = image.data();
  }
  return MatmulView{.layer = v.layer,
                    .first_sample = v.first_sample,
                    .per_position = v.per_position,
                    .W = w_used,
                    .X = ConstMatrixMap(xc.data(), xc.rows(), xc.cols()),
                    .Y = v.Y,
                    .patches = v.patches ? &patches : nullptr,
                    .output_offset = v.output_offset,
                    .first_position = v.first_position,
                    .dW = v.dW};
}

// Physical mode: var_ij = A_i + B_i s_j + C_i s4_j, with s = sum x^2 / m_x^2,
// s4 = sum x^4 / m_x^4, and per-row coefficients of the polynomial `pick` selects (the total
// variance or its derivative in ln E; c = sum v^2 u^2 approximated by s u / D, inputs and
// weights independent).
void AnalogExecutor::physical_coefficients(std::size_t layer, const ProductSums& p, bool derivative,
                                           Eigen::VectorXf& A, Eigen::VectorXf& B,
                                           Eigen::VectorXf& C) const {
  const AnalogLayer& a = layers_[layer];
  const double d = static_cast<double>(a.fan_in);
  const Eigen::Index rows = p.w2->size();
  A.resize(rows);
  B.resize(rows);
  C.resize(rows);
  for (Eigen::Index i = 0; i < rows; ++i) {
    const LayerNoiseModel& m = p.w->model(i);
    const NoisePolynomial& q = derivative ? m.d_total_d_log_scale : m.total;
    const double iw2 = 1 / (p.w->w_scale[i] * p.w->w_scale[i]);
    const double u = (*p.w2)[i] * iw2, u4 = (*p.w4)[i] * iw2 * iw2;
    A[i] = static_cast<float>(q.constant + q.u * u + q.u4 * u4);
    B[i] = static_cast<float>(q.s + q.c * u / d);
    C[i] = static_cast<float>(q.s4);
  }
}

// shot: R_i = ||w_i||^2 / (D E K), c_j = ||x_j||^2; weight (output equivalent):
// R_i = 0.01 R_w^2 / (E K), c_j = ||x_j||^2; thermal: R_i = 1e-4 D R_w^2 R_x^2 / (E K), c_j = 1;
// enob: R_i = (R / (sqrt(12) 2^ENOB))^2 / K, c_j = 1.
bool AnalogExecutor::separable_rows(std::size_t layer, const Eigen::VectorXf& w2,
                                    Eigen::Index offset, Eigen::VectorXf& R) const {
  const AnalogLayer& a = layers_.at(layer);
  const double d = static_cast<double>(a.fan_in), k = a.repeats;
  const double rw = a.weight_hi - a.weight_lo, rx = a.input_hi - a.input_lo;
  R.resize(w2.size());  // the rows of this product
  const bool uniform = a.energy.size() == 1;
  // e_i = E_i K; the loops below are the same arithmetic for every row, so they vectorise.
  const auto e = [&](Eigen::Index i) { return a.energy_of(i + offset) * k; };
  switch (mode_) {
    case NoiseMode::shot_only:
      if (uniform) {
        const double de = d * e(0);
        for (Eigen::Index i = 0; i < R.size(); ++i)
          R[i] = static_cast<float>(static_cast<double>(w2[i]) / de);
      } else {
        for (Eigen::Index i = 0; i < R.size(); ++i)
          R[i] = static_cast<float>(static_cast<double>(w2[i]) / (d * e(i)));
      }
      return true;
    case NoiseMode::weight_only:
      for (Eigen::Index i = 0; i < R.size(); ++i) R[i] = static_cast<float>(0.01 * rw * rw / e(i));
      return true;
    case NoiseMode::thermal_only:
      for (Eigen::Index i = 0; i < R.size(); ++i)
        R[i] = static_cast<float>(1e-4 * d * rw * rw * rx * rx / e(i));
      return false;
    case NoiseMode::enob: {
      const double enob_std = rms_error_for_enob(a.output_range(), a.enob);
      R.setConstant(static_cast<float>(enob_std * enob_std / k));
      return false;
    }
    default:
      fail("analog execution: noise mode {} has no separable variance", enum_name(mode_));
  }
}

void AnalogExecutor::variance(const MatmulView& v, const ProductSums& p, Eigen::MatrixXf& var,
                              Eigen::MatrixXf* d_var) const {
  const auto l = static_cast<std::size_t>(v.layer);
  const LayerState& st = *state_[l];
  const Eigen::Index rows = v.Y.rows(), cols = v.Y.cols();
  switch (mode_) {
    case NoiseMode::none:
      var.setZero(rows, cols);
      if (d_var) d_var->setZero(rows, cols);
      return;
    case NoiseMode::shot_only:
    case NoiseMode::weight_only:
    case NoiseMode::thermal_only:
    case NoiseMode::enob: {
      const Eigen::VectorXf& row = p.w->R;
      if (p.w->column_norms)
        var.noalias() = row * p.x2.transpose();
      else
        var = row.replicate(1, cols);
      if (d_var) {
        if (mode_ == NoiseMode::enob)
          d_var->setZero(rows, cols);  // no dependence on E
        else
          *d_var = -var;  // var ~ 1/E
      }
      return;
    }
    case NoiseMode::physical: {
      const float ix2 = static_cast<float>(1 / (st.x_scale * st.x_scale));
      thread_local Eigen::VectorXf A, B, C;
      physical_coefficients(l, p, false, A, B, C);
      var.noalias() = B * (p.x2.transpose() * ix2);
      var.noalias() += C * (p.x4.transpose() * (ix2 * ix2));
      var.colwise() += A;
      var = var.cwiseMax(0.0f);
      if (d_var) {
        physical_coefficients(l, p, true, A, B, C);
        d_var->noalias() = B * (p.x2.transpose() * ix2);
        d_var->noalias() += C * (p.x4.transpose() * (ix2 * ix2));
        d_var->colwise() += A;
      }
      return;
    }
  }
}

void AnalogExecutor::noise_std(const MatmulView& v, Eigen::MatrixXf& sigma,
                               Eigen::MatrixXf* d_var) const {
  if (mode_ == NoiseMode::physical) {
    double clipped = 0;
    const MatmulView vc = clip_inputs(v, nullptr, clipped);
    variance(vc, sums(vc), sigma, d_var);
    sigma = sigma.cwiseSqrt();
    return;
  }
  variance(v, sums(v), sigma, d_var);
  sigma = sigma.cwiseSqrt();
}

// The per-sample weight perturbation of a convolution layer in weight mode (outputs x fan_in).
void AnalogExecutor::weight_perturbation(const MatmulView& v, Eigen::MatrixXf& noise) const {
  const AnalogLayer& a = layers_.at(static_cast<std::size_t>(v.layer));
  const RandomStream rng(seed_, Stream::layer_noise);
  noise.resize(v.W.rows(), v.W.cols());
  // One sequence for the whole matrix (column-major, all the layer's outputs), scaled per row;
  // a group's rows are its outputs' entries of every column.
  const NoiseSequence seq(rng, static_cast<std::uint64_t>(v.first_sample), layer_word(v.layer, 1),
                          0);
  const auto all = static_cast<Eigen::Index>(a.outputs);
  if (v.output_offset == 0 && v.W.rows() == all) {
    seq.fill(std::span<float>(noise.data(), static_cast<std::size_t>(noise.size())));
  } else {
    for (Eigen::Index k = 0; k < noise.cols(); ++k)
      seq.fill(std::span<float>(noise.col(k).data(), static_cast<std::size_t>(noise.rows())),
               static_cast<std::uint64_t>(k * all + v.output_offset));
  }
  const double rw = a.weight_hi - a.weight_lo;
  for (Eigen::Index i = 0; i < v.W.rows(); ++i)
    noise.row(i) *=
        static_cast<float>(0.1 * rw / std::sqrt(a.energy_of(i + v.output_offset) * a.repeats));
}

// The standard normals of a product (the same in forward and backward): one fill per column
// (one sample) for dense layers, one fill of the whole image's outputs for convolutions, so
// they depend on (sample, layer) only.
void AnalogExecutor::normals(const MatmulView& v, Eigen::MatrixXf& eps) const {
  const RandomStream rng(seed_, Stream::layer_noise);
  eps.resize(v.Y.rows(), v.Y.cols());
  if (v.per_position) {
    // Element e of the image's sequence is output e % outputs at position e / outputs; a
    // group's rows are a slice of each position's outputs.
    const NoiseSequence seq(rng, static_cast<std::uint64_t>(v.first_sample), layer_word(v.layer, 0),
                            0);
    const auto all = static_cast<Eigen::Index>(layers_[static_cast<std::size_t>(v.layer)].outputs);
    const Eigen::Index p0 = v.first_position;
    if (v.output_offset == 0 && eps.rows() == all) {
      seq.fill(std::span<float>(eps.data(), static_cast<std::size_t>(eps.size())),
               static_cast<std::uint64_t>(p0 * all));
    } else {
      for (Eigen::Index j = 0; j < eps.cols(); ++j)
        seq.fill(std::span<float>(eps.col(j).data(), static_cast<std::size_t>(eps.rows())),
                 static_cast<std::uint64_t>((p0 + j) * all + v.output_offset));
    }
    return;
  }
  for (Eigen::Index j = 0; j < eps.cols(); ++j)
    NoiseSequence(rng, static_cast<std::uint64_t>(v.sample_of(j)), layer_word(v.layer, 0), 0)
        .fill(std::span<float>(eps.col(j).data(), static_cast<std::size_t>(eps.rows())));
}

void AnalogExecutor::add_noise(MatmulView& v, const ProductSums& p,
                               std::vector<double>& column_var) const {
  const auto l = static_cast<std::size_t>(v.layer);
  const LayerState& st = *state_[l];
  const Eigen::Index rows = v.Y.rows(), cols = v.Y.cols();
  const bool physical = mode_ == NoiseMode::physical;
  // var_ij = R_i c_j (shot, weight: c = ||x_j||^2; thermal, enob: c = 1), or in physical mode
  // max(0, B_i s_j + C_i s4_j + A_i): the variances of variance(), up to rounding (the noise std
  // is sqrt(R_i) sqrt(c_j) here, sqrt(R_i c_j) there; the compiler may fuse the physical
  // polynomial differently), so that backward_noise's regenerated noise differs from the added
  // noise by a few units in the last place at most.
  thread_local Eigen::VectorXf A, B, C;
  float ix2 = 0;
  if (physical) {
    physical_coefficients(l, p, false, A, B, C);
    ix2 = static_cast<float>(1 / (st.x_scale * st.x_scale));
  }
  // Per-column factors: s_j, s4_j (physical) or c_j (separable modes: ||x_j||^2 or 1).
  thread_local Eigen::VectorXf s, s4;
  if (physical) {
    s = p.x2 * ix2;
    s4 = p.x4 * (ix2 * ix2);
  } else if (!p.w->column_norms) {
    s.setOnes(cols);
  }
  const float* c = physical || !p.w->column_norms ? s.data() : p.x2.data();
  // Blocks of whole columns whose normals (about 8 KB) stay in the first-level cache with
  // their outputs.
  const Eigen::Index per_block = std::max<Eigen::Index>(1, 2048 / rows);
  thread_local std::vector<float> zbuf;
  thread_local Eigen::VectorXf column;  // one column's variances (physical)
  if (physical) column.resize(rows);
  const float* root_r = physical ? nullptr : p.w->root_r.data();
  column_var.resize(static_cast<std::size_t>(cols));
  const RandomStream rng(seed_, Stream::layer_noise);
  // Convolution: one sequence for the whole image, element e is output (e % rows, e / rows).
  // Dense: one sequence per column (sample), drawn in whole 16-normal chunks straight into a
  // column of stride `ld` (the chunks' tail lands in the padding and is not used).
  std::optional<NoiseSequence> image;
  const auto all_rows = static_cast<Eigen::Index>(layers_[l].outputs);
  const bool grouped = v.output_offset != 0 || rows != all_rows;
  if (v.per_position)
    image.emplace(rng, static_cast<std::uint64_t>(v.first_sample), layer_word(v.layer, 0), 0);
  constexpr auto chunk = static_cast<Eigen::Index>(NoiseSequence::chunk);
  const Eigen::Index ld = image ? rows : (rows + chunk - 1) / chunk * chunk;
  zbuf.resize(static_cast<std::size_t>(ld * per_block));
  for (Eigen::Index j0 = 0; j0 < cols; j0 += per_block) {
    const Eigen::Index nb = std::min(per_block, cols - j0);
    if (image && !grouped) {
      image->fill(std::span<float>(zbuf.data(), static_cast<std::size_t>(rows * nb)),
                  static_cast<std::uint64_t>((v.first_position + j0) * rows));
    } else if (image) {
      // A group of a grouped convolution: its outputs' normals at every position.
      for (Eigen::Index j = 0; j < nb; ++j)
        image->fill(
            std::span<float>(zbuf.data() + j * rows, static_cast<std::size_t>(rows)),
            static_cast<std::uint64_t>((v.first_position + j0 + j) * all_rows + v.output_offset));
    } else {
      for (Eigen::Index j = 0; j < nb; ++j) {
        NoiseSequence(rng, static_cast<std::uint64_t>(v.sample_of(j0 + j)), layer_word(v.layer, 0),
                      0)
            .chunks(0, static_cast<std::uint64_t>(ld / chunk), zbuf.data() + j * ld);
      }
    }
    // One pass over the block: each output's variance, sqrt(var) z added to it.
    for (Eigen::Index j = 0; j < nb; ++j) {
      float* y = v.Y.col(j0 + j).data();
      const float* z = zbuf.data() + j * ld;
      if (physical) {
        // (B_i s_j + C_i s4_j) + A_i, clipped at 0.
        const float sj = c[j0 + j], s4j = s4[j0 + j];
        for (Eigen::Index i = 0; i < rows; ++i) {
          const float var = std::max(B[i] * sj + C[i] * s4j + A[i], 0.0f);
          y[i] += std::sqrt(var) * z[i];
          column[i] = var;
        }
        // This column's sum of variances (Eigen's sum: a fixed order for a given length).
        column_var[static_cast<std::size_t>(j0 + j)] = static_cast<double>(column.sum());
      } else {
        // var_ij = R_i c_j, so sigma_ij = sqrt(R_i) sqrt(c_j).
        const float root_c = std::sqrt(c[j0 + j]);
        for (Eigen::Index i = 0; i < rows; ++i) y[i] += root_r[i] * root_c * z[i];
      }
    }
  }
  if (!physical) {  // sum_i R_i c_j
    for (Eigen::Index j = 0; j < cols; ++j)
      column_var[static_cast<std::size_t>(j)] = p.w->r_sum * static_cast<double>(c[j]);
  }
}

void AnalogExecutor::check_whole_layer(const MatmulView& v) const {
  const AnalogLayer& a = layers_.at(static_cast<std::size_t>(v.layer));
  const bool whole = v.output_offset == 0 && v.W.rows() == a.outputs;
  if (!whole &&
      (!v.per_position || v.output_offset < 0 || v.output_offset + v.W.rows() > a.outputs))
    fail("layer '{}': a product of its outputs {} to {} of {}", a.name, v.output_offset,
         v.output_offset + v.W.rows(), a.outputs);
}

void AnalogExecutor::forward(MatmulView& v) const {
  if (mode_ != NoiseMode::none) check_whole_layer(v);
  if (mode_ == NoiseMode::physical) {
    physical_forward(v);
    return;
  }
  if (mode_ == NoiseMode::none) return;
  const Eigen::Index rows = v.Y.rows(), cols = v.Y.cols();
  const auto l = static_cast<std::size_t>(v.layer);
  LayerState& st = *state_[l];
  const ProductSums p = sums(v);
  thread_local std::vector<double> column_var;
  if (mode_ == NoiseMode::weight_only && v.per_position &&
      !layers_[static_cast<std::size_t>(v.layer)].activation_operands) {
    // Convolution: one weight perturbation per sample shared by all positions, exactly.
    thread_local Eigen::MatrixXf var, eps;
    weight_perturbation(v, eps);
    v.Y.noalias() += eps * v.X;
    // Statistics: the variance of output (i, j) is std_e,i^2 ||x_j||^2.
    variance(v, p, var, nullptr);
    column_var.resize(static_cast<std::size_t>(cols));
    for (Eigen::Index j = 0; j < cols; ++j)
      column_var[static_cast<std::size_t>(j)] = static_cast<double>(var.col(j).sum());
  } else {
    add_noise(v, p, column_var);
  }
  // Straight into this thread's statistics (the sums are exact: the same as adding a
  // NoiseStats of this call's, without building and merging one per product).
  st.update([&](NoiseStats& stats) {
    {
      SampleSums sum_var(stats.sum_var, v.per_position);
      for (double c : column_var) sum_var.add(c);
    }
    stats.count.add(static_cast<double>(rows * cols));
  });
}

void AnalogExecutor::physical_mean(const MatmulView& vc, const ProductSums& p, MatrixMap y,
                                   ChipStats* stats) const {
  const LayerState& st = *state_[static_cast<std::size_t>(vc.layer)];
  if (st.chip_active) {
    apply_chip(st.chip, *st.tile, p.w->chip, p.w->extinction, vc, p.x2, seed_, y, stats);
    return;
  }
  if (p.w->extinction.size() == 0) return;
  // The extinction error: d^2 m_x m_w,i sum_k sqrt(1 - u_ik^2) sqrt(1 - v_kj^2), exactly.
  thread_local Eigen::MatrixXf root_v, err;
  // With offset calibration the zero-input read-out (v = 0) is subtracted: sqrt(1 - v^2) - 1.
  extinction_root(vc.X, st.x_scale, st.offset_trim, root_v);
  product_of_view(vc, p.w->extinction, root_v, err);
  if (stats) {
    SampleSums extinction_sq(stats->extinction_sq, vc.per_position);
    for (Eigen::Index j = 0; j < err.cols(); ++j)
      extinction_sq.add(static_cast<double>(err.col(j).squaredNorm()));
  }
  y += err;
}

void AnalogExecutor::physical_forward(MatmulView& v) const {
  const Eigen::Index rows = v.Y.rows(), cols = v.Y.cols();
  const auto l = static_cast<std::size_t>(v.layer);
  const AnalogLayer& a = layers_.at(l);
  LayerState& st = *state_[l];
  NoiseStats stats;
  // Inputs clipped at the full scale (the product corrected for them), as encode() drives.
  double inputs_clipped = 0;
  const MatmulView vc = clip_inputs(v, &v.Y, inputs_clipped);
  stats.inputs_clipped.add(inputs_clipped);
  stats.inputs.add(static_cast<double>(v.X.size()) +
                   (a.activation_operands ? static_cast<double>(v.W.size()) : 0.0));
  const ProductSums p = sums(vc);
  physical_mean(vc, p, v.Y, &stats.chip);
  thread_local std::vector<double> column_var;
  add_noise(v, p, column_var);
  {
    SampleSums sum_var(stats.sum_var, v.per_position);
    for (double c : column_var) sum_var.add(c);
  }
  stats.count.add(static_cast<double>(rows * cols));
  // The ADC span: range_scale R wide, centred on the calibrated output range.
  const double centre = (a.output_lo + a.output_hi) / 2;
  const double half = st.mac->params().adc.range_scale * a.output_range() / 2;
  const auto lo = static_cast<float>(centre - half), hi = static_cast<float>(centre + half);
  std::int64_t out_clipped = 0;
  for (Eigen::Index j = 0; j < cols; ++j) {
    float* y = v.Y.col(j).data();
    for (Eigen::Index i = 0; i < rows; ++i) {
      if (y[i] < lo || y[i] > hi) ++out_clipped;
      y[i] = std::clamp(y[i], lo, hi);
    }
  }
  stats.outputs_clipped.add(static_cast<double>(out_clipped));
  // Per-source variance of each column from its sums and the row sums (the polynomials are
  // linear in them).
  const double ix2 = 1 / (st.x_scale * st.x_scale);
  const SourceTerms& terms = p.w->source_terms;
  for (std::size_t src = 0; src < num_sources; ++src) {
    SampleSums source_var(stats.source_var[src], v.per_position);
    for (Eigen::Index j = 0; j < cols; ++j)
      source_var.add(terms[src][0] + terms[src][1] * (p.x2[j] * ix2) +
                     terms[src][2] * (p.x4[j] * ix2 * ix2));
  }
  st.add(stats);
}

void AnalogExecutor::backward_noise(const MatmulView& v, MatrixMap* dx,
                                    Eigen::VectorXd* d_log_energy) const {
  if (mode_ != NoiseMode::none) check_whole_layer(v);
  const Eigen::Index rows = v.Y.rows();
  if (d_log_energy) d_log_energy->setZero(rows);
  if (mode_ == NoiseMode::none || mode_ == NoiseMode::enob) return;  // no E or X dependence
  if (mode_ == NoiseMode::physical) {
    physical_backward(v, dx, d_log_energy);
    return;
  }
  const auto& dy = v.Y;  // dL/dY
  thread_local Eigen::MatrixXf var, eps, n;
  const ProductSums p = sums(v);
  if (mode_ == NoiseMode::weight_only && v.per_position &&
      !layers_[static_cast<std::size_t>(v.layer)].activation_operands) {
    // Y += N X with N ~ E^(-1/2): dY/d ln E_i = -N X / 2, dL/dX += N^T dL/dY.
    weight_perturbation(v, eps);
    if (d_log_energy) {
      n.noalias() = eps * v.X;
      *d_log_energy = -0.5 * n.cwiseProduct(dy).rowwise().sum().cast<double>();
    }
    if (dx) dx->noalias() += eps.transpose() * dy;
    return;
  }
  variance(v, p, var, nullptr);
  normals(v, eps);
  n = var.cwiseSqrt().cwiseProduct(eps);  // the noise forward added
  // shot, thermal, weight: sigma ~ E^(-1/2), so dY/d ln E = -n / 2.
  if (d_log_energy) *d_log_energy = -0.5 * n.cwiseProduct(dy).rowwise().sum().cast<double>();
  // shot and weight: sigma ~ ||x_j||, so dY_ij/dx_kj = n_ij x_kj / ||x_j||^2.
  if (dx && mode_ != NoiseMode::thermal_only) {
    const Eigen::RowVectorXf g = n.cwiseProduct(dy).colwise().sum();
    const Eigen::RowVectorXf scale =
        (p.x2.transpose().array() > 0).select(g.array() / p.x2.transpose().array(), 0.0f);
    dx->array() += v.X.array().rowwise() * scale.array();
  }
  // A product of two activations, shot noise: sigma ~ ||w_i|| too, so
  // dY_ij/dw_ik = n_ij w_ik / ||w_i||^2. (Weight noise has the calibrated range of W, not W.)
  if (v.dW && mode_ == NoiseMode::shot_only) {
    const Eigen::VectorXf g = n.cwiseProduct(dy).rowwise().sum();
    const Eigen::VectorXf scale = (p.w2->array() > 0).select(g.array() / p.w2->array(), 0.0f);
    v.dW->array() += v.W.array().colwise() * scale.array();
  }
}

void AnalogExecutor::physical_backward(const MatmulView& v, MatrixMap* dx,
                                       Eigen::VectorXd* d_log_energy) const {
  const auto l = static_cast<std::size_t>(v.layer);
  const LayerState& st = *state_[l];
  thread_local Eigen::MatrixXf var, d_var, eps, n, w, y, dy;
  double clipped = 0;
  const MatmulView vc = clip_inputs(v, nullptr, clipped);
  const ProductSums p = sums(vc);
  variance(vc, p, var, &d_var);
  normals(vc, eps);
  n = var.cwiseSqrt().cwiseProduct(eps);  // the noise forward added
  const auto ix = static_cast<float>(1 / st.x_scale);
  const bool extinction = p.w->extinction.size() > 0;
  // The forward's output before the ADC clip (recomputed by the same physical_mean, so equal up
  // to the rounding of the product): dL/dY is 0 where the ADC clipped it.
  product_of_view(vc, vc.W, vc.X, y);
  physical_mean(vc, p, MatrixMap(y.data(), y.rows(), y.cols()), nullptr);
  y += n;
  const AnalogLayer& a = layers_[l];
  const double centre = (a.output_lo + a.output_hi) / 2;
  const double half = st.mac->params().adc.range_scale * a.output_range() / 2;
  const auto lo = static_cast<float>(centre - half), hi = static_cast<float>(centre + half);
  dy = (y.array() < lo || y.array() > hi).select(0.0f, v.Y.array()).matrix();
  if (dx) {
    // The layer's dL/dX = W^T dL/dY used the unclipped dL/dY: take back the clipped outputs.
    for (Eigen::Index j = 0; j < dy.cols(); ++j)
      for (Eigen::Index i = 0; i < dy.rows(); ++i)
        if (dy(i, j) != v.Y(i, j)) dx->col(j) -= v.W.row(i).transpose() * v.Y(i, j);
    // A product of two activations whose W was clipped: the forward used the clipped W.
    if (vc.W.data() != v.W.data()) dx->noalias() += (vc.W - v.W).transpose() * dy;
  }
  if (v.dW) {
    // A product of two activations: the same for its dL/dW = dL/dY X^T, and no gradient through
    // the clip of W at the weight full scale. (The dependence on W of the noise, through the row
    // sums of the noise polynomial, and of the extinction and chip terms is left out.)
    for (Eigen::Index j = 0; j < dy.cols(); ++j)
      for (Eigen::Index i = 0; i < dy.rows(); ++i)
        if (dy(i, j) != v.Y(i, j)) v.dW->row(i) -= v.Y(i, j) * v.X.col(j).transpose();
    // The forward multiplied the clipped X: dL/dW = dy X_clipped^T.
    if (vc.X.data() != v.X.data()) v.dW->noalias() += dy * (vc.X - v.X).transpose();
    const auto ws = static_cast<float>(st.w_scale);
    v.dW->array() = (v.W.array().abs() > ws).select(0.0f, v.dW->array());
  }
  // d(sigma eps)/dz = eps (d var/dz) / (2 sigma) = n (d var/dz) / (2 var).
  w = (var.array() > 0).select(dy.array() * n.array() / (2 * var.array()), 0.0f);
  if (d_log_energy) *d_log_energy = w.cwiseProduct(d_var).rowwise().sum().cast<double>();
  if (!dx) return;
  // var = A + B s + C s4, s = sum x^2 / m_x^2, s4 = sum x^4 / m_x^4 (of the clipped inputs).
  thread_local Eigen::VectorXf A, B, C;
  physical_coefficients(l, p, false, A, B, C);
  const float ix2 = ix * ix;
  const Eigen::RowVectorXf b = B.transpose() * w * (2 * ix2);
  const Eigen::RowVectorXf c = C.transpose() * w * (4 * ix2 * ix2);
  dx->array() += vc.X.array().rowwise() * b.array() + vc.X.array().cube().rowwise() * c.array();
  if (extinction) {
    // d/dx of sqrt(1 - v^2), v = x / m_x: -v / (m_x sqrt(1 - v^2)); 0 at |v| = 1. (On input
    // modulators with errors, cos theta_x is differentiated as on nominal ones.)
    thread_local Eigen::MatrixXf g;
    product_in_blocks(p.w->extinction.transpose(), dy, g);
    const Eigen::ArrayXXf vv = vc.X.array() * ix;
    const Eigen::ArrayXXf root = (1 - vv.square()).max(0.0f).sqrt();
    dx->array() += (root > 0).select(-g.array() * vv * ix / root, 0.0f);
  }
  // Clipped inputs do not reach the product: zero gradient through the clip.
  if (clipped > 0) {
    const auto xs = static_cast<float>(st.x_scale);
    dx->array() = (v.X.array().abs() > xs).select(0.0f, dx->array());
  }
}

std::vector<LayerNoiseReport> AnalogExecutor::report() const {
  std::vector<LayerNoiseReport> out;
  for (std::size_t l = 0; l < layers_.size(); ++l) {
    const LayerState& st = *state_[l];
    LayerNoiseReport r;
    r.name = layers_[l].name;
    NoiseStats sums;
    for (const NoiseStats& t : st.stats) merge(sums, t);
    merge(sums, st.overflow);
    r.outputs_seen = sums.count.value();
    const double phase_var = sums.chip.phase_var.value();
    // The phase noise is noise too: part of noise_std (not of noise_std()'s sigma).
    const double sum_var = sums.sum_var.value() + phase_var;
    r.noise_std = r.outputs_seen > 0 ? std::sqrt(sum_var / r.outputs_seen) : 0.0;
    r.enob = mode_ == NoiseMode::none || r.noise_std == 0
                 ? std::numeric_limits<double>::infinity()
                 : enob_bits(layers_[l].output_range(), r.noise_std);
    if (mode_ == NoiseMode::physical && r.outputs_seen > 0) {
      const double count = r.outputs_seen;
      for (std::size_t s = 0; s < num_sources; ++s)
        r.by_source.emplace_back(std::string(LayerNoiseModel::source_names[s]),
                                 std::sqrt(std::max(0.0, sums.source_var[s].value() / count)));
      if (st.d2 > 0)
        r.by_source.emplace_back("extinction", std::sqrt(sums.chip.extinction_sq.value() / count));
      if (st.static_errors)
        r.by_source.emplace_back("static", std::sqrt(sums.chip.static_sq.value() / count));
      if (st.chip.phase_std > 0) {
        r.by_source.emplace_back("phase_noise", std::sqrt(phase_var / count));
        r.by_source.emplace_back("phase_fading", std::sqrt(sums.chip.fading_sq.value() / count));
      }
      r.output_clipped_fraction = sums.outputs_clipped.value() / count;
    }
    r.inputs_seen = sums.inputs.value();
    r.input_clipped_fraction =
        r.inputs_seen > 0 ? sums.inputs_clipped.value() / r.inputs_seen : 0.0;
    out.push_back(std::move(r));
  }
  return out;
}

void AnalogExecutor::reset_statistics() {
  for (auto& st : state_) {
    for (NoiseStats& t : st->stats) t = NoiseStats{};
    st->overflow = NoiseStats{};
  }
}

}  // namespace lumac::nn
