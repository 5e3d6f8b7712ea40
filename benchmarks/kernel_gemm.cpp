// One thread's matrix product, ours (Sources/CMLX/kernels, the AVX2 or AVX-512 blocked kernel) against
// OpenBLAS's cblas_sgemm, alternating in one process: the kernel alone, without MLX, the thread pool or
// the graph around it, on the operand layouts the Linear layers use. Built and run by kernel_gemm.sh.
//
//   kernel_gemm ISA M N K LAYOUT [REPEATS]
//     ISA     avx2 | avx512
//     LAYOUT  rows (A row-major, as x in x Wᵀ and g in g W) | runs (A transposed, as gᵀ in gᵀ x)
// B is row-major (n columns); both products write C = A B. Prints one line: medians of REPEATS runs
// of each side, the ratio ours/OpenBLAS and the largest difference between the two results.
//
//   kernel_gemm peak
// One thread's multiply-add ceiling at AVX2 width: 12 independent chains of 8-lane fused
// multiply-adds, nothing loaded or stored, the bound every product on this core is measured against.
#include <cblas.h>
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "sgemm_kernels.h"

using namespace cmlx;

namespace {
double seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/** GFLOP/s of 12 chains of 8-lane multiply-adds: enough chains to cover the latency of two pipes. */
__attribute__((target("avx2,fma"))) double fma_peak() {
  __m256 acc[12];
  for (int i = 0; i < 12; ++i) acc[i] = _mm256_set1_ps(0.001f * i);
  const __m256 x = _mm256_set1_ps(0.999f), y = _mm256_set1_ps(1e-4f);
  const long turns = 200000000;
  double t0 = seconds();
  for (long t = 0; t < turns; ++t)
#pragma unroll
    for (int i = 0; i < 12; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  double t1 = seconds();
  float sink = 0;
  for (int i = 0; i < 12; ++i) sink += _mm256_cvtss_f32(acc[i]);
  if (sink == 12345.0f) std::printf(" ");  // keeps the chains live
  return turns * 12 * 16 / (t1 - t0) / 1e9;
}
}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::strcmp(argv[1], "peak") == 0) {
    std::printf("one thread's multiply-add peak at AVX2 width: %.1f GFLOP/s\n", fma_peak());
    return 0;
  }
  if (argc < 6) {
    std::fprintf(stderr, "usage: kernel_gemm avx2|avx512 M N K rows|runs [REPEATS] | kernel_gemm peak\n");
    return 2;
  }
  const bool avx512 = std::strcmp(argv[1], "avx512") == 0;
  const size_t m = std::atoi(argv[2]), n = std::atoi(argv[3]), k = std::atoi(argv[4]);
  const bool runs = std::strcmp(argv[5], "runs") == 0;
  const int repeats = argc > 6 ? std::max(1, std::atoi(argv[6])) : 15;
  if (avx512 && !__builtin_cpu_supports("avx512f")) {
    std::fprintf(stderr, "kernel_gemm: this CPU has no AVX-512\n");
    return 2;
  }
  std::mt19937 rng(0);
  std::uniform_real_distribution<float> uniform(-0.5f, 0.5f);
  std::vector<float> a(m * k), b(k * n), ours(m * n), theirs(m * n);
  for (auto& x : a) x = uniform(rng);
  for (auto& x : b) x = uniform(rng);
  // runs: A is stored as its transpose (k, m), so A's column j is a run of m floats.
  StridedMatrix av = runs ? StridedMatrix::transposed(a.data(), m) : StridedMatrix::row_major(a.data(), k);
  StridedMatrix bv = StridedMatrix::row_major(b.data(), n);
  auto serial = avx512 ? sgemm_serial_avx512 : sgemm_serial_avx2;
  std::vector<double> ours_s, theirs_s;
  for (int r = 0; r < repeats + 1; ++r) {  // the first round warms both up and is not counted
    double t0 = seconds();
    serial(m, n, k, av, bv, ours.data(), n, false, nullptr);
    double t1 = seconds();
    cblas_sgemm(CblasRowMajor, runs ? CblasTrans : CblasNoTrans, CblasNoTrans, int(m), int(n), int(k), 1.0f, a.data(),
                int(runs ? m : k), b.data(), int(n), 0.0f, theirs.data(), int(n));
    double t2 = seconds();
    if (r > 0) {
      ours_s.push_back(t1 - t0);
      theirs_s.push_back(t2 - t1);
    }
  }
  double diff = 0;
  for (size_t i = 0; i < m * n; ++i) diff = std::max(diff, double(std::fabs(ours[i] - theirs[i])));
  const double gflop = 2.0 * m * n * k / 1e9, o = median(ours_s), t = median(theirs_s);
  std::printf("%s %zux%zux%zu %-4s ours %6.1f GFLOP/s  OpenBLAS %6.1f GFLOP/s  ours/OpenBLAS %.2fx  max diff %.1e\n",
              argv[1], m, n, k, argv[5], gflop / o, gflop / t, t / o, diff);
  return diff < 1e-3 * std::sqrt(double(k)) ? 0 : 1;
}
