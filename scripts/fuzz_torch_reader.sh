#!/usr/bin/env bash
# Coverage-guided fuzzing (libFuzzer) of the restricted PyTorch-file reader: the zip reader, the
# allowlist unpickler and the tensor views of Sources/Evaluation, which read untrusted files.
#   scripts/fuzz_torch_reader.sh [SECONDS]      (default 600)
# Builds Sources/fuzz-torch-file with -sanitize=fuzzer into .build-fuzz/ (git-ignored), seeds a corpus
# with small checkpoints in the authors' layouts (scripts/make_authors_checkpoint.py, also a hostile
# one), and runs for SECONDS. A crash, hang or leak is written to .build-fuzz/artifacts/ and makes this
# script fail; replay one with `.build/debug/fuzz-torch-file FILE` after a fix.
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${1:-600}
bash scripts/bootstrap.sh
work=.build-fuzz
mkdir -p "$work/corpus" "$work/artifacts" "$work/seeds"

echo "fuzz: building the fuzz target (libFuzzer)" >&2
swift build -c release --product fuzz-torch-file --scratch-path "$work" \
  -Xswiftc -sanitize=fuzzer -Xswiftc -DFUZZING -Xswiftc -use-ld=lld >&2

# Seeds: a tiny model in safetensors, then one checkpoint per layout the reader must handle.
python3 - "$work/seeds/model.safetensors" <<'PY'
import json, struct, sys
tensors = {"encoder.norm.weight": [1.0, 2.0], "encoder.norm.bias": [0.5, -0.5]}
header, blob = {}, b""
for name, values in tensors.items():
    data = struct.pack(f"<{len(values)}f", *values)
    header[name] = {"dtype": "F32", "shape": [len(values)], "data_offsets": [len(blob), len(blob) + len(data)]}
    blob += data
text = json.dumps(header).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(text)) + text + blob)
PY
for layout in trainer no-ema state-dict foreign; do
  python3 scripts/make_authors_checkpoint.py "$work/corpus/seed-$layout.pt" --model "$work/seeds/model.safetensors" \
    --ema "$work/seeds/model.safetensors" --layout "$layout" >/dev/null
done
python3 scripts/make_authors_checkpoint.py "$work/corpus/seed-hostile.pt" --model "$work/seeds/model.safetensors" \
  --hostile >/dev/null

echo "fuzz: running for $seconds s on $(ls "$work/corpus" | wc -l) corpus files" >&2
"$work/release/fuzz-torch-file" "$work/corpus" -max_total_time="$seconds" -max_len=65536 -timeout=10 \
  -print_final_stats=1 -artifact_prefix="$work/artifacts/"
