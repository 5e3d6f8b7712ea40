#!/usr/bin/env bash
# Packs, here, everything a lent GPU machine (NVIDIA, CUDA 13, PyTorch; no network, no Swift, no MLX)
# needs to run the side-by-side benchmark there, in pieces that each fit one device call (64 MiB).
#
#   benchmarks/gpu/pack.sh AUTHORS_DIR          # from anywhere; writes .gpu/ in the project root
#
# Result (git-ignored through .git/info/exclude):
#   .gpu/p1/part-aa, .gpu/p2/part-ab, .gpu/p3/part-ac   the payload that does not change between builds:
#        MLX's CUDA 13 build (wheel mlx-cuda-13, same version as scripts/bootstrap.sh's mlx-cpu), the
#        TF-FID weights (.deps/fid/default_1.pt) and the authors' modules the benchmark imports
#   .gpu/bin/maskdm-bin.tar.xz   the maskdm binary built for the device (release, Swift runtime linked in
#        statically, no OpenBLAS for the products: MASKDM_NO_OPENBLAS=1) and the shared libraries it needs
#        that the device lacks (OpenBLAS for the float64 FID statistics, libpng, libjpeg), and the
#        PyWavelets wheel (the authors' gaussian_ddpm.py imports pywt; the device's Python lacks it)
# Then, with the device tool, calls one after the other while the machine stays warm (benchmarks/gpu/README.md):
#   1. carry .gpu/p1:           mkdir -p /tmp/parts && cp .gpu/p1/part-* /tmp/parts/
#   2. carry .gpu/p2:           mkdir -p /tmp/parts && cp .gpu/p2/part-* /tmp/parts/
#   3. carry .gpu/p3, .gpu/bin: bash benchmarks/gpu/on-device.sh COMMAND...
# A rebuilt binary needs only step 3 while the machine is warm (on-device.sh unpacks the payload once).
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
die() { printf 'pack.sh: error: %s\n' "$*" >&2; exit 1; }
say() { printf 'pack.sh: %s\n' "$*" >&2; }
[[ $# -eq 1 ]] || die "usage: benchmarks/gpu/pack.sh AUTHORS_DIR (a checkout of github.com/jiachenlei/maskdm)"
authors=$(cd "$1" && pwd) || die "AUTHORS_DIR '$1' is not a directory"
[[ -f $authors/models/mask_uvit.py ]] || die "'$authors' is not a checkout of the authors' code (no models/mask_uvit.py)"
cd "$root"
ver=$(sed -n 's/^MLX_VERSION=//p' scripts/bootstrap.sh)
[[ -f .deps/fid/default_1.pt ]] || bash scripts/bootstrap.sh
grep -qx '/.gpu/' .git/info/exclude 2>/dev/null || echo '/.gpu/' >> .git/info/exclude
work=.gpu/cache
mkdir -p "$work" .gpu/p1 .gpu/p2 .gpu/p3 .gpu/bin

# 1. The payload: MLX-CUDA, FID weights, the authors' modules (made once; delete .gpu/cache to redo).
if [[ ! -f $work/payload.tar ]]; then
  whl=$(ls "$work"/mlx_cuda_13-"$ver"-*.whl 2>/dev/null | head -n 1 || true)
  if [[ -z $whl ]]; then
    say "downloading mlx-cuda-13==$ver"
    python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_35_x86_64 -d "$work" "mlx-cuda-13==$ver" || die "pip could not download mlx-cuda-13==$ver"
    whl=$(ls "$work"/mlx_cuda_13-"$ver"-*.whl | head -n 1)
  fi
  rm -rf "$work/x" && mkdir -p "$work/x/payload"
  # mlx/include too: MLX compiles its CUDA kernels at run time (NVRTC) against its own headers and CCCL's.
  (cd "$work/x" && unzip -q "$root/$whl" 'mlx/lib/*' 'mlx/include/*' 'mlx_cuda_13.libs/*')
  say "compressing MLX-CUDA and the FID weights (a few minutes)"
  tar -C "$work/x" -cf - mlx mlx_cuda_13.libs | xz -T2 -6 > "$work/x/payload/mlxcuda.tar.xz"
  xz -T2 -6 -c .deps/fid/default_1.pt > "$work/x/payload/default_1.pt.xz"
  tar -C "$authors" -cf "$work/x/payload/authors.tar" --exclude=.git .
  tar -C "$work/x" -cf "$work/payload.tar" payload
  rm -rf "$work/x"
fi
rm -f .gpu/p*/part-*
# 62 MB pieces: the first two fill a call with the working tree beside them; the third leaves room for the binary.
split -b 62000000 "$work/payload.tar" "$work/part-"
[[ ! -f $work/part-ad ]] || die "the payload needs more than three pieces; change the split in this script"
mv "$work/part-aa" .gpu/p1/ && mv "$work/part-ab" .gpu/p2/ && mv "$work/part-ac" .gpu/p3/

# 2. The binary and the libraries the device lacks.
say "building maskdm for the device (release, static Swift runtime)"
MASKDM_NO_OPENBLAS=1 swift build -c release --product maskdm --static-swift-stdlib --scratch-path .build-gpu >&2 \
  || die "the device build failed; see the compiler output above"
rm -rf "$work/bin" && mkdir -p "$work/bin/lib"
cp .build-gpu/release/maskdm "$work/bin/" && strip "$work/bin/maskdm"
# copy_needs FILE PATTERN: the libraries FILE itself names (not ldd's whole closure, which would bring
# the CPU libmlx's own bundled libraries too) whose names match, under those names.
copy_needs() {
  local so path
  for so in $(readelf -d "$1" | awk '/NEEDED/ {gsub(/[][]/, "", $5); print $5}' | grep -E "$2"); do
    path=$(ldd "$1" | awk -v so="$so" '$1 == so {print $3}')
    [[ -f $path ]] || die "cannot find $so, which $1 needs"
    cp -L "$path" "$work/bin/lib/$so"
  done
}
copy_needs "$work/bin/maskdm" 'libopenblas|libpng|libjpeg'
openblas=$(ldd "$work/bin/maskdm" | awk '$1 ~ /^libopenblas/ {print $3}')
copy_needs "$openblas" 'libgfortran|libquadmath'
copy_needs "$(ldd "$openblas" | awk '$1 ~ /^libgfortran/ {print $3}')" 'libquadmath'

tar -C "$work/bin" -cf - . | xz -T2 -6 > .gpu/bin/maskdm-bin.tar.xz
rm -rf "$work/bin"
pywt=$(sed -n 's/^PyWavelets==//p' benchmarks/requirements.txt)
mkdir -p .gpu/bin/wheels
ls .gpu/bin/wheels/pywavelets-"$pywt"-cp312-*.whl >/dev/null 2>&1 \
  || python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
       --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 -d .gpu/bin/wheels "PyWavelets==$pywt" \
  || die "pip could not download PyWavelets==$pywt for the device's Python 3.12"
ls -la .gpu/p1 .gpu/p2 .gpu/p3 .gpu/bin >&2
