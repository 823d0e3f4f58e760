#include "lumac/core/gemm.hpp"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

#include "lumac/core/error.hpp"

#ifdef LUMAC_HAVE_OPENBLAS
#include <cblas.h>
#endif

namespace lumac {

namespace {

std::atomic<GemmKernel>& current() {
  static std::atomic<GemmKernel> k{default_gemm_kernel()};
  return k;
}

// The probes' operands: a fixed sequence of values in [-0.5, 0.5) (a linear congruential
// generator, so that a probe's verdict never depends on other random state).
class ProbeValues {
 public:
  explicit ProbeValues(std::uint32_t seed) : state_(seed) {}
  float operator()() {
    state_ = state_ * 1664525u + 1013904223u;
    return static_cast<float>(state_ >> 8) / 16777216.0f - 0.5f;
  }

 private:
  std::uint32_t state_;
};

// c = op_a(a) op_b(b) (+ c) on kernel k (defined below; gemm picks k).
void gemm_on(GemmKernel k, const GemmIn& a, GemmOp op_a, const GemmIn& b, GemmOp op_b, GemmOut c,
             bool accumulate);

#ifdef LUMAC_HAVE_OPENBLAS
// OpenBLAS runs each call on the calling thread only: lumac's own threads split the samples.
void openblas_single_threaded() {
  static std::once_flag once;
  std::call_once(once, [] { openblas_set_num_threads(1); });
}
#endif

#ifdef LUMAC_HAVE_OPENBLAS
// Whether OpenBLAS's sgemm gives a column of a product 32 columns wide (a dense layer's chunk,
// nn/dense.hpp) the same bits wherever that column sits, whatever the other columns hold.
// lumac needs it: a sample's place in its chunk depends on how the batch was cut. OpenBLAS
// 0.3.21's SkylakeX kernel has it; its Haswell kernel, which it also runs on AMD Zen, does not
// (of each 12 columns, 0-5 and 6-11 are summed in different orders). Probed once on two shapes,
// at every position: about 30 MFLOP.
bool probe_openblas_columns() {
  openblas_single_threaded();
  ProbeValues next(12345);
  constexpr int w = 32;
  for (const auto& [m, k] : {std::pair{40, 200}, std::pair{100, 64}}) {
    // b and c sit at an offset of p % 8 floats: the bits may not depend on alignment either.
    std::vector<float> a(static_cast<std::size_t>(m * k)), v(static_cast<std::size_t>(k)),
        buf_b(static_cast<std::size_t>(k * w + 8)), buf_c(static_cast<std::size_t>(m * w + 8)),
        ref(static_cast<std::size_t>(m));
    for (float& x : a) x = next();
    for (float& x : v) x = next();
    for (int p = 0; p < w; ++p) {
      float* b = buf_b.data() + p % 8;
      float* c = buf_c.data() + p % 8;
      for (int i = 0; i < k * w; ++i) b[i] = next();  // other columns: other values
      std::copy(v.begin(), v.end(), b + static_cast<std::ptrdiff_t>(p) * k);
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, m, w, k, 1.0f, a.data(), m, b, k, 0.0f,
                  c, m);
      for (int i = 0; i < m; ++i) {
        const float y = c[p * m + i];
        if (p == 0)
          ref[static_cast<std::size_t>(i)] = y;
        else if (y != ref[static_cast<std::size_t>(i)])
          return false;
      }
    }
  }
  return true;
}

bool openblas_columns_stable() {
  static const bool stable = probe_openblas_columns();
  return stable;
}

// Whether OpenBLAS's sgemm gives a product of a fixed shape the same bits wherever its
// operands and result sit (a sample's offset in its batch, a head's in its sample). Probed once
// on the shapes of lumac's per-sample products (an attention head, a token-wise layer, a
// convolution's patch matrix, odd sizes; M x K by K x N), every operand at the 16 float offsets
// within a 64-byte line.
bool probe_openblas_alignment() {
  openblas_single_threaded();
  ProbeValues next(54321);
  struct Shape {
    int m, k, n;
  };
  for (const Shape sh : {Shape{16, 16, 16}, Shape{64, 64, 16}, Shape{16, 144, 196},
                         Shape{37, 75, 29}, Shape{10, 64, 1}}) {
    const auto na = static_cast<std::size_t>(sh.m * sh.k),
               nb = static_cast<std::size_t>(sh.k * sh.n),
               nc = static_cast<std::size_t>(sh.m * sh.n);
    std::vector<float> a(na), b(nb), ref(nc), buf_a(na + 16), buf_b(nb + 16), buf_c(nc + 16);
    for (float& x : a) x = next();
    for (float& x : b) x = next();
    for (int p = 0; p < 16; ++p) {  // every float offset within 64 bytes
      float* pa = buf_a.data() + p;
      float* pb = buf_b.data() + (p * 3) % 16;
      float* pc = buf_c.data() + (p * 5) % 16;
      std::copy(a.begin(), a.end(), pa);
      std::copy(b.begin(), b.end(), pb);
      cblas_sgemm(CblasColMajor, CblasNoTrans, CblasNoTrans, sh.m, sh.n, sh.k, 1.0f, pa, sh.m, pb,
                  sh.k, 0.0f, pc, sh.m);
      if (p == 0)
        std::copy(pc, pc + nc, ref.begin());
      else if (!std::equal(pc, pc + nc, ref.begin()))
        return false;
    }
  }
  return true;
}

bool openblas_alignment_stable() {
  static const bool stable = probe_openblas_alignment();
  return stable;
}
#endif

// Whether kernel k gives A (B^T)^T, the right operand stored transposed, the bits of A B, on
// the shapes of convolutions (patch matrices by position and by receptive field, Conv2d).
bool probe_transposed_operand(GemmKernel k) {
  ProbeValues next(777);
  struct Shape {
    int m, k, n;
  };
  for (const Shape sh : {Shape{16, 144, 784}, Shape{10, 25, 576}, Shape{64, 576, 49},
                         Shape{24, 9, 100}, Shape{2, 9, 2}}) {
    Eigen::MatrixXf a(sh.m, sh.k), b(sh.k, sh.n), y1(sh.m, sh.n), y2(sh.m, sh.n);
    for (float& x : a.reshaped()) x = next();
    for (float& x : b.reshaped()) x = next();
    const Eigen::MatrixXf bt = b.transpose();
    gemm_on(k, a, GemmOp::none, b, GemmOp::none, y1, false);
    gemm_on(k, a, GemmOp::none, bt, GemmOp::transpose, y2, false);
    if ((y1.array() != y2.array()).any()) return false;
  }
  return true;
}

template <typename A, typename B>
void eigen_product(const A& a, const B& b, GemmOut& c, bool accumulate) {
  if (accumulate)
    c.noalias() += a * b;
  else
    c.noalias() = a * b;
}

}  // namespace

GemmKernel default_gemm_kernel() {
#ifdef LUMAC_HAVE_OPENBLAS
  return openblas_alignment_stable() ? GemmKernel::openblas : GemmKernel::eigen;
#else
  return GemmKernel::eigen;
#endif
}

bool gemm_kernel_alignment_invariant(GemmKernel k) {
#ifdef LUMAC_HAVE_OPENBLAS
  if (k == GemmKernel::openblas) return openblas_alignment_stable();
#endif
  return k == GemmKernel::eigen;
}

GemmKernel gemm_kernel_for(GemmColumns columns) {
  const GemmKernel k = gemm_kernel();
  const bool invariant = columns == GemmColumns::fixed ? gemm_kernel_alignment_invariant(k)
                                                       : gemm_kernel_batch_invariant(k);
  return invariant ? k : GemmKernel::eigen;
}

bool gemm_kernel_batch_invariant(GemmKernel k) {
#ifdef LUMAC_HAVE_OPENBLAS
  if (k == GemmKernel::openblas) return openblas_columns_stable();
#endif
  return k == GemmKernel::eigen;
}

bool gemm_kernel_transpose_exact(GemmKernel k) {
  if (!gemm_kernel_built(k)) return false;
  if (k == GemmKernel::openblas) {
    static const bool exact = probe_transposed_operand(GemmKernel::openblas);
    return exact;
  }
  static const bool exact = probe_transposed_operand(GemmKernel::eigen);
  return exact;
}

GemmKernel gemm_kernel() {
  return current().load(std::memory_order_relaxed);
}

bool gemm_kernel_built(GemmKernel k) {
#ifdef LUMAC_HAVE_OPENBLAS
  (void)k;
  return true;
#else
  return k == GemmKernel::eigen;
#endif
}

void set_gemm_kernel(GemmKernel k) {
  if (!gemm_kernel_built(k))
    fail(
        "the {} GEMM kernel is not built into this lumac (configure with -DLUMAC_OPENBLAS=ON "
        "and Debian's libopenblas-dev)",
        gemm_kernel_name(k));
  current().store(k, std::memory_order_relaxed);
}

const char* gemm_kernel_name(GemmKernel k) {
  return k == GemmKernel::openblas ? "openblas" : "eigen";
}

void gemm(const GemmIn& a, GemmOp op_a, const GemmIn& b, GemmOp op_b, GemmOut c, bool accumulate,
          GemmColumns columns) {
  gemm_on(gemm_kernel_for(columns), a, op_a, b, op_b, c, accumulate);
}

namespace {

void gemm_on(GemmKernel kernel, const GemmIn& a, GemmOp op_a, const GemmIn& b, GemmOp op_b,
             GemmOut c, bool accumulate) {
  const bool ta = op_a == GemmOp::transpose, tb = op_b == GemmOp::transpose;
  const Eigen::Index m = ta ? a.cols() : a.rows(), k = ta ? a.rows() : a.cols();
  const Eigen::Index kb = tb ? b.cols() : b.rows(), n = tb ? b.rows() : b.cols();
  if (k != kb || c.rows() != m || c.cols() != n)
    fail("gemm: a {}x{} by {}x{} product into {}x{}", m, k, kb, n, c.rows(), c.cols());
  if (m == 0 || n == 0) return;
#ifdef LUMAC_HAVE_OPENBLAS
  if (kernel == GemmKernel::openblas) {
    if (k == 0) {
      if (!accumulate) c.setZero();
      return;
    }
    openblas_single_threaded();
    // OpenBLAS wants a leading dimension of at least 1 even for an empty matrix.
    const auto ld = [](const auto& x) {
      return static_cast<blasint>(std::max<Eigen::Index>(1, x.outerStride()));
    };
    cblas_sgemm(CblasColMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                static_cast<blasint>(m), static_cast<blasint>(n), static_cast<blasint>(k), 1.0f,
                a.data(), ld(a), b.data(), ld(b), accumulate ? 1.0f : 0.0f, c.data(), ld(c));
    return;
  }
#else
  (void)kernel;
#endif
  // Eigen evaluates a product with rows + cols + depth < 20 coefficient by coefficient,
  // vectorised from the first aligned element, so its bits depend on where the operands sit in
  // memory (a sample's offset in its batch, a head's in its sample): such products run on
  // copies, whose storage is always aligned the same way.
  if (m + n + k < 20) {
    thread_local Eigen::MatrixXf ca, cb, cc;
    if (ta)
      ca = a.transpose();
    else
      ca = a;
    if (tb)
      cb = b.transpose();
    else
      cb = b;
    cc.noalias() = ca * cb;
    if (accumulate)
      c += cc;
    else
      c = cc;
    return;
  }
  if (!ta && !tb)
    eigen_product(a, b, c, accumulate);
  else if (ta && !tb)
    eigen_product(a.transpose(), b, c, accumulate);
  else if (!ta && tb)
    eigen_product(a, b.transpose(), c, accumulate);
  else
    eigen_product(a.transpose(), b.transpose(), c, accumulate);
}

}  // namespace

}  // namespace lumac
