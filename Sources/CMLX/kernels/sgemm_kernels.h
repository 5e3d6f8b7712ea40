// The per-instruction-set halves of sgemm.h's product (sgemm_avx512.cpp, sgemm_avx2.cpp): each runs
// the whole product on the calling thread (blocked_product of sgemm_blocked.h with its own kernel);
// sgemm.cpp picks one by isa.h and splits the work among the threads by their tile sizes.
#pragma once
#include <cstddef>

#include "strided.h"

namespace cmlx {

/** A kernel's tile of C: MR rows, NR columns. */
struct TileSizes {
  size_t mr, nr;
};

constexpr TileSizes avx512_tiles{12, 32};
void sgemm_serial_avx512(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc,
                         bool accumulate, const float* bias);

constexpr TileSizes avx2_tiles{6, 16};
void sgemm_serial_avx2(size_t m, size_t n, size_t k, StridedMatrix a, StridedMatrix b, float* c, size_t ldc,
                       bool accumulate, const float* bias);
}  // namespace cmlx
