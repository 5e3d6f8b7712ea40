// The register tile of sgemm_blocked.h's product, written once over the vector width: an MR x (W * NV)
// tile of C held in vector registers, NV loads of B and MR broadcasts of A per step of k. Each
// instruction set's file (sgemm_avx2.cpp, sgemm_avx512.cpp) defines, before including this header,
//   CMLX_TILE_TARGET   the target attribute its functions are compiled with (CMLX_AVX2, CMLX_AVX512);
//   CMLX_TILE_UNROLL   a loop pragma for the loop over k (or nothing);
// and passes a `Lanes` type: the vector `V`, its width `W`, the type `Part` of the last vector's lanes,
// and zero / load / broadcast / fma / add / load_part / store / store_part. The multiply-add loops each
// width emits are instruction for instruction those of the two kernels this replaced (the prologue and
// the stores differ), checked by `benchmarks/kernel_loops.py` (docs/performance.md, "One source over the
// vector width").
#pragma once
#include <cstddef>
#include <cstdint>

#if !defined(CMLX_TILE_TARGET) || !defined(CMLX_TILE_UNROLL)
#error "define CMLX_TILE_TARGET and CMLX_TILE_UNROLL before including sgemm_tile.h"
#endif

namespace cmlx {
namespace {

/** How the kernel finds A's element (i, k) of a tile: at a[i * step + k] (a row-major A, read in place),
 *  or at a[k * step + i] (runs of the tile's rows for each k: a packed panel, step MR, or a transposed
 *  A read in place). */
enum class ALayout { rows, runs };

/**
 * C[0..mr)[0..W * NV) = Σ_k A[i][k] bp[k][j] over kc steps, plus C's own values when `accumulate`, or
 * else plus bias[j] when `bias` is given; the last vector's lanes are `last`. A's tile has MR valid rows
 * (partial tiles come packed, with zero rows); rows beyond mr are not stored. B's panel is NR wide.
 */
template <typename Lanes, int MR, int NR, int NV, ALayout L>
CMLX_TILE_TARGET inline void tile_kernel(int kc, const float* __restrict a, int64_t step, const float* __restrict bp,
                                         float* c, size_t ldc, int mr, typename Lanes::Part last, bool accumulate,
                                         const float* bias) {
  using V = typename Lanes::V;
  constexpr int W = Lanes::W;
  V acc[MR][NV];
#pragma unroll
  for (int i = 0; i < MR; ++i)
#pragma unroll
    for (int v = 0; v < NV; ++v) acc[i][v] = Lanes::zero();
  const float* rows[MR];
#pragma unroll
  for (int i = 0; i < MR; ++i) rows[i] = a + i * step;
  CMLX_TILE_UNROLL
  for (int k = 0; k < kc; ++k) {
    V b[NV];
#pragma unroll
    for (int v = 0; v < NV; ++v) b[v] = Lanes::load(bp + W * v);
#pragma unroll
    for (int i = 0; i < MR; ++i) {
      V x = Lanes::broadcast(L == ALayout::rows ? rows[i] + k : a + i);
#pragma unroll
      for (int v = 0; v < NV; ++v) acc[i][v] = Lanes::fma(x, b[v], acc[i][v]);
    }
    if (L == ALayout::runs) a += step;
    bp += NR;
  }
  V start[NV];
#pragma unroll
  for (int v = 0; v < NV; ++v)
    start[v] = !bias ? Lanes::zero() : v == NV - 1 ? Lanes::load_part(bias + W * v, last) : Lanes::load(bias + W * v);
#pragma unroll
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    float* row = c + i * ldc;
#pragma unroll
    for (int v = 0; v < NV; ++v) {
      const bool is_last = v == NV - 1;
      V from = !accumulate ? start[v] : is_last ? Lanes::load_part(row + W * v, last) : Lanes::load(row + W * v);
      V sum = Lanes::add(acc[i][v], from);
      if (is_last)
        Lanes::store_part(row + W * v, last, sum);
      else
        Lanes::store(row + W * v, sum);
    }
  }
}

/** One tile through the kernel of its width: two vectors of columns, or one for the last nr <= W. */
template <typename Lanes, int MR, int NR, ALayout L>
CMLX_TILE_TARGET inline void run_tile(int nr, int kc, const float* a, int64_t step, const float* bp, float* c,
                                      size_t ldc, int mr, bool accumulate, const float* bias) {
  static_assert(NR == 2 * Lanes::W, "a tile is two vectors wide");
  if (nr > Lanes::W)
    tile_kernel<Lanes, MR, NR, 2, L>(kc, a, step, bp, c, ldc, mr, Lanes::part(nr - Lanes::W), accumulate, bias);
  else
    tile_kernel<Lanes, MR, NR, 1, L>(kc, a, step, bp, c, ldc, mr, Lanes::part(nr), accumulate, bias);
}

}  // namespace
}  // namespace cmlx
