#!/usr/bin/env bash
# On the lent GPU machine (through on-device.sh): the recorded side-by-side measurement. First an A/B
# of ours' attention padding (MASKDM_ATTENTION_PAD=0 vs the default) on the unmasked celeba64 step,
# which also compiles MLX's kernels before the timed runs; the faster setting goes into the comparison
# (both numbers are printed). Then benchmarks/compare.py --device cuda: ours vs the authors' code on
# celeba64, unmasked and 90% masked, and FID features vs the TorchScript network, alternating.
#
#   bash benchmarks/gpu/on-device.sh bash benchmarks/gpu/device-compare.sh [--reps N] [--steps N]
set -uo pipefail
out=${OUT:-/tmp/device-compare}
mkdir -p "$out"
reps=3 steps=20
while (($#)); do
  case $1 in
    --reps) reps=$2; shift 2 ;;
    --steps) steps=$2; shift 2 ;;
    *) echo "device-compare.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
ips() { sed -n 's/.*"images_per_second":\([0-9.]*\).*/\1/p' | tail -n 1; }
ab() {  # ab SETTING: img/s of ours' unmasked celeba64 bf16 step with MASKDM_ATTENTION_PAD=SETTING
  MASKDM_ATTENTION_PAD=$1 timeout 240 "$MASKDM" bench train --preset celeba64 --device gpu --precision bf16 \
    --mask-ratio 0 --steps 20 --json 2> "$out/ab-pad$1.err" | ips
}
ab 1 >/dev/null  # compiles the kernels of both settings' shared parts first
pad=$(ab 1) nopad=$(ab 0) pad2=$(ab 1) nopad2=$(ab 0)
echo "attention padding A/B (unmasked celeba64 bf16, img/s, two runs each): padded $pad $pad2, unpadded $nopad $nopad2"
if [[ -z $pad || -z $pad2 ]] || python3 -c "import sys; sys.exit(0 if max($nopad, $nopad2) > max($pad, $pad2) else 1)" 2>/dev/null; then
  export MASKDM_ATTENTION_PAD=0
  echo "comparison runs ours with MASKDM_ATTENTION_PAD=0"; tail -n 3 "$out/ab-pad1.err"
fi
only=all
if ! timeout 240 "$MASKDM" bench fid --device gpu --batch 100 --size 64 --repeats 3; then
  only=train
  echo "ours' FID features failed on the GPU: the comparison runs --only train"
fi
python3 benchmarks/compare.py --device cuda --authors "$AUTHORS" --maskdm "$MASKDM" --fid-weights "$MASKDM_FID_WEIGHTS" \
  --only "$only" --presets celeba64 --mask-ratios 0,0.9 --reps "$reps" --steps "$steps" \
  --fid-sizes 64 --fid-batch 100 --fid-batches 10 --results "$out/compare.json"
