#pragma once
// The kernel behind lumac's matrix products: every layer's weights by its activations (a
// dense layer's samples, a convolution's patch matrix), forward and backward.
//
// Two kernels can be built in: OpenBLAS's sgemm (-DLUMAC_OPENBLAS=ON, the default; Debian's
// libopenblas-dev) and Eigen's own GEMM (always there). Both run single-threaded inside the
// calling thread: lumac parallelises over samples itself, and every product has a shape fixed
// by the layer (not by the batch or the thread count). Two kinds of product:
// - GemmColumns::fixed: the columns are one sample's (a convolution's positions of one image, a
//   token-wise layer's tokens, an attention head's): the same sample always gives the same
//   product at the same place. Its bits may still not depend on where the operands sit in
//   memory (a sample's offset in its batch).
// - GemmColumns::batch: a dense layer's chunk of 32 samples, where a sample's column depends on
//   how the batch was cut: a column's bits must not depend on its place among the 32 or on the
//   other columns.
// Eigen's kernel has both properties. OpenBLAS's depend on the CPU kernel it picks at run time
// (its SkylakeX kernel has both; its Haswell kernel, also used on AMD Zen, only the first: of
// each 12 columns, 0-5 and 6-11 are summed in different orders), so lumac probes each once.
// The selected kernel (gemm_kernel()) runs every product whose kind it passed the probe for;
// the others run on Eigen. OpenBLAS is the default wherever it passes the first probe. Eigen
// evaluates products with rows + cols + depth < 20 coefficient by coefficient, vectorised from
// the first aligned element, so their bits depend on where the operands sit in memory: gemm
// runs those on aligned copies. Results are then bitwise identical for any thread count and
// batch size. set_gemm_kernel switches the kernel, for benchmarks (lumac bench times both) and
// tests. The two kernels differ from each other in the last bits of a sum (a different order of
// additions).
#include <Eigen/Core>

namespace lumac {

enum class GemmKernel { eigen, openblas };

// What a product's columns are (see above): one sample's, or a chunk of the batch's samples.
enum class GemmColumns { fixed, batch };

// The kernel lumac's products use now (the build's default until set_gemm_kernel), for the
// products it is invariant for (gemm_kernel_alignment_invariant, gemm_kernel_batch_invariant);
// the others run on eigen.
GemmKernel gemm_kernel();
// The kernel this process uses unless told otherwise: openblas when built with it and
// gemm_kernel_alignment_invariant(openblas) holds on this CPU, else eigen.
GemmKernel default_gemm_kernel();
// The kernel that runs a product of kind `columns` now.
GemmKernel gemm_kernel_for(GemmColumns columns);
// Whether kernel k gives a product of fixed shape the same bits wherever its operands and
// result sit in memory: always for eigen (gemm copies the small products it would otherwise
// vectorise from the first aligned element); probed once for openblas; false for a kernel not
// built.
bool gemm_kernel_alignment_invariant(GemmKernel k);
// Whether kernel k gives a column of a product 32 columns wide (a dense layer's chunk) the same
// bits wherever the column sits and whatever the other columns hold, so that results do not
// depend on the batch: always for eigen; probed once (about a millisecond) for openblas; false
// for a kernel not built.
bool gemm_kernel_batch_invariant(GemmKernel k);
// Whether kernel k gives a product whose right operand is stored transposed (op_b =
// transpose of B^T) the bits of the same product with B as it is, for products of at least
// two rows and two columns (Eigen multiplies a vector by its matrix-vector routines, whose
// order of additions differs between the two): probed once per kernel on convolution shapes;
// false for a kernel not built. Conv2d multiplies by its patch matrix stored either way.
bool gemm_kernel_transpose_exact(GemmKernel k);
// Whether `k` is built into this library (eigen always is).
bool gemm_kernel_built(GemmKernel k);
// Selects the kernel of every later product in this process; an error naming the build option
// when `k` is not built. Not meant to change while products run on other threads.
void set_gemm_kernel(GemmKernel k);
// "eigen" or "openblas".
const char* gemm_kernel_name(GemmKernel k);

// A column-major float matrix, or a block of one whose columns are contiguous (any outer
// stride): a MatrixXf, a Map of one, middleRows/middleCols of one.
using GemmIn = Eigen::Ref<const Eigen::MatrixXf, 0, Eigen::OuterStride<>>;
using GemmOut = Eigen::Ref<Eigen::MatrixXf, 0, Eigen::OuterStride<>>;

enum class GemmOp { none, transpose };

// c = op_a(a) op_b(b)            when accumulate is false,
// c = c + op_a(a) op_b(b)        when it is true,
// on gemm_kernel_for(columns). c must already have the product's shape and must not overlap a
// or b.
void gemm(const GemmIn& a, GemmOp op_a, const GemmIn& b, GemmOp op_b, GemmOut c,
          bool accumulate = false, GemmColumns columns = GemmColumns::batch);

}  // namespace lumac
