// Multi-head self-attention straight from the packed `qkv` projection, as one MLX primitive with a
// multi-threaded CPU kernel and its gradient. The U-ViT layout (the authors' mask_uvit.py):
//   qkv (B, L, 3*D) viewed as (B, L, 3, H, hd);  out (B, L, D) viewed as (B, L, H, hd)
//   S = scale * Q Kᵀ,  P = softmax(S) by rows,  O = P V                     (per batch item and head)
// and the gradient, with P recomputed rather than stored (an L x L matrix per head):
//   dP = dO Vᵀ,  dS = P ∘ (dP - rowsum(dO ∘ O)),  dQ = scale dS K,  dK = scale dSᵀ Q,  dV = Pᵀ dO
// Reading and writing the packed layout directly saves the transposes to (B, H, L, hd) and back that
// the composed form needs, forward and backward; work is split over (batch item, head) pairs.
// On the GPU and for other dtypes the composition of MLX ops (fast::scaled_dot_product_attention)
// serves; for at most 16 tokens on AVX-512 CPUs, the loops of attention_small.cpp.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <string>
#include <vector>

#include "attention_small.h"
#include "dispatch.h"
#include "fastmath.h"
#include "parallel.h"
#include "small_gemm.h"

namespace cmlx {
namespace {

/** Sizes of one call: batch, tokens, heads, head dim, model dim. */
struct Dims : AttentionSizes {
  Dims(const mx::array& qkv, int heads)
      : AttentionSizes{size_t(qkv.shape(0)), size_t(qkv.shape(1)), size_t(heads), size_t(qkv.shape(2) / 3 / heads),
                       size_t(qkv.shape(2) / 3)} {}
  size_t pairs() const { return b * h; }
  /** (batch item, head) pairs per thread worth starting a thread for. */
  size_t grain() const { return std::max<size_t>(1, (size_t(1) << 16) / std::max<size_t>(1, l * (l + hd))); }
};

/** B (rows x cols, leading dimension ld) transposed into a dense cols x rows_padded buffer. */
inline void transpose_into(const float* b, size_t ld, size_t rows, size_t cols, float* out, size_t out_ld) {
  for (size_t r = 0; r < rows; ++r)
    for (size_t c = 0; c < cols; ++c) out[c * out_ld + r] = b[r * ld + c];
}

/** Row-wise softmax of an m x n matrix (leading dimension ld), in place. The maximum, exp and sum run
 *  on eight lanes explicitly: the compiler does not reorder a float reduction by itself, and scalar
 *  exps were 16% of sampling the quick model (perf, `bench sample --preset quick`). Every lane and the
 *  scalar tail compute exp_lanes, so each path gives the same values. */
MASKDM_VECTORIZE void softmax_rows(float* s, size_t m, size_t n, size_t ld) {
  const size_t n8 = n - n % 8;
  for (size_t i = 0; i < m; ++i) {
    float* row = s + i * ld;
    float mx = row[0];
    if (n8 > 0) {
      v8f most = CMLX_LOAD8(row);
      for (size_t j = 8; j < n8; j += 8) {
        v8f x = CMLX_LOAD8(row + j);
        most = x > most ? x : most;
      }
      for (int k = 0; k < 8; ++k) mx = std::max(mx, most[k]);
    }
    for (size_t j = n8; j < n; ++j) mx = std::max(mx, row[j]);
    v8f total = {}, shift = v8f{} + mx;
    for (size_t j = 0; j < n8; j += 8) {
      v8f e;
      exp_lanes(e, CMLX_LOAD8(row + j) - shift);
      CMLX_STORE8(row + j, e);
      total += e;
    }
    float sum = lanes_sum(total);
    for (size_t j = n8; j < n; ++j) {
      row[j] = fast_exp(row[j] - mx);
      sum += row[j];
    }
    const float inv = 1.0f / sum;
    for (size_t j = 0; j < n; ++j) row[j] *= inv;
  }
}

/** C (l x l) = alpha A Bᵀ for A and B (l x hd) with leading dimensions lda and ldb; bt is scratch of
 *  hd x l. Columns in whole tiles of 16 run as small_gemm on Bᵀ, the rest as dot products of rows. */
inline void token_products(const float* a, size_t lda, const float* b, size_t ldb, const Dims& n, float alpha,
                           float* bt, float* c) {
  size_t l16 = n.l - n.l % 16;
  if (l16 > 0) {
    transpose_into(b, ldb, l16, n.hd, bt, n.l);
    small_gemm(StridedMatrix::row_major(a, lda), bt, n.l, c, n.l, n.l, l16, n.hd, alpha);
  }
  if (l16 < n.l) small_gemm_nt(a, lda, b + l16 * ldb, ldb, c + l16, n.l, n.l, n.l - l16, n.hd, alpha);
}

/** S = scale Q Kᵀ and P = softmax(S) for one (batch item, head); kt is scratch of hd x l. */
inline void probabilities(const float* q, const float* k, size_t ld, const Dims& n, float scale, float* kt, float* p) {
  token_products(q, ld, k, ld, n, scale, kt, p);
  softmax_rows(p, n.l, n.l, n.l);
}

// The loops below take their scratch memory from the caller: a function compiled once per target
// (MASKDM_VECTORIZE) must not instantiate library templates of its own.

/** Scratch floats one thread needs: Kᵀ, Vᵀ, P, dS and a row. */
inline size_t scratch_size(const Dims& n) { return 2 * n.hd * n.l + 2 * n.l * n.l + n.l; }

MASKDM_VECTORIZE void attention_pairs(const float* qkv, float* out, const Dims& n, float scale, size_t p0, size_t p1,
                                      float* scratch) {
  float *kt = scratch, *p = kt + n.hd * n.l;
  const size_t ld = 3 * n.d;
  for (size_t pair = p0; pair < p1; ++pair) {
    const float* base = qkv + packed_offset(n, pair);
    probabilities(base, base + n.d, ld, n, scale, kt, p);
    small_gemm(StridedMatrix::row_major(p, n.l), base + 2 * n.d, ld, out + output_offset(n, pair), n.d, n.l, n.hd,
               n.l, 1.0f);
  }
}

MASKDM_VECTORIZE void attention_grad_pairs(const float* qkv, const float* o, const float* go, float* dqkv,
                                           const Dims& n, float scale, size_t p0, size_t p1, float* scratch) {
  float *kt = scratch, *vt = kt + n.hd * n.l, *p = vt + n.hd * n.l, *ds = p + n.l * n.l, *rowdot = ds + n.l * n.l;
  const size_t ld = 3 * n.d;
  for (size_t pair = p0; pair < p1; ++pair) {
    const float* q = qkv + packed_offset(n, pair);
    const float *k = q + n.d, *v = q + 2 * n.d;
    const float *oo = o + output_offset(n, pair), *g = go + output_offset(n, pair);
    float* dq = dqkv + packed_offset(n, pair);
    float *dk = dq + n.d, *dv = dq + 2 * n.d;
    probabilities(q, k, ld, n, scale, kt, p);
    for (size_t i = 0; i < n.l; ++i) {
      float s = 0;
      for (size_t c = 0; c < n.hd; ++c) s += g[i * n.d + c] * oo[i * n.d + c];
      rowdot[i] = s;
    }
    token_products(g, n.d, v, ld, n, 1.0f, vt, ds);  // dP = dO Vᵀ
    for (size_t i = 0; i < n.l; ++i)
      for (size_t j = 0; j < n.l; ++j) ds[i * n.l + j] = p[i * n.l + j] * (ds[i * n.l + j] - rowdot[i]);
    small_gemm(StridedMatrix::row_major(ds, n.l), k, ld, dq, ld, n.l, n.hd, n.l, scale);  // dQ = scale dS K
    small_gemm(StridedMatrix::transposed(ds, n.l), q, ld, dk, ld, n.l, n.hd, n.l, scale);  // dK = scale dSᵀ Q
    small_gemm(StridedMatrix::transposed(p, n.l), g, n.d, dv, ld, n.l, n.hd, n.l, 1.0f);   // dV = Pᵀ dO
  }
}

/** What the forward and backward primitives share: their settings, and running a kernel over the
 *  (batch item, head) pairs on MLX's CPU stream with per-thread scratch memory. */
class PerHeadPrimitive : public mx::UnaryPrimitive {
 public:
  PerHeadPrimitive(mx::Stream s, int heads, float scale) : UnaryPrimitive(s), heads_(heads), scale_(scale) {}
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error(std::string(name()) + " is a CPU kernel");
  }
  bool is_equivalent(const mx::Primitive& other) const override {
    if (std::string(name()) != other.name()) return false;  // forward vs backward
    auto& o = static_cast<const PerHeadPrimitive&>(other);
    return o.heads_ == heads_ && o.scale_ == scale_;
  }

 protected:
  /** kernel(in, out, dims, scale, first pair, end pair, scratch) on every pair, split across threads. */
  template <typename Kernel>
  void run_pairs(const std::vector<mx::array>& inputs, mx::array& out, Kernel kernel) {
    std::vector<mx::array> outs{out};
    int heads = heads_;
    float scale = scale_;
    dispatch_cpu(stream(), inputs, outs, [heads, scale, kernel](std::vector<mx::array>& in, std::vector<mx::array>& os) {
      Dims n(in[0], heads);
      parallel_for(n.pairs(), n.grain(), [&](size_t p0, size_t p1) {
        std::vector<float> scratch(scratch_size(n));
        kernel(in, os[0], n, scale, p0, p1, scratch.data());
      });
    }, {}, InputLayout::row_major);
  }
  int heads_;
  float scale_;
};

class AttentionGrad : public PerHeadPrimitive {
 public:
  using PerHeadPrimitive::PerHeadPrimitive;
  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    run_pairs(inputs, out, [](auto& in, auto& dqkv, const Dims& n, float scale, size_t p0, size_t p1, float* scratch) {
      const float *qkv = in[0].template data<float>(), *o = in[1].template data<float>();
      const float* go = in[2].template data<float>();
      if (small_attention_applies(n))
        small_attention_grad_pairs(qkv, o, go, dqkv.template data<float>(), n, scale, p0, p1);
      else
        attention_grad_pairs(qkv, o, go, dqkv.template data<float>(), n, scale, p0, p1, scratch);
    });
  }
  const char* name() const override { return "MaskDMAttentionGrad"; }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override { return {in[0].shape()}; }
};

class Attention : public PerHeadPrimitive {
 public:
  using PerHeadPrimitive::PerHeadPrimitive;
  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    run_pairs(inputs, out, [](auto& in, auto& o, const Dims& n, float scale, size_t p0, size_t p1, float* scratch) {
      if (small_attention_applies(n))
        small_attention_pairs(in[0].template data<float>(), o.template data<float>(), n, scale, p0, p1);
      else
        attention_pairs(in[0].template data<float>(), o.template data<float>(), n, scale, p0, p1, scratch);
    });
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>&, const std::vector<mx::array>& outputs) override {
    auto s = stream();
    auto g = mx::astype(cotangents[0], mx::float32, s);
    return {mx::array(primals[0].shape(), mx::float32, std::make_shared<AttentionGrad>(s, heads_, scale_),
                      {primals[0], outputs[0], g})};
  }
  const char* name() const override { return "MaskDMAttention"; }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override {
    auto shape = in[0].shape();
    shape.back() /= 3;
    return {shape};
  }
};

/** The composition of MLX ops: split the heads out, fast::scaled_dot_product_attention, merge them.
 *  With pad_to > 1 the tokens are padded up to a multiple of pad_to and the padded keys masked out
 *  (an additive mask of the lowest finite value, broadcast, never materialised per batch and head);
 *  the padded query rows are dropped from the output. */
mx::array attention_composed(const mx::array& qkv, int heads, float scale, int pad_to) {
  int b = qkv.shape(0), l = qkv.shape(1), d = qkv.shape(2) / 3, hd = d / heads;
  auto split = mx::transpose(mx::reshape(qkv, {b, l, 3, heads, hd}), {2, 0, 3, 1, 4});  // (3, B, H, L, hd)
  auto part = [&](int i) { return mx::squeeze(mx::slice(split, {i, 0, 0, 0, 0}, {i + 1, b, heads, l, hd}), 0); };
  int padded = pad_to > 1 ? (l + pad_to - 1) / pad_to * pad_to : l;
  auto heads_out = [&]() {  // (B, H, L, hd)
    if (padded == l) return mx::fast::scaled_dot_product_attention(part(0), part(1), part(2), scale);
    auto pad = [&](const mx::array& x) { return mx::pad(x, {2}, {0}, {padded - l}); };
    auto lowest = mx::array(mx::finfo(qkv.dtype()).min, qkv.dtype());
    auto keep = mx::less(mx::arange(padded), mx::array(l));
    auto mask = mx::broadcast_to(mx::reshape(mx::where(keep, mx::array(0.0f, qkv.dtype()), lowest), {1, padded}),
                                 {padded, padded});
    auto o = mx::fast::scaled_dot_product_attention(pad(part(0)), pad(part(1)), pad(part(2)), scale, "", mask);
    return mx::slice(o, {0, 0, 0, 0}, {b, heads, l, hd});
  };
  return mx::reshape(mx::transpose(heads_out(), {0, 2, 1, 3}), {b, l, d});
}

/** The padding for the GPU: MLX's CUDA backend runs cuDNN's fused attention backward only when the
 *  token count is a multiple of 128; otherwise the backward is the composition (batched products,
 *  softmax, element-wise), which took about 1.7 ms of the 7.4 ms of kernels per layer of the celeba64
 *  training step (257 tokens, bf16, on an H100; benchmarks/results/2026-11-25-cuda-h100-kernels.txt). So for half-precision inputs on the GPU the tokens are
 *  padded to the next multiple of 128 when that adds at most half again (257 -> 384, not 27 -> 128).
 *  MASKDM_ATTENTION_PAD=0 turns it off. */
int gpu_attention_padding(const mx::array& qkv) {
  static const bool enabled = [] {
    const char* v = std::getenv("MASKDM_ATTENTION_PAD");
    return !(v && std::string(v) == "0");
  }();
  int l = qkv.shape(1), up = (l + 127) / 128 * 128;
  bool half = qkv.dtype() == mx::bfloat16 || qkv.dtype() == mx::float16;
  bool gpu = mx::default_device() == mx::Device::gpu;
  return enabled && gpu && half && l % 128 != 0 && 2 * up <= 3 * l ? 128 : 1;
}
}  // namespace

mx::array attention(const mx::array& qkv, int heads, float scale, bool fast, int pad_to) {
  if (qkv.ndim() != 3 || heads <= 0 || qkv.shape(2) % (3 * heads) != 0)
    throw std::invalid_argument("attention: qkv must be (B, L, 3*D) with D a multiple of heads");
  if (pad_to < 0) throw std::invalid_argument("attention: pad_to must be 0 (automatic) or positive");
  auto s = fast && pad_to == 0 ? kernel_stream({&qkv}) : std::nullopt;
  if (!s) return attention_composed(qkv, heads, scale, pad_to == 0 ? gpu_attention_padding(qkv) : pad_to);
  auto shape = qkv.shape();
  shape.back() /= 3;
  return mx::array(shape, mx::float32, std::make_shared<Attention>(*s, heads, scale), {qkv});
}
}  // namespace cmlx

extern "C" int mlxs_attention(mlxs_array* out, mlxs_array qkv, int heads, float scale, int fast, int pad_to) {
  return cmlx::guard([&] { cmlx::put(out, cmlx::attention(cmlx::get(qkv), heads, scale, fast != 0, pad_to)); });
}
