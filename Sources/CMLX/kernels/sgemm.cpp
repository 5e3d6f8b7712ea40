// sgemm.h's entry points: the products with nothing to compute, the split among the kernel threads,
// and the choice of kernel by isa.h (sgemm_avx512.cpp, sgemm_avx2.cpp; the blocked loops they share are
// sgemm_blocked.h).
#include "sgemm.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "isa.h"
#include "parallel.h"
#include "sgemm_blocked.h"
#include "sgemm_kernels.h"

namespace cmlx {

bool sgemm_available() { return isa() != Isa::generic; }

#if defined(__x86_64__)
namespace {

using SerialProduct = void (*)(size_t, size_t, size_t, StridedMatrix, StridedMatrix, float*, size_t, bool,
                               const float*);

/** The kernel for the path in use. A graph built while our product served may still be evaluated
 *  after a switch to generic (isa.h): it then takes the widest kernel the CPU has, rather than fail. */
void choose(SerialProduct& serial, TileSizes& tiles) {
  Isa path = isa();
  if (path == Isa::generic) path = isa_supported(Isa::avx512) ? Isa::avx512 : Isa::avx2;
  if (path == Isa::avx512) {
    serial = sgemm_serial_avx512;
    tiles = avx512_tiles;
  } else {
    if (!isa_supported(Isa::avx2)) std::abort();  // callers check sgemm_available()
    serial = sgemm_serial_avx2;
    tiles = avx2_tiles;
  }
}

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
  if (empty_product(m, n, k, c, ldc, accumulate, bias)) return;
  SerialProduct serial;
  TileSizes tiles;
  choose(serial, tiles);
  serial(m, n, k, a, b, c, ldc, accumulate, bias);
}

void sgemm(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc, bool accumulate,
           const float* bias) {
  if (empty_product(m, n, k, c, ldc, accumulate, bias)) return;
  SerialProduct serial;
  TileSizes tiles;
  choose(serial, tiles);
  const size_t MR = tiles.mr, NR = tiles.nr;
  // Each thread takes a band of C's columns, packing only its part of B, as long as that gives every
  // thread two tiles; A read in place is then shared without a copy. Only an A that must be packed
  // (other strides) is split by rows when it is the larger operand, so that each thread copies half of
  // it and all of B rather than all of it. Below about a million multiply-adds (about 2 µs on AVX-512)
  // one thread does it all; that threshold is a guess, not tuned.
  size_t threads = std::min<size_t>(kernel_threads(), std::max<size_t>(1, m * n * k >> 20));
  size_t column_tiles = (n + NR - 1) / NR, row_tiles = (m + MR - 1) / MR;
  bool a_in_place = rows_in_place(a) || runs_in_place(a);
  bool by_columns = (m <= n || a_in_place) ? column_tiles >= 2 * threads : row_tiles < 2 * threads;
  size_t tiles_count = by_columns ? column_tiles : row_tiles;
  parallel_for(tiles_count, std::max<size_t>(1, tiles_count / threads), [&](size_t t0, size_t t1) {
    if (by_columns) {
      size_t j0 = t0 * NR, j1 = std::min(n, t1 * NR);
      StridedMatrix part{b.data + int64_t(j0) * b.column_stride, b.row_stride, b.column_stride};
      serial(m, j1 - j0, k, a, part, c + j0, ldc, accumulate, bias ? bias + j0 : nullptr);
    } else {
      size_t i0 = t0 * MR, i1 = std::min(m, t1 * MR);
      StridedMatrix part{a.data + int64_t(i0) * a.row_stride, a.row_stride, a.column_stride};
      serial(i1 - i0, n, k, part, b, c + i0 * ldc, ldc, accumulate, bias);
    }
  });
}

#else  // not x86-64: BLAS serves (isa() is generic)

void sgemm(size_t, size_t, size_t, StridedMatrix, StridedMatrix, float*, size_t, bool, const float*) {
  std::abort();  // callers check sgemm_available()
}
void sgemm_on_this_thread(size_t, size_t, size_t, StridedMatrix, StridedMatrix, float*, size_t, bool, const float*) {
  std::abort();
}
#endif
}  // namespace cmlx
