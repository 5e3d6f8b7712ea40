// k x k max or average pooling with stride s and symmetric padding p on NHWC input, as one MLX
// primitive with a CPU kernel: the FID network's overlapping pools (3x3 max with stride 2, 3x3 max and
// average with stride 1 and padding 1, the average excluding the padding).
//
// The composed form, which the GPU and other dtypes use and which `fast = false` forces, is the max or
// the sum of the k² strided slices of the padded input, one per window offset, in row-major order of
// the offsets; an average that excludes padding divides each sum by its window's count of real pixels.
// That form rather than a reduction over a (N, Ho, Wo, k, k, C) window view: on the GPU the view made
// MLX copy every window out before reducing, while the slices are element-wise work that a compiled
// graph fuses into one pass. On the CPU, uncompiled, it is a padded copy and k² - 1 passes over the
// map, each on one thread: with the convolutions threaded, such single-threaded ops were about 30% of
// a one-thread FID batch (docs/performance.md). The kernel here makes one pass, on every thread, and
// combines the taps in the composed form's order, so its result is the same.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "dispatch.h"
#include "fastmath.h"
#include "parallel.h"

namespace cmlx {
namespace {

struct PoolShape {
  int n, h, w, c;
  int k, s, p;
  int oh, ow;
  bool max, include_pad;
  bool operator==(const PoolShape&) const = default;
};

MASKDM_VECTORIZE void combine_max(float* out, const float* in, int c) {
  for (int i = 0; i < c; ++i) out[i] = std::max(out[i], in[i]);
}
MASKDM_VECTORIZE void combine_sum(float* out, const float* in, int c) {
  for (int i = 0; i < c; ++i) out[i] += in[i];
}
MASKDM_VECTORIZE void divide(float* out, float by, int c) {
  for (int i = 0; i < c; ++i) out[i] /= by;
}

/** Output rows (image, oh) [r0, r1): each window's real taps combined in the composed form's order.
 *  Taps in the padding add nothing to a sum (x + 0 = x) and lose every max against a real one (every
 *  window holds at least one real pixel when p < k), so they are skipped. */
void pool_rows(const PoolShape& g, const float* x, float* y, size_t r0, size_t r1) {
  for (size_t r = r0; r < r1; ++r) {
    int img = int(r / g.oh), oh = int(r % g.oh);
    for (int ow = 0; ow < g.ow; ++ow) {
      float* out = y + ((size_t(img) * g.oh + oh) * g.ow + ow) * g.c;
      int ih0 = oh * g.s - g.p, iw0 = ow * g.s - g.p, count = 0;
      for (int i = 0; i < g.k; ++i) {
        int ih = ih0 + i;
        if (ih < 0 || ih >= g.h) continue;
        for (int j = 0; j < g.k; ++j) {
          int iw = iw0 + j;
          if (iw < 0 || iw >= g.w) continue;
          const float* in = x + ((size_t(img) * g.h + ih) * g.w + iw) * g.c;
          if (count++ == 0)
            std::memcpy(out, in, size_t(g.c) * sizeof(float));
          else if (g.max)
            combine_max(out, in, g.c);
          else
            combine_sum(out, in, g.c);
        }
      }
      if (!g.max) divide(out, float(g.include_pad || g.p == 0 ? g.k * g.k : count), g.c);
    }
  }
}

/** The composed form (see the top of the file) in MLX's ops. */
mx::array pool_composed(const mx::array& x, const PoolShape& g) {
  const float fill = g.max ? -std::numeric_limits<float>::infinity() : 0.0f;
  auto pad = [&](const mx::array& a, float value) {
    if (g.p == 0) return a;
    std::vector<std::pair<int, int>> widths{{0, 0}, {g.p, g.p}, {g.p, g.p}, {0, 0}};
    return mx::pad(a, widths, mx::array(value, a.dtype()));
  };
  auto windows = [&](const mx::array& t, bool max) {
    std::optional<mx::array> result;
    const int batch = t.shape(0), channels = t.shape(3);
    for (int i = 0; i < g.k; ++i)
      for (int j = 0; j < g.k; ++j) {
        auto slice = mx::slice(t, {0, i, j, 0}, {batch, i + (g.oh - 1) * g.s + 1, j + (g.ow - 1) * g.s + 1, channels},
                               {1, g.s, g.s, 1});
        result = !result ? slice : max ? mx::maximum(*result, slice) : mx::add(*result, slice);
      }
    return *result;
  };
  auto combined = windows(pad(x, fill), g.max);
  if (g.max) return combined;
  if (g.include_pad || g.p == 0) return mx::divide(combined, mx::array(float(g.k * g.k), combined.dtype()));
  auto counts = windows(pad(mx::ones({1, g.h, g.w, 1}, x.dtype()), 0.0f), false);
  return mx::divide(combined, counts);
}

class Pool2d : public mx::UnaryPrimitive {
 public:
  Pool2d(mx::Stream s, PoolShape g) : UnaryPrimitive(s), g_(g) {}
  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    std::vector<mx::array> outs{out};
    PoolShape g = g_;
    dispatch_cpu(stream(), inputs, outs, [g](std::vector<mx::array>& in, std::vector<mx::array>& os) {
      const float* x = in[0].data<float>();
      float* y = os[0].data<float>();
      parallel_for(size_t(g.n) * g.oh, 1, [&](size_t r0, size_t r1) { pool_rows(g, x, y, r0, r1); });
    }, {}, InputLayout::row_major);
  }
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error("Pool2d is a CPU kernel");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>&, const std::vector<mx::array>&) override {
    PoolShape g = g_;
    auto composed = [g](const std::vector<mx::array>& p) { return std::vector<mx::array>{pool_composed(p[0], g)}; };
    return mx::vjp(composed, primals, cotangents).second;
  }
  const char* name() const override { return "MaskDMPool2d"; }
  bool is_equivalent(const mx::Primitive& other) const override { return static_cast<const Pool2d&>(other).g_ == g_; }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>&) override { return {{g_.n, g_.oh, g_.ow, g_.c}}; }

 private:
  PoolShape g_;
};
}  // namespace

/** k x k max or average pooling, stride s, padding p on each side, of NHWC x; our kernel on the CPU
 *  for float32 (see the top of the file). */
mx::array pool2d(const mx::array& x, bool max, int k, int s, int p, bool include_pad, bool fast) {
  if (x.ndim() != 4) throw std::invalid_argument("pool2d: x must be NHWC");
  if (k < 1 || s < 1 || p < 0 || p >= k) throw std::invalid_argument("pool2d: needs kernel >= 1, stride >= 1, 0 <= padding < kernel");
  PoolShape g{x.shape(0), x.shape(1), x.shape(2), x.shape(3), k, s, p, 0, 0, max, include_pad};
  g.oh = (g.h + 2 * p - k) / s + 1;
  g.ow = (g.w + 2 * p - k) / s + 1;
  if (g.oh < 1 || g.ow < 1) throw std::invalid_argument("pool2d: the window is larger than the padded input");
  std::optional<mx::Stream> stream = fast ? kernel_stream({&x}) : std::nullopt;
  if (!stream) return pool_composed(x, g);
  return mx::array({g.n, g.oh, g.ow, g.c}, mx::float32, std::make_shared<Pool2d>(*stream, g), {x});
}
}  // namespace cmlx

extern "C" int mlxs_pool2d(mlxs_array* out, mlxs_array x, int max, int kernel, int stride, int padding,
                           int include_pad, int fast) {
  return cmlx::guard([&] {
    cmlx::put(out, cmlx::pool2d(cmlx::get(x), max != 0, kernel, stride, padding, include_pad != 0, fast != 0));
  });
}
