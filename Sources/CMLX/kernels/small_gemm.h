// A small single-threaded matrix product for the per-head products of attention (tens to a few
// hundred rows, head_dim columns), where a BLAS call per head costs more in overhead than it computes
// and may start threads of its own inside ours.
//   C[i][j] = alpha * Σ_k A(i, k) * B[k][j]
// A is read through arbitrary strides (so Aᵀ is free), B and C are row-major with their own leading
// dimensions. The inner block keeps a 4 x 16 tile of C in vector registers (GCC/Clang vector
// extensions: AVX2 in the x86-64-v3 clone, pairs of SSE registers in the default one).
#pragma once
#include <cstddef>

#include "strided.h"

namespace cmlx {

/** C (m x n) = alpha * A (m x kn) * B (kn x n). */
void small_gemm(StridedMatrix a, const float* b, size_t ldb, float* c, size_t ldc, size_t m, size_t n, size_t kn,
                float alpha);

/** C (m x n) = alpha * A (m x kn) * Bᵀ for row-major A and B (n x kn): each element a dot product of two
 *  contiguous rows, vectorised along kn. For the products with few columns (n < 16: the token-by-token
 *  scores of heavily masked images), where small_gemm's 16-wide tiles do not apply. */
void small_gemm_nt(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc, size_t m, size_t n,
                   size_t kn, float alpha);
}  // namespace cmlx
