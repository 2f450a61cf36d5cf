"""Independent reference for ab-evaluate: the recommender experiment analysed with pandas, numpy and
scipy straight from the raw per-user file (CSV or Parquet). Prints one JSON object.

usage: reference.py <file> [alpha]
"""
import json
import sys

import numpy as np
import pandas as pd
from scipy import stats

path = sys.argv[1]
alpha = float(sys.argv[2]) if len(sys.argv) > 2 else 0.05
cols = ["variant", "impressions", "clicks", "session_seconds", "pre_session_seconds", "latency_ms", "converted"]
df = pd.read_parquet(path, columns=cols) if path.endswith(".parquet") else pd.read_csv(path, usecols=cols)
a = df[df["variant"] == "v1"]
b = df[df["variant"] == "v2"]
out = {}


def welch(xa, xb):
    va, vb = xa.var(ddof=1) / len(xa), xb.var(ddof=1) / len(xb)
    dof = (va + vb) ** 2 / (va**2 / (len(xa) - 1) + vb**2 / (len(xb) - 1))
    return va, vb, dof


def rel_parts(ma, mb, va, vb):
    rel = mb / ma - 1
    rse = np.sqrt(vb / ma**2 + va * mb**2 / ma**4)
    return rel, rse


# CTR = Σ clicks / Σ impressions, by a Welch test on the linearised per-user values.
ra = a["clicks"].sum() / a["impressions"].sum()
rb = b["clicks"].sum() / b["impressions"].sum()
la = (a["clicks"] - ra * a["impressions"]) / a["impressions"].mean() + ra
lb = (b["clicks"] - rb * b["impressions"]) / b["impressions"].mean() + rb
r = stats.ttest_ind(lb, la, equal_var=False)
va, vb, dof = welch(la, lb)
q = stats.t.ppf(1 - alpha / 2, dof)
rel, rse = rel_parts(ra, rb, va, vb)
out["ctr"] = dict(meanA=ra, meanB=rb, effect=rb - ra, p=r.pvalue, lo=rb - ra - q * np.sqrt(va + vb), hi=rb - ra + q * np.sqrt(va + vb),
                  rel=rel, rlo=rel - q * rse, rhi=rel + q * rse, rp=2 * stats.t.sf(abs(rel / rse), dof))

# Session duration with CUPED: θ from least squares with one intercept per arm.
y = df["session_seconds"].to_numpy(float)
x = df["pre_session_seconds"].to_numpy(float)
isb = (df["variant"] == "v2").to_numpy()
X = np.column_stack([x, ~isb, isb]).astype(float)
theta = np.linalg.lstsq(X, y, rcond=None)[0][0]
adj = y - theta * (x - x[(df["variant"].isin(["v1", "v2"])).to_numpy()].mean())
ya, yb = adj[(df["variant"] == "v1").to_numpy()], adj[isb]
r = stats.ttest_ind(yb, ya, equal_var=False)
va, vb, dof = welch(ya, yb)
q = stats.t.ppf(1 - alpha / 2, dof)
d = yb.mean() - ya.mean()
# Relative effect over the unadjusted control mean; delta method over (mean of adjusted A, mean of raw A).
rawA = a["session_seconds"].to_numpy(float)
base = rawA.mean()
C = np.cov(np.vstack([ya, rawA]), ddof=1) / len(rawA)
grad = np.array([-1 / base, -d / base**2])
rvar = vb / base**2 + grad @ C @ grad
rel = d / base
rse = np.sqrt(rvar)
out["session_duration"] = dict(meanA=base, meanB=b["session_seconds"].mean(), theta=theta, effect=d, p=r.pvalue,
                               lo=d - q * np.sqrt(va + vb), hi=d + q * np.sqrt(va + vb), rel=rel, rlo=rel - q * rse, rhi=rel + q * rse,
                               rp=2 * stats.t.sf(abs(rel / rse), dof),
                               ni_p=stats.t.sf((rel + 0.02) / rse, dof), ni_bound=rel - stats.t.ppf(1 - alpha, dof) * rse)

# Conversion: Wald z-test of two proportions.
pa, pb = a["converted"].mean(), b["converted"].mean()
se = np.sqrt(pa * (1 - pa) / len(a) + pb * (1 - pb) / len(b))
z = (pb - pa) / se
zq = stats.norm.ppf(1 - alpha / 2)
rel, rse = rel_parts(pa, pb, pa * (1 - pa) / len(a), pb * (1 - pb) / len(b))
out["conversion"] = dict(meanA=pa, meanB=pb, effect=pb - pa, p=2 * stats.norm.sf(abs(z)), lo=pb - pa - zq * se, hi=pb - pa + zq * se,
                         rel=rel, rlo=rel - zq * rse, rhi=rel + zq * rse, rp=2 * stats.norm.sf(abs(rel / rse)))

# Latency (lower is better): Welch t-test and non-inferiority against a 5 % increase.
r = stats.ttest_ind(b["latency_ms"], a["latency_ms"], equal_var=False)
va, vb, dof = welch(a["latency_ms"], b["latency_ms"])
q = stats.t.ppf(1 - alpha / 2, dof)
ma, mb = a["latency_ms"].mean(), b["latency_ms"].mean()
rel, rse = rel_parts(ma, mb, va, vb)
out["latency_ms"] = dict(meanA=ma, meanB=mb, effect=mb - ma, p=r.pvalue, lo=mb - ma - q * np.sqrt(va + vb), hi=mb - ma + q * np.sqrt(va + vb),
                         rel=rel, rlo=rel - q * rse, rhi=rel + q * rse, rp=2 * stats.t.sf(abs(rel / rse), dof), ni_p=stats.t.cdf((rel - 0.05) / rse, dof),
                         ni_bound=rel + stats.t.ppf(1 - alpha, dof) * rse)

# Sample ratio against 50/50, and Holm over the relative p-values of the primary and the secondary metric.
n = np.array([len(a), len(b)])
out["srm"] = stats.chisquare(n, [n.sum() / 2, n.sum() / 2]).pvalue
p = np.array([out["ctr"]["rp"], out["conversion"]["rp"]])
o = np.argsort(p)
h = np.minimum(1, np.maximum.accumulate((2 - np.arange(2)) * p[o]))
holm = np.empty(2)
holm[o] = h
out["ctr"]["adj"], out["conversion"]["adj"] = holm.tolist()
out["units"] = [int(len(a)), int(len(b))]
print(json.dumps(out, default=float))
