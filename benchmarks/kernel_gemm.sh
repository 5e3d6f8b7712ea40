#!/usr/bin/env bash
# Our CPU product kernel against OpenBLAS, one thread each, side by side (kernel_gemm.cpp), on the
# products of an s32 training step and of the FID network's convolutions, after one thread's
# multiply-add peak at AVX2 width (the ceiling both are measured against).
#
#   benchmarks/kernel_gemm.sh [--isa avx2|avx512|all] [--repeats N] [--kernels DIR] [--shapes "M N K LAYOUT;..."]
#
# --isa       the kernel(s) to time; default: every one this CPU runs
# --repeats   timed products per side and shape (default 15; medians are printed)
# --kernels   the kernel sources to build (default Sources/CMLX/kernels); point it at another checkout's
#             to compare two versions of the kernel in one sitting
# --shapes    the products, `M N K rows|runs` separated by `;`
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
isa=all
repeats=15
kernels="$root/Sources/CMLX/kernels"
# s32, unmasked, batch 64 (4160 token rows, width 256, MLP 1024): the qkv, fc1 and fc2 forward
# products (A = x, rows), the fc2 input gradient (g W) and the qkv and fc1 weight gradients (A = gᵀ,
# runs); then two of Inception's convolutions as im2col chunks (35x35 and 147x147 layers).
shapes="4160 768 256 rows;4160 1024 256 rows;4160 256 1024 rows;768 128 4160 runs;1024 128 4160 runs;256 512 4160 runs;3640 64 288 rows;1820 192 720 rows"
while [ $# -gt 0 ]; do
  case "$1" in
    --isa) isa="$2"; shift 2 ;;
    --repeats) repeats="$2"; shift 2 ;;
    --kernels) kernels="$(cd "$2" && pwd)"; shift 2 ;;
    --shapes) shapes="$2"; shift 2 ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "kernel_gemm.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
done
[ -f "$kernels/sgemm_kernels.h" ] || { echo "kernel_gemm.sh: no sgemm_kernels.h in $kernels (--kernels)" >&2; exit 2; }
blas_include=""
for d in /usr/include/x86_64-linux-gnu/openblas-pthread /usr/include/openblas /usr/include; do
  [ -f "$d/cblas.h" ] && { blas_include="$d"; break; }
done
[ -n "$blas_include" ] || { echo "kernel_gemm.sh: cblas.h not found; run scripts/bootstrap.sh (libopenblas-dev)" >&2; exit 2; }
if [ "$isa" = all ]; then
  isa=avx2
  grep -q avx512f /proc/cpuinfo && isa="avx512 avx2"
fi
out="$root/.build/kernel-gemm"
mkdir -p "$out"
bin="$out/kernel_gemm-$(echo "$kernels" | cksum | cut -d' ' -f1)"
# The project's own flags for these sources (Package.swift's cxxSettings).
clang++ -O3 -fno-math-errno -std=c++20 -I"$kernels" -I"$blas_include" "$root/benchmarks/kernel_gemm.cpp" \
  "$kernels/sgemm_avx2.cpp" "$kernels/sgemm_avx512.cpp" -o "$bin" -lopenblas -lpthread
echo "kernels: $kernels; CPU: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs)"
# One thread on each side: OpenBLAS's idle threads would otherwise spin beside ours.
export OPENBLAS_NUM_THREADS=1
"$bin" peak
IFS=';' read -ra list <<< "$shapes"
for path in $isa; do
  for shape in "${list[@]}"; do
    # shellcheck disable=SC2086
    "$bin" "$path" $shape "$repeats"
  done
done
