// The kernels' element-wise math written once over the vector width: `V` is float (one lane, the
// scalar and compiler-vectorised loops), AVX2's __m256 or AVX-512's __m512, used through the compiler's
// vector operators and element-wise builtins. Each function is always inlined into its caller, whose
// target attribute (avx2.h, avx512.h) then picks the instructions; so a change of a constant or of the
// order of operations reaches every path at once, and the paths keep agreeing bit for bit.
//
// Vectors are passed and returned by reference: by value, a 256- or 512-bit vector through a function
// compiled without AVX would change the calling convention, which the compiler refuses.
#pragma once
#include <cstdint>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define CMLX_LANEWISE __attribute__((always_inline)) inline

namespace cmlx {

/** The int32 lanes of the same width as `V`. */
template <class V>
struct IntLanes;
template <>
struct IntLanes<float> {
  using type = int32_t;
};
#if defined(__x86_64__)
typedef int32_t int32x8 __attribute__((vector_size(32)));
typedef int32_t int32x16 __attribute__((vector_size(64)));
template <>
struct IntLanes<__m256> {
  using type = int32x8;
};
template <>
struct IntLanes<__m512> {
  using type = int32x16;
};
#endif

/** Float lanes to int32 lanes, rounding toward zero (values are whole already where it is used). */
CMLX_LANEWISE void to_int32(int32_t& out, const float& x) { out = int32_t(x); }
template <class V, class I>
CMLX_LANEWISE void to_int32(I& out, const V& x) {
  out = __builtin_convertvector(x, I);
}

/**
 * exp(x) on every lane: ~2 ulp over [-87, 88], clamped beyond (a NaN gives exp(-87.3)). exp(x) = 2^k
 * exp(r) with r = x - k ln2 in [-ln2/2, ln2/2] (ln2 split in two for accuracy), exp(r) by a degree-7
 * polynomial, 2^k built from its exponent bits (k stays within the normal floats after the clamp).
 */
template <class V>
CMLX_LANEWISE void exp_lanes(V& out, const V& input) {
  using I = typename IntLanes<V>::type;
  const V lo = V{} + -87.3f, hi = V{} + 88.3f;
  V x = input > lo ? input : lo;  // max and min as the vector instructions order them
  x = x < hi ? x : hi;
  V k = __builtin_elementwise_roundeven(x * 1.44269504088896341f);
  V r = __builtin_elementwise_fma(k, V{} + -0.693145751953125f, x);
  r = __builtin_elementwise_fma(k, V{} + -1.428606765330187045e-06f, r);
  V p = V{} + 1.9875691500e-4f;
  p = __builtin_elementwise_fma(p, r, V{} + 1.3981999507e-3f);
  p = __builtin_elementwise_fma(p, r, V{} + 8.3334519073e-3f);
  p = __builtin_elementwise_fma(p, r, V{} + 4.1665795894e-2f);
  p = __builtin_elementwise_fma(p, r, V{} + 1.6666665459e-1f);
  p = __builtin_elementwise_fma(p, r, V{} + 5.0000001201e-1f);
  p = __builtin_elementwise_fma(p * r, r, r) + 1.0f;
  I bits;
  to_int32(bits, k);
  bits = (bits + 127) << 23;
  out = p * __builtin_bit_cast(V, bits);
}

}  // namespace cmlx
