// Attention for few tokens (heavily masked images: 8 tokens per image at 90% masking of a 64-patch
// grid), on AVX-512 (attention_small.cpp) or AVX2 + FMA (attention_small_avx2.cpp), as isa.h says. The general kernel (attention.cpp) tiles its products for
// tens of tokens; with at most 16 every token's scores fit one vector, and these loops keep a (batch
// item, head) pair's work in registers and one cache-resident scratch block instead.
// Measured on this project's 2-core AMD EPYC (s32 at 90% masking: 8 tokens, head dim 64, 256 pairs per
// call), per call, timed inside the primitives of a throwaway build: backward 303 -> 229 us, forward
// 124 -> 97 us (the calls also read and write about 4 MB, which these loops do not shorten); the step,
// `maskdm bench train --preset s32 --mask-ratio 0.9 --steps 30`, the two binaries alternating: 559.6 ->
// 564.1 img/s (medians of 8; faster in each of the 8 pairs).
#pragma once
#include <cstddef>

namespace cmlx {

/** The sizes of one attention call: batch, tokens, heads, head dim, model dim (heads x head dim). */
struct AttentionSizes {
  size_t b, l, h, hd, d;
};

/** Where a (batch item, head) pair's head columns start: in the packed (B, L, 3D) qkv and its gradient
 *  (q there, k at + D, v at + 2D; rows 3D apart), and in the (B, L, D) output and its gradient. */
inline size_t packed_offset(const AttentionSizes& n, size_t pair) {
  return (pair / n.h) * n.l * 3 * n.d + (pair % n.h) * n.hd;
}
inline size_t output_offset(const AttentionSizes& n, size_t pair) {
  return (pair / n.h) * n.l * n.d + (pair % n.h) * n.hd;
}

/** Whether the small-token kernels serve: the path in use is avx512 or avx2 (isa.h), at most 16
 *  tokens, and a head dim that is a multiple of 16, at most 256. */
bool small_attention_applies(const AttentionSizes& n);

/** out (B, L, D) for the (batch item, head) pairs [p0, p1), from the packed qkv (B, L, 3D). */
void small_attention_pairs(const float* qkv, float* out, const AttentionSizes& n, float scale, size_t p0, size_t p1);

/** dqkv (B, L, 3D) for the pairs [p0, p1), from qkv, the forward's output o and its gradient go. */
void small_attention_grad_pairs(const float* qkv, const float* o, const float* go, float* dqkv, const AttentionSizes& n,
                                float scale, size_t p0, size_t p1);

/** The AVX2 halves of the two above (attention_small_avx2.cpp), which call them on that path. */
void small_attention_pairs_avx2(const float* qkv, float* out, const AttentionSizes& n, float scale, size_t p0,
                                size_t p1);
void small_attention_grad_pairs_avx2(const float* qkv, const float* o, const float* go, float* dqkv,
                                     const AttentionSizes& n, float scale, size_t p0, size_t p1);
}  // namespace cmlx
