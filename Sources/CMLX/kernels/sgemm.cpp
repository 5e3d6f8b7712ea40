// The blocked product of sgemm.h, in the layout of GotoBLAS and BLIS: B is copied ("packed") block by
// block into panels of NR columns, laid out in the order the innermost kernel reads them, so that the
// kernel streams it from cache whatever B's strides. The kernel keeps a 12 x 32 tile of C in 24 vector
// registers and does 24 multiply-adds per step of k for 2 vector loads and 12 broadcasts.
//
// A is read where it lies when it is row-major or transposed (as in every product of a Linear layer:
// x, the output gradient g and gᵀ), and packed into panels of MR rows only for partial tiles and other
// strides. The broadcasts touch as many cache lines either way (one 64-byte line serves sixteen steps of
// k of one row), so the copy bought nothing but its own cost, and without it the threads can split C by
// columns with nothing copied twice. `maskdm bench gemm --m M --n N --k K --repeats 30` (a bᵀ, 2
// threads, this project's 2-core AMD EPYC with AVX-512), medians of three runs alternating with A packed:
//   (m, n, k)            A in place   A packed (GFLOP/s)
//   512, 768, 256         417          407
//   512, 256, 1024        427          411
//   4160, 768, 256        464          442
//   2048, 2048, 2048      465          425
// For scale, MLX's matmul on OpenBLAS, same command: about 230 GFLOP/s on the first, third and fourth
// shapes with the machine's Haswell pin (AVX2 kernels), 408, 428 and 462 with OpenBLAS's own choice of
// AVX-512 kernels (`env -u OPENBLAS_CORETYPE`).
// KC = 512 and NC = 512 rather than 256 and 1024: 2048³ went from 388 to 416-419 GFLOP/s with the same
// command (A packed), the s32 shapes moved by -3% to +1%, and the s32 training step by less than this
// machine's noise (about 2%, both directions, in alternating runs).

#include "sgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <vector>

#include "avx512.h"
#include "parallel.h"

namespace cmlx {

#if defined(__x86_64__)
namespace {

constexpr int MR = 12, NR = 32;
constexpr int KC = 512, MC = 144, NC = 512;

/** How the kernel finds A's element (i, k) of a tile: at a[i * step + k] (a row-major A, read in place),
 *  or at a[k * step + i] (runs of the tile's rows for each k: a packed panel, step MR, or a transposed
 *  A read in place). */
enum class ALayout { rows, runs };

/**
 * C[0..mr)[0..16 * NV) = Σ_k A[i][k] bp[k][j] over kc steps, plus C's own values when `accumulate`, or
 * else plus bias[j] when `bias` is given; the last vector's lanes are limited by `last`. A's tile has
 * MR valid rows (partial tiles come packed, with zero rows); rows beyond mr are not stored.
 */
template <int NV, ALayout L>
CMLX_AVX512 inline void tile_kernel(int kc, const float* __restrict a, int64_t step, const float* __restrict bp,
                                    float* c, size_t ldc, int mr, __mmask16 last, bool accumulate, const float* bias) {
  __m512 acc[MR][NV];
#pragma unroll
  for (int i = 0; i < MR; ++i)
#pragma unroll
    for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_setzero_ps();
  const float* rows[MR];
#pragma unroll
  for (int i = 0; i < MR; ++i) rows[i] = a + i * step;
  for (int k = 0; k < kc; ++k) {
    __m512 b[NV];
#pragma unroll
    for (int v = 0; v < NV; ++v) b[v] = _mm512_loadu_ps(bp + 16 * v);
#pragma unroll
    for (int i = 0; i < MR; ++i) {
      __m512 x = _mm512_set1_ps(L == ALayout::rows ? rows[i][k] : a[i]);
#pragma unroll
      for (int v = 0; v < NV; ++v) acc[i][v] = _mm512_fmadd_ps(x, b[v], acc[i][v]);
    }
    if (L == ALayout::runs) a += step;
    bp += NR;
  }
  __m512 start[NV];
#pragma unroll
  for (int v = 0; v < NV; ++v)
    start[v] = bias ? _mm512_maskz_loadu_ps(v == NV - 1 ? last : __mmask16(0xffff), bias + 16 * v) : _mm512_setzero_ps();
#pragma unroll
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    float* row = c + i * ldc;
#pragma unroll
    for (int v = 0; v < NV; ++v) {
      __mmask16 m = v == NV - 1 ? last : __mmask16(0xffff);
      __m512 from = accumulate ? _mm512_maskz_loadu_ps(m, row + 16 * v) : start[v];
      _mm512_mask_storeu_ps(row + 16 * v, m, _mm512_add_ps(acc[i][v], from));
    }
  }
}

/** One tile through the kernel of its width: two vectors of columns, or one for the last nr <= 16. */
template <ALayout L>
CMLX_AVX512 inline void run_tile(int nr, int kc, const float* a, int64_t step, const float* bp, float* c, size_t ldc,
                                 int mr, bool accumulate, const float* bias) {
  if (nr > 16)
    tile_kernel<2, L>(kc, a, step, bp, c, ldc, mr, lanes(nr - 16), accumulate, bias);
  else
    tile_kernel<1, L>(kc, a, step, bp, c, ldc, mr, lanes(nr), accumulate, bias);
}

/**
 * Copies `rows` (<= 16) runs of kc contiguous values, run i at src + i * stride, as columns: dst[k * pitch
 * + i] for i in `keep` (a lane mask; lanes past `rows` get zeros), sixteen values of k at a time.
 */
CMLX_AVX512 void transpose_runs(const float* src, int64_t stride, int rows, int kc, float* dst, int pitch,
                                __mmask16 keep) {
  __m512 r[16];
  for (int k = 0; k < kc; k += 16) {
    __mmask16 m = lanes(kc - k);
    // Sixteen rows are sixteen streams, more than the hardware prefetcher follows: fetch each row's
    // next cache lines while this block is transposed (measured: the copy's share of a 90% masked
    // step's profile 5.3-5.6% -> 4.2-4.4%; with the prefetch in pack_b the step 484.0 -> 487.7 img/s,
    // medians of 5 alternating runs).
    for (int i = 0; i < rows; ++i) _mm_prefetch(reinterpret_cast<const char*>(src + i * stride + k + 64), _MM_HINT_T0);
    for (int i = 0; i < 16; ++i) r[i] = i < rows ? _mm512_maskz_loadu_ps(m, src + i * stride + k) : _mm512_setzero_ps();
    transpose16(r);
    for (int i = 0; i < 16 && k + i < kc; ++i) _mm512_mask_storeu_ps(dst + (k + i) * pitch, keep, r[i]);
  }
}

/** Whether the kernel reads A's full tiles where they lie: rows (row-major A) or runs (transposed A). */
inline bool rows_in_place(StridedMatrix a) { return a.column_stride == 1; }
inline bool runs_in_place(StridedMatrix a) { return !rows_in_place(a) && a.row_stride == 1; }

/** Rows [i0, i0 + mr) and columns [k0, k0 + kc) of A as a panel: ap[k * MR + i], zero rows past mr. */
CMLX_AVX512 void pack_a(StridedMatrix a, size_t i0, int mr, size_t k0, int kc, float* ap) {
  const float* base = a.data + int64_t(i0) * a.row_stride + int64_t(k0) * a.column_stride;
  if (a.row_stride == 1) {  // Aᵀ is row-major: the panel's rows are contiguous runs of the source
    __mmask16 m = lanes(mr);
    for (int k = 0; k < kc; ++k)
      _mm512_mask_storeu_ps(ap + k * MR, lanes(MR), _mm512_maskz_loadu_ps(m, base + int64_t(k) * a.column_stride));
    return;
  }
  if (a.column_stride == 1) {  // row-major A: its rows become the panel's columns
    transpose_runs(base, a.row_stride, mr, kc, ap, MR, lanes(MR));
    return;
  }
  for (int k = 0; k < kc; ++k) {
    const float* src = base + int64_t(k) * a.column_stride;
    int i = 0;
    for (; i < mr; ++i) ap[k * MR + i] = src[int64_t(i) * a.row_stride];
    for (; i < MR; ++i) ap[k * MR + i] = 0;
  }
}

/** Rows [k0, k0 + kc) and columns [j0, j0 + nr) of B as a panel: bp[k * NR + j], zero columns past nr. */
CMLX_AVX512 void pack_b(StridedMatrix b, size_t j0, int nr, size_t k0, int kc, float* bp) {
  const float* base = b.data + int64_t(k0) * b.row_stride + int64_t(j0) * b.column_stride;
  if (b.column_stride == 1) {  // row-major B: each step of k copies one run of nr values
    __mmask16 m0 = lanes(nr), m1 = lanes(nr - 16);
    for (int k = 0; k < kc; ++k) {
      const float* src = base + int64_t(k) * b.row_stride;
      // Rows a leading dimension apart: fetch eight ahead (the copy's share of a 90% masked step's
      // profile 4.6% -> 4.2-4.3%).
      const char* ahead = reinterpret_cast<const char*>(src + 8 * b.row_stride);
      _mm_prefetch(ahead, _MM_HINT_T0);
      _mm_prefetch(ahead + 64, _MM_HINT_T0);
      _mm512_storeu_ps(bp + k * NR, _mm512_maskz_loadu_ps(m0, src));
      _mm512_storeu_ps(bp + k * NR + 16, _mm512_maskz_loadu_ps(m1, src + 16));
    }
    return;
  }
  if (b.row_stride == 1) {  // transposed (a weight read as Wᵀ): B's columns are runs, sixteen at a time
    for (int h = 0; h < NR; h += 16)
      transpose_runs(base + int64_t(h) * b.column_stride, b.column_stride, std::max(0, std::min(16, nr - h)), kc,
                     bp + h, NR, lanes(16));
    return;
  }
  for (int j = 0; j < NR; ++j) {  // any other strides (a broadcast, say)
    const float* src = base + int64_t(j) * b.column_stride;
    if (j < nr)
      for (int k = 0; k < kc; ++k) bp[k * NR + j] = src[int64_t(k) * b.row_stride];
    else
      for (int k = 0; k < kc; ++k) bp[k * NR + j] = 0;
  }
}

/** The whole product on one thread. Full tiles of a row-major or transposed A are read where they lie;
 *  partial tiles and A of other strides are packed first. */
CMLX_AVX512 void sgemm_serial(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc,
                              bool accumulate, const float* bias) {
  static thread_local std::vector<float> a_panels, b_panels;
  a_panels.resize(size_t(MC + MR) * KC);
  b_panels.resize(size_t(NC + NR) * KC);
  const bool rows = rows_in_place(a), runs = runs_in_place(a);
  for (size_t jc = 0; jc < n; jc += NC) {
    size_t nc = std::min<size_t>(NC, n - jc);
    for (size_t pc = 0; pc < k; pc += KC) {
      int kc = int(std::min<size_t>(KC, k - pc));
      bool add = accumulate || pc > 0;
      const float* block_bias = add || !bias ? nullptr : bias + jc;  // the bias enters with the first block of k
      for (size_t jr = 0; jr < nc; jr += NR)
        pack_b(b, jc + jr, int(std::min<size_t>(NR, nc - jr)), pc, kc, b_panels.data() + jr * kc);
      for (size_t ic = 0; ic < m; ic += MC) {
        size_t mc = std::min<size_t>(MC, m - ic);
        for (size_t ir = 0; ir < mc; ir += MR) {
          int mr = int(std::min<size_t>(MR, mc - ir));
          if (mr < MR || !(rows || runs))
            pack_a(a, ic + ir, mr, pc, kc, a_panels.data() + ir * kc);
        }
        for (size_t jr = 0; jr < nc; jr += NR) {
          int nr = int(std::min<size_t>(NR, nc - jr));
          const float* bp = b_panels.data() + jr * kc;
          for (size_t ir = 0; ir < mc; ir += MR) {
            int mr = int(std::min<size_t>(MR, mc - ir));
            float* tile = c + (ic + ir) * ldc + jc + jr;
            const float* tile_bias = block_bias ? block_bias + jr : nullptr;
            const float* at = a.data + int64_t(ic + ir) * a.row_stride + int64_t(pc) * a.column_stride;
            if (mr == MR && rows)
              run_tile<ALayout::rows>(nr, kc, at, a.row_stride, bp, tile, ldc, mr, add, tile_bias);
            else if (mr == MR && runs)
              run_tile<ALayout::runs>(nr, kc, at, a.column_stride, bp, tile, ldc, mr, add, tile_bias);
            else
              run_tile<ALayout::runs>(nr, kc, a_panels.data() + ir * kc, MR, bp, tile, ldc, mr, add, tile_bias);
          }
        }
      }
    }
  }
}
}  // namespace

bool sgemm_available() {
  static bool available = [] {
    const char* choice = std::getenv("MASKDM_GEMM");
    if (choice && std::strcmp(choice, "blas") == 0) return false;
    return bool(__builtin_cpu_supports("avx512f"));
  }();
  return available;
}

namespace {
/** The products with nothing to compute (m, n or k zero): C starts as the bias or zero unless it
 *  accumulates. True when that was all. */
bool empty_product(size_t m, size_t n, size_t k, float* c, size_t ldc, bool accumulate, const float* bias) {
  if (m == 0 || n == 0) return true;
  if (k > 0) return false;
  if (!accumulate)
    for (size_t i = 0; i < m; ++i) {
      if (bias)
        std::memcpy(c + i * ldc, bias, n * sizeof(float));
      else
        std::memset(c + i * ldc, 0, n * sizeof(float));
    }
  return true;
}
}  // namespace

void sgemm_on_this_thread(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc,
                          bool accumulate, const float* bias) {
  if (!empty_product(m, n, k, c, ldc, accumulate, bias)) sgemm_serial(m, n, k, a, b, c, ldc, accumulate, bias);
}

void sgemm(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc, bool accumulate,
           const float* bias) {
  if (empty_product(m, n, k, c, ldc, accumulate, bias)) return;
  // Each thread takes a band of C's columns, packing only its part of B, as long as that gives every
  // thread two tiles; A read in place is then shared without a copy. Only an A that must be packed
  // (other strides) is split by rows when it is the larger operand, so that each thread copies half of
  // it and all of B rather than all of it. Below about a million multiply-adds (about 2 µs at the rates
  // above) one thread does it all; that threshold is a guess, not tuned.
  size_t threads = std::min<size_t>(kernel_threads(), std::max<size_t>(1, m * n * k >> 20));
  size_t column_tiles = (n + NR - 1) / NR, row_tiles = (m + MR - 1) / MR;
  bool a_in_place = rows_in_place(a) || runs_in_place(a);
  bool by_columns = (m <= n || a_in_place) ? column_tiles >= 2 * threads : row_tiles < 2 * threads;
  size_t tiles = by_columns ? column_tiles : row_tiles;
  parallel_for(tiles, std::max<size_t>(1, tiles / threads), [&](size_t t0, size_t t1) {
    if (by_columns) {
      size_t j0 = t0 * NR, j1 = std::min(n, t1 * NR);
      StridedMatrix part{b.data + int64_t(j0) * b.column_stride, b.row_stride, b.column_stride};
      sgemm_serial(m, j1 - j0, k, a, part, c + j0, ldc, accumulate, bias ? bias + j0 : nullptr);
    } else {
      size_t i0 = t0 * MR, i1 = std::min(m, t1 * MR);
      StridedMatrix part{a.data + int64_t(i0) * a.row_stride, a.row_stride, a.column_stride};
      sgemm_serial(i1 - i0, n, k, part, b, c + i0 * ldc, ldc, accumulate, bias);
    }
  });
}

#else  // not x86-64: BLAS serves

bool sgemm_available() { return false; }
void sgemm(size_t, size_t, size_t, StridedMatrix, StridedMatrix, float*, size_t, bool, const float*) {
  std::abort();  // callers check sgemm_available()
}
void sgemm_on_this_thread(size_t, size_t, size_t, StridedMatrix, StridedMatrix, float*, size_t, bool, const float*) {
  std::abort();
}
#endif
}  // namespace cmlx
