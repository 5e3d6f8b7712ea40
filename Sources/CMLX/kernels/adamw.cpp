// One fused pass of PyTorch's AdamW (decoupled weight decay) followed by the EMA update, for one
// parameter tensor, as torch.optim.AdamW and ema-pytorch compute it:
//   p' = p * (1 - lr*wd)                      (when the parameter is decayed)
//   m1 = m + (g - m) * (1 - beta1)
//   v1 = v * beta2 + g*g * (1 - beta2)
//   p1 = p' - m1 / (sqrt(v1) / sqrt(bias2) + eps) * (lr / bias1)
//   e1 = e * d + p1 * (1 - d)
// Composed from MLX ops this is about a dozen passes over memory per parameter; here it is one, split
// across threads. The outputs get fresh buffers: MLX never lets a primitive of several outputs take
// over an input's buffer (each output keeps its own copy of the input list, so no input is held once;
// a debug count over `maskdm bench train` found no AdamW input donatable, while the single-output
// products' addends were).
//
// The pass is bound by memory, and a plain store to a fresh buffer first reads the line it writes
// (52 bytes of traffic per parameter instead of 36). Where the CPU has AVX-512 the outputs are
// therefore 64-byte aligned and written with streaming stores, which skip that read and do not evict
// the cache; where it has AVX2 but not AVX-512, the same with eight lanes. On this project's 2-core AMD EPYC, `maskdm bench train --preset s32 --mask-ratio 0.9
// --steps 15`, the binaries before and after alternating, medians of 6: 525.3 -> 549.7 img/s (unmasked
// 67.9 -> 69.3, medians of 4). A throwaway benchmark of the pass alone over the s32 model's tensors
// (11.1M parameters, caches flushed before each pass, 2 threads): this loop 7.1-7.4 ms, the same with
// plain AVX-512 stores 9.4 ms, the compiler-vectorised AVX2 loop (the fallback) 16.5-16.9 ms.
//
// Every loop rounds as the composed form does, one operation at a time (no fused multiply-adds), so
// they all agree with it bit for bit: KernelTests asks for it on every path the machine can run
// (isa.h).
#include <cmath>
#include <cstdint>

#include "avx2.h"
#include "avx512.h"
#include "dispatch.h"
#include "fastmath.h"
#include "isa.h"
#include "parallel.h"
#include "vector_math.h"

namespace cmlx {
namespace {

/** The per-step scalars, read from a float32 array of 5: lr, lr*wd, lr/bias1, sqrt(bias2), ema decay. */
struct StepScalars {
  float lr_wd, step_size, sqrt_bias2, decay;
};

struct AdamWConstants {
  float one_minus_beta1, beta2, one_minus_beta2, eps;
  bool weight_decay;
};

/** The update's constants on every lane of `V` (float for the scalar loop, __m256, __m512). */
template <class V>
struct AdamWLanes {
  V keep, one_minus_beta1, beta2, one_minus_beta2, eps, sqrt_bias2, step_size, decay, one_minus_decay;
};

/** Fills `k` (by reference: see vector_math.h); called from each path's loop, whose target it takes. */
template <class V>
CMLX_LANEWISE void set_lanes(AdamWLanes<V>& k, const AdamWConstants& c, const StepScalars& s) {
  k.keep = V{} + (c.weight_decay ? 1.0f - s.lr_wd : 1.0f);
  k.one_minus_beta1 = V{} + c.one_minus_beta1;
  k.beta2 = V{} + c.beta2;
  k.one_minus_beta2 = V{} + c.one_minus_beta2;
  k.eps = V{} + c.eps;
  k.sqrt_bias2 = V{} + s.sqrt_bias2;
  k.step_size = V{} + s.step_size;
  k.decay = V{} + s.decay;
  k.one_minus_decay = V{} + (1.0f - s.decay);
}

/** The update of one lane or vector of values, written once for every path: outputs (p1, m1, v1, e1)
 *  from (p, g, m, v, e). Each operation rounds on its own (contraction off), as the composed form. */
template <class V>
CMLX_LANEWISE void adamw_ema_lanes(const V& p, const V& g, const V& m, const V& v, const V& e, const AdamWLanes<V>& k,
                                   V& p1, V& m1, V& v1, V& e1) {
#pragma clang fp contract(off)
  m1 = m + (g - m) * k.one_minus_beta1;
  v1 = v * k.beta2 + g * g * k.one_minus_beta2;
  p1 = p * k.keep - m1 / (__builtin_elementwise_sqrt(v1) / k.sqrt_bias2 + k.eps) * k.step_size;
  e1 = e * k.decay + p1 * k.one_minus_decay;
}

// The pointers are __restrict: the outputs are always fresh buffers (see the note above), and without
// the promise the compiler does not vectorise a loop of nine pointers (it left this one scalar).
MASKDM_VECTORIZE void adamw_ema_loop(const float* __restrict p, const float* __restrict g, const float* __restrict m,
                                     const float* __restrict v, const float* __restrict e, float* __restrict po,
                                     float* __restrict mo, float* __restrict vo, float* __restrict eo, size_t b,
                                     size_t end, AdamWConstants c, StepScalars s) {
  AdamWLanes<float> k;
  set_lanes(k, c, s);
  for (size_t i = b; i < end; ++i) adamw_ema_lanes(p[i], g[i], m[i], v[i], e[i], k, po[i], mo[i], vo[i], eo[i]);
}

#if defined(__x86_64__)
/** adamw_ema_lanes for the sixteen values at i (those in `lanes`); with `Stream`, a full vector is
 *  written with aligned streaming stores, which bypass the cache. */
template <bool Stream>
CMLX_AVX512 inline void adamw_ema16(const float* p, const float* g, const float* m, const float* v, const float* e,
                                    float* po, float* mo, float* vo, float* eo, size_t i, __mmask16 lanes,
                                    const AdamWLanes<__m512>& k) {
  __m512 p1, m1, v1, e1;
  adamw_ema_lanes(_mm512_maskz_loadu_ps(lanes, p + i), _mm512_maskz_loadu_ps(lanes, g + i), _mm512_maskz_loadu_ps(lanes, m + i),
                  _mm512_maskz_loadu_ps(lanes, v + i), _mm512_maskz_loadu_ps(lanes, e + i), k, p1, m1, v1, e1);
  if (Stream && lanes == __mmask16(0xffff)) {
    _mm512_stream_ps(po + i, p1);
    _mm512_stream_ps(mo + i, m1);
    _mm512_stream_ps(vo + i, v1);
    _mm512_stream_ps(eo + i, e1);
  } else {
    _mm512_mask_storeu_ps(po + i, lanes, p1);
    _mm512_mask_storeu_ps(mo + i, lanes, m1);
    _mm512_mask_storeu_ps(vo + i, lanes, v1);
    _mm512_mask_storeu_ps(eo + i, lanes, e1);
  }
}

/** adamw_ema_loop sixteen lanes at a time. `b` is a multiple of 16 and the outputs are 64-byte
 *  aligned, so every full vector is an aligned store. */
template <bool Stream>
CMLX_AVX512 void adamw_ema_avx512(const float* p, const float* g, const float* m, const float* v, const float* e,
                                  float* po, float* mo, float* vo, float* eo, size_t b, size_t end, AdamWConstants c,
                                  StepScalars s) {
  AdamWLanes<__m512> k;
  set_lanes(k, c, s);
  size_t i = b;
  for (; i + 16 <= end; i += 16) adamw_ema16<Stream>(p, g, m, v, e, po, mo, vo, eo, i, __mmask16(0xffff), k);
  if (i < end) adamw_ema16<Stream>(p, g, m, v, e, po, mo, vo, eo, i, __mmask16((1u << (end - i)) - 1), k);
  if (Stream) _mm_sfence();  // streaming stores are weakly ordered: complete them before the task ends
}

/** Eight values at x + i, or the lanes of `lanes` only when not `full` (the others read as zero). */
CMLX_AVX2 inline __m256 load8(const float* x, size_t i, bool full, __m256i lanes) {
  return full ? _mm256_loadu_ps(x + i) : _mm256_maskload_ps(x + i, lanes);
}

/** adamw_ema16 on eight lanes for AVX2: all of them when `full`, else those in `lanes`. */
template <bool Stream>
CMLX_AVX2 inline void adamw_ema8(const float* p, const float* g, const float* m, const float* v, const float* e,
                                 float* po, float* mo, float* vo, float* eo, size_t i, bool full, __m256i lanes,
                                 const AdamWLanes<__m256>& k) {
  __m256 p1, m1, v1, e1;
  adamw_ema_lanes(load8(p, i, full, lanes), load8(g, i, full, lanes), load8(m, i, full, lanes), load8(v, i, full, lanes),
                  load8(e, i, full, lanes), k, p1, m1, v1, e1);
  if (Stream && full) {
    _mm256_stream_ps(po + i, p1);
    _mm256_stream_ps(mo + i, m1);
    _mm256_stream_ps(vo + i, v1);
    _mm256_stream_ps(eo + i, e1);
  } else if (full) {
    _mm256_storeu_ps(po + i, p1);
    _mm256_storeu_ps(mo + i, m1);
    _mm256_storeu_ps(vo + i, v1);
    _mm256_storeu_ps(eo + i, e1);
  } else {
    _mm256_maskstore_ps(po + i, lanes, p1);
    _mm256_maskstore_ps(mo + i, lanes, m1);
    _mm256_maskstore_ps(vo + i, lanes, v1);
    _mm256_maskstore_ps(eo + i, lanes, e1);
  }
}

/** adamw_ema_loop eight lanes at a time. `b` is a multiple of 16 and the outputs are 64-byte aligned,
 *  so every full vector is an aligned store. */
template <bool Stream>
CMLX_AVX2 void adamw_ema_avx2(const float* p, const float* g, const float* m, const float* v, const float* e,
                              float* po, float* mo, float* vo, float* eo, size_t b, size_t end, AdamWConstants c,
                              StepScalars s) {
  AdamWLanes<__m256> k;
  set_lanes(k, c, s);
  const __m256i all = lanes8(8);
  size_t i = b;
  for (; i + 8 <= end; i += 8) adamw_ema8<Stream>(p, g, m, v, e, po, mo, vo, eo, i, true, all, k);
  if (i < end) adamw_ema8<Stream>(p, g, m, v, e, po, mo, vo, eo, i, false, lanes8(int(end - i)), k);
  if (Stream) _mm_sfence();
}
#endif

/** Runs the update over [0, n) on the kernel threads, in chunks that start on multiples of 16. Tensors
 *  of 16K values or more are streamed past the cache: the outputs of one step are next read by the
 *  following step, after the rest of it has gone through the cache. */
void adamw_ema_all(const float* p, const float* g, const float* m, const float* v, const float* e, float* po,
                   float* mo, float* vo, float* eo, size_t n, AdamWConstants c, StepScalars s) {
  size_t threads = std::min<size_t>(kernel_threads(), std::max<size_t>(1, n >> 16));
  size_t chunk = ((n + threads - 1) / threads + 15) / 16 * 16;
  parallel_tasks(threads, [&](size_t t) {
    size_t b = std::min(n, t * chunk), end = std::min(n, b + chunk);
#if defined(__x86_64__)
    const bool stream = n >= (1 << 14);
    const Isa path = isa();
    if (path == Isa::avx512) {
      if (stream)
        adamw_ema_avx512<true>(p, g, m, v, e, po, mo, vo, eo, b, end, c, s);
      else
        adamw_ema_avx512<false>(p, g, m, v, e, po, mo, vo, eo, b, end, c, s);
      return;
    }
    if (path == Isa::avx2) {
      if (stream)
        adamw_ema_avx2<true>(p, g, m, v, e, po, mo, vo, eo, b, end, c, s);
      else
        adamw_ema_avx2<false>(p, g, m, v, e, po, mo, vo, eo, b, end, c, s);
      return;
    }
#endif
    adamw_ema_loop(p, g, m, v, e, po, mo, vo, eo, b, end, c, s);
  });
}

class AdamWEMA : public mx::Primitive {
 public:
  AdamWEMA(mx::Stream s, AdamWConstants c) : Primitive(s), c_(c) {}

  void eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override {
    AdamWConstants c = c_;
    auto body = [c](std::vector<mx::array>& in, std::vector<mx::array>& out) {
      const float* sc = in[5].data<float>();
      StepScalars s{sc[1], sc[2], sc[3], sc[4]};
      const float *p = in[0].data<float>(), *g = in[1].data<float>(), *m = in[2].data<float>();
      const float *v = in[3].data<float>(), *e = in[4].data<float>();
      float *po = out[0].data<float>(), *mo = out[1].data<float>(), *vo = out[2].data<float>();
      float* eo = out[3].data<float>();
      adamw_ema_all(p, g, m, v, e, po, mo, vo, eo, out[0].size(), c, s);
    };
    dispatch_cpu(stream(), inputs, outputs, body, {}, InputLayout::row_major, /* output_alignment */ 64);
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("AdamWEMA is a CPU kernel");
  }
  const char* name() const override { return "MaskDMAdamWEMA"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    auto& o = static_cast<const AdamWEMA&>(other).c_;
    return o.one_minus_beta1 == c_.one_minus_beta1 && o.beta2 == c_.beta2 && o.one_minus_beta2 == c_.one_minus_beta2 &&
           o.eps == c_.eps && o.weight_decay == c_.weight_decay;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override {
    return {in[0].shape(), in[0].shape(), in[0].shape(), in[0].shape()};
  }

 private:
  AdamWConstants c_;
};

/** The same update composed from MLX ops (GPU, other dtypes, and the reference of the tests). */
std::vector<mx::array> adamw_ema_composed(const mx::array& p, const mx::array& g, const mx::array& m,
                                          const mx::array& v, const mx::array& e, const mx::array& scalars,
                                          AdamWConstants c) {
  auto dt = p.dtype();
  auto at = [&](int i) { return mx::reshape(mx::slice(scalars, {i}, {i + 1}), {}); };
  auto scalar = [&](float x) { return mx::array(x, dt); };
  auto decayed = c.weight_decay ? mx::multiply(p, mx::subtract(scalar(1), at(1))) : p;
  auto m1 = mx::add(m, mx::multiply(mx::subtract(g, m), scalar(c.one_minus_beta1)));
  auto v1 = mx::add(mx::multiply(v, scalar(c.beta2)), mx::multiply(mx::multiply(g, g), scalar(c.one_minus_beta2)));
  auto denom = mx::add(mx::divide(mx::sqrt(v1), at(3)), scalar(c.eps));
  auto p1 = mx::subtract(decayed, mx::multiply(mx::divide(m1, denom), at(2)));
  auto d = at(4);
  auto e1 = mx::add(mx::multiply(e, d), mx::multiply(p1, mx::subtract(scalar(1), d)));
  return {p1, m1, v1, e1};
}
}  // namespace

std::vector<mx::array> adamw_ema(const mx::array& p, const mx::array& g, const mx::array& m, const mx::array& v,
                                 const mx::array& e, const mx::array& scalars, double beta1, double beta2, double eps,
                                 bool weight_decay, bool fast) {
  // The constants are rounded to float32 from double, as the composed Swift form did.
  AdamWConstants c{float(1.0 - beta1), float(beta2), float(1.0 - beta2), float(eps), weight_decay};
  std::optional<mx::Stream> s;
  bool same = g.shape() == p.shape() && m.shape() == p.shape() && v.shape() == p.shape() && e.shape() == p.shape();
  if (fast && same && scalars.size() >= 5) s = kernel_stream({&p, &g, &m, &v, &e, &scalars});
  if (!s) return adamw_ema_composed(p, g, m, v, e, scalars, c);
  return mx::array::make_arrays({p.shape(), p.shape(), p.shape(), p.shape()},
                                {mx::float32, mx::float32, mx::float32, mx::float32},
                                std::make_shared<AdamWEMA>(*s, c), {p, g, m, v, e, scalars});
}
}  // namespace cmlx

extern "C" int mlxs_adamw_ema(mlxs_vec out, mlxs_array p, mlxs_array g, mlxs_array m, mlxs_array v, mlxs_array ema,
                              mlxs_array scalars, double beta1, double beta2, double eps, int weight_decay, int fast) {
  return cmlx::guard([&] {
    auto results = cmlx::adamw_ema(cmlx::get(p), cmlx::get(g), cmlx::get(m), cmlx::get(v), cmlx::get(ema),
                                   cmlx::get(scalars), beta1, beta2, eps, weight_decay != 0, fast != 0);
    for (auto& r : results) cmlx::vec(out).push_back(std::move(r));
  });
}
