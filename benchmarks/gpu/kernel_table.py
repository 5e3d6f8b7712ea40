"""Sums an `ncu --csv --page raw --metrics gpu__time_duration.sum` log by kernel name.

Why: on the lent GPU there is no Nsight Systems; Nsight Compute's per-kernel durations, summed by
kernel, show where a step's device time goes (matrix products, attention, element-wise, copies) and,
against the measured wall time, how much is host overhead between kernels.

  python3 kernel_table.py LOG.csv [--per N] [--top 25]    (--per: divide totals by N, e.g. steps)
"""
import argparse
import collections
import csv
import re


def short(name):
    name = re.sub(r"<.*", "", name)          # template arguments
    name = re.sub(r"\(.*", "", name)         # parameter lists
    return name.strip()[:90]


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("log")
    p.add_argument("--per", type=float, default=1.0)
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args()
    with open(args.log, errors="replace") as f:
        lines = [line for line in f if line.startswith('"')]
    rows = list(csv.reader(lines))
    header, units = rows[0], rows[1]
    name_col = header.index("Kernel Name")
    time_col = header.index("gpu__time_duration.sum")
    # Nsight Compute 2025 writes "ns"/"us"/"ms" (older versions "nsecond"...); to milliseconds.
    per_ms = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3, "nsecond": 1e-6, "usecond": 1e-3, "msecond": 1.0, "second": 1e3}
    if units[time_col] not in per_ms:
        raise SystemExit(f"kernel_table: unknown time unit {units[time_col]!r} in {args.log}")
    scale = per_ms[units[time_col]]
    totals, counts = collections.Counter(), collections.Counter()
    for row in rows[2:]:
        try:
            ms = float(row[time_col].replace(",", "")) * scale
        except (ValueError, IndexError):
            continue
        key = short(row[name_col])
        totals[key] += ms
        counts[key] += 1
    total = sum(totals.values())
    print(f"{sum(counts.values()) / args.per:.0f} kernels, {total / args.per:.2f} ms of kernel time (per {args.per:g})")
    for key, ms in totals.most_common(args.top):
        print(f"{ms / args.per:9.3f} ms {100 * ms / total:5.1f}% {counts[key] / args.per:7.1f}x  {key}")


if __name__ == "__main__":
    main()
