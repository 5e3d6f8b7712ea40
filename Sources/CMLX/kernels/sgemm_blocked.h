// The blocked product behind sgemm.h, in the layout of GotoBLAS and BLIS, written once for the
// kernels of every instruction set (sgemm_avx512.cpp, sgemm_avx2.cpp): B is copied ("packed") block
// by block into panels of NR columns, laid out in the order the innermost kernel reads them, so that
// the kernel streams it from cache whatever B's strides; the kernel keeps an MR x NR tile of C in
// vector registers.
//
// A is read where it lies when it is row-major or transposed (as in every product of a Linear layer:
// x, the output gradient g and gᵀ), and packed into panels of MR rows only for partial tiles and other
// strides. The broadcasts touch as many cache lines either way, so the copy bought nothing but its own
// cost, and without it the threads can split C by columns with nothing copied twice.
//
// `Kernel` gives the block sizes (MR, NR, KC, MC, NC), whether to pack a transposed A whose runs are
// 4 KB apart (`pack_page_strided_runs`) and, compiled for its instruction set, the
// packing and tile functions; this driver is plain scalar code, so it needs no target of its own and
// calls them out of line (one call per tile of kc steps, nothing next to the tile's work).
#pragma once
#include <algorithm>
#include <cstddef>
#include <vector>

#include "strided.h"

namespace cmlx {

/** Whether the kernel reads A's full tiles where they lie: rows (row-major A) or runs (transposed A). */
inline bool rows_in_place(StridedMatrix a) { return a.column_stride == 1; }
inline bool runs_in_place(StridedMatrix a) { return !rows_in_place(a) && a.row_stride == 1; }

/** Whether a transposed A's runs lie a multiple of 4 KB apart. A tile then reads its kc runs from cache
 *  lines that all fall in the same few sets of a 32 KB, 8-way first-level cache and of a 512 KB,
 *  8-way second-level one, so they evict each other; packing them costs one copy. */
inline bool runs_page_strided(StridedMatrix a) { return a.column_stride % 1024 == 0; }

/** The whole product C = A B (+ C when `accumulate`, + bias when given) on the calling thread. Full
 *  tiles of a row-major or transposed A are read where they lie; partial tiles and A of other strides
 *  are packed first. */
template <typename Kernel>
void blocked_product(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc,
                     bool accumulate, const float* bias) {
  constexpr size_t MR = Kernel::MR, NR = Kernel::NR, KC = Kernel::KC, MC = Kernel::MC, NC = Kernel::NC;
  static thread_local std::vector<float> a_panels, b_panels;
  a_panels.resize((MC + MR) * KC);
  b_panels.resize((NC + NR) * KC);
  const bool rows = rows_in_place(a);
  const bool runs = runs_in_place(a) && !(Kernel::pack_page_strided_runs && runs_page_strided(a));
  for (size_t jc = 0; jc < n; jc += NC) {
    size_t nc = std::min(NC, n - jc);
    for (size_t pc = 0; pc < k; pc += KC) {
      int kc = int(std::min(KC, k - pc));
      bool add = accumulate || pc > 0;
      const float* block_bias = add || !bias ? nullptr : bias + jc;  // the bias enters with the first block of k
      for (size_t jr = 0; jr < nc; jr += NR)
        Kernel::pack_b(b, jc + jr, int(std::min(NR, nc - jr)), pc, kc, b_panels.data() + jr * kc);
      for (size_t ic = 0; ic < m; ic += MC) {
        size_t mc = std::min(MC, m - ic);
        for (size_t ir = 0; ir < mc; ir += MR) {
          int mr = int(std::min(MR, mc - ir));
          if (mr < int(MR) || !(rows || runs)) Kernel::pack_a(a, ic + ir, mr, pc, kc, a_panels.data() + ir * kc);
        }
        for (size_t jr = 0; jr < nc; jr += NR) {
          int nr = int(std::min(NR, nc - jr));
          const float* bp = b_panels.data() + jr * kc;
          for (size_t ir = 0; ir < mc; ir += MR) {
            int mr = int(std::min(MR, mc - ir));
            float* tile = c + (ic + ir) * ldc + jc + jr;
            const float* tile_bias = block_bias ? block_bias + jr : nullptr;
            const float* at = a.data + int64_t(ic + ir) * a.row_stride + int64_t(pc) * a.column_stride;
            if (mr == int(MR) && rows)
              Kernel::tile_rows(nr, kc, at, a.row_stride, bp, tile, ldc, mr, add, tile_bias);
            else if (mr == int(MR) && runs)
              Kernel::tile_runs(nr, kc, at, a.column_stride, bp, tile, ldc, mr, add, tile_bias);
            else
              Kernel::tile_runs(nr, kc, a_panels.data() + ir * kc, int64_t(MR), bp, tile, ldc, mr, add, tile_bias);
          }
        }
      }
    }
  }
}
}  // namespace cmlx
