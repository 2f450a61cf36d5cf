/**
 * Python helpers of the experiment tests' references (numpy/scipy, run by python() of the stats tests):
 * `compare` gives the absolute and relative effects of two arms from their estimates and unit-level
 * moments (Welch–Satterthwaite degrees of freedom for t, the normal for z; the delta method over the
 * control's estimate and baseline for the relative effect), `plain` does it for raw per-unit values,
 * `linearised` gives a ratio of sums and its per-unit linearisation (num − r·den)/mean(den).
 */
export const PRELUDE = `
import json
import numpy as np
from scipy import stats

def welch_dof(va, na, vb, nb):
    a, b = va / na, vb / nb
    return (a + b) ** 2 / (a * a / (na - 1) + b * b / (nb - 1))

def compare(ea, eb, base, va, vb, vbase, cov, na, nb, alpha, test):
    """Absolute and relative (delta method over the control's estimate and baseline) effects."""
    dof = welch_dof(va, na, vb, nb) if test == 't' else float('inf')
    dist = stats.t(dof) if test == 't' else stats.norm()
    q = dist.ppf(1 - alpha / 2)
    diff = eb - ea
    se = np.sqrt(va / na + vb / nb)
    rel = diff / base
    grad = np.array([-1 / base, -diff / base ** 2])
    C = np.array([[va, cov], [cov, vbase]]) / na
    rse = np.sqrt(vb / (nb * base ** 2) + grad @ C @ grad)
    return dict(meanA=base, effect=diff, lo=diff - q * se, hi=diff + q * se, p=2 * dist.sf(abs(diff / se)),
                rel=rel, rlo=rel - q * rse, rhi=rel + q * rse, rp=2 * dist.sf(abs(rel / rse)), se=se, rse=rse,
                dof=None if test == 'z' else dof, va=va, vb=vb)

def plain(a, b, alpha, test='t'):
    va, vb = a.var(ddof=1), b.var(ddof=1)
    return compare(a.mean(), b.mean(), a.mean(), va, vb, va, va, len(a), len(b), alpha, test)

def linearised(num, den):
    r = num.sum() / den.sum()
    return r, (num - r * den) / den.mean()
`;
