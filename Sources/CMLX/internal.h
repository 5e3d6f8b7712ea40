// Shared plumbing of the C shim: handle conversion, dtype mapping, and the guard that turns every
// C++ exception into a status code plus a thread-local message.
#pragma once
#include <exception>
#include <string>
#include <vector>

#include "cmlx.h"
#include "mlx/mlx.h"

namespace cmlx {
namespace mx = mlx::core;

void set_error(const std::string& message);
bool on_engine_thread();

inline mx::array& get(mlxs_array a) { return *static_cast<mx::array*>(a.ctx); }
inline bool present(mlxs_array a) { return a.ctx != nullptr; }
inline std::optional<mx::array> optional(mlxs_array a) {
  return present(a) ? std::optional<mx::array>(get(a)) : std::nullopt;
}
inline void put(mlxs_array* out, mx::array value) { out->ctx = new mx::array(std::move(value)); }
inline std::vector<mx::array>& vec(mlxs_vec v) { return *static_cast<std::vector<mx::array>*>(v.ctx); }

mx::Dtype to_dtype(int code);
int from_dtype(mx::Dtype dtype);
inline mx::Shape shape_of(const int* shape, int n) { return mx::Shape(shape, shape + n); }
inline std::vector<int> ints(const int* p, int n) { return std::vector<int>(p, p + n); }
std::vector<mx::array> arrays(const mlxs_array* handles, int n);

// This project's kernels (kernels/*.cpp): MLX's own ops serve where a kernel does not apply.
mx::array gelu(const mx::array& x);
mx::array layer_norm(const mx::array& x, const std::optional<mx::array>& w, const std::optional<mx::array>& b,
                     float eps, bool fast);
mx::array attention(const mx::array& qkv, int heads, float scale, bool fast, int pad_to = 0);
std::vector<mx::array> adamw_ema(const mx::array& p, const mx::array& g, const mx::array& m, const mx::array& v,
                                 const mx::array& e, const mx::array& scalars, double beta1, double beta2, double eps,
                                 bool weight_decay, bool fast);

/** Runs body; on any exception records the message and returns 1. */
template <typename F>
int guard(F&& body) {
  if (!on_engine_thread()) {
    set_error(
        "MLX was called from a thread that is not the engine thread; route the work through "
        "Engine.run { ... } (MLX is not made for concurrent calls)");
    return 2;
  }
  try {
    body();
    return 0;
  } catch (const std::exception& e) {
    set_error(e.what());
  } catch (...) {
    set_error("unknown C++ exception in MLX");
  }
  return 1;
}
}  // namespace cmlx
