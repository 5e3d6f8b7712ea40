#!/usr/bin/env bash
# The main job on the embedded default: the study of plans/demo.yaml on Fashion-MNIST at 32x32 on the
# CPU — at equal training time, two-stage MaskDM against DSM only, seeds 4-6, FID (and KID) against 1000
# random test images — then its answer, its table and a report. Re-running resumes an interrupted study
# and skips what has finished.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${MASKDM_DEMO_OUT:-demo-out}
.build/release/maskdm study run plans/demo.yaml --preset quick --out "$out/study"
echo
echo "open $out/study/report.html in a browser (charts and sample grids); the tables are in $out/study/report.md"
