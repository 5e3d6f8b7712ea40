// The tiled loops of small_gemm.h, compiled once per target (MASKDM_VECTORIZE) so that the
// x86-64-v3 clone runs on AVX2 + FMA.
#include "small_gemm.h"

#include "fastmath.h"

namespace cmlx {
namespace {
typedef float v8f __attribute__((vector_size(32), aligned(4)));

template <int R>
inline __attribute__((always_inline)) void gemm_tile(StridedA a, const float* b, size_t ldb, float* c, size_t ldc,
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

}  // namespace

MASKDM_VECTORIZE void small_gemm(StridedA a, const float* b, size_t ldb, float* c, size_t ldc, size_t m, size_t n, size_t kn,
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
