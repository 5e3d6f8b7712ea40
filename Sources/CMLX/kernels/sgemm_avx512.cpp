// The AVX-512 kernel of sgemm_blocked.h's product: a 12 x 32 tile of C in 24 vector registers, 24
// multiply-adds per step of k for 2 vector loads and 12 broadcasts.
//
// Reading A in place rather than packing it (sgemm_blocked.h): `maskdm bench gemm --m M --n N --k K
// --repeats 30` (a bᵀ, 2 threads, this project's 2-core AMD EPYC with AVX-512), medians of three runs
// alternating with A packed:
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

#include "avx512.h"
#include "sgemm_blocked.h"
#include "sgemm_kernels.h"
#if defined(__x86_64__)
#define CMLX_TILE_TARGET CMLX_AVX512
#define CMLX_TILE_UNROLL
#include "sgemm_tile.h"
#endif

namespace cmlx {

#if defined(__x86_64__)
namespace {

constexpr int MR = 12, NR = 32;

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

/** The kernel as sgemm_blocked.h calls it. */
struct Avx512Kernel {
  static constexpr size_t MR = 12, NR = 32, KC = 512, MC = 144, NC = 512;
  static constexpr bool pack_page_strided_runs = false;  // not measured on an AVX-512 CPU: unchanged
  CMLX_AVX512 static void tile_rows(int nr, int kc, const float* a, int64_t step, const float* bp, float* c,
                                    size_t ldc, int mr, bool accumulate, const float* bias) {
    run_tile<Avx512Lanes, MR, NR, ALayout::rows>(nr, kc, a, step, bp, c, ldc, mr, accumulate, bias);
  }
  CMLX_AVX512 static void tile_runs(int nr, int kc, const float* a, int64_t step, const float* bp, float* c,
                                    size_t ldc, int mr, bool accumulate, const float* bias) {
    run_tile<Avx512Lanes, MR, NR, ALayout::runs>(nr, kc, a, step, bp, c, ldc, mr, accumulate, bias);
  }
  static void pack_a(StridedMatrix a, size_t i0, int mr, size_t k0, int kc, float* ap) {
    cmlx::pack_a(a, i0, mr, k0, kc, ap);
  }
  static void pack_b(StridedMatrix b, size_t j0, int nr, size_t k0, int kc, float* bp) {
    cmlx::pack_b(b, j0, nr, k0, kc, bp);
  }
};
static_assert(Avx512Kernel::MR == size_t(MR) && Avx512Kernel::NR == size_t(NR) && avx512_tiles.mr == Avx512Kernel::MR &&
              avx512_tiles.nr == Avx512Kernel::NR);
}  // namespace

void sgemm_serial_avx512(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc,
                         bool accumulate, const float* bias) {
  blocked_product<Avx512Kernel>(m, n, k, a, b, c, ldc, accumulate, bias);
}
#endif
}  // namespace cmlx
