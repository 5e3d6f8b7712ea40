// The tiled loops of small_gemm.h, compiled once per target (MASKDM_VECTORIZE) so that the
// x86-64-v3 clone runs on AVX2 + FMA.
#include "small_gemm.h"

#include "fastmath.h"

namespace cmlx {
namespace {

template <int R>
inline __attribute__((always_inline)) void gemm_tile(StridedMatrix a, const float* b, size_t ldb, float* c, size_t ldc,
                                                     size_t i, size_t j, size_t kn, float alpha) {
  v8f acc[R][2];
  for (int r = 0; r < R; ++r) acc[r][0] = acc[r][1] = v8f{};
  for (size_t k = 0; k < kn; ++k) {
    const float* br = b + k * ldb + j;
    v8f b0 = *reinterpret_cast<const v8f*>(br), b1 = *reinterpret_cast<const v8f*>(br + 8);
    for (int r = 0; r < R; ++r) {
      float s = a.at(i + r, k);
      acc[r][0] += s * b0;
      acc[r][1] += s * b1;
    }
  }
  for (int r = 0; r < R; ++r) {
    *reinterpret_cast<v8f*>(c + (i + r) * ldc + j) = acc[r][0] * alpha;
    *reinterpret_cast<v8f*>(c + (i + r) * ldc + j + 8) = acc[r][1] * alpha;
  }
}

/** R rows of A against C columns of B: R x C dot products of length kn, kept in R*C vector registers. */
template <int R, int C>
inline __attribute__((always_inline)) void dot_tile(const float* a, size_t lda, const float* b, size_t ldb, float* c,
                                                    size_t ldc, size_t i, size_t j, size_t kn, float alpha) {
  v8f acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < C; ++q) acc[r][q] = v8f{};
  size_t k8 = kn - kn % 8;
  for (size_t k = 0; k < k8; k += 8) {
    v8f bv[C];
    for (int q = 0; q < C; ++q) bv[q] = *reinterpret_cast<const v8f*>(b + (j + q) * ldb + k);
    for (int r = 0; r < R; ++r) {
      v8f av = *reinterpret_cast<const v8f*>(a + (i + r) * lda + k);
      for (int q = 0; q < C; ++q) acc[r][q] += av * bv[q];
    }
  }
  for (int r = 0; r < R; ++r)
    for (int q = 0; q < C; ++q) {
      float s = lanes_sum(acc[r][q]);
      for (size_t k = k8; k < kn; ++k) s += a[(i + r) * lda + k] * b[(j + q) * ldb + k];
      c[(i + r) * ldc + j + q] = alpha * s;
    }
}
}  // namespace

MASKDM_VECTORIZE void small_gemm_nt(const float* a, size_t lda, const float* b, size_t ldb, float* c, size_t ldc,
                                    size_t m, size_t n, size_t kn, float alpha) {
  size_t m2 = m - m % 2, n4 = n - n % 4;
  for (size_t i = 0; i < m2; i += 2) {
    size_t j = 0;
    for (; j < n4; j += 4) dot_tile<2, 4>(a, lda, b, ldb, c, ldc, i, j, kn, alpha);
    for (; j < n; ++j) dot_tile<2, 1>(a, lda, b, ldb, c, ldc, i, j, kn, alpha);
  }
  if (m2 < m) {
    size_t j = 0;
    for (; j < n4; j += 4) dot_tile<1, 4>(a, lda, b, ldb, c, ldc, m2, j, kn, alpha);
    for (; j < n; ++j) dot_tile<1, 1>(a, lda, b, ldb, c, ldc, m2, j, kn, alpha);
  }
}

MASKDM_VECTORIZE void small_gemm(StridedMatrix a, const float* b, size_t ldb, float* c, size_t ldc, size_t m, size_t n, size_t kn,
                       float alpha) {
  size_t n16 = n - n % 16, m4 = m - m % 4;
  for (size_t j = 0; j < n16; j += 16) {
    size_t i = 0;
    for (; i < m4; i += 4) gemm_tile<4>(a, b, ldb, c, ldc, i, j, kn, alpha);
    for (; i < m; ++i) gemm_tile<1>(a, b, ldb, c, ldc, i, j, kn, alpha);
  }
  for (size_t i = 0; i < m; ++i)
    for (size_t j = n16; j < n; ++j) {
      float s = 0;
      for (size_t k = 0; k < kn; ++k) s += a.at(i, k) * b[k * ldb + j];
      c[i * ldc + j] = alpha * s;
    }
}
}  // namespace cmlx
