#!/usr/bin/env python3
"""Independent values for the study verdicts' unit tests (Tests/StudiesTests/VerdictStatisticsTests.swift).

Needs scipy 1.17.1 and statsmodels 0.14.4 (pip install scipy==1.17.1 statsmodels==0.14.4); prints the
numbers the tests hold. Each value comes from a different implementation than the Swift one:
- paired t test and TOST: scipy.stats.ttest_1samp / statsmodels.stats.weightstats.ttost_paired;
- Holm: statsmodels.stats.multitest.multipletests(method="holm");
- group-sequential boundaries: Lan-DeMets O'Brien-Fleming spending solved look by look with
  scipy.stats.multivariate_normal.cdf (Genz's integration) on the correlation sqrt(t_i / t_j), not a grid;
- the log-scale interval of a ratio: scipy.stats.t on log values; the isotonic fit: scipy.optimize.isotonic_regression.
"""
import numpy as np
from scipy import stats, optimize
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import ttost_paired

np.set_printoptions(precision=17)

# Paired t and TOST
a = np.array([0.161, 0.148, 0.172, 0.155])  # variant, per seed
b = np.array([0.151, 0.149, 0.160, 0.150])  # baseline, per seed
d = a - b
print("paired t p (two-sided):", repr(stats.ttest_1samp(d, 0).pvalue))
margin = 0.1 * b.mean()
print("margin:", repr(margin))
p, lower, upper = ttost_paired(a, b, -margin, margin)
print("TOST p:", repr(p), "lower", repr(lower[1]), "upper", repr(upper[1]))
c = np.array([0.150, 0.151, 0.149, 0.152, 0.150])
e = np.array([0.151, 0.150, 0.150, 0.151, 0.151])
p2, _, _ = ttost_paired(c, e, -0.01, 0.01)
print("TOST p (close):", repr(p2))

# Holm
ps = [0.01, 0.04, 0.03, 0.005, 0.2]
print("holm:", [repr(x) for x in multipletests(ps, method="holm")[1]])
ps2 = [0.011, 0.049, 0.02]
print("holm2:", [repr(x) for x in multipletests(ps2, method="holm")[1]])


# Lan-DeMets O'Brien-Fleming boundaries
def spent(t, alpha):
    return 2 - 2 * stats.norm.cdf(stats.norm.ppf(1 - alpha / 2) / np.sqrt(t))


def boundaries(info, alpha, two_sided):
    bounds = []
    for k, t in enumerate(info):
        target = spent(t, alpha) - (spent(info[k - 1], alpha) if k else 0)
        cov = np.array([[np.sqrt(min(x, y) / max(x, y)) for y in info[: k + 1]] for x in info[: k + 1]])

        def cross(cval):
            # P(continue at looks < k, cross at k) = P(continue < k) - P(continue <= k)
            def cont(m, last):
                bs = bounds[:m] + ([last] if last is not None else [])
                if not bs:
                    return 1.0
                mvn = stats.multivariate_normal(mean=np.zeros(len(bs)), cov=cov[: len(bs), : len(bs)], abseps=1e-11, releps=1e-11, maxpts=5_000_000)
                up = np.array(bs)
                lo = -up if two_sided else np.full(len(bs), -np.inf)
                return mvn.cdf(up, lower_limit=lo)
            return cont(k, None) - cont(k, cval)

        bounds.append(optimize.brentq(lambda x: cross(x) - target, 0.5, 12, xtol=1e-9))
    return bounds


for info, alpha, two in [([0.25, 0.5, 0.75, 1.0], 0.025, False), ([1 / 3, 2 / 3, 1.0], 0.05, True),
                         ([4 / 12, 6 / 12, 8 / 12, 10 / 12, 1.0], 0.05, True), ([0.5, 1.0], 0.0125, True)]:
    print("bounds", info, alpha, "two-sided" if two else "one-sided", [repr(x) for x in boundaries(info, alpha, two)])

# Log-scale interval of ratios (geometric mean)
r = np.array([0.45, 0.52, 0.61, 0.40, 0.48])
lr = np.log(r)
h = stats.t.ppf(0.975, len(r) - 1) * lr.std(ddof=1) / np.sqrt(len(r))
print("geo mean", repr(np.exp(lr.mean())), "ci", repr(np.exp(lr.mean() - h)), repr(np.exp(lr.mean() + h)))

# Isotonic (decreasing) fit
y = np.array([0.30, 0.25, 0.27, 0.18, 0.19, 0.15, 0.16])
print("isotonic decreasing:", [repr(x) for x in optimize.isotonic_regression(y, increasing=False).x])

# Power of the two-sided paired t test (noncentral t)
for eff, sd, n, a in [(1.0, 1.0, 6, 0.05), (0.5, 0.4, 4, 0.025), (2.0, 1.0, 3, 0.0167)]:
    df = n - 1
    c = stats.t.ppf(1 - a / 2, df)
    nc = eff * np.sqrt(n) / sd
    print("power", eff, sd, n, a, repr(stats.nct.sf(c, df, nc) + stats.nct.cdf(-c, df, nc)))
