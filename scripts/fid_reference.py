#!/usr/bin/env python3
"""Writes two random 2048-d FID statistics as .npz and scipy's Fréchet distance between them, for the
FID test to compare against:  python3 scripts/fid_reference.py OUT_DIR"""
import json, os, sys

import numpy as np
from scipy import linalg

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(0)
d = 2048
stats = []
for i in range(2):
    x = rng.standard_normal((3000, d)) * (1 + 0.5 * rng.random(d)) + rng.standard_normal(d) * 0.1
    mu, sigma = x.mean(axis=0), np.cov(x, rowvar=False)
    np.savez(os.path.join(out, f"stats{i}.npz"), mu=mu, sigma=sigma)
    stats.append((mu, sigma))
(mu1, s1), (mu2, s2) = stats
covmean, _ = linalg.sqrtm(s1.dot(s2), disp=False)
fid = float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean.real))
json.dump({"fid": fid}, open(os.path.join(out, "reference.json"), "w"))
print(fid)
