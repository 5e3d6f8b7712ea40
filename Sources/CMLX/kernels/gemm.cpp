// The matrix products of Linear layers, straight to our AVX-512 product (sgemm.h) or, on other CPUs, to
// BLAS.
//
// MLX's CPU matmul copies an operand whenever it is neither row-major nor transposed with a packed
// leading dimension (a column slice of a weight, a slice of a concatenation's gradient), and its addmm
// first copies the broadcast bias into the output with its generic single-threaded copy, after which
// BLAS runs a pass of its own to scale the output by beta. Here BLAS reads views in place through
// their leading dimension (sgemm through any strides); sgemm adds a bias as it writes its first block,
// and otherwise the output starts as the bias rows (filled on every core) or as an addend whose buffer
// it takes over, and the product accumulates onto it.
#include <cblas.h>

#include <cstring>

#include "dispatch.h"
#include "gemm.h"
#include "parallel.h"
#include "sgemm.h"

namespace cmlx {
namespace {

/** A 2-D operand as BLAS reads it. */
struct Operand {
  const float* data;
  bool transposed;
  int ld;
};

/** How BLAS can read a 2-D array where it lies: row-major or transposed, with a leading dimension. */
std::optional<Operand> blas_view(const mx::array& a) {
  int64_t rows = a.shape(0), cols = a.shape(1), s0 = a.strides()[0], s1 = a.strides()[1];
  if ((cols == 1 || s1 == 1) && (rows == 1 || s0 >= cols)) return Operand{a.data<float>(), false, int(rows == 1 ? cols : s0)};
  if ((rows == 1 || s0 == 1) && (cols == 1 || s1 >= rows)) return Operand{a.data<float>(), true, int(cols == 1 ? rows : s1)};
  return std::nullopt;
}

/** A row-major copy of any 2-D view (broadcasts, other strides): the rare case BLAS cannot read. */
Operand packed_copy(const mx::array& a, std::vector<float>& buffer) {
  int64_t rows = a.shape(0), cols = a.shape(1), s0 = a.strides()[0], s1 = a.strides()[1];
  buffer.resize(rows * cols);
  const float* src = a.data<float>();
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < cols; ++j) buffer[i * cols + j] = src[i * s0 + j * s1];
  return Operand{buffer.data(), false, int(cols)};
}

class Gemm : public mx::UnaryPrimitive {
 public:
  Gemm(mx::Stream s, GemmStart start) : UnaryPrimitive(s), start_(start) {}

  void eval_cpu(const std::vector<mx::array>& inputs, mx::array& out) override {
    std::vector<mx::array> outs{out};
    auto start = start_;
    auto body = [start](std::vector<mx::array>& in, std::vector<mx::array>& o) {
      size_t m = o[0].shape(0), n = o[0].shape(1), k = in[0].shape(1);
      float* c = o[0].data<float>();
      // Our product adds a contiguous bias as it writes its first block: no pass over the output first.
      const float* fused_bias =
          start == GemmStart::bias && sgemm_available() && in[2].strides()[0] == 1 ? in[2].data<float>() : nullptr;
      if (start == GemmStart::bias && !fused_bias) {
        const float* bias = in[2].data<float>();
        size_t step = in[2].strides()[0];
        parallel_for(m, std::max<size_t>(1, 8192 / std::max<size_t>(n, 1)), [&](size_t r0, size_t r1) {
          for (size_t i = r0; i < r1; ++i) {
            if (step == 1)
              std::memcpy(c + i * n, bias, n * sizeof(float));
            else
              for (size_t j = 0; j < n; ++j) c[i * n + j] = bias[j * step];
          }
        });
      } else if (start == GemmStart::addend && c != in[2].data<float>()) {  // the addend's buffer was not taken
        std::vector<float> scratch;
        auto view = blas_view(in[2]);
        auto from = view && !view->transposed ? *view : packed_copy(in[2], scratch);
        for (size_t i = 0; i < m; ++i) std::memcpy(c + i * n, from.data + i * from.ld, n * sizeof(float));
      }
      if (m == 0 || n == 0) return;
      if (sgemm_available()) {
        auto strided = [](const mx::array& x) { return StridedMatrix{x.data<float>(), x.strides()[0], x.strides()[1]}; };
        sgemm(m, n, k, strided(in[0]), strided(in[1]), c, n, start != GemmStart::zero && !fused_bias, fused_bias);
        return;
      }
      std::vector<float> scratch_a, scratch_b;
      auto a = blas_view(in[0]);
      auto b = blas_view(in[1]);
      Operand oa = a ? *a : packed_copy(in[0], scratch_a), ob = b ? *b : packed_copy(in[1], scratch_b);
      float beta = start == GemmStart::zero ? 0.0f : 1.0f;
      cblas_sgemm(CblasRowMajor, oa.transposed ? CblasTrans : CblasNoTrans, ob.transposed ? CblasTrans : CblasNoTrans,
                  int(m), int(n), int(k), 1.0f, oa.data, oa.ld, ob.data, ob.ld, beta, c, int(n));
    };
    dispatch_cpu(stream(), inputs, outs, body, {start_ == GemmStart::addend ? 2 : -1});
  }
  void eval_gpu(const std::vector<mx::array>&, mx::array&) override {
    throw std::runtime_error("Gemm is a CPU kernel");
  }
  const char* name() const override { return "MaskDMGemm"; }
  bool is_equivalent(const mx::Primitive& other) const override {
    return start_ == static_cast<const Gemm&>(other).start_;
  }
  std::vector<mx::Shape> output_shapes(const std::vector<mx::array>& in) override {
    return {{in[0].shape(0), in[1].shape(1)}};
  }

 private:
  GemmStart start_;
};
}  // namespace

mx::array gemm(const mx::array& a, const mx::array& b, GemmStart start, const std::optional<mx::array>& extra) {
  if (a.ndim() != 2 || b.ndim() != 2 || a.shape(1) != b.shape(0))
    throw std::invalid_argument("gemm: shapes do not multiply");
  if ((start == GemmStart::zero) != !extra.has_value())
    throw std::invalid_argument("gemm: a bias or addend goes with its start, and only then");
  std::optional<mx::Stream> s;
  if (extra)
    s = kernel_stream({&a, &b, &*extra});
  else
    s = kernel_stream({&a, &b});
  mx::Shape shape = {a.shape(0), b.shape(1)};
  bool fits = !extra || (start == GemmStart::bias ? extra->shape() == mx::Shape{b.shape(1)} : extra->shape() == shape);
  if (!s || !fits) {  // MLX's ops: GPU, other dtypes, broadcasting extras
    auto product = mx::matmul(a, b);
    return extra ? mx::add(product, *extra) : product;
  }
  std::vector<mx::array> inputs = {a, b};
  if (extra) inputs.push_back(*extra);
  return mx::array(shape, mx::float32, std::make_shared<Gemm>(*s, start), std::move(inputs));
}
}  // namespace cmlx
