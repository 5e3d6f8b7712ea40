#!/usr/bin/env bash
# The main job on the embedded default: a quick ablation study on Fashion-MNIST (CPU), with real FID.
# It covers the seed-000 ablations (positional information; two-stage vs MDSM-only vs DSM-only) and
# two mask rates, then prints where the report is and its headline table. Re-running it resumes.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${MASKDM_DEMO_OUT:-demo-out}
bin=.build/release/maskdm
"$bin" study run plans/demo.yaml --preset quick --out "$out"
echo
echo "report: $out/report.html (and $out/report.md, results.json, results.csv)"
"$bin" study report "$out" --headline
