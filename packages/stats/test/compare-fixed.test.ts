import { describe, expect, it } from 'vitest';
import { type ArmEstimate, compareArms, meanEstimate, relativeVariance, welchDof } from '../src/index';
import { expectRel, python, sums } from './scipy';

const P = 1e-6;

/** Small samples, so that the Welch–Satterthwaite degrees of freedom move the p-value visibly. */
const CONSTANT = [7, 7, 7, 7, 7];
const VARYING = [8.691, 9.643, 8.661, 5.394, 9.811, 8.893];

interface WelchRef {
  t: number;
  p: number;
  dof: number;
  lo: number;
  hi: number;
}

/** scipy's Welch test of b against a, and the 90 % CI on the difference from t.ppf at scipy's own dof. */
function welchRef(a: number[], b: number[]): WelchRef {
  return python<WelchRef>(
    `
import json, sys, warnings, numpy as np
from scipy import stats
warnings.simplefilter('ignore')
d = json.load(sys.stdin); a = np.array(d['a']); b = np.array(d['b'])
r = stats.ttest_ind(b, a, equal_var=False)
va, vb = a.var(ddof=1)/len(a), b.var(ddof=1)/len(b)
se = np.sqrt(va + vb)
# The dof scipy used, recovered from its own p-value: the root of 2·t.sf(|t|, ν) = p.
from scipy.optimize import brentq
dof = brentq(lambda v: 2*stats.t.sf(abs(r.statistic), v) - r.pvalue, 0.5, 1e6, xtol=1e-12, rtol=1e-14)
q = stats.t.ppf(0.95, dof); diff = b.mean() - a.mean()
print(json.dumps(dict(t=r.statistic, p=r.pvalue, dof=dof, lo=diff - q*se, hi=diff + q*se)))
`,
    { a, b },
  );
}

describe('compareArms on small samples and degenerate arms', () => {
  it('Welch t-test with a constant control arm: dof, statistic, p-value and 90 % CI match scipy.stats.ttest_ind', () => {
    const ref = welchRef(CONSTANT, VARYING);
    const c = compareArms(meanEstimate(sums(CONSTANT)), meanEstimate(sums(VARYING)), {
      alpha: 0.1,
      test: 't',
    });
    // One arm without variance leaves the other's n − 1 degrees of freedom.
    expectRel(ref.dof, VARYING.length - 1, 1e-9, 'scipy dof');
    expectRel(c.dof, ref.dof, 1e-9, 'dof');
    expectRel(c.absolute.statistic, ref.t, P, 't');
    expectRel(c.absolute.pValue, ref.p, P, 'p');
    expectRel(c.absolute.ci[0], ref.lo, P, 'ci lo');
    expectRel(c.absolute.ci[1], ref.hi, P, 'ci hi');
    expect(c.degenerate).toBe(false);
    expect(c.alpha).toBe(0.1);
    expect(c.test).toBe('t');
    expect(c.sequential).toBe(false);
  });

  it('Welch t-test with a constant treatment arm: the control’s n − 1 degrees of freedom and scipy’s p-value', () => {
    const ref = welchRef(VARYING, CONSTANT);
    const c = compareArms(meanEstimate(sums(VARYING)), meanEstimate(sums(CONSTANT)), {
      alpha: 0.1,
      test: 't',
    });
    expectRel(c.dof, VARYING.length - 1, 1e-9, 'dof');
    expectRel(c.absolute.statistic, ref.t, P, 't');
    expectRel(c.absolute.pValue, ref.p, P, 'p');
    expectRel(c.absolute.ci[0], ref.lo, P, 'ci lo');
    expectRel(c.absolute.ci[1], ref.hi, P, 'ci hi');
    expect(c.degenerate).toBe(false);
  });

  it('welchDof is infinite when neither arm has variance (no estimate of the noise to be uncertain about)', () => {
    expect(welchDof(0, 10, 0, 12)).toBe(Number.POSITIVE_INFINITY);
    expectRel(welchDof(0, 10, 4, 12), 11, 1e-12, 'one arm without variance');
  });

  it('both arms constant: the difference is exact, the CI a point, p 0 for a difference and 1 for none', () => {
    const a = meanEstimate(sums([5, 5, 5, 5]));
    const b = meanEstimate(sums([6, 6, 6]));
    const c = compareArms(a, b, { alpha: 0.05, test: 't' });
    expect(c.degenerate).toBe(true);
    expect(c.dof).toBe(Number.POSITIVE_INFINITY);
    expect(c.absolute).toEqual({ effect: 1, standardError: 0, ci: [1, 1], pValue: 0, statistic: 0 });
    expect(c.relative).toEqual({ effect: 0.2, standardError: 0, ci: [0.2, 0.2], pValue: 0, statistic: 0 });
    const same = compareArms(a, meanEstimate(sums([5, 5])), { alpha: 0.05, test: 'z' });
    expect(same.degenerate).toBe(true);
    expect(same.absolute).toEqual({ effect: 0, standardError: 0, ci: [0, 0], pValue: 1, statistic: 0 });
    expect(same.relative.pValue).toBe(1);
  });

  it('both arms constant in an always-valid (sequential) comparison: the same exact point and p-values', () => {
    const a = meanEstimate(sums([5, 5, 5, 5]));
    const c = compareArms(a, meanEstimate(sums([6, 6, 6])), {
      alpha: 0.05,
      test: 'z',
      sequential: { tuning: 5000 },
    });
    expect(c.sequential).toBe(true);
    expect(c.degenerate).toBe(true);
    expect(c.absolute).toEqual({ effect: 1, standardError: 0, ci: [1, 1], pValue: 0, statistic: 0 });
    expect(c.relative).toEqual({ effect: 0.2, standardError: 0, ci: [0.2, 0.2], pValue: 0, statistic: 0 });
    const same = compareArms(a, meanEstimate(sums([5, 5])), {
      alpha: 0.05,
      test: 'z',
      sequential: { tuning: 5000 },
    });
    expect(same.absolute).toEqual({ effect: 0, standardError: 0, ci: [0, 0], pValue: 1, statistic: 0 });
    expect(same.relative.pValue).toBe(1);
  });

  it('a z-test uses the normal distribution whatever the sample sizes (scipy.stats.norm), a t-test does not', () => {
    const ref = python<{ z: number; p: number; lo: number; hi: number }>(
      `
import json, sys, numpy as np
from scipy import stats
d = json.load(sys.stdin); a = np.array(d['a']); b = np.array(d['b'])
se = np.sqrt(a.var(ddof=1)/len(a) + b.var(ddof=1)/len(b)); diff = b.mean() - a.mean(); z = diff/se
q = stats.norm.ppf(0.995)
print(json.dumps(dict(z=z, p=2*stats.norm.sf(abs(z)), lo=diff - q*se, hi=diff + q*se)))
`,
      { a: VARYING, b: [10.2, 11.9, 9.4, 12.6, 10.8] },
    );
    const a = meanEstimate(sums(VARYING));
    const b = meanEstimate(sums([10.2, 11.9, 9.4, 12.6, 10.8]));
    const z = compareArms(a, b, { alpha: 0.01, test: 'z' });
    expect(z.dof).toBe(Number.POSITIVE_INFINITY);
    expect(z.test).toBe('z');
    expectRel(z.absolute.statistic, ref.z, P, 'z');
    expectRel(z.absolute.pValue, ref.p, P, 'p');
    expectRel(z.absolute.ci[0], ref.lo, P, 'ci lo');
    expectRel(z.absolute.ci[1], ref.hi, P, 'ci hi');
    const t = compareArms(a, b, { alpha: 0.01, test: 't' });
    expect(t.dof).toBeLessThan(12);
    expect(t.absolute.pValue).toBeGreaterThan(z.absolute.pValue * 1.5);
  });
});

describe('delta-method variance of the relative effect', () => {
  it('equals gᵀΣg with g the gradient of (e_B − e_A)/b_A and Σ the arms’ covariance matrices (numpy)', () => {
    // A CUPED-like control arm: estimate and baseline differ, with their own variances and covariance.
    const a: ArmEstimate = {
      n: 400,
      estimate: 12.5,
      variance: 9,
      baseline: 12,
      baselineVariance: 16,
      covariance: 7.5,
    };
    const b: ArmEstimate = {
      n: 350,
      estimate: 13.4,
      variance: 10,
      baseline: 13,
      baselineVariance: 17,
      covariance: 8,
    };
    const ref = python<{ v: number; vNeg: number }>(`
import json, numpy as np
def delta(eA, bA, eB, nA, varA, varBase, cov, nB, varB):
    # (e_A, b_A, e_B): e_B is independent of the control arm's pair.
    S = np.array([[varA/nA, cov/nA, 0], [cov/nA, varBase/nA, 0], [0, 0, varB/nB]])
    g = np.array([-1/bA, -(eB - eA)/bA**2, 1/bA])
    return float(g @ S @ g)
print(json.dumps(dict(v=delta(12.5, 12, 13.4, 400, 9, 16, 7.5, 350, 10),
  vNeg=delta(12.5, 12, 10.1, 400, 9, 16, 7.5, 350, 10))))
`);
    expectRel(relativeVariance(a, b), ref.v, 1e-12, 'treatment better');
    // A negative difference turns the covariance term around.
    expectRel(relativeVariance(a, { ...b, estimate: 10.1 }), ref.vNeg, 1e-12, 'treatment worse');
    const c = compareArms(a, b, { alpha: 0.05, test: 'z' });
    expectRel(c.relative.standardError, Math.sqrt(ref.v), 1e-12, 'relative se');
    expectRel(c.relative.effect, (13.4 - 12.5) / 12, 1e-12, 'relative effect over the baseline');
  });

  it('a delta-method variance rounded a hair below zero gives a zero standard error, not NaN', () => {
    // Perfectly anti-correlated estimate and baseline with e_B − e_A = b_A: the exact variance is 0.
    const a: ArmEstimate = {
      n: 3,
      estimate: 0.5,
      variance: 0.3,
      baseline: 0.3,
      baselineVariance: 0.3,
      covariance: -0.3,
    };
    const b: ArmEstimate = { ...a, estimate: 0.8, variance: 0 };
    expect(relativeVariance(a, b)).toBeLessThan(0);
    const c = compareArms(a, b, { alpha: 0.05, test: 'z' });
    expect(c.relative.standardError).toBe(0);
    expect(c.relative.pValue).toBe(0);
  });
});
