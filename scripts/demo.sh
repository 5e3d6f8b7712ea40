#!/usr/bin/env bash
# The main job on the embedded default: MaskDM's two stages on Fashion-MNIST at 32x32 on the CPU —
# masked pre-training (90% patch masking), then fine-tuning on whole images initialised from it —
# with sample grids after each stage. Re-running resumes finished or interrupted runs.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${MASKDM_DEMO_OUT:-demo-out}
bin=.build/release/maskdm
mkdir -p "$out"
# run NAME CONFIG [ARGS…]: trains, or resumes a run that already has a checkpoint.
run() {
  local name=$1 config=$2
  shift 2
  local resume=()
  [[ -f $out/$name/latest/state.json ]] && resume=(--resume)
  "$bin" train "$config" -o "$out/$name" "${resume[@]}" "$@"
}
run pretrain configs/fashion32_pretrain.yaml
run finetune configs/fashion32_finetune.yaml --init-from "$out/pretrain"
"$bin" sample "$out/finetune" -n 64 --grid "$out/samples-finetuned.png" --ddim-steps 100
python3 - "$out" <<'PY'
import json, sys
out = sys.argv[1]
for stage in ("pretrain", "finetune"):
    rows = [json.loads(l) for l in open(f"{out}/{stage}/metrics.jsonl") if '"loss"' in l]
    s = json.load(open(f"{out}/{stage}/summary.json"))
    print(f"{stage:9s} steps {s['steps']:5d}  loss {rows[0]['loss']:.4f} (step {rows[0]['step']}) -> {rows[-1]['loss']:.4f}  "
          f"{s['trainSeconds']:.0f} s training, {s['imagesPerSecond']:.0f} img/s")
PY
echo "sample grids: $out/pretrain/samples/, $out/finetune/samples/, $out/samples-finetuned.png"
