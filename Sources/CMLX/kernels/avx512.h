// AVX-512 helpers shared by this project's kernels for CPUs that have it (sgemm.cpp, adamw.cpp,
// attention_small.cpp). Functions are compiled for AVX-512F by attribute, so the rest of the build
// keeps its baseline target; callers check for the CPU feature first (sgemm_available()).
#pragma once
#if defined(__x86_64__)
#include <immintrin.h>

#include "vector_math.h"

#define CMLX_AVX512 __attribute__((target("avx512f")))

namespace cmlx {

/** Lanes [0, count) of a vector of 16, count clamped to [0, 16]. */
inline __mmask16 lanes(int count) {
  return count >= 16 ? __mmask16(0xffff) : count <= 0 ? __mmask16(0) : __mmask16((1u << count) - 1);
}

/** AVX-512's vector for sgemm_tile.h: sixteen lanes; the last vector of a tile loads and stores
 *  through a lane mask (all sixteen lanes cost the same as an unmasked access). */
struct Avx512Lanes {
  using V = __m512;
  static constexpr int W = 16;
  using Part = __mmask16;
  static inline Part part(int count) { return lanes(count); }
  CMLX_AVX512 __attribute__((always_inline)) static inline V zero() { return _mm512_setzero_ps(); }
  CMLX_AVX512 __attribute__((always_inline)) static inline V load(const float* p) { return _mm512_loadu_ps(p); }
  CMLX_AVX512 __attribute__((always_inline)) static inline V broadcast(const float* p) { return _mm512_set1_ps(*p); }
  CMLX_AVX512 __attribute__((always_inline)) static inline V fma(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  CMLX_AVX512 __attribute__((always_inline)) static inline V add(V a, V b) { return _mm512_add_ps(a, b); }
  CMLX_AVX512 __attribute__((always_inline)) static inline void store(float* p, V v) { _mm512_storeu_ps(p, v); }
  CMLX_AVX512 __attribute__((always_inline)) static inline V load_part(const float* p, Part m) { return _mm512_maskz_loadu_ps(m, p); }
  CMLX_AVX512 __attribute__((always_inline)) static inline void store_part(float* p, Part m, V v) { _mm512_mask_storeu_ps(p, m, v); }
};

/** Transposes the 16 x 16 block held in r[0..16) in place: r[j][i] takes r[i][j]. Pairs of rows are
 *  interleaved by elements, then by element pairs, which leaves each 128-bit lane holding a 4 x 4 block
 *  transposed; two rounds of lane shuffles put the blocks in place. */
CMLX_AVX512 inline void transpose16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  for (int g = 0; g < 4; ++g) {  // r[4g + c], lane L: column 4L + c of rows 4g .. 4g + 3
    __m512d lo = _mm512_castps_pd(t[4 * g]), hi = _mm512_castps_pd(t[4 * g + 1]);
    __m512d lo2 = _mm512_castps_pd(t[4 * g + 2]), hi2 = _mm512_castps_pd(t[4 * g + 3]);
    r[4 * g] = _mm512_castpd_ps(_mm512_unpacklo_pd(lo, lo2));
    r[4 * g + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(lo, lo2));
    r[4 * g + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(hi, hi2));
    r[4 * g + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(hi, hi2));
  }
  for (int c = 0; c < 4; ++c) {  // column 4L + c gathers lane L of r[c], r[4 + c], r[8 + c], r[12 + c]
    __m512 even = _mm512_shuffle_f32x4(r[c], r[4 + c], 0x88), odd = _mm512_shuffle_f32x4(r[c], r[4 + c], 0xdd);
    __m512 even2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0x88);
    __m512 odd2 = _mm512_shuffle_f32x4(r[8 + c], r[12 + c], 0xdd);
    t[c] = _mm512_shuffle_f32x4(even, even2, 0x88);
    t[4 + c] = _mm512_shuffle_f32x4(odd, odd2, 0x88);
    t[8 + c] = _mm512_shuffle_f32x4(even, even2, 0xdd);
    t[12 + c] = _mm512_shuffle_f32x4(odd, odd2, 0xdd);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

/** exp on sixteen lanes (vector_math.h's exp_lanes, as fast_exp and exp8). */
CMLX_AVX512 inline __m512 exp16(__m512 x) {
  __m512 y;
  exp_lanes(y, x);
  return y;
}
}  // namespace cmlx
#endif
