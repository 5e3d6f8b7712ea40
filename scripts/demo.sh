#!/usr/bin/env bash
# The main job on the embedded default: the quick ablation study of plans/demo.yaml on Fashion-MNIST
# at 32x32 on the CPU — positional information (REMOVE), two-stage vs MDSM-only vs DSM-only at equal
# training time, and mask rates 0.5 / 0.9 — each variant trained, sampled and measured with real FID,
# then a report. Re-running resumes an interrupted study and skips what has finished.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${MASKDM_DEMO_OUT:-demo-out}
.build/release/maskdm study run plans/demo.yaml --preset quick --out "$out/study"
echo
echo "open $out/study/report.html in a browser (charts and sample grids); the tables are in $out/study/report.md"
