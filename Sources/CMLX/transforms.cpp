// Evaluation and function transformations of the C shim: value_and_grad, vjp and compile over
// closures written by the caller (a C function pointer plus a payload).
#include <atomic>
#include <cstdio>
#include <map>
#include <unordered_set>

#include "internal.h"
#include "mlx/compile_impl.h"
#include "mlx/primitives.h"

using namespace cmlx;

namespace {
/** Wraps a caller's closure as the std::function MLX's transformations take. */
std::function<std::vector<mx::array>(const std::vector<mx::array>&)> wrap(mlxs_closure fn,
                                                                          std::shared_ptr<void> payload) {
  return [fn, payload](const std::vector<mx::array>& inputs) {
    std::vector<mlxs_array> handles(inputs.size());
    for (size_t i = 0; i < inputs.size(); ++i) handles[i].ctx = new mx::array(inputs[i]);
    std::vector<mx::array> outputs;
    mlxs_vec out{&outputs};
    if (fn(payload.get(), handles.data(), int(handles.size()), out) != 0)
      throw std::runtime_error(mlxs_last_error());
    return outputs;
  };
}

/** A payload the caller owns for the duration of one immediate call: never released here. */
std::shared_ptr<void> borrowed(void* payload) { return std::shared_ptr<void>(payload, [](void*) {}); }

struct Compiled {
  std::function<std::vector<mx::array>(const std::vector<mx::array>&)> fn;
  std::uintptr_t id;
  mx::detail::CompileCacheWeakPtr cache;
};
std::atomic<std::uintptr_t> next_id{1};
}  // namespace

extern "C" {
int mlxs_eval(const mlxs_array* hs, int n) {
  return guard([&] { mx::eval(arrays(hs, n)); });
}

int mlxs_graph_census(const mlxs_array* hs, int n, char* buffer, int capacity, int* needed) {
  return guard([&] {
    // Every unevaluated node reachable from the outputs, once, counted by primitive name: what an
    // evaluation of these outputs will run.
    std::map<std::string, int> counts;
    std::unordered_set<std::uintptr_t> seen;
    std::vector<mx::array> stack = arrays(hs, n);
    while (!stack.empty()) {
      auto a = stack.back();
      stack.pop_back();
      if (!seen.insert(a.id()).second || a.status() != mx::array::Status::unscheduled || !a.has_primitive()) continue;
      counts[a.primitive().name()] += 1;
      for (auto& sibling : a.siblings()) seen.insert(sibling.id());
      for (auto& input : a.inputs()) stack.push_back(input);
    }
    std::string text;
    for (auto& [name, count] : counts) text += name + " " + std::to_string(count) + "\n";
    *needed = int(text.size()) + 1;
    if (capacity > 0) std::snprintf(buffer, size_t(capacity), "%s", text.c_str());
  });
}

int mlxs_async_eval(const mlxs_array* hs, int n) {
  return guard([&] { mx::async_eval(arrays(hs, n)); });
}

int mlxs_value_and_grad(mlxs_closure fn, void* payload, const mlxs_array* inputs, int nin,
                        const int* argnums, int nargnums, mlxs_vec values, mlxs_vec grads) {
  return guard([&] {
    auto f = mx::value_and_grad(wrap(fn, borrowed(payload)), ints(argnums, nargnums));
    auto [v, g] = f(arrays(inputs, nin));
    for (auto& x : v) vec(values).push_back(x);
    for (auto& x : g) vec(grads).push_back(x);
  });
}

int mlxs_vjp(mlxs_closure fn, void* payload, const mlxs_array* primals, int np,
             const mlxs_array* cotangents, int nc, mlxs_vec outputs, mlxs_vec vjps) {
  return guard([&] {
    auto [o, g] = mx::vjp(wrap(fn, borrowed(payload)), arrays(primals, np), arrays(cotangents, nc));
    for (auto& x : o) vec(outputs).push_back(x);
    for (auto& x : g) vec(vjps).push_back(x);
  });
}

int mlxs_compile(mlxs_fn* out, mlxs_closure fn, void* payload, mlxs_release release, bool shapeless) {
  auto owned = std::shared_ptr<void>(payload, [release](void* p) {
    if (release) release(p);
  });
  return guard([&] {
    auto id = next_id.fetch_add(1);
    auto compiled = mx::detail::compile(wrap(fn, owned), id, shapeless);
    out->ctx = new Compiled{std::move(compiled), id, mx::detail::compile_cache()};
  });
}

int mlxs_fn_call(mlxs_fn f, const mlxs_array* inputs, int n, mlxs_vec out) {
  return guard([&] {
    auto result = static_cast<Compiled*>(f.ctx)->fn(arrays(inputs, n));
    for (auto& x : result) vec(out).push_back(x);
  });
}

int mlxs_fn_free(mlxs_fn f) {
  auto c = static_cast<Compiled*>(f.ctx);
  // The traced graph lives in MLX's per-thread compile cache under our id: drop it with the function.
  try {
    mx::detail::compile_erase(c->cache, c->id);
  } catch (...) {
  }
  delete c;
  return 0;
}

int mlxs_set_compile_disabled(int disabled) {
  return guard([&] {
    if (disabled) mx::disable_compile(); else mx::enable_compile();
  });
}
}
