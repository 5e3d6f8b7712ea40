// LayerNorm over the last axis with affine weight and bias, `y = (x - mean) * rstd * w + b`
// (rstd = 1/sqrt(var + eps), biased variance as PyTorch), and its gradient:
//   xhat = (x - mean) * rstd,  dxhat = g * w,
//   dx = rstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)),  dw = Σ g * xhat,  db = Σ g.
// Rows are split across threads; dw and db are summed per thread, then added.
#include <cmath>

#include "dispatch.h"
#include "fastmath.h"
#include "parallel.h"

namespace cmlx {
namespace {

/** Mean and 1/sqrt(biased variance + eps) of one row (two passes, as PyTorch, for accuracy). */
inline __attribute__((always_inline)) void row_stats(const float* xr, size_t d, float eps, float& mean, float& rstd) {
  const size_t d8 = d - d % 8;
  v8f s = {};
  for (size_t i = 0; i < d8; i += 8) s += CMLX_LOAD8(xr + i);
  float sum = lanes_sum(s);
  for (size_t i = d8; i < d; ++i) sum += xr[i];
  mean = sum / float(d);
  v8f q = {}, m = v8f{} + mean;
  for (size_t i = 0; i < d8; i += 8) {
    v8f c = CMLX_LOAD8(xr + i) - m;
    q += c * c;
  }
  float sq = lanes_sum(q);
  for (size_t i = d8; i < d; ++i) sq += (xr[i] - mean) * (xr[i] - mean);
  rstd = 1.0f / std::sqrt(sq / float(d) + eps);
}

MASKDM_VECTORIZE void ln_rows(const float* x, const float* w, const float* b, float* y, size_t r0, size_t r1, size_t d,
                              float eps) {
  for (size_t r = r0; r < r1; ++r) {
    const float* xr = x + r * d;
    float* yr = y + r * d;
    float mean, rstd;
    row_stats(xr, d, eps, mean, rstd);
    for (size_t i = 0; i < d; ++i) yr[i] = (xr[i] - mean) * rstd * w[i] + b[i];
  }
}

MASKDM_VECTORIZE void ln_grad_rows(const float* x, const float* w, const float* g, float* dx, float* dw, float* db,
                                   size_t r0, size_t r1, size_t d, float eps) {
  const size_t d8 = d - d % 8;
  for (size_t r = r0; r < r1; ++r) {
    const float* xr = x + r * d;
    const float* gr = g + r * d;
    float* dxr = dx + r * d;
    float mean, rstd;
    row_stats(xr, d, eps, mean, rstd);
    // m1 = mean(g * w), m2 = mean(g * w * xhat); dw += g * xhat, db += g.
    v8f a1 = {}, a2 = {}, vm = v8f{} + mean, vr = v8f{} + rstd;
    for (size_t i = 0; i < d8; i += 8) {
      v8f gi = CMLX_LOAD8(gr + i), xh = (CMLX_LOAD8(xr + i) - vm) * vr, dxh = gi * CMLX_LOAD8(w + i);
      a1 += dxh;
      a2 += dxh * xh;
      CMLX_STORE8(dw + i, CMLX_LOAD8(dw + i) + gi * xh);
      CMLX_STORE8(db + i, CMLX_LOAD8(db + i) + gi);
    }
    float m1 = lanes_sum(a1), m2 = lanes_sum(a2);
    for (size_t i = d8; i < d; ++i) {
      float xh = (xr[i] - mean) * rstd;
      float dxh = gr[i] * w[i];
      m1 += dxh;
      m2 += dxh * xh;
      dw[i] += gr[i] * xh;
      db[i] += gr[i];
    }
    m1 /= float(d);
    m2 /= float(d);
    for (size_t i = 0; i < d; ++i) {
      float xh = (xr[i] - mean) * rstd;
      dxr[i] = rstd * (gr[i] * w[i] - m1 - xh * m2);
    }
  }
}

/** Grain: rows per thread worth starting a thread for. */
size_t row_grain(size_t d) { return std::max<size_t>(1, (1 << 15) / std::max<size_t>(d, 1)); }

class LayerNormGrad : public mx::Primitive {
 public:
  LayerNormGrad(mx::Stream s, float eps) : Primitive(s), eps_(eps) {}
  void eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override {
    float eps = eps_;
    dispatch_cpu(stream(), inputs, outputs, [eps](std::vector<mx::array>& in, std::vector<mx::array>& out) {
      size_t d = in[0].shape().back(), rows = in[0].size() / std::max<size_t>(d, 1);
      const float *x = in[0].data<float>(), *w = in[1].data<float>(), *g = in[2].data<float>();
      float *dx = out[0].data<float>(), *dw = out[1].data<float>(), *db = out[2].data<float>();
      size_t threads = std::min<size_t>(kernel_threads(), std::max<size_t>(1, rows / row_grain(d)));
      std::vector<std::vector<float>> partial(threads, std::vector<float>(2 * d, 0.0f));
      size_t chunk = (rows + threads - 1) / threads;
      parallel_for(threads, 1, [&](size_t t0, size_t t1) {
        for (size_t t = t0; t < t1; ++t) {
          size_t r0 = t * chunk, r1 = std::min(rows, r0 + chunk);
          if (r0 < r1) ln_grad_rows(x, w, g, dx, partial[t].data(), partial[t].data() + d, r0, r1, d, eps);
        }
      });
      for (size_t i = 0; i < d; ++i) {
        float a = 0, b = 0;
        for (auto& p : partial) {
          a += p[i];
          b += p[d + i];
        }
        dw[i] = a;
        db[i] = b;
      }
    }, {}, InputLayout::row_major);
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("LayerNormGrad is a CPU kernel");
  }
  const char* name() const override { return "MaskDMLayerNormGrad"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    return eps_ == static_cast<const LayerNormGrad&>(other).eps_;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override {
    return {in[0].shape(), in[1].shape(), in[1].shape()};
  }

 private:
  float eps_;
};

class LayerNorm : public mx::UnaryPrimitive {
 public:
  LayerNorm(mx::Stream s, float eps) : UnaryPrimitive(s), eps_(eps) {}
  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    std::vector<mx::array> outs{out};
    float eps = eps_;
    dispatch_cpu(stream(), inputs, outs, [eps](std::vector<mx::array>& in, std::vector<mx::array>& o) {
      size_t d = in[0].shape().back(), rows = in[0].size() / std::max<size_t>(d, 1);
      const float *x = in[0].data<float>(), *w = in[1].data<float>(), *b = in[2].data<float>();
      float* y = o[0].data<float>();
      parallel_for(rows, row_grain(d), [&](size_t r0, size_t r1) { ln_rows(x, w, b, y, r0, r1, d, eps); });
    }, {}, InputLayout::row_major);
  }
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error("LayerNorm is a CPU kernel");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>&) override {
    auto s = stream();
    auto g = mx::astype(cotangents[0], mx::float32, s);
    auto grads = mx::array::make_arrays(
        {primals[0].shape(), primals[1].shape(), primals[1].shape()}, {mx::float32, mx::float32, mx::float32},
        std::make_shared<LayerNormGrad>(s, eps_), {primals[0], primals[1], g});
    std::vector<mx::array> result;
    for (int a : argnums) result.push_back(grads[a]);
    return result;
  }
  const char* name() const override { return "MaskDMLayerNorm"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    return eps_ == static_cast<const LayerNorm&>(other).eps_;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override { return {in[0].shape()}; }

 private:
  float eps_;
};
}  // namespace

/** LayerNorm through our kernel on the CPU (float32, affine), else MLX's fast::layer_norm. */
mx::array layer_norm(const mx::array& x, const std::optional<mx::array>& w, const std::optional<mx::array>& b, float eps,
                     bool fast) {
  std::optional<mx::Stream> s;
  if (fast && w && b && w->ndim() == 1 && b->ndim() == 1 && x.ndim() >= 1 && w->size() == size_t(x.shape().back()) &&
      b->size() == w->size())
    s = kernel_stream({&x, &*w, &*b});
  if (!s) return mx::fast::layer_norm(x, w, b, eps);
  return mx::array(x.shape(), mx::float32, std::make_shared<LayerNorm>(*s, eps), {x, *w, *b});
}
}  // namespace cmlx
