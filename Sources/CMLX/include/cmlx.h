// CMLX: a C ABI over the MLX C++ core (the pattern of ml-explore/mlx-c), plus this project's own
// CPU kernels. Every entry point returns 0 on success and non-zero on failure; the failure's text is
// kept per thread and read with mlxs_last_error(). No C++ exception ever crosses this boundary.
//
// Handles are opaque: an mlxs_array owns one reference to an mlx::core::array and is released with
// mlxs_array_free; out-parameters receive new handles the caller owns.
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct mlxs_array_ { void* ctx; } mlxs_array;
typedef struct mlxs_vec_ { void* ctx; } mlxs_vec;
typedef struct mlxs_fn_ { void* ctx; } mlxs_fn;
typedef struct mlxs_group_ { void* ctx; } mlxs_group;

typedef enum {
  MLXS_BOOL = 0, MLXS_UINT8 = 1, MLXS_INT32 = 2, MLXS_INT64 = 3, MLXS_UINT32 = 4,
  MLXS_FLOAT16 = 5, MLXS_BFLOAT16 = 6, MLXS_FLOAT32 = 7, MLXS_FLOAT64 = 8,
} mlxs_dtype;

typedef enum {
  MLXS_NEG, MLXS_ABS, MLXS_EXP, MLXS_LOG, MLXS_SQRT, MLXS_RSQRT, MLXS_SQUARE, MLXS_SIN, MLXS_COS,
  MLXS_TANH, MLXS_SIGMOID, MLXS_ERF, MLXS_ERFINV, MLXS_FLOOR, MLXS_CEIL, MLXS_ROUND, MLXS_NOT,
  MLXS_STOP_GRADIENT, MLXS_LOG1P, MLXS_EXPM1, MLXS_SIGN, MLXS_RECIPROCAL, MLXS_ISNAN, MLXS_ISINF,
  MLXS_ISFINITE, MLXS_COPY,
} mlxs_unary_op;

typedef enum {
  MLXS_ADD, MLXS_SUB, MLXS_MUL, MLXS_DIV, MLXS_POW, MLXS_MAXIMUM, MLXS_MINIMUM, MLXS_EQ, MLXS_NE,
  MLXS_LT, MLXS_LE, MLXS_GT, MLXS_GE, MLXS_AND, MLXS_OR, MLXS_FLOOR_DIVIDE, MLXS_REMAINDER,
  MLXS_MATMUL,
} mlxs_binary_op;

typedef enum {
  MLXS_SUM, MLXS_MEAN, MLXS_MAX, MLXS_MIN, MLXS_PROD, MLXS_LOGSUMEXP, MLXS_ANY, MLXS_ALL,
  MLXS_ARGMAX, MLXS_ARGMIN,
} mlxs_reduce_op;

/* ---- errors and the engine thread ---- */
const char* mlxs_last_error(void);
/** Sets this thread's error text (used by closures written in Swift before they return non-zero). */
void mlxs_set_error(const char* message);
/** Makes the calling thread the engine thread; afterwards calls from any other thread fail. */
int mlxs_claim_thread(void);
/** 1 when the calling thread may use MLX (it is the engine thread, or none was claimed). */
int mlxs_on_engine_thread(void);

/* ---- arrays ---- */
int mlxs_array_free(mlxs_array a);
int mlxs_array_from_data(mlxs_array* out, const void* data, const int* shape, int ndim, int dtype);
int mlxs_array_scalar(mlxs_array* out, double value, int dtype);
int mlxs_array_ndim(mlxs_array a);
int mlxs_array_shape(mlxs_array a, int* shape_out);
int mlxs_array_dtype(mlxs_array a);
size_t mlxs_array_size(mlxs_array a);
/** Evaluates `a` and copies its elements, row-major, into dst (nbytes must equal size*itemsize). */
int mlxs_array_copy_to(mlxs_array a, void* dst, size_t nbytes);
int mlxs_array_retain(mlxs_array* out, mlxs_array a);

/* ---- vectors of arrays ---- */
int mlxs_vec_new(mlxs_vec* out);
int mlxs_vec_free(mlxs_vec v);
int mlxs_vec_size(mlxs_vec v);
int mlxs_vec_get(mlxs_array* out, mlxs_vec v, int i);
int mlxs_vec_append(mlxs_vec v, mlxs_array a);

/* ---- element-wise, reductions, linear algebra ---- */
int mlxs_unary(mlxs_array* out, int op, mlxs_array a);
int mlxs_binary(mlxs_array* out, int op, mlxs_array a, mlxs_array b);
/** naxes < 0 reduces over all axes. ARGMAX/ARGMIN take exactly one axis. */
int mlxs_reduce(mlxs_array* out, int op, mlxs_array a, const int* axes, int naxes, bool keepdims);
int mlxs_var(mlxs_array* out, mlxs_array a, const int* axes, int naxes, bool keepdims, int ddof);
int mlxs_cumsum(mlxs_array* out, mlxs_array a, int axis, bool reverse, bool inclusive);
int mlxs_softmax(mlxs_array* out, mlxs_array a, const int* axes, int naxes, bool precise);
int mlxs_astype(mlxs_array* out, mlxs_array a, int dtype);
int mlxs_where(mlxs_array* out, mlxs_array cond, mlxs_array a, mlxs_array b);
/** lo or hi may be a null handle (ctx == NULL) for "no bound". */
int mlxs_clip(mlxs_array* out, mlxs_array a, mlxs_array lo, mlxs_array hi);
int mlxs_addmm(mlxs_array* out, mlxs_array c, mlxs_array a, mlxs_array b, float alpha, float beta);
/** NHWC input, OHWI weight (MLX's layout). */
int mlxs_conv2d(mlxs_array* out, mlxs_array x, mlxs_array w, const int* stride, const int* pad_lo,
                const int* pad_hi, const int* dilation, int groups);
int mlxs_sort(mlxs_array* out, mlxs_array a, int axis, bool arg);

/* ---- shapes and indexing ---- */
int mlxs_reshape(mlxs_array* out, mlxs_array a, const int* shape, int n);
int mlxs_transpose(mlxs_array* out, mlxs_array a, const int* axes, int n);
int mlxs_row_major(mlxs_array* out, mlxs_array a);
int mlxs_broadcast_to(mlxs_array* out, mlxs_array a, const int* shape, int n);
int mlxs_expand_dims(mlxs_array* out, mlxs_array a, int axis);
int mlxs_squeeze(mlxs_array* out, mlxs_array a, const int* axes, int n);
int mlxs_slice(mlxs_array* out, mlxs_array a, const int* start, const int* stop, const int* strides,
               int n);
int mlxs_slice_update(mlxs_array* out, mlxs_array src, mlxs_array update, const int* start,
                      const int* stop, const int* strides, int n);
int mlxs_concatenate(mlxs_array* out, const mlxs_array* arrays, int n, int axis);
int mlxs_stack(mlxs_array* out, const mlxs_array* arrays, int n, int axis);
int mlxs_split(mlxs_vec* out, mlxs_array a, const int* indices, int n, int axis);
int mlxs_pad(mlxs_array* out, mlxs_array a, const int* axes, const int* lo, const int* hi, int n,
             double value);
int mlxs_as_strided(mlxs_array* out, mlxs_array a, const int* shape, const int64_t* strides, int n,
                    size_t offset);
int mlxs_take(mlxs_array* out, mlxs_array a, mlxs_array indices, int axis);
int mlxs_take_along_axis(mlxs_array* out, mlxs_array a, mlxs_array indices, int axis);
int mlxs_put_along_axis(mlxs_array* out, mlxs_array a, mlxs_array indices, mlxs_array values,
                        int axis);

/* ---- creation ---- */
int mlxs_arange(mlxs_array* out, double start, double stop, double step, int dtype);
int mlxs_full(mlxs_array* out, const int* shape, int n, double value, int dtype);

/* ---- fast (fused) ops ---- */
/** weight or bias may be null handles. fast = 1 uses this project's CPU kernel where it applies. */
int mlxs_layer_norm(mlxs_array* out, mlxs_array x, mlxs_array weight, mlxs_array bias, float eps, int fast);
/** q, k, v: (B, heads, L, head_dim). mask may be a null handle. */
int mlxs_sdpa(mlxs_array* out, mlxs_array q, mlxs_array k, mlxs_array v, float scale,
              mlxs_array mask);

/* ---- random numbers, always from an explicit key ---- */
int mlxs_random_key(mlxs_array* out, uint64_t seed);
int mlxs_random_split(mlxs_array* out, mlxs_array key, int num);
int mlxs_random_uniform(mlxs_array* out, double lo, double hi, const int* shape, int n, int dtype,
                        mlxs_array key);
int mlxs_random_normal(mlxs_array* out, const int* shape, int n, int dtype, double loc,
                       double scale, mlxs_array key);
int mlxs_random_truncated_normal(mlxs_array* out, double lower, double upper, const int* shape,
                                 int n, int dtype, mlxs_array key);
int mlxs_random_bernoulli(mlxs_array* out, double p, const int* shape, int n, mlxs_array key);
int mlxs_random_randint(mlxs_array* out, int lo, int hi, const int* shape, int n, int dtype,
                        mlxs_array key);
int mlxs_random_permutation(mlxs_array* out, int n, mlxs_array key);

/* ---- evaluation and transformations ---- */
int mlxs_eval(const mlxs_array* arrays, int n);
/**
 * The unevaluated graph behind the arrays, as "primitive count" lines (one per primitive name) written
 * into buffer (at most capacity bytes, NUL-terminated); *needed receives the full length + 1.
 */
int mlxs_graph_census(const mlxs_array* arrays, int n, char* buffer, int capacity, int* needed);
int mlxs_async_eval(const mlxs_array* arrays, int n);

/**
 * A function written by the caller: receives `nin` new input handles (which it owns and must free)
 * and appends its outputs to `out`. Returns 0, or non-zero after mlxs_set_error().
 */
typedef int (*mlxs_closure)(void* payload, const mlxs_array* inputs, int nin, mlxs_vec out);
/** Called once when the last user of a closure's payload is gone. */
typedef void (*mlxs_release)(void* payload);

/**
 * Calls fn(inputs) and differentiates its first output (a scalar) with respect to the inputs listed
 * in argnums. Appends every output to `values` and one gradient per argnum to `grads`.
 */
int mlxs_value_and_grad(mlxs_closure fn, void* payload, const mlxs_array* inputs, int nin,
                        const int* argnums, int nargnums, mlxs_vec values, mlxs_vec grads);
/** Vector-Jacobian product of fn at primals with the given cotangents. */
int mlxs_vjp(mlxs_closure fn, void* payload, const mlxs_array* primals, int np,
             const mlxs_array* cotangents, int nc, mlxs_vec outputs, mlxs_vec vjps);
/** Compiles fn; the payload is released (through `release`) when the compiled function is freed. */
int mlxs_compile(mlxs_fn* out, mlxs_closure fn, void* payload, mlxs_release release,
                 bool shapeless);
int mlxs_fn_call(mlxs_fn f, const mlxs_array* inputs, int n, mlxs_vec out);
int mlxs_fn_free(mlxs_fn f);
/** Turns graph compilation off (1) or on (0) for the whole process (a debugging aid). */
int mlxs_set_compile_disabled(int disabled);

/* ---- devices and memory ---- */
int mlxs_gpu_available(void);
/** 0 = CPU, 1 = GPU. */
int mlxs_set_default_device(int gpu);
int mlxs_default_device(void);
/** Sets glibc's heap thresholds (M_MMAP_THRESHOLD, M_TRIM_THRESHOLD, bytes): 1 when both were set, 0
 *  where the C library is not glibc. */
int mlxs_set_heap_thresholds(int map_threshold, int trim_threshold);
/** How many blocks glibc's malloc has mapped on their own (mallinfo2's hblks); -1 elsewhere. */
long mlxs_heap_mapped_blocks(void);
/** which: 0 active, 1 peak, 2 cache, 3 the limit MLX keeps its allocations under (set from the device). */
size_t mlxs_memory(int which);
int mlxs_reset_peak_memory(void);
int mlxs_clear_cache(void);
const char* mlxs_version(void);
/** Who multiplies float32 matrices for Linear layers and convolutions on the CPU: "own AVX-512" or
 *  "own AVX2" (our product, kernels/sgemm.h) or "OpenBLAS". */
const char* mlxs_cpu_matrix_product(void);
/** The CPU code path of our kernels in use (kernels/isa.h): "avx512", "avx2" or "generic". */
const char* mlxs_cpu_path(void);
/** Switches to a path by name; 1 when done, 0 (nothing changed) when unknown or beyond this CPU.
 *  Switch between evaluations: a graph's primitives are settled when it is built (the AVX paths
 *  have Linear primitives of their own), their kernels when it is evaluated. */
int mlxs_set_cpu_path(const char* name);
/** 1 when this CPU can run the named path, else 0. */
int mlxs_cpu_path_supported(const char* name);
/** OpenBLAS's name for the kernel it runs (openblas_get_corename), NULL when OpenBLAS is not linked. */
const char* mlxs_openblas_core(void);

/* ---- distributed (MLX's own backends: "ring", "mpi", "nccl", or "any") ---- */
/** 1 when the backend (NULL: any) can be used in this process, else 0. */
int mlxs_distributed_is_available(const char* backend);
/**
 * The group of all processes of the job, set up from the backend's environment variables (ring:
 * MLX_RANK, MLX_HOSTFILE; NCCL: MLX_RANK, MLX_WORLD_SIZE, NCCL_HOST_IP, NCCL_PORT; MPI: mpirun's).
 * strict = true fails when no backend can be initialised; false gives a group of size 1.
 */
int mlxs_distributed_init(mlxs_group* out, bool strict, const char* backend);
int mlxs_group_free(mlxs_group g);
int mlxs_group_rank(mlxs_group g);
int mlxs_group_size(mlxs_group g);
/** The element-wise sum of `a` over every process of the group (lazy, like every other op). */
int mlxs_all_sum(mlxs_array* out, mlxs_array a, mlxs_group g);

/* ---- this project's CPU kernels (MLX's own ops on the GPU and for other dtypes) ---- */
/** Exact GELU; fast = 0 forces the composition of MLX ops (the reference the kernel is tested against). */
int mlxs_gelu(mlxs_array* out, mlxs_array x, int fast);
/**
 * y = [x_1 ... x_n] wᵀ + bias for parts x_i (rows, in_i) concatenated along the features, w (out, Σ in_i),
 * bias (out) or a null handle; w's gradient comes out row-major in (out, in) order and nothing is
 * concatenated. fast = 0 forces MLX's concatenate + addmm on a transposed view of w.
 */
int mlxs_linear(mlxs_array* out, const mlxs_array* parts, int n, mlxs_array w, mlxs_array bias, int fast);
/**
 * Multi-head self-attention from the packed projection: qkv (B, L, 3*D) laid out as (B, L, 3, heads,
 * head_dim) -> (B, L, D), softmax(q kᵀ * scale) v per head. fast = 0 forces MLX's composition.
 * pad_to = 0 is automatic (on the GPU, half-precision tokens are padded to a multiple of 128 when that
 * adds at most half again, so that cuDNN's fused backward applies); pad_to > 0 forces MLX's composition
 * with the tokens padded to a multiple of pad_to and the padded keys masked out (1: no padding).
 */
int mlxs_attention(mlxs_array* out, mlxs_array qkv, int heads, float scale, int fast, int pad_to);
/**
 * y = conv2d(x, w) + bias, then max(y, 0) when relu: NHWC x, OHWI w, bias (O) or a null handle, stride
 * and padding below/above per spatial axis (2 each). fast = 0 forces MLX's conv_general + add + maximum.
 */
int mlxs_conv2d_bias_relu(mlxs_array* out, mlxs_array x, mlxs_array w, mlxs_array bias, const int* stride,
                          const int* pad_lo, const int* pad_hi, int relu, int fast);
/**
 * kernel x kernel max (max != 0) or average pooling of NHWC x with stride and symmetric padding
 * (0 <= padding < kernel); an average counts padded pixels only when include_pad. fast = 0 forces the
 * composed form: the max or sum of the kernel² strided slices of the padded input.
 */
int mlxs_pool2d(mlxs_array* out, mlxs_array x, int max, int kernel, int stride, int padding, int include_pad,
                int fast);
/**
 * AdamW (PyTorch's formula) then the EMA update of one parameter, in one pass. scalars: float32
 * [lr, lr * weight_decay, lr / bias1, sqrt(bias2), ema_decay]. Appends p', m', v', ema' to out.
 */
int mlxs_adamw_ema(mlxs_vec out, mlxs_array p, mlxs_array g, mlxs_array m, mlxs_array v, mlxs_array ema,
                   mlxs_array scalars, double beta1, double beta2, double eps, int weight_decay, int fast);

#ifdef __cplusplus
}
#endif
