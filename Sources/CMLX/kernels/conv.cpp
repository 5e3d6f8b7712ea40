// 2-D convolution with a fused bias + ReLU epilogue, y = max(conv(x, w) + b, 0), as one MLX primitive
// with a CPU kernel. NHWC input (N, H, W, C), OHWI weight (O, KH, KW, C), explicit padding below and
// above on each spatial axis, stride s; groups and dilation 1.
//
// Why: MLX's CPU convolution pads the input with a copy, builds the whole im2col matrix of the batch
// with a single-threaded strided copy (hundreds of MB for Inception's early layers) and then runs one
// GEMM; the copy costs about as much as the product. Here the output rows (n, oh, ow) are cut into
// chunks whose im2col block fits the caches; each chunk is
//   1. gathered: row (n, oh, ow) = KH runs of KW*C contiguous input floats (zeros where the window
//      hangs over the border, so no padded copy of the input is made), two threads;
//   2. multiplied: (rows, KH*KW*C) x (O, KH*KW*C)ᵀ by one call of sgemm.h's product or of OpenBLAS
//      (each threads itself, so it is called from one thread, between our parallel sections);
//   3. finished: the output rows start as the bias (set while gathering, so the product accumulates
//      onto them with beta = 1), and the ReLU runs on them while they are still in cache, in the
//      parallel section that gathers the next chunk.
// A 1x1 convolution with stride 1 and no padding needs no gather: the input is already (N*H*W, C).
// On the GPU and for other dtypes MLX's own conv_general + add + maximum
// serve; `fast = false` forces them (the reference the kernel is tested against). The gradient is the
// gradient of that composition (Inception's FID features need none; it keeps the op differentiable).
#include <cblas.h>

#include <algorithm>
#include <cstring>

#include "dispatch.h"
#include "fastmath.h"
#include "parallel.h"
#include "sgemm.h"

namespace cmlx {
namespace {

struct ConvShape {
  int n, h, w, c;    // input
  int o, kh, kw;     // weight
  int sh, sw;        // stride
  int ph, pw;        // padding below (above only decides the output size)
  int oh, ow;        // output
  bool relu;

  size_t rows() const { return size_t(n) * oh * ow; }
  size_t depth() const { return size_t(kh) * kw * c; }
  bool operator==(const ConvShape&) const = default;
  bool pointwise() const { return kh == 1 && kw == 1 && sh == 1 && sw == 1 && ph == 0 && pw == 0 && oh == h && ow == w; }
};

/** Output rows per chunk: an im2col block of about 4 MB (L3-resident; OpenBLAS packs from it). */
size_t chunk_rows(const ConvShape& g) { return std::max<size_t>(64, (size_t(1) << 20) / std::max<size_t>(g.depth(), 1)); }

/** im2col rows [r0, r1) of the global output rows into col (row-major, depth() columns). */
void gather_rows(const ConvShape& g, const float* x, float* col, size_t r0, size_t r1, size_t first) {
  size_t depth = g.depth(), run = size_t(g.kw) * g.c;
  for (size_t r = r0; r < r1; ++r) {
    int ow = int(r % g.ow), oh = int((r / g.ow) % g.oh), img = int(r / (size_t(g.ow) * g.oh));
    float* dst = col + (r - first) * depth;
    int iw0 = ow * g.sw - g.pw;
    int kw0 = std::max(0, -iw0), kw1 = std::min(g.kw, g.w - iw0);  // taps inside the image
    for (int ky = 0; ky < g.kh; ++ky, dst += run) {
      int ih = oh * g.sh - g.ph + ky;
      if (ih < 0 || ih >= g.h || kw0 >= kw1) {
        std::memset(dst, 0, run * sizeof(float));
        continue;
      }
      const float* src = x + ((size_t(img) * g.h + ih) * g.w + (iw0 + kw0)) * g.c;
      if (kw0 > 0) std::memset(dst, 0, size_t(kw0) * g.c * sizeof(float));
      std::memcpy(dst + size_t(kw0) * g.c, src, size_t(kw1 - kw0) * g.c * sizeof(float));
      if (kw1 < g.kw) std::memset(dst + size_t(kw1) * g.c, 0, size_t(g.kw - kw1) * g.c * sizeof(float));
    }
  }
}

/** Rows [r0, r1) of y (O columns each) set to the bias: the product then accumulates onto them. */
void fill_bias(float* y, const float* b, size_t r0, size_t r1, size_t o) {
  for (size_t r = r0; r < r1; ++r) std::memcpy(y + r * o, b, o * sizeof(float));
}

MASKDM_VECTORIZE void relu_rows(float* y, size_t r0, size_t r1, size_t o) {
  for (size_t i = r0 * o, e = r1 * o; i < e; ++i) y[i] = std::max(y[i], 0.0f);
}

/** y (m, o) += a (m, k) x w (o, k)ᵀ, all row-major: our product where the CPU has AVX-512 (sgemm.h),
 *  else OpenBLAS, whose beta = 1 spares it the pass that scales or zeroes y before the product. */
void gemm_nt_acc(const float* a, size_t lda, const float* w, size_t ldw, float* y, size_t m, size_t o, size_t k) {
  if (sgemm_available())
    return sgemm(m, o, k, StridedMatrix::row_major(a, lda), StridedMatrix::transposed(w, ldw), y, o, true);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, int(m), int(o), int(k), 1.0f, a, int(lda), w, int(ldw), 1.0f, y,
              int(o));
}

void conv_forward(const ConvShape& g, const float* x, const float* w, const float* b, float* y) {
  size_t rows = g.rows(), o = g.o, depth = g.depth();
  const size_t grain = 64;
  if (g.pointwise()) {
    parallel_for(rows, grain * 16, [&](size_t r0, size_t r1) { fill_bias(y, b, r0, r1, o); });
    gemm_nt_acc(x, g.c, w, g.c, y, rows, o, g.c);
    if (g.relu) parallel_for(rows, grain * 16, [&](size_t r0, size_t r1) { relu_rows(y, r0, r1, o); });
    return;
  }
  size_t chunk = std::min(rows, chunk_rows(g));
  std::vector<float> col(chunk * depth);
  // Each parallel section gathers chunk i, sets its output rows to the bias, and applies the ReLU to
  // chunk i - 1 (still in cache), so the helper threads are woken once per chunk.
  size_t prev0 = 0, prev1 = 0;
  for (size_t c0 = 0; c0 < rows; c0 += chunk) {
    size_t c1 = std::min(rows, c0 + chunk), n = c1 - c0, done = g.relu ? prev1 - prev0 : 0;
    parallel_for(n, grain, [&](size_t a, size_t e) {
      gather_rows(g, x, col.data(), c0 + a, c0 + e, c0);
      fill_bias(y, b, c0 + a, c0 + e, o);
      relu_rows(y, prev0 + a * done / n, prev0 + e * done / n, o);
    });
    gemm_nt_acc(col.data(), depth, w, depth, y + c0 * o, n, o, depth);
    prev0 = c0;
    prev1 = c1;
  }
  if (g.relu) parallel_for(prev1 - prev0, grain, [&](size_t a, size_t e) { relu_rows(y, prev0 + a, prev0 + e, o); });
}

/** MLX's ops: conv_general, + bias, maximum(·, 0). */
mx::array conv_composed(const mx::array& x, const mx::array& w, const std::optional<mx::array>& b,
                        const std::vector<int>& stride, const std::vector<int>& lo, const std::vector<int>& hi,
                        bool relu) {
  auto y = mx::conv_general(x, w, stride, lo, hi, {1, 1}, {1, 1}, 1);
  if (b) y = mx::add(y, *b);
  if (relu) y = mx::maximum(y, mx::array(0.0f, y.dtype()));
  return y;
}

class ConvBiasReLU : public mx::UnaryPrimitive {
 public:
  ConvBiasReLU(mx::Stream s, ConvShape g, std::vector<int> hi) : UnaryPrimitive(s), g_(g), hi_(std::move(hi)) {}
  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    std::vector<mx::array> outs{out};
    ConvShape g = g_;
    dispatch_cpu(stream(), inputs, outs, [g](std::vector<mx::array>& in, std::vector<mx::array>& os) {
      conv_forward(g, in[0].data<float>(), in[1].data<float>(), in[2].data<float>(), os[0].data<float>());
    }, {}, InputLayout::row_major);
  }
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error("ConvBiasReLU is a CPU kernel");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>&) override {
    std::vector<int> stride{g_.sh, g_.sw}, lo{g_.ph, g_.pw}, hi = hi_;
    bool relu = g_.relu;
    auto composed = [=](const std::vector<mx::array>& p) {
      return std::vector<mx::array>{conv_composed(p[0], p[1], p[2], stride, lo, hi, relu)};
    };
    auto grads = mx::vjp(composed, primals, cotangents).second;
    std::vector<mx::array> result;
    for (int a : argnums) result.push_back(grads[a]);
    return result;
  }
  const char* name() const override { return "MaskDMConvBiasReLU"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    auto& o = static_cast<const ConvBiasReLU&>(other);
    return o.g_ == g_ && o.hi_ == hi_;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>&) override { return {{g_.n, g_.oh, g_.ow, g_.o}}; }

 private:
  ConvShape g_;
  std::vector<int> hi_;
};
}  // namespace

/** conv2d (NHWC x OHWI) + optional bias (O) + optional ReLU; our kernel on the CPU for float32. */
mx::array conv2d_bias_relu(const mx::array& x, const mx::array& w, const std::optional<mx::array>& b,
                           const std::vector<int>& stride, const std::vector<int>& lo, const std::vector<int>& hi,
                           bool relu, bool fast) {
  if (x.ndim() != 4 || w.ndim() != 4 || stride.size() != 2 || lo.size() != 2 || hi.size() != 2)
    throw std::invalid_argument("conv2d_bias_relu: x must be NHWC, w OHWI, stride and padding two each");
  std::optional<mx::Stream> s;
  bool plain = w.shape(3) == x.shape(3) && (!b || (b->ndim() == 1 && b->shape(0) == w.shape(0)));
  if (fast && plain) s = b ? kernel_stream({&x, &w, &*b}) : kernel_stream({&x, &w});
  if (!s) return conv_composed(x, w, b, stride, lo, hi, relu);
  ConvShape g{x.shape(0), x.shape(1), x.shape(2), x.shape(3), w.shape(0), w.shape(1), w.shape(2), stride[0], stride[1],
              lo[0], lo[1], 0, 0, relu};
  g.oh = (g.h + lo[0] + hi[0] - g.kh) / g.sh + 1;
  g.ow = (g.w + lo[1] + hi[1] - g.kw) / g.sw + 1;
  if (g.sh < 1 || g.sw < 1 || g.oh < 1 || g.ow < 1 || std::min({lo[0], lo[1], hi[0], hi[1]}) < 0 ||
      std::min({g.n, g.c, g.o, g.kh, g.kw}) < 1)
    return conv_composed(x, w, b, stride, lo, hi, relu);  // MLX reports the error or handles the edge case
  auto bias = b ? *b : mx::zeros({g.o}, mx::float32);
  return mx::array({g.n, g.oh, g.ow, g.o}, mx::float32, std::make_shared<ConvBiasReLU>(*s, g, hi), {x, w, bias});
}
}  // namespace cmlx

extern "C" int mlxs_conv2d_bias_relu(mlxs_array* out, mlxs_array x, mlxs_array w, mlxs_array bias, const int* stride,
                                     const int* pad_lo, const int* pad_hi, int relu, int fast) {
  return cmlx::guard([&] {
    cmlx::put(out, cmlx::conv2d_bias_relu(cmlx::get(x), cmlx::get(w), cmlx::optional(bias), cmlx::ints(stride, 2),
                                          cmlx::ints(pad_lo, 2), cmlx::ints(pad_hi, 2), relu != 0, fast != 0));
  });
}
