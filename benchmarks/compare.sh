#!/usr/bin/env bash
# Side-by-side CPU benchmark: the authors' PyTorch code vs ours (maskdm), alternating, with ratios.
#
#   benchmarks/compare.sh AUTHORS_DIR [--reps 5] [--steps 10] [--presets s32[,celeba64]]
#                         [--mask-ratios 0,0.9] [--only train|fid|sample] [--fid-sizes 32[,64]]
#                         [--results FILE] [--taskset 0,1] [--isa avx2] [--no-build]
#   benchmarks/compare.sh AUTHORS_DIR --only sample [--sample-steps 50[,250]] [--sample-batch 64] [--presets tiny]
#   benchmarks/compare.sh --only fid [...]          (no authors' checkout needed)
#
# AUTHORS_DIR is a checkout of the authors' code: git clone https://github.com/jiachenlei/maskdm
# What this script does, then hands over to benchmarks/compare.py (see benchmarks/README.md):
#   1. checks the checkout has the files the benchmark imports;
#   2. makes the throwaway venv .deps/bench-venv (git-ignored; BENCH_VENV overrides the place,
#      BENCH_PYTHON the interpreter) with the pinned benchmarks/requirements.txt, once;
#   3. builds maskdm in release mode (incremental; --no-build skips it when the binary exists),
#      running scripts/bootstrap.sh first when .deps/ lacks MLX or the FID weights.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
venv=${BENCH_VENV:-$root/.deps/bench-venv}
python=${BENCH_PYTHON:-python3}
requirements=$here/requirements.txt

say() { printf 'compare.sh: %s\n' "$*" >&2; }
die() { printf 'compare.sh: error: %s\n' "$*" >&2; exit 1; }
usage() { sed -n '4,8p' "$0" | sed 's/^# \{0,1\}//' >&2; }

authors="" only=all build=1 pass=()
while (($#)); do
  case $1 in
    -h|--help) usage; echo >&2; exec "$python" "$here/compare.py" --help ;;
    --only) [[ $# -ge 2 ]] || die "--only needs train, fid, sample or all"; only=$2; shift 2 ;;
    --only=*) only=${1#--only=}; shift ;;
    --no-build) build=0; shift ;;
    --authors) [[ $# -ge 2 ]] || die "--authors needs a directory"; authors=$2; shift 2 ;;
    -*) pass+=("$1"); [[ $# -ge 2 && $2 != -* ]] && { pass+=("$2"); shift; }; shift ;;
    *) [[ -z $authors ]] || die "one AUTHORS_DIR only (got '$authors' and '$1')"; authors=$1; shift ;;
  esac
done
case $only in train|fid|sample|all) ;; *) die "--only takes train, fid, sample or all (got '$only')" ;; esac

# 1. The authors' checkout.
if [[ $only != fid ]]; then
  if [[ -z $authors ]]; then
    usage
    die "no AUTHORS_DIR given. Fetch the authors' code first:
  git clone https://github.com/jiachenlei/maskdm AUTHORS_DIR
(or run only the FID comparison: benchmarks/compare.sh --only fid)"
  fi
  [[ -d $authors ]] || die "AUTHORS_DIR '$authors' is not a directory"
  for f in models/mask_uvit.py models/__init__.py gaussian_ddpm.py datasets/masking_generator.py utils/lr_schedule.py; do
    [[ -f $authors/$f ]] || die "'$authors' does not look like a checkout of github.com/jiachenlei/maskdm: $f is missing"
  done
  authors=$(cd "$authors" && pwd)
fi

# 2. The venv, made once per version of requirements.txt.
stamp=$venv/.maskdm-bench-requirements
if [[ ! -x $venv/bin/python ]] || ! cmp -s "$requirements" "$stamp"; then
  command -v "$python" >/dev/null || die "no '$python' to make the venv with; set BENCH_PYTHON to a Python 3.10 or newer"
  "$python" -c 'import sys; sys.exit(sys.version_info[:2] < (3, 10))' \
    || die "$("$python" --version 2>&1) is too old for torch 2.11; set BENCH_PYTHON to a Python 3.10 or newer"
  say "making the benchmark venv in ${venv#"$root"/} (torch 2.11 with its CUDA wheels: a few GB, some minutes)"
  if [[ ! -x $venv/bin/python ]]; then
    "$python" -m venv "$venv" || die "could not create a venv with '$python -m venv $venv'
  (Debian/Ubuntu: apt-get install python3-venv; or set BENCH_PYTHON / BENCH_VENV)"
  fi
  "$venv/bin/python" -m pip install --disable-pip-version-check -q -r "$requirements" \
    || die "pip could not install benchmarks/requirements.txt into $venv (network? disk?). Remove $venv and retry."
  cp "$requirements" "$stamp"
fi

# 3. maskdm, release build.
maskdm=$root/.build/release/maskdm
if [[ ! -d $root/.deps/mlx || ! -f $root/.deps/fid/default_1.pt ]]; then
  say ".deps/ lacks MLX or the FID weights: running scripts/bootstrap.sh"
  bash "$root/scripts/bootstrap.sh" || die "scripts/bootstrap.sh failed; see its message above"
fi
if [[ ! -x $maskdm ]] || ((build)); then
  [[ -x $maskdm ]] || say "maskdm is not built: building it (swift build -c release, a few minutes the first time)"
  (cd "$root" && swift build -c release --product maskdm >&2) \
    || die "swift build -c release --product maskdm failed; see the compiler output above"
fi

args=(--only "$only" "${pass[@]}")
[[ -n $authors ]] && args+=(--authors "$authors")
exec "$venv/bin/python" "$here/compare.py" --maskdm "$maskdm" "${args[@]}"
