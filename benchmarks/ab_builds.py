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
import statistics
import subprocess
import sys

from compare import machine, run_child  # the side-by-side benchmark's machine record, child runner and memory measure

SETTINGS = [
    ("train quick mask 0", ["bench", "train", "--preset", "quick", "--steps", "30"]),
    ("train quick mask 0.9", ["bench", "train", "--preset", "quick", "--steps", "30", "--mask-ratio", "0.9"]),
    ("train s32 mask 0", ["bench", "train", "--preset", "s32", "--steps", "10"]),
    ("sample quick ddim 25", ["bench", "sample", "--preset", "quick", "--ddim-steps", "25", "--batch-size", "64"]),
]


def cpu_name(m):
    """compare.machine()'s CPU in one line: model name, family, model, AVX-512 or not."""
    return f"{m['cpu']}, family {m['cpu_family']} model {m['cpu_model']}, " + ("AVX-512" if m["avx512f"] else "no AVX-512")


def run(binary, args):
    """One benchmark: its JSON result and the child's peak resident memory in bytes."""
    result, max_rss, _ = run_child([binary, *args, "--json"], f"{binary} {args[1]}")
    return result, max_rss


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
                load = os.getloadavg()[0]
                result, max_rss = run(binary, args)
                rate = result["images_per_second"]
                runs.append({"rep": rep, "setting": name, "side": label, "images_per_second": rate,
                             "max_rss_bytes": max_rss, "loadavg_1min_before": load, "result": result})
                print(f"[rep {rep + 1}/{options.reps}] {name:24s} {label:12s} {rate:9.2f} img/s  "
                      f"maxRSS {max_rss / 2**20:6.0f} MiB", file=sys.stderr)
    rows, host = [], machine()
    print(f"{cpu_name(host)}; medians of {options.reps} alternating repetitions (min-max), img/s")
    print(f"{'setting':24s} {options.label_a:>22s} {options.label_b:>22s}  {options.label_b}/{options.label_a}"
          "  peak RSS A / B")
    for name, _ in SETTINGS:
        cells, peaks = [], []
        for label, _ in sides:
            mine = [r for r in runs if r["setting"] == name and r["side"] == label]
            rates = [r["images_per_second"] for r in mine]
            cells.append((statistics.median(rates), min(rates), max(rates)))
            peaks.append(max(r["max_rss_bytes"] for r in mine))
        ratio = cells[1][0] / cells[0][0]
        rows.append({"setting": name, options.label_a: cells[0][0], options.label_b: cells[1][0],
                     "ratio_b_over_a": ratio, "max_rss_bytes": peaks})
        text = [f"{m:8.1f} ({lo:.1f}-{hi:.1f})" for m, lo, hi in cells]
        print(f"{name:24s} {text[0]:>22s} {text[1]:>22s}  {ratio:.3f}x  {peaks[0] / 2**20:.0f} / {peaks[1] / 2**20:.0f} MiB")
    if options.results:
        with open(options.results, "w") as f:
            json.dump({"schema": 1, "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(),
                       "machine": host, "reps": options.reps, "sides": [options.label_a, options.label_b], "rows": rows, "runs": runs},
                      f, indent=1)
        print(f"raw numbers: {options.results}")


if __name__ == "__main__":
    main()
