// Random numbers from explicit keys, devices and memory statistics of the C shim.
#include "internal.h"
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "kernels/isa.h"
#include "kernels/sgemm.h"

using namespace cmlx;

// Weak: the GPU build links no OpenBLAS (Package.swift, MASKDM_NO_OPENBLAS).
extern "C" char* openblas_get_corename(void) __attribute__((weak));

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
    case 3: return mx::get_memory_limit();
    default: return mx::get_cache_memory();
  }
}
int mlxs_set_heap_thresholds(int map_threshold, int trim_threshold) {
#if defined(__GLIBC__)
  return mallopt(M_MMAP_THRESHOLD, map_threshold) == 1 && mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1;
#else
  return 0;
#endif
}
long mlxs_heap_mapped_blocks(void) {
#if defined(__GLIBC__)
  return long(mallinfo2().hblks);
#else
  return -1;
#endif
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
const char* mlxs_cpu_matrix_product(void) {
  switch (cmlx::isa()) {
    case cmlx::Isa::avx512: return "own AVX-512";
    case cmlx::Isa::avx2: return "own AVX2";
    default: return "OpenBLAS";
  }
}
const char* mlxs_cpu_path(void) {
  return cmlx::isa_name(cmlx::isa());
}
int mlxs_set_cpu_path(const char* name) {
  for (auto path : {cmlx::Isa::avx512, cmlx::Isa::avx2, cmlx::Isa::generic})
    if (std::strcmp(name, cmlx::isa_name(path)) == 0) return cmlx::set_isa(path) ? 1 : 0;
  return 0;
}
const char* mlxs_openblas_core(void) {
  return openblas_get_corename ? openblas_get_corename() : nullptr;
}
int mlxs_cpu_path_supported(const char* name) {
  for (auto path : {cmlx::Isa::avx512, cmlx::Isa::avx2, cmlx::Isa::generic})
    if (std::strcmp(name, cmlx::isa_name(path)) == 0) return cmlx::isa_supported(path) ? 1 : 0;
  return 0;
}
}
