// Random numbers from explicit keys, devices, memory statistics and safetensors I/O of the C shim.
#include "internal.h"

using namespace cmlx;

extern "C" {
int mlxs_random_key(mlxs_array* out, uint64_t seed) {
  return guard([&] { put(out, mx::random::key(seed)); });
}

int mlxs_random_split(mlxs_array* out, mlxs_array key, int num) {
  return guard([&] { put(out, mx::random::split(get(key), num)); });
}

int mlxs_random_uniform(mlxs_array* out, double lo, double hi, const int* shape, int n, int dtype,
                        mlxs_array key) {
  return guard([&] {
    auto dt = to_dtype(dtype);
    put(out, mx::random::uniform(mx::array(lo, dt), mx::array(hi, dt), shape_of(shape, n), dt, get(key)));
  });
}

int mlxs_random_normal(mlxs_array* out, const int* shape, int n, int dtype, double loc, double scale,
                       mlxs_array key) {
  return guard([&] {
    put(out, mx::random::normal(shape_of(shape, n), to_dtype(dtype), float(loc), float(scale), get(key)));
  });
}

int mlxs_random_truncated_normal(mlxs_array* out, double lower, double upper, const int* shape, int n,
                                 int dtype, mlxs_array key) {
  return guard([&] {
    auto dt = to_dtype(dtype);
    put(out, mx::random::truncated_normal(mx::array(lower, dt), mx::array(upper, dt), shape_of(shape, n), dt,
                                          get(key)));
  });
}

int mlxs_random_bernoulli(mlxs_array* out, double p, const int* shape, int n, mlxs_array key) {
  return guard([&] { put(out, mx::random::bernoulli(mx::array(float(p)), shape_of(shape, n), get(key))); });
}

int mlxs_random_randint(mlxs_array* out, int lo, int hi, const int* shape, int n, int dtype,
                        mlxs_array key) {
  return guard([&] {
    put(out, mx::random::randint(mx::array(lo), mx::array(hi), shape_of(shape, n), to_dtype(dtype), get(key)));
  });
}

int mlxs_random_permutation(mlxs_array* out, int n, mlxs_array key) {
  return guard([&] { put(out, mx::random::permutation(n, get(key))); });
}

int mlxs_gpu_available(void) {
  try {
    return mx::is_available(mx::Device::gpu) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

int mlxs_set_default_device(int gpu) {
  return guard([&] { mx::set_default_device(gpu ? mx::Device::gpu : mx::Device::cpu); });
}

int mlxs_default_device(void) { return mx::default_device() == mx::Device::gpu ? 1 : 0; }

size_t mlxs_memory(int which) {
  switch (which) {
    case 0: return mx::get_active_memory();
    case 1: return mx::get_peak_memory();
    default: return mx::get_cache_memory();
  }
}
int mlxs_reset_peak_memory(void) {
  return guard([] { mx::reset_peak_memory(); });
}
int mlxs_clear_cache(void) {
  return guard([] { mx::clear_cache(); });
}
const char* mlxs_version(void) {
  static std::string v = mx::version();
  return v.c_str();
}

int mlxs_load_safetensors(const char* path, void* ctx, mlxs_tensor_cb on_tensor, mlxs_meta_cb on_meta) {
  return guard([&] {
    auto [tensors, meta] = mx::load_safetensors(std::string(path), mx::Device::cpu);
    std::vector<mx::array> all;
    for (auto& [name, a] : tensors) all.push_back(a);
    mx::eval(all);  // read now: a truncated or inconsistent file fails here, not in a later step
    for (auto& [name, a] : tensors) {
      mlxs_array h;
      put(&h, a);
      on_tensor(ctx, name.c_str(), h);
    }
    for (auto& [k, v] : meta) on_meta(ctx, k.c_str(), v.c_str());
  });
}

int mlxs_save_safetensors(const char* path, const char* const* names, const mlxs_array* hs, int n,
                          const char* const* meta_keys, const char* const* meta_values, int nmeta) {
  return guard([&] {
    std::unordered_map<std::string, mx::array> tensors;
    for (int i = 0; i < n; ++i) {
      if (!tensors.emplace(names[i], get(hs[i])).second)
        throw std::invalid_argument(std::string("duplicate tensor name ") + names[i]);
    }
    std::unordered_map<std::string, std::string> meta;
    for (int i = 0; i < nmeta; ++i) meta[meta_keys[i]] = meta_values[i];
    mx::save_safetensors(std::string(path), tensors, meta);
  });
}
}
