// The GEMM kernels behind lumac's products (core/gemm.hpp): every built kernel against a
// double-precision product, for every transpose combination, blocks with an outer stride and
// accumulation; bitwise repeatable; shape errors and the kernel switch.
#include "lumac/core/gemm.hpp"

#include <cstring>
#include <tuple>
#include <vector>

#include "lumac/core/error.hpp"
#include "tests/support.hpp"

using namespace lumac;

namespace {

std::vector<GemmKernel> built_kernels() {
  std::vector<GemmKernel> out;
  for (auto k : {GemmKernel::eigen, GemmKernel::openblas})
    if (gemm_kernel_built(k)) out.push_back(k);
  return out;
}

// Restores the kernel in use when a test case ends, whatever happens in it.
struct KernelGuard {
  GemmKernel before = gemm_kernel();
  ~KernelGuard() { set_gemm_kernel(before); }
};

}  // namespace

TEST_CASE("gemm: every kernel agrees with a double-precision product within float rounding") {
  KernelGuard guard;
  Eigen::MatrixXf big_a = Eigen::MatrixXf::Random(70, 90), big_b = Eigen::MatrixXf::Random(90, 80);
  // Operands that are blocks of larger matrices (an outer stride other than their row count).
  const Eigen::Index m = 37, k = 61, n = 45;
  for (const GemmKernel kernel : built_kernels()) {
    set_gemm_kernel(kernel);
    CAPTURE(gemm_kernel_name(kernel));
    for (const bool ta : {false, true})
      for (const bool tb : {false, true})
        for (const bool accumulate : {false, true}) {
          CAPTURE(ta);
          CAPTURE(tb);
          CAPTURE(accumulate);
          const auto a = ta ? big_a.block(3, 5, k, m) : big_a.block(3, 5, m, k);
          const auto b = tb ? big_b.block(2, 4, n, k) : big_b.block(2, 4, k, n);
          Eigen::MatrixXf big_c = Eigen::MatrixXf::Constant(50, 60, 0.5f);
          auto c = big_c.block(1, 2, m, n);
          const Eigen::MatrixXd ad = a.cast<double>(), bd = b.cast<double>();
          const Eigen::MatrixXd oa = ta ? Eigen::MatrixXd(ad.transpose()) : ad;
          const Eigen::MatrixXd ob = tb ? Eigen::MatrixXd(bd.transpose()) : bd;
          Eigen::MatrixXd expect = oa * ob;
          if (accumulate) expect.array() += 0.5;
          gemm(a, ta ? GemmOp::transpose : GemmOp::none, b, tb ? GemmOp::transpose : GemmOp::none,
               c, accumulate);
          // Each term is below 1 in magnitude: float rounding of a k-term sum stays below
          // k * 2^-23 (a generous bound that still catches a wrong element or transpose).
          CHECK((c.cast<double>() - expect).cwiseAbs().maxCoeff() < k * 0x1p-23);
          // The rest of the destination is untouched.
          Eigen::MatrixXf outside = big_c;
          outside.block(1, 2, m, n).setConstant(0.5f);
          CHECK((outside.array() == 0.5f).all());
        }
  }
}

TEST_CASE("gemm: a product's bits repeat, and kernels differ at most in the last bits") {
  KernelGuard guard;
  const Eigen::MatrixXf a = Eigen::MatrixXf::Random(64, 576), b = Eigen::MatrixXf::Random(576, 49);
  std::vector<Eigen::MatrixXf> results;
  for (const GemmKernel kernel : built_kernels()) {
    set_gemm_kernel(kernel);
    Eigen::MatrixXf c1(64, 49), c2(64, 49);
    gemm(a, GemmOp::none, b, GemmOp::none, c1);
    gemm(a, GemmOp::none, b, GemmOp::none, c2);
    CHECK(std::memcmp(c1.data(), c2.data(), sizeof(float) * c1.size()) == 0);
    results.push_back(c1);
  }
  for (const auto& r : results) CHECK((r - results.front()).cwiseAbs().maxCoeff() < 576 * 0x1p-23);
}

TEST_CASE("gemm: a product of mismatched shapes is an error naming them") {
  const Eigen::MatrixXf a(3, 4), b(5, 2);
  Eigen::MatrixXf c(3, 2);
  CHECK_THROWS_WITH_AS(gemm(a, GemmOp::none, b, GemmOp::none, c),
                       "gemm: a 3x4 by 5x2 product into 3x2", Error);
  Eigen::MatrixXf empty_k(3, 0), empty_b(0, 2), out = Eigen::MatrixXf::Constant(3, 2, 7.0f);
  gemm(empty_k, GemmOp::none, empty_b, GemmOp::none, out);  // a sum of no terms is zero
  CHECK((out.array() == 0.0f).all());
}

TEST_CASE("gemm: the default kernel is the build's, and a kernel not built is refused") {
  KernelGuard guard;
  CHECK(gemm_kernel_built(GemmKernel::eigen));
#ifdef LUMAC_TEST_OPENBLAS
  // OpenBLAS where its bits do not depend on where the operands sit (the CPU's kernel
  // decides), else Eigen.
  CHECK(default_gemm_kernel() == (gemm_kernel_alignment_invariant(GemmKernel::openblas)
                                      ? GemmKernel::openblas
                                      : GemmKernel::eigen));
#endif
  CHECK(gemm_kernel_batch_invariant(GemmKernel::eigen));
  CHECK(gemm_kernel_alignment_invariant(GemmKernel::eigen));
  if (!gemm_kernel_built(GemmKernel::openblas)) {
    CHECK(default_gemm_kernel() == GemmKernel::eigen);
    CHECK_THROWS_WITH_AS(set_gemm_kernel(GemmKernel::openblas),
                         doctest::Contains("-DLUMAC_OPENBLAS=ON"), Error);
  }
  set_gemm_kernel(GemmKernel::eigen);
  CHECK(gemm_kernel() == GemmKernel::eigen);
  CHECK(std::string(gemm_kernel_name(GemmKernel::openblas)) == "openblas");
}

TEST_CASE("gemm: where a kernel says so, a transposed right operand gives the same bits") {
  // Conv2d multiplies by its patch matrix stored by receptive field (B) or by position (B^T,
  // op_b = transpose) on gemm_kernel_transpose_exact's word; check that word on convolution
  // shapes other than the probe's, at least two rows and two columns each.
  KernelGuard guard;
  for (const GemmKernel k : built_kernels()) {
    CAPTURE(std::string(gemm_kernel_name(k)));
    const bool exact = gemm_kernel_transpose_exact(k);
    MESSAGE(std::string(gemm_kernel_name(k)) << ": transposed operand exact " << exact);
    if (!exact) continue;
    set_gemm_kernel(k);
    for (const auto& shape : {std::tuple{32, 288, 196}, std::tuple{8, 27, 1024},
                              std::tuple{3, 4, 5}, std::tuple{128, 1152, 36}}) {
      const auto [m, kk, n] = shape;  // CAPTURE names a variable, not a structured binding
      const std::string dims =
          std::to_string(m) + "x" + std::to_string(kk) + "x" + std::to_string(n);
      CAPTURE(dims);
      const Eigen::MatrixXf a = Eigen::MatrixXf::Random(m, kk), b = Eigen::MatrixXf::Random(kk, n);
      const Eigen::MatrixXf bt = b.transpose();
      Eigen::MatrixXf y1(m, n), y2(m, n);
      gemm(a, GemmOp::none, b, GemmOp::none, y1, false, GemmColumns::fixed);
      gemm(a, GemmOp::none, bt, GemmOp::transpose, y2, false, GemmColumns::fixed);
      CHECK((y1.array() == y2.array()).all());
    }
  }
  // A kernel not built is never exact.
  const bool unbuilt_exact =
      !gemm_kernel_built(GemmKernel::openblas) && gemm_kernel_transpose_exact(GemmKernel::openblas);
  CHECK_FALSE(unbuilt_exact);
}

TEST_CASE("gemm: a column's bits do not depend on its place among the columns") {
  // What the batch invariance of the dense layers rests on (a sample's column in a chunk of 32
  // depends on how the batch was cut), on the shape of fmnist_mlp's first layer: whichever
  // kernel is selected, a chunk's product (GemmColumns::batch) runs on a kernel that passed
  // the probe for it, and one vector at every position of a product 32 columns wide, with
  // other values in the other columns, gives the same bits. A product of one sample
  // (GemmColumns::fixed) runs on one whose bits do not depend on where the operands sit.
  KernelGuard guard;
  for (const GemmKernel k : built_kernels()) {
    CAPTURE(std::string(gemm_kernel_name(k)));
    set_gemm_kernel(k);
    MESSAGE(std::string(gemm_kernel_name(k))
            << ": batch invariant " << gemm_kernel_batch_invariant(k) << ", alignment invariant "
            << gemm_kernel_alignment_invariant(k));
    CHECK(gemm_kernel_for(GemmColumns::batch) ==
          (gemm_kernel_batch_invariant(k) ? k : GemmKernel::eigen));
    CHECK(gemm_kernel_for(GemmColumns::fixed) ==
          (gemm_kernel_alignment_invariant(k) ? k : GemmKernel::eigen));
    const Eigen::MatrixXf w = Eigen::MatrixXf::Random(100, 784);
    const Eigen::VectorXf v = Eigen::VectorXf::Random(784);
    Eigen::VectorXf ref;
    int mismatches = 0;
    for (int p = 0; p < 32; ++p) {
      Eigen::MatrixXf x = Eigen::MatrixXf::Random(784, 32), y(100, 32);
      x.col(p) = v;
      gemm(w, GemmOp::none, x, GemmOp::none, y, false, GemmColumns::batch);
      if (p == 0) ref = y.col(0);
      mismatches += static_cast<int>((y.col(p).array() != ref.array()).count());
    }
    CHECK(mismatches == 0);
    // Nor on where the operands sit in memory: small products (Eigen's coefficient-based ones
    // among them) at offsets of 0 to 7 floats, as a head's operands sit in a sample, and the
    // per-sample products of the bundled models (a token-wise layer, a convolution).
    for (const auto& shape :
         {std::tuple{5, 4, 5}, std::tuple{5, 5, 4}, std::tuple{3, 8, 2}, std::tuple{100, 64, 1},
          std::tuple{16, 16, 16}, std::tuple{128, 64, 16}, std::tuple{32, 144, 196},
          std::tuple{16, 49, 16}}) {
      const auto [m, k, n] = shape;  // CAPTURE names a variable, not a structured binding
      const std::string dims =
          std::to_string(m) + "x" + std::to_string(k) + "x" + std::to_string(n);
      CAPTURE(dims);
      const Eigen::MatrixXf a0 = Eigen::MatrixXf::Random(m, k), b0 = Eigen::MatrixXf::Random(k, n);
      std::vector<float> ba(static_cast<std::size_t>(m * k + 8)),
          bb(static_cast<std::size_t>(k * n + 8)), bc(static_cast<std::size_t>(m * n + 8));
      Eigen::MatrixXf first;
      int moved = 0;
      for (int off = 0; off < 8; ++off) {
        Eigen::Map<Eigen::MatrixXf> am(ba.data() + off, m, k), bm(bb.data() + off, k, n),
            cm(bc.data() + off, m, n);
        am = a0;
        bm = b0;
        gemm(am, GemmOp::none, bm, GemmOp::none, cm, false, GemmColumns::fixed);
        if (off == 0)
          first = cm;
        else
          moved += static_cast<int>((cm.array() != first.array()).count());
      }
      CHECK(moved == 0);
    }
  }
}
