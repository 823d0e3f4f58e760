// A sample's forward result must be bitwise identical whatever the batch it is in and the
// OpenMP thread count (DESIGN.md convention 5), on either GEMM kernel: Dense multiplies
// fixed-shape, zero-padded chunks of 32 samples and Conv2d one image at a time (see
// nn/dense.hpp), each kernel runs single-threaded inside lumac's threads, and a product runs
// on the selected kernel only where it passed the probe for that kind of product
// (core/gemm.hpp: a chunk's columns, or one sample's operands wherever they sit).
#include <omp.h>

#include <cstring>

#include "lumac/core/gemm.hpp"
#include "lumac/nn/architectures.hpp"
#include "lumac/nn/dense.hpp"
#include "lumac/nn/model_file.hpp"
#include "tests/nn/nn_support.hpp"

using namespace lumac;
using namespace lumac::test;

namespace {

// Logits of samples 0..n-1 computed in batches of `batch`.
nn::Tensor logits_in_batches(const nn::Model& m, const nn::Tensor& x, int batch) {
  nn::Tensor all(x.batch, {m.classes()});
  for (int first = 0; first < x.batch; first += batch) {
    const int count = std::min(batch, x.batch - first);
    nn::Tensor part(count, x.shape);
    std::copy(x.sample(first), x.sample(first) + count * x.sample_size(), part.data.begin());
    std::vector<std::int64_t> samples(static_cast<std::size_t>(count));
    for (int j = 0; j < count; ++j) samples[static_cast<std::size_t>(j)] = first + j;
    const nn::Tensor out = m.forward(part, nn::Pass{.samples = samples, .hook = nullptr});
    std::copy(out.data.begin(), out.data.end(), all.sample(first));
  }
  return all;
}

}  // namespace

TEST_CASE("nn determinism: logits do not depend on batch size or thread count") {
  // For every GEMM kernel built in (OpenBLAS and Eigen: core/gemm.hpp), the bundled
  // architectures and the bundled vision transformer (token-wise layers and attention: products
  // of one sample whose operands sit at the sample's offset in the batch) give the same bits for
  // 1 and 2 threads and batches of 1, 7 and 256 samples.
  const int threads_before = omp_get_max_threads();
  const GemmKernel kernel_before = gemm_kernel();
  nn::Tensor x = random_tensor(256, {1, 28, 28}, 90);
  for (float& v : x.data) v = std::clamp(0.5f + 0.3f * v, 0.0f, 1.0f);
  std::vector<std::pair<std::string, nn::Model>> models;
  for (nn::Arch arch : {nn::Arch::mlp, nn::Arch::cnn})
    models.emplace_back(enum_name(arch), nn::make_model(arch, 5));
  models.emplace_back("fmnist_vit",
                      nn::load_model(source_dir() / "data" / "models" / "fmnist_vit.h5"));
  for (const GemmKernel kernel : {GemmKernel::openblas, GemmKernel::eigen}) {
    if (!gemm_kernel_built(kernel)) continue;
    set_gemm_kernel(kernel);
    CAPTURE(gemm_kernel_name(kernel));
    for (const auto& named : models) {
      const std::string& name = named.first;
      const nn::Model& m = named.second;
      CAPTURE(name);
      omp_set_num_threads(1);
      const nn::Tensor reference = logits_in_batches(m, x, 256);
      for (int threads : {1, 2}) {
        omp_set_num_threads(threads);
        for (int batch : {1, 7, 256}) {
          CAPTURE(threads);
          CAPTURE(batch);
          const nn::Tensor out = logits_in_batches(m, x, batch);
          REQUIRE(out.data.size() == reference.data.size());
          CHECK(std::memcmp(out.data.data(), reference.data.data(),
                            out.data.size() * sizeof(float)) == 0);
        }
      }
    }
  }
  set_gemm_kernel(kernel_before);
  omp_set_num_threads(threads_before);
}

TEST_CASE("nn determinism: an unchunked Eigen product would depend on the batch size") {
  // The reason for the fixed-shape chunks: W X computed for all columns at once gives some
  // columns different bits for different numbers of columns (other GEMM blocking and kernels).
  // If this ever stops failing, the chunking is still correct, only no longer needed.
  nn::Dense d("fc", 784, 100);
  randomize(d, 91);
  const nn::Tensor x = random_tensor(33, {784}, 92);
  const Eigen::MatrixXf all = d.weight() * x.columns();
  int differing = 0;
  for (int n = 1; n <= 33; ++n) {
    const Eigen::MatrixXf part = d.weight() * x.columns().leftCols(n);
    for (int j = 0; j < n; ++j)
      differing += std::memcmp(part.col(j).data(), all.col(j).data(), 100 * sizeof(float)) != 0;
  }
  MESSAGE("columns of a plain product that change with the column count: " << differing);
  // With chunks, the layer's outputs agree bitwise for every batch size.
  nn::Tensor ref;
  d.forward(x, ref, {});
  for (int n : {1, 5, 32, 33}) {
    nn::Tensor part(n, {784}), out;
    std::copy(x.data.begin(), x.data.begin() + n * 784, part.data.begin());
    d.forward(part, out, {});
    CHECK(std::memcmp(out.data.data(), ref.data.data(), out.data.size() * sizeof(float)) == 0);
  }
}
