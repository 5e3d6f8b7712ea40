// The small-token attention of attention_small.h. Per (batch item, head) pair, with l <= 16 tokens:
// Kᵀ (or Vᵀ) is built by 16 x 16 transposes as hd vectors of l lanes, so that a row of scores
// S_i = scale Σ_c Q[i][c] Kᵀ[c] is hd multiply-adds of one vector and its softmax works on that vector;
// the products with P or dS then run over the l tokens, a vector of 16 head columns at a time. The
// formulas are those of attention.cpp; sums run in another order, so results agree with the general
// kernel to rounding (tested against the composition of MLX ops, forward and gradient).
#include "attention_small.h"

#include "avx512.h"
#include "isa.h"

namespace cmlx {

#if defined(__x86_64__)
namespace {

constexpr size_t kMaxHeadDim = 256;

/** Rows [0, l) of x (row stride ld), columns [0, hd), transposed: xt[c * 16 + j] = x[j][c], the lanes
 *  past l zero. */
CMLX_AVX512 void transpose_tokens(const float* x, size_t ld, size_t l, size_t hd, float* xt) {
  for (size_t cb = 0; cb < hd; cb += 16) {
    __m512 r[16];
    for (size_t j = 0; j < 16; ++j) r[j] = j < l ? _mm512_loadu_ps(x + j * ld + cb) : _mm512_setzero_ps();
    transpose16(r);
    for (size_t c = 0; c < 16; ++c) _mm512_store_ps(xt + (cb + c) * 16, r[c]);
  }
}

/** Σ_c a[c] xt[c]: row a (hd values) against the transposed tokens, one lane per token. */
CMLX_AVX512 inline __m512 row_products(const float* a, const float* xt, size_t hd) {
  __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
  for (size_t c = 0; c < hd; c += 4)
    for (int u = 0; u < 4; ++u)
      acc[u] = _mm512_fmadd_ps(_mm512_set1_ps(a[c + u]), _mm512_load_ps(xt + (c + u) * 16), acc[u]);
  return _mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3]));
}

/** P = softmax(scale Q Kᵀ) by rows, row i in p[i * 16 ..], lanes past l zero; kt is scratch. */
CMLX_AVX512 void probabilities(const float* q, const float* k, size_t ld, const AttentionSizes& n, float scale,
                               float* kt, float* p) {
  transpose_tokens(k, ld, n.l, n.hd, kt);
  const __mmask16 valid = lanes(int(n.l));
  for (size_t i = 0; i < n.l; ++i) {
    __m512 s = _mm512_mul_ps(row_products(q + i * ld, kt, n.hd), _mm512_set1_ps(scale));
    float mx = _mm512_mask_reduce_max_ps(valid, s);
    __m512 e = _mm512_maskz_mov_ps(valid, exp16(_mm512_sub_ps(s, _mm512_set1_ps(mx))));
    float inv = 1.0f / _mm512_reduce_add_ps(e);
    _mm512_store_ps(p + i * 16, _mm512_mul_ps(e, _mm512_set1_ps(inv)));
  }
}

/** out[r] (hd values, r < l) = alpha Σ_t w[t * wstep + r * rstep] x[t] over the l token rows x[t]
 *  (row stride ld): the products of P or dS (or their transposes) with token rows. */
CMLX_AVX512 void weighted_rows(const float* w, size_t wstep, size_t rstep, const float* x, size_t ld, size_t l,
                               size_t hd, float alpha, float* out, size_t out_ld) {
  for (size_t r = 0; r < l; ++r)
    for (size_t cb = 0; cb < hd; cb += 16) {
      __m512 acc = _mm512_setzero_ps();
      for (size_t t = 0; t < l; ++t)
        acc = _mm512_fmadd_ps(_mm512_set1_ps(w[t * wstep + r * rstep]), _mm512_loadu_ps(x + t * ld + cb), acc);
      _mm512_storeu_ps(out + r * out_ld + cb, _mm512_mul_ps(acc, _mm512_set1_ps(alpha)));
    }
}

CMLX_AVX512 void forward_pairs(const float* qkv, float* out, const AttentionSizes& n, float scale, size_t p0,
                               size_t p1) {
  alignas(64) float kt[kMaxHeadDim * 16], p[16 * 16];
  const size_t ld = 3 * n.d;
  for (size_t pair = p0; pair < p1; ++pair) {
    const float* q = qkv + packed_offset(n, pair);
    probabilities(q, q + n.d, ld, n, scale, kt, p);
    weighted_rows(p, 1, 16, q + 2 * n.d, ld, n.l, n.hd, 1.0f, out + output_offset(n, pair), n.d);  // O = P V
  }
}

CMLX_AVX512 void grad_pairs(const float* qkv, const float* o, const float* go, float* dqkv, const AttentionSizes& n,
                            float scale, size_t p0, size_t p1) {
  alignas(64) float kt[kMaxHeadDim * 16], vt[kMaxHeadDim * 16], p[16 * 16], ds[16 * 16];
  const size_t ld = 3 * n.d;
  const __mmask16 valid = lanes(int(n.l));
  for (size_t pair = p0; pair < p1; ++pair) {
    const float* q = qkv + packed_offset(n, pair);
    const float *k = q + n.d, *v = q + 2 * n.d;
    const float *oo = o + output_offset(n, pair), *g = go + output_offset(n, pair);
    float* dq = dqkv + packed_offset(n, pair);
    probabilities(q, k, ld, n, scale, kt, p);
    transpose_tokens(v, ld, n.l, n.hd, vt);
    for (size_t i = 0; i < n.l; ++i) {
      __m512 dot = _mm512_setzero_ps();
      for (size_t cb = 0; cb < n.hd; cb += 16)
        dot = _mm512_fmadd_ps(_mm512_loadu_ps(g + i * n.d + cb), _mm512_loadu_ps(oo + i * n.d + cb), dot);
      __m512 rowdot = _mm512_set1_ps(_mm512_reduce_add_ps(dot));
      __m512 dp = row_products(g + i * n.d, vt, n.hd);  // dP = dO Vᵀ
      _mm512_store_ps(ds + i * 16, _mm512_maskz_mul_ps(valid, _mm512_load_ps(p + i * 16), _mm512_sub_ps(dp, rowdot)));
    }
    weighted_rows(ds, 1, 16, k, ld, n.l, n.hd, scale, dq, ld);          // dQ = scale dS K
    weighted_rows(ds, 16, 1, q, ld, n.l, n.hd, scale, dq + n.d, ld);    // dK = scale dSᵀ Q
    weighted_rows(p, 16, 1, g, n.d, n.l, n.hd, 1.0f, dq + 2 * n.d, ld);  // dV = Pᵀ dO
  }
}

}  // namespace

void small_attention_pairs(const float* qkv, float* out, const AttentionSizes& n, float scale, size_t p0, size_t p1) {
  if (isa() == Isa::avx512)
    forward_pairs(qkv, out, n, scale, p0, p1);
  else
    small_attention_pairs_avx2(qkv, out, n, scale, p0, p1);
}

void small_attention_grad_pairs(const float* qkv, const float* o, const float* go, float* dqkv, const AttentionSizes& n,
                                float scale, size_t p0, size_t p1) {
  if (isa() == Isa::avx512)
    grad_pairs(qkv, o, go, dqkv, n, scale, p0, p1);
  else
    small_attention_grad_pairs_avx2(qkv, o, go, dqkv, n, scale, p0, p1);
}

bool small_attention_applies(const AttentionSizes& n) {
  return isa() != Isa::generic && n.l >= 1 && n.l <= 16 && n.hd % 16 == 0 && n.hd > 0 && n.hd <= kMaxHeadDim;
}
#else  // not x86-64: the general kernel serves
bool small_attention_applies(const AttentionSizes&) { return false; }
void small_attention_pairs(const float*, float*, const AttentionSizes&, float, size_t, size_t) {}
void small_attention_grad_pairs(const float*, const float*, const float*, float*, const AttentionSizes&, float, size_t,
                                size_t) {}
#endif
}  // namespace cmlx
