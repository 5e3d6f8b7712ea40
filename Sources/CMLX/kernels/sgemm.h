// Our own float32 matrix product for CPUs with AVX-512 or AVX2 + FMA (sgemm.cpp; the kernels are
// sgemm_avx512.cpp and sgemm_avx2.cpp, chosen by isa.h).
//
// OpenBLAS picks its kernels by CPU model, and where it is told to use AVX2 kernels
// (OPENBLAS_CORETYPE=Haswell, as on the machines this project runs on) or does not know the CPU, it
// leaves half of an AVX-512 core's multiply-add width unused. This product always uses the full width
// of the path in use, runs on our kernels' thread pool (no second pool to wake), and reads its operands
// through any strides, so that no caller copies a view first; its callers fuse a bias, accumulate in
// place and split gradients into bands on it, which OpenBLAS's interface cannot.
#pragma once
#include <cstddef>

#include "strided.h"

namespace cmlx {

/** Whether sgemm() serves: the path in use (isa.h) is avx512 or avx2, not generic. */
bool sgemm_available();

/** C = A B, or C += A B when `accumulate`, or C = bias + A B when a bias (n contiguous values, added to
 *  every row) is given instead, for A (m x k), B (k x n) and a row-major C with row stride ldc; split
 *  across the kernel threads when large enough. Only call when sgemm_available(). */
void sgemm(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc, bool accumulate,
           const float* bias = nullptr);

/** sgemm on the calling thread alone, for callers that split the work among the threads themselves.
 *  Each element of C comes out as sgemm computes it, whatever band of C a call covers. */
void sgemm_on_this_thread(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc,
                          bool accumulate, const float* bias = nullptr);
}  // namespace cmlx
