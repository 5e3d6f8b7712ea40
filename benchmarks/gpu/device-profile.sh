#!/usr/bin/env bash
# On the lent GPU machine (through on-device.sh): where the device time of ours' and the authors'
# training step and FID batch goes, by kernel (Nsight Compute's per-kernel durations summed by
# kernel_table.py), beside the wall time of the same runs; then `maskdm train` end to end on the GPU,
# and MLX's compiled-kernel cache packed into $OUT (carry it back as .gpu/bin/mlx-ptx.tar.xz to skip
# the minutes of run-time compilation on the next machine).
#
#   bash benchmarks/gpu/on-device.sh bash benchmarks/gpu/device-profile.sh
set -uo pipefail
out=${OUT:-/tmp/device-profile}
raw=/tmp/device-profile-raw  # the raw ncu logs stay on the machine: only 8 files come back from $OUT
mkdir -p "$out" "$raw"
here=$(dirname "$0")
ncu=$(command -v ncu || ls /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -n 1)
profile() {  # profile NAME PER-STEPS COMMAND...
  local name=$1 per=$2; shift 2
  echo "== $name: $*"
  timeout 200 "$ncu" --csv --page raw --metrics gpu__time_duration.sum --clock-control none "$@" \
    > "$raw/$name.csv" 2> "$raw/$name.err" || { echo "ncu failed ($?)"; tail -n 5 "$raw/$name.err"; }
  python3 "$here/kernel_table.py" "$raw/$name.csv" --per "$per" --top 22 | tee "$out/$name.txt"
}
celeba=(bench train --preset celeba64 --device gpu --precision bf16 --warmup 1 --steps 1)
"$MASKDM" bench train --preset celeba64 --device gpu --precision bf16 --steps 10 --mask-ratio 0   # JIT warm + wall time
"$MASKDM" bench train --preset celeba64 --device gpu --precision bf16 --steps 10 --mask-ratio 0.9
profile ours-m0 2 "$MASKDM" "${celeba[@]}" --mask-ratio 0
profile ours-m90 2 "$MASKDM" "${celeba[@]}" --mask-ratio 0.9
profile theirs-m0 2 python3 benchmarks/authors_train_step.py --authors "$AUTHORS" --preset celeba64 --device cuda \
  --precision fp16 --warmup 1 --steps 1
"$MASKDM" bench fid --device gpu --batch 100 --size 64 --repeats 5
profile ours-fid 2 "$MASKDM" bench fid --device gpu --batch 100 --size 64 --repeats 1
profile torch-fid 2 python3 benchmarks/torch_fid_features.py --weights "$MASKDM_FID_WEIGHTS" --device cuda --batch 100 --size 64 --repeats 1
echo "== maskdm train on the GPU, then --resume, then sample"
timeout 300 "$MASKDM" train configs/tiny.yaml --out /tmp/dp-run --device gpu 2>&1 | tail -n 4
timeout 200 "$MASKDM" train configs/tiny.yaml --out /tmp/dp-run --device gpu --resume --set train_steps=60 2>&1 | tail -n 3
timeout 200 "$MASKDM" sample /tmp/dp-run -n 16 --out /tmp/dp-samples 2>&1 | tail -n 2
ls /tmp/dp-run /tmp/dp-samples | head -20
tar -C "${MLX_PTX_CACHE_DIR:-/tmp/mlx-ptx}" -cf - . | xz -T8 -6 > "$out/mlx-ptx.tar.xz"
ls -la "$out/mlx-ptx.tar.xz"
