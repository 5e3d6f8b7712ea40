// Matrix products of Linear layers on BLAS without MLX's copies (gemm.cpp).
#pragma once
#include "../internal.h"

namespace cmlx {

/** What the product is added to: nothing, a bias row broadcast over the rows, or an addend matrix. */
enum class GemmStart { zero, bias, addend };

/**
 * a (m, k) times b (k, n), plus a bias (n) or an addend (m, n) as `start` says. Views of any strides
 * are read in place where BLAS can (row-major or transposed with a leading dimension); an addend's
 * buffer is taken over when MLX allows. MLX's matmul and add serve off the CPU and for other dtypes.
 */
mx::array gemm(const mx::array& a, const mx::array& b, GemmStart start = GemmStart::zero,
               const std::optional<mx::array>& extra = std::nullopt);
}  // namespace cmlx
