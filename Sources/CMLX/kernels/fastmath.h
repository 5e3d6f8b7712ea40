// Branch-free float approximations of exp and erf that compilers vectorise (MLX's CPU backend
// evaluates these scalar; see DESIGN.md). Accuracy: exp ~2 ulp over [-87, 88]; erf within 2e-7
// absolute (the rational approximation used by XLA/Eigen for float).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

#include "vector_math.h"

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#define MASKDM_VECTORIZE __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define MASKDM_VECTORIZE
#endif

namespace cmlx {

/** Eight floats in vector registers (AVX in the x86-64-v3 clones, two SSE registers otherwise); loads
 *  and stores need no alignment. Float sums are not reassociated by the compiler, so reductions that
 *  should vectorise accumulate in these lanes explicitly. Helpers are macros or take references: a
 *  function passing this type by value has a different ABI in the two clones. */
typedef float v8f __attribute__((vector_size(32), aligned(4)));
#define CMLX_LOAD8(p) (*reinterpret_cast<const v8f*>(p))
#define CMLX_STORE8(p, v) (*reinterpret_cast<v8f*>(p) = (v))
inline __attribute__((always_inline)) float lanes_sum(const v8f& v) {
  float s = 0;
  for (int i = 0; i < 8; ++i) s += v[i];
  return s;
}

/** exp (vector_math.h's exp_lanes on one lane, as exp8 and exp16). */
inline float fast_exp(float x) {
  float y;
  exp_lanes(y, x);
  return y;
}

inline float fast_erf(float x) {
  x = std::fmin(std::fmax(x, -4.0f), 4.0f);
  float x2 = x * x;
  float p = -2.72614225801306e-10f;
  p = std::fma(p, x2, 2.77068142495902e-08f);
  p = std::fma(p, x2, -2.10102402082508e-06f);
  p = std::fma(p, x2, -5.69250639462346e-05f);
  p = std::fma(p, x2, -7.34990630326855e-04f);
  p = std::fma(p, x2, -2.95459980854025e-03f);
  p = std::fma(p, x2, -1.60960333262415e-02f);
  float q = -1.45660718464996e-05f;
  q = std::fma(q, x2, -2.13374055278905e-04f);
  q = std::fma(q, x2, -1.68282697438203e-03f);
  q = std::fma(q, x2, -7.37332916720468e-03f);
  q = std::fma(q, x2, -1.42647390514189e-02f);
  return x * p / q;
}
}  // namespace cmlx
