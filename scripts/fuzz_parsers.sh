#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer, with AddressSanitizer and its leak checker) of every reader of
# untrusted input: PyTorch files, safetensors, .npz, IDX, PNG, JPEG, config YAML, plan YAML and
# markdown seed plans (the targets of Sources/ParserFuzzing).
#   scripts/fuzz_parsers.sh [TARGET|all] [SECONDS] [RUNS]
# runs each target for SECONDS (default 300), or until RUNS inputs when RUNS is given (SECONDS then
# caps it). Builds Sources/fuzz-parsers with -sanitize=fuzzer,address into .build-fuzz/ (git-ignored);
# C code (the image wrappers, libyaml) is instrumented too. Each target starts from its seeds in
# Tests/Fixtures/fuzz/TARGET/ (scripts/make_fuzz_seeds.sh) and keeps what it finds in
# .build-fuzz/corpus/TARGET/. A crash, leak or hang is written to .build-fuzz/artifacts/ and makes the
# script fail; copy it into Tests/Fixtures/fuzz/TARGET/crash-NAME once fixed (the replay test then
# keeps it fixed), and replay one with `.build/debug/fuzz-parsers TARGET FILE`.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:-all}
seconds=${2:-300}
runs=${3:-}
targets=(torch safetensors npz idx png jpeg config plan seed-markdown)
[[ $which == all ]] || targets=("$which")
bash scripts/bootstrap.sh
work=.build-fuzz

echo "fuzz: building the fuzz targets (libFuzzer + AddressSanitizer)" >&2
swift build -c release --product fuzz-parsers --scratch-path "$work" \
  -Xswiftc -sanitize=fuzzer,address -Xswiftc -DFUZZING -Xswiftc -use-ld=lld \
  -Xcc -fsanitize=fuzzer-no-link,address >&2

failed=0
for target in "${targets[@]}"; do
  [[ -d Tests/Fixtures/fuzz/$target ]] || { echo "fuzz: no target $target (known: ${targets[*]})" >&2; exit 2; }
  mkdir -p "$work/corpus/$target" "$work/artifacts/$target"
  limit=(-max_total_time="$seconds")
  [[ -n $runs ]] && limit+=(-runs="$runs")
  echo "fuzz: $target for ${runs:+$runs inputs or }$seconds s" >&2
  # The YAML and markdown readers get text; -max_len bounds an input to what a real file of each has.
  if ! "$work/release/fuzz-parsers" "$target" "$work/corpus/$target" "Tests/Fixtures/fuzz/$target" "${limit[@]}" \
      -max_len=65536 -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$work/artifacts/$target/" 2>&1 | tee "$work/$target.log" | grep -E "^#[0-9]+[[:space:]]+(DONE|INITED)|ERROR|SUMMARY|stat::" >&2; then
    :
  fi
  if grep -qE "ERROR: (libFuzzer|AddressSanitizer|LeakSanitizer)|SUMMARY: |Test unit written" "$work/$target.log"; then
    echo "fuzz: $target FAILED (see $work/$target.log and $work/artifacts/$target/)" >&2
    failed=1
  fi
done
exit $failed
