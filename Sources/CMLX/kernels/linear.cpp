// y = [x₁ … xₙ] Wᵀ + b with PyTorch's weight layout (out, in): a Linear layer whose input is the
// concatenation of n parts along the features (n = 2 for U-ViT's long skips, `skip_linear(cat(x, skip))`),
// with a gradient that keeps W's layout.
//
// Composed from MLX ops, W's gradient is a transposed view that the optimizer must first copy with
// MLX's generic single-threaded copy; the concatenation is copied forward, and its gradient's halves are
// strided views that every matmul consuming them copies again. Here each part meets its column block of
// W in place (gemm.h reads views through their leading dimension), the products accumulate into one
// output, W's gradient is computed as gᵀ xᵢ in (out, in) order, and b's as the column sum of g.
#include <algorithm>

#include "dispatch.h"
#include "fastmath.h"
#include "gemm.h"
#include "parallel.h"
#include "sgemm.h"

namespace cmlx {
namespace {

/** out[j] = Σ_i g[i][j] for the columns [c0, c1) of a row-major (rows x n) g, summed in blocks of
 *  rows so that rounding grows with the block count rather than with the rows. */
MASKDM_VECTORIZE void column_sum_loop(const float* g, size_t rows, size_t n, size_t c0, size_t c1, float* out,
                                      float* block) {
  const size_t width = c1 - c0, block_rows = 64;
  for (size_t j = 0; j < width; ++j) out[c0 + j] = 0;
  for (size_t r0 = 0; r0 < rows; r0 += block_rows) {
    size_t r1 = r0 + block_rows < rows ? r0 + block_rows : rows;
    for (size_t j = 0; j < width; ++j) block[j] = 0;
    for (size_t i = r0; i < r1; ++i) {
      const float* row = g + i * n + c0;
      for (size_t j = 0; j < width; ++j) block[j] += row[j];
    }
    for (size_t j = 0; j < width; ++j) out[c0 + j] += block[j];
  }
}

/** The bias gradient: the sum of g's rows, split by columns across threads. */
class ColumnSum : public mx::UnaryPrimitive {
 public:
  explicit ColumnSum(mx::Stream s) : UnaryPrimitive(s) {}
  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    std::vector<mx::array> outs{out};
    dispatch_cpu(stream(), inputs, outs, [](std::vector<mx::array>& in, std::vector<mx::array>& o) {
      size_t rows = in[0].shape(0), n = in[0].shape(1);
      const float* g = in[0].data<float>();
      float* y = o[0].data<float>();
      parallel_for(n, std::max<size_t>(8, (size_t(1) << 15) / std::max<size_t>(rows, 1)), [&](size_t c0, size_t c1) {
        std::vector<float> block(c1 - c0);
        column_sum_loop(g, rows, n, c0, c1, y, block.data());
      });
    }, {}, InputLayout::row_major);
  }
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error("ColumnSum is a CPU kernel");
  }
  const char* name() const override { return "MaskDMColumnSum"; }
  bool is_equivalent(const mx::Primitive&) const override { return true; }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override { return {{in[0].shape(1)}}; }
};

mx::array column_sum(const mx::array& g) {
  auto s = kernel_stream({&g});
  if (!s || g.ndim() != 2) return mx::sum(g, 0);
  return mx::array({g.shape(1)}, mx::float32, std::make_shared<ColumnSum>(*s), {g});
}

/**
 * The whole gradient of a Linear layer as one primitive, where our AVX-512 product serves: dxᵢ = g Wᵢ,
 * dW = gᵀ [x₁ … xₙ] and db = Σ_rows g, from inputs (g, x₁ … xₙ, W). As separate nodes these were two
 * products, a column sum and a transpose per layer, each product split across the threads in a
 * parallel section of its own; here the products are cut into column bands (two per product) and the
 * bands and the column sum are claimed by the threads from one section, so each layer's backward pays
 * for one wake-up of the helpers and one join instead of three. Each band is computed as sgemm computes
 * that part of the product, so the results are the same bit for bit (checked: `maskdm train
 * configs/tiny.yaml`, masked and unmasked, wrote identical checkpoints before and after). On this
 * project's 2-core AMD EPYC the s32 step's graph went from 1,102 to 918 nodes, and `maskdm bench train
 * --preset s32 --mask-ratio 0.9 --steps 30`, the binaries alternating, from 567.7 to 572.8 img/s (medians
 * of 6; faster by 4-7% in five of the six pairs); unmasked 75.55 and 75.58 (medians of 7, with the
 * column sums first as below).
 */
class LinearGrad : public mx::Primitive {
 public:
  LinearGrad(mx::Stream s, std::vector<int> offsets, bool bias)
      : Primitive(s), offsets_(std::move(offsets)), bias_(bias) {}

  void eval_cpu(const std::vector<mx::array>& inputs, std::vector<mx::array>& outputs) override {
    std::vector<int> offsets = offsets_;
    bool bias = bias_;
    dispatch_cpu(stream(), inputs, outputs, [offsets, bias](std::vector<mx::array>& in, std::vector<mx::array>& out) {
      const size_t parts = offsets.size() - 1, total = size_t(offsets.back());
      const size_t rows = in[0].shape(0), features = in[0].shape(1);
      const float* g = in[0].data<float>();
      const float* w = in[parts + 1].data<float>();
      float* dw = out[parts].data<float>();
      // Work items: (what, part, first column, end column); what 0 = dxᵢ, 1 = dWᵢ, 2 = db. The column
      // sums come first, in two halves: last, one thread alone would sum all of g's rows while the
      // other waited (4160 x 1024 values in an unmasked s32 step).
      struct Item {
        int what;
        size_t part, j0, j1;
      };
      std::vector<Item> items;
      if (bias) {
        size_t half = features / 2;
        if (half > 0) items.push_back({2, 0, 0, half});
        items.push_back({2, 0, half, features});
      }
      for (int what = 0; what < 2; ++what)
        for (size_t i = 0; i < parts; ++i) {
          size_t width = size_t(offsets[i + 1] - offsets[i]), half = (width / 2 + 31) / 32 * 32;
          if (half > 0 && half < width) {
            items.push_back({what, i, 0, half});
            items.push_back({what, i, half, width});
          } else {
            items.push_back({what, i, 0, width});
          }
        }
      parallel_tasks(items.size(), [&](size_t index) {
        const Item& item = items[index];
        size_t width = size_t(offsets[item.part + 1] - offsets[item.part]), band = item.j1 - item.j0;
        if (item.what == 0) {  // dxᵢ[:, band] = g Wᵢ[:, band]
          StridedMatrix wi{w + offsets[item.part] + item.j0, int64_t(total), 1};
          sgemm_on_this_thread(rows, band, features, StridedMatrix::row_major(g, features), wi,
                               out[item.part].data<float>() + item.j0, width, false);
        } else if (item.what == 1) {  // dW[:, offset + band] = gᵀ xᵢ[:, band]
          StridedMatrix xi{in[1 + item.part].data<float>() + item.j0, int64_t(width), 1};
          sgemm_on_this_thread(features, band, rows, StridedMatrix::transposed(g, features), xi,
                               dw + offsets[item.part] + item.j0, total, false);
        } else {  // db[band]
          std::vector<float> block(band);
          column_sum_loop(g, rows, features, item.j0, item.j1, out[parts + 1].data<float>(), block.data());
        }
      });
    }, {}, InputLayout::row_major);
  }
  void eval_gpu(const std::vector<mx::array>&, std::vector<mx::array>&) override {
    throw std::runtime_error("LinearGrad is a CPU kernel");
  }
  const char* name() const override { return "MaskDMLinearGrad"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    auto& o = static_cast<const LinearGrad&>(other);
    return o.offsets_ == offsets_ && o.bias_ == bias_;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override {
    size_t parts = offsets_.size() - 1;
    std::vector<mx::Shape> shapes;
    for (size_t i = 0; i < parts; ++i) shapes.push_back(in[1 + i].shape());
    shapes.push_back(in[parts + 1].shape());
    if (bias_) shapes.push_back({in[0].shape(1)});
    return shapes;
  }

 private:
  std::vector<int> offsets_;
  bool bias_;
};

/** The gradients (dx₁ … dxₙ, dW[, db]) of y = Σᵢ xᵢ Wᵢᵀ (+ b) for the cotangent g, as one LinearGrad
 *  node; `primals` are (x₁ … xₙ, W[, b]). */
std::vector<mx::array> linear_grad(const std::vector<mx::array>& primals, const mx::array& g,
                                   const std::vector<int>& offsets, bool bias, mx::Stream s) {
  size_t n = offsets.size() - 1;
  std::vector<mx::array> inputs = {mx::astype(g, mx::float32, s)};
  std::vector<mx::Shape> shapes;
  for (size_t i = 0; i <= n; ++i) {  // the parts, then W
    inputs.push_back(primals[i]);
    shapes.push_back(primals[i].shape());
  }
  if (bias) shapes.push_back({g.shape(1)});
  std::vector<mx::Dtype> types(shapes.size(), mx::float32);
  return mx::array::make_arrays(shapes, types, std::make_shared<LinearGrad>(s, offsets, bias), inputs);
}

/**
 * The forward of a Linear layer as one primitive where our AVX-512 product serves: y = Σᵢ xᵢ Wᵢᵀ + b,
 * each part multiplied by its block of W's columns in place and accumulated into y, the bias added
 * as the first product writes, exactly as the separate products did. Its gradient is LinearGrad. In
 * place of MLX's custom_vjp over those products, this takes one graph node per layer instead of a
 * CustomTransforms wrapper, a transpose and a product per part: the 90%-masked s32 step's graph went
 * from 918 to 774 nodes, with the same bits (tiny config's checkpoints identical, masked and unmasked)
 * and no step time the machine's noise lets us tell apart (`maskdm bench train --preset s32
 * --mask-ratio 0.9 --steps 30`, alternating, medians of 6: 548.4 before, 573.5 after, the machine
 * changing speed between pairs; within pairs -0.2% to +3.5%).
 */
class LinearForward : public mx::UnaryPrimitive {
 public:
  LinearForward(mx::Stream s, std::vector<int> offsets, bool bias)
      : UnaryPrimitive(s), offsets_(std::move(offsets)), bias_(bias) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    std::vector<mx::array> outs{out};
    std::vector<int> offsets = offsets_;
    bool bias = bias_;
    dispatch_cpu(stream(), inputs, outs, [offsets, bias](std::vector<mx::array>& in, std::vector<mx::array>& o) {
      const size_t parts = offsets.size() - 1, total = size_t(offsets.back());
      const size_t rows = o[0].shape(0), features = o[0].shape(1);
      const float* w = in[parts].data<float>();
      float* y = o[0].data<float>();
      for (size_t i = 0; i < parts; ++i) {
        size_t width = size_t(offsets[i + 1] - offsets[i]);
        StridedMatrix wit{w + offsets[i], 1, int64_t(total)};  // Wᵢᵀ: (width, features)
        sgemm(rows, features, width, StridedMatrix::row_major(in[i].data<float>(), width), wit, y, features, i > 0,
              i == 0 && bias ? in[parts + 1].data<float>() : nullptr);
      }
    }, {}, InputLayout::row_major);
  }
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error("LinearForward is a CPU kernel");
  }
  std::vector<mx::array> vjp(const std::vector<mx::array>& primals, const std::vector<mx::array>& cotangents,
                             const std::vector<int>& argnums, const std::vector<mx::array>&) override {
    auto grads = linear_grad(primals, cotangents[0], offsets_, bias_, stream());
    std::vector<mx::array> wanted;
    for (int a : argnums) wanted.push_back(grads[size_t(a)]);  // (x₁ … xₙ, W, b) in the primals' order
    return wanted;
  }
  const char* name() const override { return "MaskDMLinear"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    auto& o = static_cast<const LinearForward&>(other);
    return o.offsets_ == offsets_ && o.bias_ == bias_;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override {
    return {{in[0].shape(0), in[offsets_.size() - 1].shape(0)}};
  }

 private:
  std::vector<int> offsets_;
  bool bias_;
};

/** W's columns [offset, offset + width): a view. */
mx::array columns(const mx::array& w, int offset, int width) {
  return mx::slice(w, {0, offset}, {w.shape(0), offset + width});
}

/** MLX's ops on the concatenated input: the reference of the tests, and everything not 2-D. */
mx::array composed(const std::vector<mx::array>& parts, const mx::array& w, const std::optional<mx::array>& b) {
  auto x = parts.size() == 1 ? parts[0] : mx::concatenate(parts, -1);
  auto wt = mx::transpose(w);
  return b ? mx::addmm(*b, x, wt) : mx::matmul(x, wt);
}
}  // namespace

mx::array linear(const std::vector<mx::array>& parts, const mx::array& w, const std::optional<mx::array>& b, bool fast) {
  int total = 0;
  bool flat = w.ndim() == 2;
  for (auto& p : parts) {
    flat = flat && p.ndim() == 2;
    total += p.ndim() > 0 ? p.shape(-1) : 0;
  }
  if (parts.empty() || total != (w.ndim() > 0 ? w.shape(-1) : -1))
    throw std::invalid_argument("linear: the inputs' features do not add up to the weight's columns");
  if (!fast || !flat) return composed(parts, w, b);
  size_t n = parts.size();
  std::vector<int> offsets(n + 1, 0);
  for (size_t i = 0; i < n; ++i) offsets[i + 1] = offsets[i] + parts[i].shape(1);
  std::vector<mx::array> inputs = parts;
  inputs.push_back(w);
  if (b) inputs.push_back(*b);
  // Where our AVX-512 product serves, one primitive each way; elsewhere MLX's custom_vjp over the
  // products of gemm.h (BLAS on the CPU, MLX's matmul on the GPU).
  std::optional<mx::Stream> s = sgemm_available() ? kernel_stream({&w}) : std::nullopt;
  bool float32 = std::all_of(inputs.begin(), inputs.end(), [](const mx::array& x) { return x.dtype() == mx::float32; });
  if (s && float32 && (!b || b->ndim() == 1))
    return mx::array({parts[0].shape(0), w.shape(0)}, mx::float32, std::make_shared<LinearForward>(*s, offsets, bool(b)),
                     inputs);
  // Inputs of the traced function: the parts, then W, then b when present.
  auto forward = [n, offsets](const std::vector<mx::array>& in) -> std::vector<mx::array> {
    const auto& w = in[n];
    auto block = [&](size_t i) { return mx::transpose(columns(w, offsets[i], offsets[i + 1] - offsets[i])); };
    auto y = in.size() > n + 1 ? gemm(in[0], block(0), GemmStart::bias, in[n + 1]) : gemm(in[0], block(0));
    for (size_t i = 1; i < n; ++i) y = gemm(in[i], block(i), GemmStart::addend, y);
    return {y};
  };
  auto vjp = [n, offsets](const std::vector<mx::array>& in, const std::vector<mx::array>& cotangents,
                          const std::vector<mx::array>&) -> std::vector<mx::array> {
    const auto& g = cotangents[0];  // (rows, out)
    const auto& w = in[n];
    auto gt = mx::transpose(g);
    std::vector<mx::array> grads, weight_blocks;
    for (size_t i = 0; i < n; ++i) {
      grads.push_back(gemm(g, columns(w, offsets[i], offsets[i + 1] - offsets[i])));  // dxᵢ = g Wᵢ
      weight_blocks.push_back(gemm(gt, in[i]));                                       // dWᵢ = gᵀ xᵢ
    }
    grads.push_back(n == 1 ? weight_blocks[0] : mx::concatenate(weight_blocks, 1));
    if (in.size() > n + 1) grads.push_back(column_sum(g));  // db
    return grads;
  };
  return mx::custom_vjp(forward, vjp)(inputs)[0];
}
}  // namespace cmlx

extern "C" int mlxs_linear(mlxs_array* out, const mlxs_array* parts, int n, mlxs_array w, mlxs_array bias, int fast) {
  return cmlx::guard([&] {
    cmlx::put(out, cmlx::linear(cmlx::arrays(parts, n), cmlx::get(w), cmlx::optional(bias), fast != 0));
  });
}
