#!/usr/bin/env python3
"""Two builds of maskdm side by side: the same `maskdm bench` commands, alternating A and B, with the
ratio of their medians. For a compiler flag or a code change whose effect is smaller than the noise of
single runs (the release build's -O against -Ounchecked, docs/untrusted-input.md).

  benchmarks/ab_builds.py A_BINARY B_BINARY [--reps 5] [--label-a -O] [--label-b -Ounchecked]
                          [--results FILE]

Each repetition runs every setting once with A, then once with B (the order flips on odd repetitions,
so neither build always runs first). Settings: the quick preset's training step whole and 90% masked,
s32's whole, and quick's DDIM sampling (25 steps, batch 64). Only the standard library is needed.
"""
import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys

SETTINGS = [
    ("train quick mask 0", ["bench", "train", "--preset", "quick", "--steps", "30"]),
    ("train quick mask 0.9", ["bench", "train", "--preset", "quick", "--steps", "30", "--mask-ratio", "0.9"]),
    ("train s32 mask 0", ["bench", "train", "--preset", "s32", "--steps", "10"]),
    ("sample quick ddim 25", ["bench", "sample", "--preset", "quick", "--ddim-steps", "25", "--batch-size", "64"]),
]


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            info = f.read()
    except OSError:
        return platform.processor() or "unknown"
    fields = {}
    for line in info.splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    avx512 = " avx512f" in " " + fields.get("flags", "") + " "
    return f"{fields.get('model name', '?')}, family {fields.get('cpu family', '?')} model {fields.get('model', '?')}" + (
        ", AVX-512" if avx512 else ", no AVX-512")


def run(binary, args):
    out = subprocess.run([binary, *args, "--json"], check=True, capture_output=True, text=True).stdout
    result = json.loads(out.strip().splitlines()[-1])
    return result["images_per_second"], result


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a", help="the first maskdm binary")
    parser.add_argument("b", help="the second maskdm binary")
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--label-a", default="A")
    parser.add_argument("--label-b", default="B")
    parser.add_argument("--results", help="JSON file to write (default: none)")
    options = parser.parse_args()
    for binary in (options.a, options.b):
        if not os.access(binary, os.X_OK):
            sys.exit(f"ab_builds.py: {binary} is not an executable maskdm binary")
    sides = [(options.label_a, options.a), (options.label_b, options.b)]
    runs = []
    for rep in range(options.reps):
        order = sides if rep % 2 == 0 else sides[::-1]
        for name, args in SETTINGS:
            for label, binary in order:
                rate, result = run(binary, args)
                runs.append({"rep": rep, "setting": name, "side": label, "images_per_second": rate,
                             "loadavg_1min_before": os.getloadavg()[0], "result": result})
                print(f"[rep {rep + 1}/{options.reps}] {name:24s} {label:12s} {rate:9.2f} img/s", file=sys.stderr)
    rows = []
    print(f"{cpu_name()}; medians of {options.reps} alternating repetitions (min-max), img/s")
    print(f"{'setting':24s} {options.label_a:>22s} {options.label_b:>22s}  {options.label_a}/{options.label_b}")
    for name, _ in SETTINGS:
        cells = []
        for label, _ in sides:
            rates = [r["images_per_second"] for r in runs if r["setting"] == name and r["side"] == label]
            cells.append((statistics.median(rates), min(rates), max(rates)))
        ratio = cells[0][0] / cells[1][0]
        rows.append({"setting": name, options.label_a: cells[0][0], options.label_b: cells[1][0], "ratio": ratio})
        text = [f"{m:8.1f} ({lo:.1f}-{hi:.1f})" for m, lo, hi in cells]
        print(f"{name:24s} {text[0]:>22s} {text[1]:>22s}  {ratio:.3f}x")
    if options.results:
        with open(options.results, "w") as f:
            json.dump({"schema": 1, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "cpu": cpu_name(), "reps": options.reps, "sides": [options.label_a, options.label_b], "rows": rows, "runs": runs},
                      f, indent=1)
        print(f"raw numbers: {options.results}")


if __name__ == "__main__":
    main()
