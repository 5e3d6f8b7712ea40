// The AVX2 + FMA kernel of sgemm_blocked.h's product, for CPUs without AVX-512 (AMD Zen 2/3, Intel
// client chips): AVX2 has 16 vector registers, so the tile is 6 x 16, the layout of OpenBLAS's and
// BLIS's Haswell kernels: 12 accumulators, 2 vectors of B and one broadcast of A, 12 multiply-adds per
// step of k. KC = 256 keeps a packed panel of B (256 x 16 floats, 16 KB) in a 32 KB first-level cache
// next to the six rows of A it meets.
#include "avx2.h"
#include "sgemm_blocked.h"
#include "sgemm_kernels.h"
#if defined(__x86_64__)
#define CMLX_TILE_TARGET CMLX_AVX2
// Four steps of k per turn of the loop, not one: the loop's counter, compare and branch come once per
// 48 multiply-adds. Measured only together with pack_page_strided_runs below (docs/performance.md).
#define CMLX_TILE_UNROLL _Pragma("clang loop unroll_count(4)")
#include "sgemm_tile.h"
#endif

namespace cmlx {

#if defined(__x86_64__)
namespace {

constexpr int MR = 6, NR = 16;

/**
 * Copies `rows` (<= 8) runs of kc contiguous values, run i at src + i * stride, as columns: dst[k * pitch
 * + i] for the lanes in `keep` (lanes past `rows` get zeros), eight values of k at a time.
 */
CMLX_AVX2 void transpose_runs(const float* src, int64_t stride, int rows, int kc, float* dst, int pitch,
                              __m256i keep, bool keep_all) {
  __m256 r[8];
  for (int k = 0; k < kc; k += 8) {
    const __m256i m = lanes8(kc - k);
    // Eight rows are eight streams: fetch each row's next cache lines while this block is transposed
    // (as the AVX-512 kernel does, where it was measured).
    for (int i = 0; i < rows; ++i) _mm_prefetch(reinterpret_cast<const char*>(src + i * stride + k + 64), _MM_HINT_T0);
    for (int i = 0; i < 8; ++i) r[i] = i < rows ? _mm256_maskload_ps(src + i * stride + k, m) : _mm256_setzero_ps();
    transpose8(r);
    for (int i = 0; i < 8 && k + i < kc; ++i) {
      if (keep_all)
        _mm256_storeu_ps(dst + (k + i) * pitch, r[i]);
      else
        _mm256_maskstore_ps(dst + (k + i) * pitch, keep, r[i]);
    }
  }
}

/** Rows [i0, i0 + mr) and columns [k0, k0 + kc) of A as a panel: ap[k * MR + i], zero rows past mr. */
CMLX_AVX2 void pack_a(StridedMatrix a, size_t i0, int mr, size_t k0, int kc, float* ap) {
  const float* base = a.data + int64_t(i0) * a.row_stride + int64_t(k0) * a.column_stride;
  const __m256i panel = lanes8(MR);
  if (a.row_stride == 1) {  // Aᵀ is row-major: the panel's rows are contiguous runs of the source
    const __m256i m = lanes8(mr);
    for (int k = 0; k < kc; ++k)
      _mm256_maskstore_ps(ap + k * MR, panel, _mm256_maskload_ps(base + int64_t(k) * a.column_stride, m));
    return;
  }
  if (a.column_stride == 1) {  // row-major A: its rows become the panel's columns
    transpose_runs(base, a.row_stride, mr, kc, ap, MR, panel, false);
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
CMLX_AVX2 void pack_b(StridedMatrix b, size_t j0, int nr, size_t k0, int kc, float* bp) {
  const float* base = b.data + int64_t(k0) * b.row_stride + int64_t(j0) * b.column_stride;
  if (b.column_stride == 1) {  // row-major B: each step of k copies one run of nr values
    const __m256i m0 = lanes8(nr), m1 = lanes8(nr - 8);
    for (int k = 0; k < kc; ++k) {
      const float* src = base + int64_t(k) * b.row_stride;
      _mm_prefetch(reinterpret_cast<const char*>(src + 8 * b.row_stride), _MM_HINT_T0);  // rows ld apart
      _mm256_storeu_ps(bp + k * NR, _mm256_maskload_ps(src, m0));
      _mm256_storeu_ps(bp + k * NR + 8, _mm256_maskload_ps(src + 8, m1));
    }
    return;
  }
  if (b.row_stride == 1) {  // transposed (a weight read as Wᵀ): B's columns are runs, eight at a time
    for (int h = 0; h < NR; h += 8)
      transpose_runs(base + int64_t(h) * b.column_stride, b.column_stride, std::max(0, std::min(8, nr - h)), kc,
                     bp + h, NR, lanes8(8), true);
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
struct Avx2Kernel {
  static constexpr size_t MR = 6, NR = 16, KC = 256, MC = 144, NC = 512;
  // On a Zen 3 (32 KB L1d, 512 KB L2, both 8-way) the weight gradient of a layer of 1024 outputs, gᵀ x
  // with g's rows 4 KB apart, went from 0.81x to 0.89x OpenBLAS's speed with this and the unrolled
  // loop (benchmarks/kernel_gemm.sh, docs/performance.md); other strides were slower packed.
  static constexpr bool pack_page_strided_runs = true;
  CMLX_AVX2 static void tile_rows(int nr, int kc, const float* a, int64_t step, const float* bp, float* c, size_t ldc,
                                  int mr, bool accumulate, const float* bias) {
    run_tile<Avx2Lanes, MR, NR, ALayout::rows>(nr, kc, a, step, bp, c, ldc, mr, accumulate, bias);
  }
  CMLX_AVX2 static void tile_runs(int nr, int kc, const float* a, int64_t step, const float* bp, float* c, size_t ldc,
                                  int mr, bool accumulate, const float* bias) {
    run_tile<Avx2Lanes, MR, NR, ALayout::runs>(nr, kc, a, step, bp, c, ldc, mr, accumulate, bias);
  }
  static void pack_a(StridedMatrix a, size_t i0, int mr, size_t k0, int kc, float* ap) {
    cmlx::pack_a(a, i0, mr, k0, kc, ap);
  }
  static void pack_b(StridedMatrix b, size_t j0, int nr, size_t k0, int kc, float* bp) {
    cmlx::pack_b(b, j0, nr, k0, kc, bp);
  }
};
static_assert(Avx2Kernel::MR == size_t(MR) && Avx2Kernel::NR == size_t(NR) && avx2_tiles.mr == Avx2Kernel::MR &&
              avx2_tiles.nr == Avx2Kernel::NR && Avx2Kernel::MC % Avx2Kernel::MR == 0);
}  // namespace

void sgemm_serial_avx2(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc,
                       bool accumulate, const float* bias) {
  blocked_product<Avx2Kernel>(m, n, k, a, b, c, ldc, accumulate, bias);
}
#endif
}  // namespace cmlx
