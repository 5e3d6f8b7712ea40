#!/usr/bin/env bash
# On the lent GPU machine (through on-device.sh, which sets MASKDM, AUTHORS, MASKDM_FID_WEIGHTS): runs each
# of maskdm's GPU paths once, briefly, with a time limit each, and the authors' step beside it, so one
# device call shows what works before the long side-by-side run. Logs go to $OUT (or /tmp) as NAME.log;
# the last lines printed are a table: name, exit status, seconds, the command's last line.
#
#   bash benchmarks/gpu/on-device.sh bash benchmarks/gpu/device-check.sh [NAME...]   (default: all)
set -uo pipefail
out=${OUT:-/tmp/device-check}
mkdir -p "$out"
summary=()
check() {  # check NAME SECONDS COMMAND...
  local name=$1 limit=$2; shift 2
  if ((${#only[@]})) && [[ " ${only[*]} " != *" $name "* ]]; then return; fi
  local start=$SECONDS status
  echo "== $name: $*"
  timeout "$limit" "$@" > "$out/$name.log" 2>&1
  status=$?
  tail -n 3 "$out/$name.log"
  summary+=("$(printf '%-22s rc=%-3s %4ss  %s' "$name" "$status" "$((SECONDS - start))" "$(tail -n 1 "$out/$name.log" | cut -c1-150)")")
}
only=("$@")
py=python3
celeba=(--preset celeba64 --steps 10 --device gpu)

check gemm 120 "$MASKDM" bench gemm --size 4096 --device gpu
check train-tiny 180 "$MASKDM" bench train --preset tiny --steps 5 --device gpu
check ours-bf16-m0 240 "$MASKDM" bench train "${celeba[@]}" --precision bf16 --mask-ratio 0
check ours-bf16-m90 180 "$MASKDM" bench train "${celeba[@]}" --precision bf16 --mask-ratio 0.9
check ours-fp32-m0 180 "$MASKDM" bench train "${celeba[@]}" --precision fp32 --mask-ratio 0
check ours-bf16-m0-eager 180 "$MASKDM" bench train "${celeba[@]}" --precision bf16 --mask-ratio 0 --no-compile
check theirs-fp16-m0 240 $py benchmarks/authors_train_step.py --authors "$AUTHORS" --preset celeba64 --device cuda --precision fp16 --steps 10 --count-flops
check theirs-fp16-m90 180 $py benchmarks/authors_train_step.py --authors "$AUTHORS" --preset celeba64 --device cuda --precision fp16 --steps 10 --mask-ratio 0.9 --count-flops
check peak 120 $py benchmarks/cuda_peak.py
check ours-fid 240 "$MASKDM" bench fid --device gpu --batch 100 --size 64 --repeats 5 --stages
check torch-fid 180 $py benchmarks/torch_fid_features.py --weights "$MASKDM_FID_WEIGHTS" --device cuda --batch 100 --size 64 --repeats 5
check train-cmd 240 "$MASKDM" train configs/tiny.yaml --out /tmp/dc-run --device gpu
check train-resume 180 "$MASKDM" train configs/tiny.yaml --out /tmp/dc-run --device gpu --resume --set train_steps=60
check prepare 120 "$MASKDM" prepare synthetic:300 --out /tmp/dc-syn --size 32
check fid-cmd 240 "$MASKDM" fid compare /tmp/dc-syn /tmp/dc-syn --device gpu --batch-size 100
echo
printf '%s\n' "${summary[@]}"
