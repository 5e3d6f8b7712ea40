// A matrix read where it lies, through strides: the operand type of this project's matrix products
// (small_gemm.h for attention's per-head products, sgemm.h for Linear layers and convolutions).
#pragma once
#include <cstddef>
#include <cstdint>

namespace cmlx {

/** Element (i, j) is data[i * row_stride + j * column_stride]: a transposed view swaps the strides, a
 *  broadcast row has a row stride of 0. */
struct StridedMatrix {
  const float* data;
  int64_t row_stride, column_stride;

  float at(size_t i, size_t j) const { return data[int64_t(i) * row_stride + int64_t(j) * column_stride]; }

  /** Rows of contiguous values, `ld` apart. */
  static StridedMatrix row_major(const float* data, size_t ld) { return {data, int64_t(ld), 1}; }
  /** The transpose of row_major(data, ld): columns of contiguous values, `ld` apart. */
  static StridedMatrix transposed(const float* data, size_t ld) { return {data, 1, int64_t(ld)}; }
};
}  // namespace cmlx
