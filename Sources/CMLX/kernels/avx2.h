// AVX2 + FMA helpers shared by this project's kernels for CPUs without AVX-512 (sgemm_avx2.cpp,
// adamw.cpp, attention_small.cpp), the counterparts of avx512.h. Functions are compiled for AVX2 and
// FMA by attribute, so the rest of the build keeps its baseline target; callers check isa.h first.
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include "vector_math.h"

#define CMLX_AVX2 __attribute__((target("avx2,fma")))

namespace cmlx {

/** A lane mask for maskload/maskstore: lanes [0, count) of eight, count clamped to [0, 8]. */
CMLX_AVX2 inline __m256i lanes8(int count) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/** AVX2's vector for sgemm_tile.h: eight lanes; the last vector of a tile loads and stores through a
 *  lane mask only when it holds fewer than eight columns. */
struct Avx2Lanes {
  using V = __m256;
  static constexpr int W = 8;
  /** The last vector's column count, 1 to 8. */
  using Part = int;
  static inline Part part(int count) { return count; }
  CMLX_AVX2 __attribute__((always_inline)) static inline V zero() { return _mm256_setzero_ps(); }
  CMLX_AVX2 __attribute__((always_inline)) static inline V load(const float* p) { return _mm256_loadu_ps(p); }
  CMLX_AVX2 __attribute__((always_inline)) static inline V broadcast(const float* p) { return _mm256_broadcast_ss(p); }
  CMLX_AVX2 __attribute__((always_inline)) static inline V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  CMLX_AVX2 __attribute__((always_inline)) static inline V add(V a, V b) { return _mm256_add_ps(a, b); }
  CMLX_AVX2 __attribute__((always_inline)) static inline void store(float* p, V v) { _mm256_storeu_ps(p, v); }
  CMLX_AVX2 __attribute__((always_inline)) static inline V load_part(const float* p, Part n) {
    return n < 8 ? _mm256_maskload_ps(p, lanes8(n)) : _mm256_loadu_ps(p);
  }
  CMLX_AVX2 __attribute__((always_inline)) static inline void store_part(float* p, Part n, V v) {
    if (n < 8)
      _mm256_maskstore_ps(p, lanes8(n), v);
    else
      _mm256_storeu_ps(p, v);
  }
};

/** Transposes the 8 x 8 block held in r[0..8) in place: r[j][i] takes r[i][j]. Rows are interleaved by
 *  elements, then by element pairs, which leaves each 128-bit half holding a 4 x 4 block transposed;
 *  one round of half swaps puts the blocks in place. */
CMLX_AVX2 inline void transpose8(__m256 r[8]) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 2; ++g) {  // u[4g + c], half H: column 4H + c of rows 4g .. 4g + 3
    u[4 * g] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0x44);
    u[4 * g + 1] = _mm256_shuffle_ps(t[4 * g], t[4 * g + 2], 0xee);
    u[4 * g + 2] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0x44);
    u[4 * g + 3] = _mm256_shuffle_ps(t[4 * g + 1], t[4 * g + 3], 0xee);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x20);
    r[4 + c] = _mm256_permute2f128_ps(u[c], u[4 + c], 0x31);
  }
}

/** exp on eight lanes (vector_math.h's exp_lanes, as fast_exp and exp16). */
CMLX_AVX2 inline __m256 exp8(__m256 x) {
  __m256 y;
  exp_lanes(y, x);
  return y;
}

/** The sum and the maximum of a vector's eight lanes. */
CMLX_AVX2 inline float sum8(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}
CMLX_AVX2 inline float max8(__m256 v) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_max_ss(s, _mm_movehdup_ps(s)));
}
}  // namespace cmlx
#endif
