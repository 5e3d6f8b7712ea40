// Arrays, vectors of arrays, errors and the engine-thread rule of the C shim.
#include <atomic>
#include <cstring>
#include <thread>

#include "internal.h"

namespace cmlx {
static thread_local std::string last_error;
static std::atomic<std::thread::id> engine_thread{std::thread::id()};

void set_error(const std::string& message) { last_error = message; }

bool on_engine_thread() {
  auto owner = engine_thread.load(std::memory_order_relaxed);
  return owner == std::thread::id() || owner == std::this_thread::get_id();
}

mx::Dtype to_dtype(int code) {
  switch (code) {
    case MLXS_BOOL: return mx::bool_;
    case MLXS_UINT8: return mx::uint8;
    case MLXS_INT32: return mx::int32;
    case MLXS_INT64: return mx::int64;
    case MLXS_UINT32: return mx::uint32;
    case MLXS_FLOAT16: return mx::float16;
    case MLXS_BFLOAT16: return mx::bfloat16;
    case MLXS_FLOAT32: return mx::float32;
    case MLXS_FLOAT64: return mx::float64;
  }
  throw std::invalid_argument("unknown dtype code " + std::to_string(code));
}

int from_dtype(mx::Dtype d) {
  if (d == mx::bool_) return MLXS_BOOL;
  if (d == mx::uint8) return MLXS_UINT8;
  if (d == mx::int32) return MLXS_INT32;
  if (d == mx::int64) return MLXS_INT64;
  if (d == mx::uint32) return MLXS_UINT32;
  if (d == mx::float16) return MLXS_FLOAT16;
  if (d == mx::bfloat16) return MLXS_BFLOAT16;
  if (d == mx::float32) return MLXS_FLOAT32;
  if (d == mx::float64) return MLXS_FLOAT64;
  return -1;
}

std::vector<mx::array> arrays(const mlxs_array* handles, int n) {
  std::vector<mx::array> out;
  out.reserve(n);
  for (int i = 0; i < n; ++i) out.push_back(get(handles[i]));
  return out;
}
}  // namespace cmlx

using namespace cmlx;

extern "C" {
const char* mlxs_last_error(void) { return last_error.c_str(); }
void mlxs_set_error(const char* message) { last_error = message ? message : ""; }

int mlxs_claim_thread(void) {
  engine_thread.store(std::this_thread::get_id());
  return 0;
}
int mlxs_on_engine_thread(void) { return on_engine_thread() ? 1 : 0; }

// Freeing is allowed from any thread: it only drops a reference (Swift may release a handle anywhere).
int mlxs_array_free(mlxs_array a) {
  delete static_cast<mx::array*>(a.ctx);
  return 0;
}

int mlxs_array_from_data(mlxs_array* out, const void* data, const int* shape, int ndim, int dtype) {
  return guard([&] {
    auto dt = to_dtype(dtype);
    auto sh = shape_of(shape, ndim);
    size_t count = 1;
    for (int i = 0; i < ndim; ++i) {
      if (shape[i] < 0) throw std::invalid_argument("negative dimension in shape");
      count *= size_t(shape[i]);
    }
    (void)count;
    // MLX copies the elements into its own buffer; the caller keeps its memory.
    switch (dtype) {
      case MLXS_BOOL: put(out, mx::array(static_cast<const bool*>(data), sh, dt)); break;
      case MLXS_UINT8: put(out, mx::array(static_cast<const uint8_t*>(data), sh, dt)); break;
      case MLXS_INT32: put(out, mx::array(static_cast<const int32_t*>(data), sh, dt)); break;
      case MLXS_INT64: put(out, mx::array(static_cast<const int64_t*>(data), sh, dt)); break;
      case MLXS_UINT32: put(out, mx::array(static_cast<const uint32_t*>(data), sh, dt)); break;
      case MLXS_FLOAT16: put(out, mx::array(static_cast<const mx::float16_t*>(data), sh, dt)); break;
      case MLXS_BFLOAT16: put(out, mx::array(static_cast<const mx::bfloat16_t*>(data), sh, dt)); break;
      case MLXS_FLOAT32: put(out, mx::array(static_cast<const float*>(data), sh, dt)); break;
      case MLXS_FLOAT64: put(out, mx::array(static_cast<const double*>(data), sh, dt)); break;
    }
  });
}

int mlxs_array_scalar(mlxs_array* out, double value, int dtype) {
  return guard([&] { put(out, mx::astype(mx::array(value, mx::float64), to_dtype(dtype), mx::Device::cpu)); });
}

int mlxs_array_ndim(mlxs_array a) { return int(get(a).ndim()); }
int mlxs_array_shape(mlxs_array a, int* shape_out) {
  auto& s = get(a).shape();
  for (size_t i = 0; i < s.size(); ++i) shape_out[i] = s[i];
  return 0;
}
int mlxs_array_dtype(mlxs_array a) { return from_dtype(get(a).dtype()); }
size_t mlxs_array_size(mlxs_array a) { return get(a).size(); }

int mlxs_array_copy_to(mlxs_array a, void* dst, size_t nbytes) {
  return guard([&] {
    auto c = mx::contiguous(get(a));
    c.eval();
    if (c.nbytes() != nbytes)
      throw std::invalid_argument("copy_to: destination holds " + std::to_string(nbytes) +
                                  " bytes, the array " + std::to_string(c.nbytes()));
    if (nbytes) std::memcpy(dst, c.data<void>(), nbytes);
  });
}

int mlxs_array_retain(mlxs_array* out, mlxs_array a) {
  out->ctx = new mx::array(get(a));
  return 0;
}

int mlxs_vec_new(mlxs_vec* out) {
  out->ctx = new std::vector<mx::array>();
  return 0;
}
int mlxs_vec_free(mlxs_vec v) {
  delete static_cast<std::vector<mx::array>*>(v.ctx);
  return 0;
}
int mlxs_vec_size(mlxs_vec v) { return int(vec(v).size()); }
int mlxs_vec_get(mlxs_array* out, mlxs_vec v, int i) {
  if (i < 0 || i >= int(vec(v).size())) {
    set_error("vector index out of range");
    return 1;
  }
  put(out, vec(v)[i]);
  return 0;
}
int mlxs_vec_append(mlxs_vec v, mlxs_array a) {
  vec(v).push_back(get(a));
  return 0;
}
}
