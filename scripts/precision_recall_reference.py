#!/usr/bin/env python3
"""Golden cases of improved precision and recall (Kynkaanniemi et al., 2019) from the reference
implementation `prdc` (Naeem et al., 2020; pip install prdc==0.2), which the Swift test
(Tests/EvaluationTests/PrecisionRecallGoldenTests.swift) compares against within 1e-6.

  precision_recall_reference.py DIR            write the shipped cases into DIR
  precision_recall_reference.py DIR --check    recompute every prdc_*.safetensors in DIR from its
                                               stored features and print the differences (exit 1 if any)

Each case holds `in.real` and `in.fake` (float32 features, one row per image) and, as float64 scalars,
`out.precision` and `out.recall`; the metadata holds k. Features are drawn with numpy's default_rng:
Gaussian clouds whose shift and spread make precision and recall differ (a shifted cloud, a narrow
one that is precise but misses variety, a wide one that covers but is imprecise, and duplicated rows).
Run it with the benchmark venv's python (benchmarks/compare.sh makes it) plus `prdc` and `safetensors`.
"""
import argparse
import contextlib
import glob
import io
import os
import sys

import numpy as np


def reference(real, fake, k):
    """prdc's precision and recall, on float64 copies of the stored float32 features."""
    import prdc
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the counts
        r = prdc.compute_prdc(real.astype(np.float64), fake.astype(np.float64), nearest_k=k)
    return float(r["precision"]), float(r["recall"])


CASES = {
    # name: (seed, dim, real count, fake count, fake shift, fake spread, duplicated real rows)
    "shifted": (1, 64, 300, 200, 0.35, 1.0, 0),
    "narrow": (2, 32, 200, 250, 0.0, 0.85, 0),
    "wide": (3, 256, 80, 60, 0.0, 1.04, 0),
    "duplicates": (4, 16, 120, 90, 0.2, 0.9, 10),
}


def make(name, seed, dim, n_real, n_fake, shift, spread, duplicates, k=3):
    rng = np.random.default_rng(seed)
    real = rng.standard_normal((n_real, dim)).astype(np.float32)
    if duplicates:
        real[-duplicates:] = real[:duplicates]
    fake = (shift + spread * rng.standard_normal((n_fake, dim))).astype(np.float32)
    p, r = reference(real, fake, k)
    return {"in.real": real, "in.fake": fake, "out.precision": np.array(p, dtype=np.float64),
            "out.recall": np.array(r, dtype=np.float64)}, {"k": str(k), "reference": "prdc 0.2 compute_prdc"}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir")
    ap.add_argument("--check", action="store_true")
    a = ap.parse_args()
    from safetensors.numpy import load_file, save_file
    from safetensors import safe_open
    if a.check:
        bad = 0
        for path in sorted(glob.glob(os.path.join(a.dir, "prdc_*.safetensors"))):
            t = load_file(path)
            with safe_open(path, "np") as f:
                k = int(f.metadata()["k"])
            p, r = reference(t["in.real"], t["in.fake"], k)
            dp, dr = abs(p - float(t["out.precision"])), abs(r - float(t["out.recall"]))
            print(f"{os.path.basename(path)}: precision {p:.6f} (stored diff {dp:.1e}), recall {r:.6f} (stored diff {dr:.1e})")
            bad += dp > 0 or dr > 0
        sys.exit(1 if bad else 0)
    os.makedirs(a.dir, exist_ok=True)
    for name, spec in CASES.items():
        tensors, meta = make(name, *spec)
        path = os.path.join(a.dir, f"prdc_{name}.safetensors")
        save_file(tensors, path, metadata=meta)
        print(f"{path}: precision {float(tensors['out.precision']):.6f}, recall {float(tensors['out.recall']):.6f}")


if __name__ == "__main__":
    main()
