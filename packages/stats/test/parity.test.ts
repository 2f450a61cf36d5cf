import { describe, expect, it } from 'vitest';
import {
  bayesian,
  compareArms,
  cupedEstimate,
  cupedTheta,
  meanEstimate,
  nonInferiority,
  type RatioCovariateSums,
  ratioCovariateMoments,
  ratioCupedEstimate,
  ratioCupedTheta,
  sequentialHalfwidthOneSided,
  sequentialRho,
} from '../src/index';
import { expectRel, python, sums } from './scipy';

const EST = 1e-10;
const P = 1e-6;

function covariateSums(y: number[], x: number[]) {
  const s = { ...sums(y), sumPre: 0, sumPreSquares: 0, sumCross: 0 };
  for (const [i, v] of x.entries()) {
    s.sumPre += v;
    s.sumPreSquares += v * v;
    s.sumCross += v * y[i]!;
  }
  return s;
}

describe('CUPED parity with GrowthBook and Confidence', () => {
  it('cuped: overall fits one slope over both arms, cov(x, y)/var(x) of the pooled sample (numpy polyfit); the within-arm slope differs', () => {
    // Arms whose pre-period means differ, so that the two fits differ visibly.
    const ref = python<{
      ya: number[];
      xa: number[];
      yb: number[];
      xb: number[];
      overall: number;
      within: number;
    }>(`
import json, numpy as np
rng = np.random.default_rng(11)
xa = rng.gamma(2.0, 30, 1500); xb = rng.gamma(2.0, 36, 1600)
ya = 0.7*xa + rng.normal(20, 15, 1500); yb = 0.5*xb + rng.normal(40, 15, 1600)
overall = np.polyfit(np.concatenate([xa, xb]), np.concatenate([ya, yb]), 1)[0]
X = np.column_stack([np.concatenate([xa, xb]), np.r_[np.ones(1500), np.zeros(1600)], np.r_[np.zeros(1500), np.ones(1600)]])
within = np.linalg.lstsq(X, np.concatenate([ya, yb]), rcond=None)[0][0]
print(json.dumps(dict(ya=ya.tolist(), xa=xa.tolist(), yb=yb.tolist(), xb=xb.tolist(), overall=overall, within=within)))
`);
    const arms = [covariateSums(ref.ya, ref.xa), covariateSums(ref.yb, ref.xb)];
    expectRel(cupedTheta(arms, 'overall'), ref.overall, EST, 'θ overall');
    expectRel(cupedTheta(arms, 'pooled-within-arm'), ref.within, EST, 'θ within arms');
    expect(Math.abs(ref.overall - ref.within)).toBeGreaterThan(1e-3);
  });

  it('CUPED on a ratio (Deng et al. 2013, delta method) equals a Welch test on the linearised per-unit values r + L − θ(r′ + L′) (numpy/scipy)', () => {
    const ref = python<{
      a: number[][];
      b: number[][];
      theta: number;
      d: number;
      t: number;
      p: number;
      rel: number;
    }>(`
import json, numpy as np
from scipy import stats
rng = np.random.default_rng(21)
def arm(n, lift):
    e = rng.integers(1, 20, n).astype(float)            # pre-period impressions
    x = np.floor(e * rng.uniform(0, 0.3, n))            # pre-period clicks
    d = np.maximum(1, e + rng.integers(-3, 4, n))       # impressions
    y = np.floor(d * np.clip(x / e + rng.normal(lift, 0.05, n), 0, 1))  # clicks, correlated with the pre-period CTR
    return y, d, x, e
ya, da, xa, ea = arm(3000, 0.0); yb, db, xb, eb = arm(3200, 0.01)
def lin(y, d, x, e):
    r, rp = y.sum()/d.sum(), x.sum()/e.sum()
    return r, rp, (y - r*d)/d.mean(), (x - rp*e)/e.mean()
ra, rpa, la, lpa = lin(ya, da, xa, ea); rb, rpb, lb, lpb = lin(yb, db, xb, eb)
# θ: slope of L on L' with an intercept per arm
X = np.column_stack([np.r_[lpa, lpb], np.r_[np.ones(3000), np.zeros(3200)], np.r_[np.zeros(3000), np.ones(3200)]])
theta = np.linalg.lstsq(X, np.r_[la, lb], rcond=None)[0][0]
ua = ra + la - theta*(rpa + lpa); ub = rb + lb - theta*(rpb + lpb)
r = stats.ttest_ind(ub, ua, equal_var=False)
print(json.dumps(dict(a=[ya.tolist(), da.tolist(), xa.tolist(), ea.tolist()], b=[yb.tolist(), db.tolist(), xb.tolist(), eb.tolist()],
  theta=theta, d=ub.mean()-ua.mean(), t=r.statistic, p=r.pvalue, rel=(ub.mean()-ua.mean())/ra)))
`);
    const sumsOf = ([y, d, x, e]: number[][]): RatioCovariateSums => {
      const dot = (u: number[], v: number[]) => u.reduce((s, ui, i) => s + ui * v[i]!, 0);
      const total = (u: number[]) => u.reduce((s, ui) => s + ui, 0);
      return {
        n: y!.length,
        sumNum: total(y!),
        sumNumSquares: dot(y!, y!),
        sumDen: total(d!),
        sumDenSquares: dot(d!, d!),
        sumNumDen: dot(y!, d!),
        sumPreNum: total(x!),
        sumPreNumSquares: dot(x!, x!),
        sumPreDen: total(e!),
        sumPreDenSquares: dot(e!, e!),
        sumPreNumDen: dot(x!, e!),
        sumNumPreNum: dot(y!, x!),
        sumNumPreDen: dot(y!, e!),
        sumDenPreNum: dot(d!, x!),
        sumDenPreDen: dot(d!, e!),
      };
    };
    const sa = sumsOf(ref.a);
    const sb = sumsOf(ref.b);
    const ma = ratioCovariateMoments(sa);
    const mb = ratioCovariateMoments(sb);
    const theta = ratioCupedTheta([ma, mb]);
    expectRel(theta, ref.theta, EST, 'θ');
    const pooled = (sa.sumPreNum + sb.sumPreNum) / (sa.sumPreDen + sb.sumPreDen);
    const c = compareArms(ratioCupedEstimate(ma, theta, pooled), ratioCupedEstimate(mb, theta, pooled), {
      alpha: 0.05,
      test: 't',
    });
    expectRel(c.absolute.effect, ref.d, EST, 'adjusted effect');
    expectRel(c.absolute.statistic, ref.t, P, 't');
    expectRel(c.absolute.pValue, ref.p, P, 'p');
    expectRel(c.relative.effect, ref.rel, EST, 'relative effect');
  });

  it('CUPED estimates reduce to the plain mean when θ is 0', () => {
    const s = covariateSums([1, 2, 3, 4], [4, 1, 3, 2]);
    expect(cupedEstimate(s, 0, 2.5)).toEqual(meanEstimate(s));
  });
});

describe('non-inferiority on the absolute scale and in sequential mode', () => {
  it('an absolute margin (metric units) is the one-sided Welch t-test of the difference against −margin (scipy)', () => {
    const ref = python<{ a: number[]; b: number[]; p: number; bound: number; p2: number; bound2: number }>(`
import json, numpy as np
from scipy import stats
rng = np.random.default_rng(31)
a = rng.normal(300, 90, 2000); b = rng.normal(297, 92, 2100)
va, vb = a.var(ddof=1)/len(a), b.var(ddof=1)/len(b)
dof = (va+vb)**2/(va**2/(len(a)-1) + vb**2/(len(b)-1))
d, se = b.mean()-a.mean(), np.sqrt(va+vb)
print(json.dumps(dict(a=a.tolist(), b=b.tolist(), p=stats.t.sf((d+8)/se, dof), bound=d-stats.t.ppf(0.95, dof)*se,
  p2=stats.t.cdf((d-8)/se, dof), bound2=d+stats.t.ppf(0.95, dof)*se)))
`);
    const c = compareArms(meanEstimate(sums(ref.a)), meanEstimate(sums(ref.b)), { alpha: 0.05, test: 't' });
    const up = nonInferiority(c, 8, 'increase', 0.05, undefined, 'absolute');
    expectRel(up.pValue, ref.p, P, 'p (higher is better)');
    expectRel(up.bound, ref.bound, P, 'bound');
    expect(up.nonInferior).toBe(ref.p < 0.05);
    const down = nonInferiority(c, 8, 'decrease', 0.05, undefined, 'absolute');
    expectRel(down.pValue, ref.p2, P, 'p (lower is better)');
    expectRel(down.bound, ref.bound2, P, 'bound (lower is better)');
    expect(down.nonInferior).toBe(ref.p2 < 0.05);
  });

  it('the sequential non-inferiority p-value is the α′ at which the always-valid one-sided bound (gbstats, ρ at the configured α) reaches the margin', () => {
    const a = meanEstimate({ n: 3000, sum: 300 * 3000, sumSquares: 3000 * 300 * 300 + 2999 * 90 * 90 });
    const b = meanEstimate({ n: 3100, sum: 301 * 3100, sumSquares: 3100 * 301 * 301 + 3099 * 90 * 90 });
    const c = compareArms(a, b, { alpha: 0.05, test: 't', sequential: { tuning: 5000 } });
    const n = a.n + b.n;
    const ni = nonInferiority(c, 0.02, 'increase', 0.05, { tuning: 5000, n }, 'relative');
    expect(ni.pValue).toBeGreaterThan(1e-6);
    expect(ni.pValue).toBeLessThan(0.05);
    // At α′ = p the one-sided halfwidth (gbstats' formula, re-evaluated here with ρ of α = 0.05) equals the distance to the margin.
    const se = c.relative.standardError;
    const rho = sequentialRho(0.05, 5000, false);
    const halfwidth = sequentialHalfwidthOneSided(se * se * n, n, ni.pValue, rho);
    expectRel(halfwidth, c.relative.effect + 0.02, 1e-9, 'halfwidth at α′ = p');
    expect(ni.nonInferior).toBe(true);
    // A margin the bound does not clear: p above α, not non-inferior; the two always agree.
    const tight = nonInferiority(c, 0.005, 'increase', 0.05, { tuning: 5000, n }, 'relative');
    expect(tight.nonInferior).toBe(false);
    expect(tight.pValue).toBeGreaterThan(0.05);
  });
});

describe('informative prior (GrowthBook: normal prior on the relative effect)', () => {
  it('posterior by precision weighting, chance to win and expected loss from the posterior (scipy)', () => {
    const a = meanEstimate({ n: 3407, sum: 0.41 * 3407, sumSquares: 3406 * 3.9 ** 2 + 3407 * 0.41 ** 2 });
    const b = meanEstimate({ n: 3461, sum: 0.7 * 3461, sumSquares: 3460 * 6.2 ** 2 + 3461 * 0.7 ** 2 });
    const c = compareArms(a, b, { alpha: 0.05, test: 't' });
    const ref = python<{ mean: number; sd: number; ctw: number; loss: number; lossControl: number }>(`
import json
from scipy import stats
mu, se = ${c.relative.effect}, ${c.relative.standardError}
pm, ps = 0.0, 0.3
prec = 1/se**2 + 1/ps**2
m = (mu/se**2 + pm/ps**2)/prec; s = prec**-0.5
# E[max(0, -δ)] and E[max(0, δ)] for δ ~ N(m, s²), from scipy's truncated-normal moments.
loss = stats.norm.cdf(-m/s) * (-stats.truncnorm.mean(-float('inf'), -m/s, loc=m, scale=s))
gain = stats.norm.sf(-m/s) * stats.truncnorm.mean(-m/s, float('inf'), loc=m, scale=s)
print(json.dumps(dict(mean=m, sd=s, ctw=stats.norm.sf(0, m, s), loss=loss, lossControl=gain)))
`);
    const posterior = bayesian(c, 'increase', { mean: 0, sd: 0.3 });
    expectRel(posterior.posteriorMean, ref.mean, EST, 'posterior mean');
    expectRel(posterior.posteriorSd, ref.sd, EST, 'posterior sd');
    expectRel(posterior.chanceToWin, ref.ctw, 1e-9, 'chance to win');
    expectRel(posterior.expectedLoss, ref.loss, 1e-7, 'expected loss');
    expectRel(posterior.expectedLossControl, ref.lossControl, 1e-7, 'expected loss of control');
    // The prior shrinks the effect towards 0 compared with the flat prior.
    const flat = bayesian(c, 'increase');
    expect(flat.posteriorMean).toBe(c.relative.effect);
    expect(posterior.posteriorMean).toBeLessThan(flat.posteriorMean);
  });
});
