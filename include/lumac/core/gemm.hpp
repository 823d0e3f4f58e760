#pragma once
// The kernel behind lumac's matrix products: every layer's weights by its activations (a
// dense layer's samples, a convolution's patch matrix), forward and backward.
//
// Two kernels can be built in: OpenBLAS's sgemm (the default, -DLUMAC_OPENBLAS=ON; Debian's
// libopenblas-dev) and Eigen's own GEMM (always there). The build's choice is the process-wide
// default; set_gemm_kernel switches it, for benchmarks (lumac bench times both) and tests. Both
// kernels run single-threaded inside the calling thread: lumac parallelises over samples
// itself, and every product has a shape fixed by the layer (not by the batch or the thread
// count), so results are bitwise identical for any thread count and batch size. The two
// kernels differ from each other in the last bits of a sum (a different order of additions).
#include <Eigen/Core>

namespace lumac {

enum class GemmKernel { eigen, openblas };

// The kernel lumac's products use now (the build's default until set_gemm_kernel).
GemmKernel gemm_kernel();
// The kernel this build uses unless told otherwise: openblas when built with it.
GemmKernel default_gemm_kernel();
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
// c = c + op_a(a) op_b(b)        when it is true.
// c must already have the product's shape and must not overlap a or b.
void gemm(const GemmIn& a, GemmOp op_a, const GemmIn& b, GemmOp op_b, GemmOut c,
          bool accumulate = false);

}  // namespace lumac
