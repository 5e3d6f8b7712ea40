#!/usr/bin/env bash
# Runs on the lent GPU machine, from the project root, after benchmarks/gpu/pack.sh's pieces arrived
# (parts 1 and 2 left in /tmp/parts by earlier calls, part 3 and the binary carried in this one):
# unpacks them once into /tmp/maskdm-gpu, lays MLX out beside the machine's own CUDA 13 libraries (those of
# its PyTorch, which libmlx's RPATH expects), unpacks the binary (every call: it may have been rebuilt),
# sets the environment and runs the command given, e.g.
#
#   bash benchmarks/gpu/on-device.sh bash benchmarks/gpu/device-compare.sh
#
# Environment for the command: MASKDM (the binary), AUTHORS (their checkout), MASKDM_FID_WEIGHTS.
set -euo pipefail
top=/tmp/maskdm-gpu
if [[ ! -f $top/ready ]]; then
  ls /tmp/parts/part-aa /tmp/parts/part-ab .gpu/p3/part-ac >/dev/null \
    || { echo "on-device.sh: a piece is missing: run the calls with .gpu/p1 and .gpu/p2 first (benchmarks/gpu/README.md)" >&2; exit 2; }
  rm -rf "$top" && mkdir -p "$top/authors"
  cat /tmp/parts/part-aa /tmp/parts/part-ab .gpu/p3/part-ac | tar -C "$top" -xf -
  xz -d -c "$top/payload/mlxcuda.tar.xz" | tar -C "$top" -xf -
  xz -d -c "$top/payload/default_1.pt.xz" > "$top/default_1.pt"
  tar -C "$top/authors" -xf "$top/payload/authors.tar"
  rm -rf "$top/payload" /tmp/parts
  touch "$top/ready"
fi
rm -rf "$top/bin" && mkdir -p "$top/bin"
xz -d -c .gpu/bin/maskdm-bin.tar.xz | tar -C "$top/bin" -xf -
site=$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
[[ -d $site/nvidia ]] || { echo "on-device.sh: no nvidia libraries under $site" >&2; exit 2; }
ln -sfn "$site/nvidia" "$top/nvidia"
export LD_LIBRARY_PATH="$top/mlx/lib:$top/mlx_cuda_13.libs:$top/bin/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
if ! python3 -c 'import pywt' 2>/dev/null; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/maskdm-site .gpu/bin/wheels/*.whl >&2
  export PYTHONPATH=/tmp/maskdm-site${PYTHONPATH:+:$PYTHONPATH}
fi
export MLX_PTX_CACHE_DIR=${MLX_PTX_CACHE_DIR:-/tmp/mlx-ptx}
# MLX's kernels compiled on an earlier machine (device-profile.sh packs them): saves minutes of NVRTC.
if [[ -f .gpu/bin/mlx-ptx.tar.xz && ! -d $MLX_PTX_CACHE_DIR ]]; then
  mkdir -p "$MLX_PTX_CACHE_DIR" && xz -d -c .gpu/bin/mlx-ptx.tar.xz | tar -C "$MLX_PTX_CACHE_DIR" -xf -
fi
export MASKDM=$top/bin/maskdm AUTHORS=$top/authors MASKDM_FID_WEIGHTS=$top/default_1.pt
nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm --format=csv,noheader || true
exec "$@"
