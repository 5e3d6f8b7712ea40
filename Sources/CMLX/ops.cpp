// Element-wise math, reductions, linear algebra, shapes and indexing of the C shim: each entry point
// is one MLX op behind the status-code guard.
#include "internal.h"

using namespace cmlx;

namespace {
std::vector<int> all_axes(const mx::array& a) {
  std::vector<int> axes(a.ndim());
  for (int i = 0; i < int(a.ndim()); ++i) axes[i] = i;
  return axes;
}
std::vector<int> axes_or_all(const mx::array& a, const int* axes, int n) {
  return n < 0 ? all_axes(a) : ints(axes, n);
}
}  // namespace

extern "C" {
int mlxs_unary(mlxs_array* out, int op, mlxs_array ah) {
  return guard([&] {
    auto& a = get(ah);
    switch (op) {
      case MLXS_NEG: return put(out, mx::negative(a));
      case MLXS_ABS: return put(out, mx::abs(a));
      case MLXS_EXP: return put(out, mx::exp(a));
      case MLXS_LOG: return put(out, mx::log(a));
      case MLXS_SQRT: return put(out, mx::sqrt(a));
      case MLXS_RSQRT: return put(out, mx::rsqrt(a));
      case MLXS_SQUARE: return put(out, mx::square(a));
      case MLXS_SIN: return put(out, mx::sin(a));
      case MLXS_COS: return put(out, mx::cos(a));
      case MLXS_TANH: return put(out, mx::tanh(a));
      case MLXS_SIGMOID: return put(out, mx::sigmoid(a));
      case MLXS_ERF: return put(out, mx::erf(a));
      case MLXS_ERFINV: return put(out, mx::erfinv(a));
      case MLXS_FLOOR: return put(out, mx::floor(a));
      case MLXS_CEIL: return put(out, mx::ceil(a));
      case MLXS_ROUND: return put(out, mx::round(a));
      case MLXS_NOT: return put(out, mx::logical_not(a));
      case MLXS_STOP_GRADIENT: return put(out, mx::stop_gradient(a));
      case MLXS_LOG1P: return put(out, mx::log1p(a));
      case MLXS_EXPM1: return put(out, mx::expm1(a));
      case MLXS_SIGN: return put(out, mx::sign(a));
      case MLXS_RECIPROCAL: return put(out, mx::reciprocal(a));
      case MLXS_ISNAN: return put(out, mx::isnan(a));
      case MLXS_ISINF: return put(out, mx::isinf(a));
      case MLXS_ISFINITE: return put(out, mx::isfinite(a));
      case MLXS_COPY: return put(out, mx::copy(a));
    }
    throw std::invalid_argument("unknown unary op " + std::to_string(op));
  });
}

int mlxs_binary(mlxs_array* out, int op, mlxs_array ah, mlxs_array bh) {
  return guard([&] {
    auto& a = get(ah);
    auto& b = get(bh);
    switch (op) {
      case MLXS_ADD: return put(out, mx::add(a, b));
      case MLXS_SUB: return put(out, mx::subtract(a, b));
      case MLXS_MUL: return put(out, mx::multiply(a, b));
      case MLXS_DIV: return put(out, mx::divide(a, b));
      case MLXS_POW: return put(out, mx::power(a, b));
      case MLXS_MAXIMUM: return put(out, mx::maximum(a, b));
      case MLXS_MINIMUM: return put(out, mx::minimum(a, b));
      case MLXS_EQ: return put(out, mx::equal(a, b));
      case MLXS_NE: return put(out, mx::not_equal(a, b));
      case MLXS_LT: return put(out, mx::less(a, b));
      case MLXS_LE: return put(out, mx::less_equal(a, b));
      case MLXS_GT: return put(out, mx::greater(a, b));
      case MLXS_GE: return put(out, mx::greater_equal(a, b));
      case MLXS_AND: return put(out, mx::logical_and(a, b));
      case MLXS_OR: return put(out, mx::logical_or(a, b));
      case MLXS_FLOOR_DIVIDE: return put(out, mx::floor_divide(a, b));
      case MLXS_REMAINDER: return put(out, mx::remainder(a, b));
      case MLXS_MATMUL: return put(out, mx::matmul(a, b));
    }
    throw std::invalid_argument("unknown binary op " + std::to_string(op));
  });
}

int mlxs_reduce(mlxs_array* out, int op, mlxs_array ah, const int* axes, int naxes, bool keepdims) {
  return guard([&] {
    auto& a = get(ah);
    auto ax = axes_or_all(a, axes, naxes);
    switch (op) {
      case MLXS_SUM: return put(out, mx::sum(a, ax, keepdims));
      case MLXS_MEAN: return put(out, mx::mean(a, ax, keepdims));
      case MLXS_MAX: return put(out, mx::max(a, ax, keepdims));
      case MLXS_MIN: return put(out, mx::min(a, ax, keepdims));
      case MLXS_PROD: return put(out, mx::prod(a, ax, keepdims));
      case MLXS_LOGSUMEXP: return put(out, mx::logsumexp(a, ax, keepdims));
      case MLXS_ANY: return put(out, mx::any(a, ax, keepdims));
      case MLXS_ALL: return put(out, mx::all(a, ax, keepdims));
      case MLXS_ARGMAX:
      case MLXS_ARGMIN: {
        if (naxes < 0) {
          auto flat = mx::reshape(a, {-1});
          return put(out, op == MLXS_ARGMAX ? mx::argmax(flat, 0, keepdims) : mx::argmin(flat, 0, keepdims));
        }
        if (naxes != 1) throw std::invalid_argument("argmax/argmin take exactly one axis");
        return put(out, op == MLXS_ARGMAX ? mx::argmax(a, axes[0], keepdims) : mx::argmin(a, axes[0], keepdims));
      }
    }
    throw std::invalid_argument("unknown reduction " + std::to_string(op));
  });
}

int mlxs_var(mlxs_array* out, mlxs_array a, const int* axes, int naxes, bool keepdims, int ddof) {
  return guard([&] { put(out, mx::var(get(a), axes_or_all(get(a), axes, naxes), keepdims, ddof)); });
}

int mlxs_cumsum(mlxs_array* out, mlxs_array a, int axis, bool reverse, bool inclusive) {
  return guard([&] { put(out, mx::cumsum(get(a), axis, reverse, inclusive)); });
}

int mlxs_softmax(mlxs_array* out, mlxs_array a, const int* axes, int naxes, bool precise) {
  return guard([&] { put(out, mx::softmax(get(a), axes_or_all(get(a), axes, naxes), precise)); });
}

int mlxs_astype(mlxs_array* out, mlxs_array a, int dtype) {
  return guard([&] { put(out, mx::astype(get(a), to_dtype(dtype))); });
}

int mlxs_where(mlxs_array* out, mlxs_array c, mlxs_array a, mlxs_array b) {
  return guard([&] { put(out, mx::where(get(c), get(a), get(b))); });
}

int mlxs_clip(mlxs_array* out, mlxs_array a, mlxs_array lo, mlxs_array hi) {
  return guard([&] { put(out, mx::clip(get(a), optional(lo), optional(hi))); });
}

int mlxs_addmm(mlxs_array* out, mlxs_array c, mlxs_array a, mlxs_array b, float alpha, float beta) {
  return guard([&] { put(out, mx::addmm(get(c), get(a), get(b), alpha, beta)); });
}

int mlxs_conv2d(mlxs_array* out, mlxs_array x, mlxs_array w, const int* stride, const int* pad_lo,
                const int* pad_hi, const int* dilation, int groups) {
  return guard([&] {
    put(out, mx::conv_general(get(x), get(w), ints(stride, 2), ints(pad_lo, 2), ints(pad_hi, 2),
                              ints(dilation, 2), {1, 1}, groups));
  });
}

int mlxs_sort(mlxs_array* out, mlxs_array a, int axis, bool arg) {
  return guard([&] { put(out, arg ? mx::argsort(get(a), axis) : mx::sort(get(a), axis)); });
}

int mlxs_reshape(mlxs_array* out, mlxs_array a, const int* shape, int n) {
  return guard([&] { put(out, mx::reshape(get(a), shape_of(shape, n))); });
}

int mlxs_transpose(mlxs_array* out, mlxs_array a, const int* axes, int n) {
  return guard([&] { put(out, mx::transpose(get(a), ints(axes, n))); });
}

int mlxs_row_major(mlxs_array* out, mlxs_array a) {
  return guard([&] { put(out, mx::contiguous(get(a))); });
}

int mlxs_broadcast_to(mlxs_array* out, mlxs_array a, const int* shape, int n) {
  return guard([&] { put(out, mx::broadcast_to(get(a), shape_of(shape, n))); });
}

int mlxs_expand_dims(mlxs_array* out, mlxs_array a, int axis) {
  return guard([&] { put(out, mx::expand_dims(get(a), axis)); });
}

int mlxs_squeeze(mlxs_array* out, mlxs_array a, const int* axes, int n) {
  return guard([&] { put(out, n < 0 ? mx::squeeze(get(a)) : mx::squeeze(get(a), ints(axes, n))); });
}

int mlxs_slice(mlxs_array* out, mlxs_array a, const int* start, const int* stop, const int* strides,
               int n) {
  return guard([&] { put(out, mx::slice(get(a), shape_of(start, n), shape_of(stop, n), shape_of(strides, n))); });
}

int mlxs_slice_update(mlxs_array* out, mlxs_array src, mlxs_array update, const int* start,
                      const int* stop, const int* strides, int n) {
  return guard([&] {
    put(out, mx::slice_update(get(src), get(update), shape_of(start, n), shape_of(stop, n), shape_of(strides, n)));
  });
}

int mlxs_concatenate(mlxs_array* out, const mlxs_array* hs, int n, int axis) {
  return guard([&] { put(out, mx::concatenate(arrays(hs, n), axis)); });
}

int mlxs_stack(mlxs_array* out, const mlxs_array* hs, int n, int axis) {
  return guard([&] { put(out, mx::stack(arrays(hs, n), axis)); });
}

int mlxs_split(mlxs_vec* out, mlxs_array a, const int* indices, int n, int axis) {
  return guard([&] {
    out->ctx = new std::vector<mx::array>(mx::split(get(a), shape_of(indices, n), axis));
  });
}

int mlxs_pad(mlxs_array* out, mlxs_array a, const int* axes, const int* lo, const int* hi, int n,
             double value) {
  return guard([&] {
    auto& x = get(a);
    put(out, mx::pad(x, ints(axes, n), shape_of(lo, n), shape_of(hi, n), mx::array(value, x.dtype())));
  });
}

int mlxs_as_strided(mlxs_array* out, mlxs_array a, const int* shape, const int64_t* strides, int n,
                    size_t offset) {
  return guard([&] {
    put(out, mx::as_strided(get(a), shape_of(shape, n), mx::Strides(strides, strides + n), offset));
  });
}

int mlxs_take(mlxs_array* out, mlxs_array a, mlxs_array idx, int axis) {
  return guard([&] { put(out, mx::take(get(a), get(idx), axis)); });
}

int mlxs_take_along_axis(mlxs_array* out, mlxs_array a, mlxs_array idx, int axis) {
  return guard([&] { put(out, mx::take_along_axis(get(a), get(idx), axis)); });
}

int mlxs_put_along_axis(mlxs_array* out, mlxs_array a, mlxs_array idx, mlxs_array values, int axis) {
  return guard([&] { put(out, mx::put_along_axis(get(a), get(idx), get(values), axis)); });
}

int mlxs_arange(mlxs_array* out, double start, double stop, double step, int dtype) {
  return guard([&] { put(out, mx::arange(start, stop, step, to_dtype(dtype))); });
}

int mlxs_full(mlxs_array* out, const int* shape, int n, double value, int dtype) {
  return guard([&] {
    auto dt = to_dtype(dtype);
    put(out, mx::full(shape_of(shape, n), mx::array(value, dt), dt));
  });
}

int mlxs_layer_norm(mlxs_array* out, mlxs_array x, mlxs_array w, mlxs_array b, float eps, int fast) {
  return guard([&] { put(out, cmlx::layer_norm(get(x), optional(w), optional(b), eps, fast != 0)); });
}

int mlxs_sdpa(mlxs_array* out, mlxs_array q, mlxs_array k, mlxs_array v, float scale, mlxs_array mask) {
  return guard([&] {
    if (present(mask))
      put(out, mx::fast::scaled_dot_product_attention(get(q), get(k), get(v), scale, "array", get(mask)));
    else
      put(out, mx::fast::scaled_dot_product_attention(get(q), get(k), get(v), scale));
  });
}
}
