// y = x Wᵀ + b with PyTorch's weight layout (out, in), and a gradient that keeps that layout.
//
// Built from addmm on a transposed view of W, MLX's own gradient of W is the transpose of xᵀ·g: a
// strided view that every consumer (the optimizer) must first copy into (out, in) order with MLX's
// generic, single-threaded copy — about a tenth of a 90%-masked training step on 2 cores. Here the
// gradient is gᵀ·x, which BLAS writes directly in (out, in) order (the transposed operand is passed as
// a flag, not copied), and the bias gradient is the column sum of g.
#include "../internal.h"

namespace cmlx {

mx::array linear(const mx::array& x, const mx::array& w, const std::optional<mx::array>& b, bool fast) {
  auto forward = [](const std::vector<mx::array>& in) -> std::vector<mx::array> {
    auto wt = mx::transpose(in[1]);
    return {in.size() > 2 ? mx::addmm(in[2], in[0], wt) : mx::matmul(in[0], wt)};
  };
  std::vector<mx::array> inputs = {x, w};
  if (b) inputs.push_back(*b);
  if (!fast || x.ndim() != 2 || w.ndim() != 2) return forward(inputs)[0];
  auto vjp = [](const std::vector<mx::array>& in, const std::vector<mx::array>& cotangents,
                const std::vector<mx::array>&) -> std::vector<mx::array> {
    const auto& g = cotangents[0];  // (rows, out)
    std::vector<mx::array> grads = {
        mx::matmul(g, in[1]),                 // dx (rows, in)
        mx::matmul(mx::transpose(g), in[0]),  // dW (out, in), row-major
    };
    if (in.size() > 2) grads.push_back(mx::sum(g, 0));  // db (out)
    return grads;
  };
  return mx::custom_vjp(forward, vjp)(inputs)[0];
}
}  // namespace cmlx

extern "C" int mlxs_linear(mlxs_array* out, mlxs_array x, mlxs_array w, mlxs_array bias, int fast) {
  return cmlx::guard(
      [&] { cmlx::put(out, cmlx::linear(cmlx::get(x), cmlx::get(w), cmlx::optional(bias), fast != 0)); });
}
