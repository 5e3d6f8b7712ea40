// attention_small.h's kernels for AVX2 + FMA: the loops of attention_small.cpp with a row of scores in
// one vector of eight lanes when l <= 8 (the 8 tokens of a 90%-masked s32 image) or two when l <= 16.
// The transposed tokens keep the AVX-512 layout (16 floats per head column, lanes past l zero), so
// that the second half is only touched when it holds tokens.
#include <cmath>

#include "attention_small.h"
#include "avx2.h"

namespace cmlx {

#if defined(__x86_64__)
namespace {

constexpr size_t kMaxHeadDim = 256;

/** Rows [0, l) of x (row stride ld), columns [0, hd), transposed: xt[c * 16 + j] = x[j][c] for the H
 *  halves of eight tokens, the lanes past l zero. */
template <int H>
CMLX_AVX2 void transpose_tokens(const float* x, size_t ld, size_t l, size_t hd, float* xt) {
  for (size_t cb = 0; cb < hd; cb += 8)
    for (int h = 0; h < H; ++h) {
      __m256 r[8];
      for (size_t j = 0; j < 8; ++j) {
        size_t t = 8 * size_t(h) + j;
        r[j] = t < l ? _mm256_loadu_ps(x + t * ld + cb) : _mm256_setzero_ps();
      }
      transpose8(r);
      for (size_t c = 0; c < 8; ++c) _mm256_store_ps(xt + (cb + c) * 16 + 8 * h, r[c]);
    }
}

/** out[h] = Σ_c a[c] xt[c] (half h): row a (hd values) against the transposed tokens, a lane a token. */
template <int H>
CMLX_AVX2 inline void row_products(const float* a, const float* xt, size_t hd, __m256 out[H]) {
  __m256 acc[H][4];
  for (int h = 0; h < H; ++h)
    for (int u = 0; u < 4; ++u) acc[h][u] = _mm256_setzero_ps();
  for (size_t c = 0; c < hd; c += 4)
    for (int u = 0; u < 4; ++u) {
      __m256 x = _mm256_broadcast_ss(a + c + u);
      for (int h = 0; h < H; ++h) acc[h][u] = _mm256_fmadd_ps(x, _mm256_load_ps(xt + (c + u) * 16 + 8 * h), acc[h][u]);
    }
  for (int h = 0; h < H; ++h) out[h] = _mm256_add_ps(_mm256_add_ps(acc[h][0], acc[h][1]), _mm256_add_ps(acc[h][2], acc[h][3]));
}

/** All-ones in the lanes of half h that hold tokens (t < l). */
CMLX_AVX2 inline __m256 valid_lanes(size_t l, int h) { return _mm256_castsi256_ps(lanes8(int(l) - 8 * h)); }

/** P = softmax(scale Q Kᵀ) by rows, row i in p[i * 16 ..] (the H halves; lanes past l zero); kt is
 *  scratch. */
template <int H>
CMLX_AVX2 void probabilities(const float* q, const float* k, size_t ld, const AttentionSizes& n, float scale,
                             float* kt, float* p) {
  transpose_tokens<H>(k, ld, n.l, n.hd, kt);
  const __m256 minus_inf = _mm256_set1_ps(-INFINITY);
  for (size_t i = 0; i < n.l; ++i) {
    __m256 s[H];
    row_products<H>(q + i * ld, kt, n.hd, s);
    __m256 top = minus_inf;
    for (int h = 0; h < H; ++h) {
      s[h] = _mm256_mul_ps(s[h], _mm256_set1_ps(scale));
      top = _mm256_max_ps(top, _mm256_blendv_ps(minus_inf, s[h], valid_lanes(n.l, h)));
    }
    const __m256 mx = _mm256_set1_ps(max8(top));
    __m256 total = _mm256_setzero_ps();
    for (int h = 0; h < H; ++h) {
      s[h] = _mm256_and_ps(exp8(_mm256_sub_ps(s[h], mx)), valid_lanes(n.l, h));
      total = _mm256_add_ps(total, s[h]);
    }
    const __m256 inv = _mm256_set1_ps(1.0f / sum8(total));
    for (int h = 0; h < H; ++h) _mm256_store_ps(p + i * 16 + 8 * h, _mm256_mul_ps(s[h], inv));
  }
}

/** out[r] (hd values, r < l) = alpha Σ_t w[t * wstep + r * rstep] x[t] over the l token rows x[t]
 *  (row stride ld), sixteen columns at a time in two vectors. */
CMLX_AVX2 void weighted_rows(const float* w, size_t wstep, size_t rstep, const float* x, size_t ld, size_t l,
                             size_t hd, float alpha, float* out, size_t out_ld) {
  const __m256 a = _mm256_set1_ps(alpha);
  for (size_t r = 0; r < l; ++r)
    for (size_t cb = 0; cb < hd; cb += 16) {
      __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
      for (size_t t = 0; t < l; ++t) {
        __m256 wt = _mm256_broadcast_ss(w + t * wstep + r * rstep);
        acc0 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(x + t * ld + cb), acc0);
        acc1 = _mm256_fmadd_ps(wt, _mm256_loadu_ps(x + t * ld + cb + 8), acc1);
      }
      _mm256_storeu_ps(out + r * out_ld + cb, _mm256_mul_ps(acc0, a));
      _mm256_storeu_ps(out + r * out_ld + cb + 8, _mm256_mul_ps(acc1, a));
    }
}

template <int H>
CMLX_AVX2 void forward_pairs(const float* qkv, float* out, const AttentionSizes& n, float scale, size_t p0, size_t p1) {
  alignas(32) float kt[kMaxHeadDim * 16], p[16 * 16];
  const size_t ld = 3 * n.d;
  for (size_t pair = p0; pair < p1; ++pair) {
    const float* q = qkv + packed_offset(n, pair);
    probabilities<H>(q, q + n.d, ld, n, scale, kt, p);
    weighted_rows(p, 1, 16, q + 2 * n.d, ld, n.l, n.hd, 1.0f, out + output_offset(n, pair), n.d);  // O = P V
  }
}

template <int H>
CMLX_AVX2 void grad_pairs(const float* qkv, const float* o, const float* go, float* dqkv, const AttentionSizes& n,
                          float scale, size_t p0, size_t p1) {
  alignas(32) float kt[kMaxHeadDim * 16], vt[kMaxHeadDim * 16], p[16 * 16], ds[16 * 16];
  const size_t ld = 3 * n.d;
  for (size_t pair = p0; pair < p1; ++pair) {
    const float* q = qkv + packed_offset(n, pair);
    const float *k = q + n.d, *v = q + 2 * n.d;
    const float *oo = o + output_offset(n, pair), *g = go + output_offset(n, pair);
    float* dq = dqkv + packed_offset(n, pair);
    probabilities<H>(q, k, ld, n, scale, kt, p);
    transpose_tokens<H>(v, ld, n.l, n.hd, vt);
    for (size_t i = 0; i < n.l; ++i) {
      __m256 dot0 = _mm256_setzero_ps(), dot1 = _mm256_setzero_ps();
      for (size_t cb = 0; cb < n.hd; cb += 16) {
        dot0 = _mm256_fmadd_ps(_mm256_loadu_ps(g + i * n.d + cb), _mm256_loadu_ps(oo + i * n.d + cb), dot0);
        dot1 = _mm256_fmadd_ps(_mm256_loadu_ps(g + i * n.d + cb + 8), _mm256_loadu_ps(oo + i * n.d + cb + 8), dot1);
      }
      const __m256 rowdot = _mm256_set1_ps(sum8(_mm256_add_ps(dot0, dot1)));
      __m256 dp[H];
      row_products<H>(g + i * n.d, vt, n.hd, dp);  // dP = dO Vᵀ
      for (int h = 0; h < H; ++h)
        _mm256_store_ps(ds + i * 16 + 8 * h, _mm256_and_ps(_mm256_mul_ps(_mm256_load_ps(p + i * 16 + 8 * h),
                                                                         _mm256_sub_ps(dp[h], rowdot)),
                                                           valid_lanes(n.l, h)));
    }
    weighted_rows(ds, 1, 16, k, ld, n.l, n.hd, scale, dq, ld);          // dQ = scale dS K
    weighted_rows(ds, 16, 1, q, ld, n.l, n.hd, scale, dq + n.d, ld);    // dK = scale dSᵀ Q
    weighted_rows(p, 16, 1, g, n.d, n.l, n.hd, 1.0f, dq + 2 * n.d, ld);  // dV = Pᵀ dO
  }
}
}  // namespace

void small_attention_pairs_avx2(const float* qkv, float* out, const AttentionSizes& n, float scale, size_t p0,
                                size_t p1) {
  if (n.l <= 8)
    forward_pairs<1>(qkv, out, n, scale, p0, p1);
  else
    forward_pairs<2>(qkv, out, n, scale, p0, p1);
}

void small_attention_grad_pairs_avx2(const float* qkv, const float* o, const float* go, float* dqkv,
                                     const AttentionSizes& n, float scale, size_t p0, size_t p1) {
  if (n.l <= 8)
    grad_pairs<1>(qkv, o, go, dqkv, n, scale, p0, p1);
  else
    grad_pairs<2>(qkv, o, go, dqkv, n, scale, p0, p1);
}
#endif
}  // namespace cmlx
