import { describe, expect, it } from 'vitest';
import {
  type CovariateSums,
  cupedEstimate,
  cupedTheta,
  meanEstimate,
  proportionEstimate,
  type RatioCovariateSums,
  type RatioSums,
  ratioCovariateMoments,
  ratioCupedEstimate,
  ratioCupedTheta,
  ratioEstimate,
  sampleCovariance,
  sampleVariance,
} from '../src/index';
import { expectRel, python, sums } from './scipy';

const EST = 1e-10;

const dot = (u: number[], v: number[]) => u.reduce((s, ui, i) => s + ui * v[i]!, 0);
const total = (u: number[]) => u.reduce((s, ui) => s + ui, 0);

function covariateSums(y: number[], x: number[]): CovariateSums {
  return { ...sums(y), sumPre: total(x), sumPreSquares: dot(x, x), sumCross: dot(x, y) };
}

function ratioSums(y: number[], d: number[]): RatioSums {
  return {
    n: y.length,
    sumNum: total(y),
    sumNumSquares: dot(y, y),
    sumDen: total(d),
    sumDenSquares: dot(d, d),
    sumNumDen: dot(y, d),
  };
}

function ratioCovariateSums(y: number[], d: number[], x: number[], e: number[]): RatioCovariateSums {
  return {
    ...ratioSums(y, d),
    sumPreNum: total(x),
    sumPreNumSquares: dot(x, x),
    sumPreDen: total(e),
    sumPreDenSquares: dot(e, e),
    sumPreNumDen: dot(x, e),
    sumNumPreNum: dot(y, x),
    sumNumPreDen: dot(y, e),
    sumDenPreNum: dot(d, x),
    sumDenPreDen: dot(d, e),
  };
}

describe('unit-level variances and covariances (numpy, ddof = 1)', () => {
  it('two units are enough; fewer give NaN, not a number that looks real', () => {
    const ref = python<{ v: number; c: number }>(`
import json, numpy as np
print(json.dumps(dict(v=np.var([1.5, 4.0], ddof=1), c=np.cov([1.5, 4.0], [2.0, -3.0], ddof=1)[0, 1])))
`);
    expectRel(sampleVariance(2, 5.5, 1.5 ** 2 + 16), ref.v, EST, 'variance of two units');
    expectRel(sampleCovariance(2, 5.5, -1, 1.5 * 2 - 12), ref.c, EST, 'covariance of two units');
    expect(sampleVariance(1, 3, 9)).toBeNaN();
    expect(sampleVariance(0, 0, 0)).toBeNaN();
    expect(sampleCovariance(1, 3, 2, 6)).toBeNaN();
    expect(sampleCovariance(0, 0, 0, 0)).toBeNaN();
  });

  it('one unit has no variance even when its sums come rounded from a warehouse (x = 0.1: Σx² = 0.01, not 0.1·0.1)', () => {
    // SQL numeric sums rounded to doubles: 0.01 ≠ 0.1 · 0.1 = 0.010000000000000002, so n·x̄² ≠ Σx².
    expect(0.1 * 0.1).not.toBe(0.01);
    expect(sampleVariance(1, 0.1, 0.01)).toBeNaN();
    expect(sampleCovariance(1, 0.1, 0.1, 0.01)).toBeNaN();
    expect(meanEstimate({ n: 1, sum: 0.1, sumSquares: 0.01 }).variance).toBeNaN();
  });

  it('a constant column whose sums round below n·mean² has variance 0, never a negative one', () => {
    // 0.1 three times: Σx² = 0.030000000000000006 < Σx · x̄ = 0.030000000000000013 in doubles.
    const s = sums([0.1, 0.1, 0.1]);
    expect(s.sumSquares - s.sum * (s.sum / s.n)).toBeLessThan(0);
    expect(sampleVariance(s.n, s.sum, s.sumSquares)).toBe(0);
    expect(meanEstimate(s).variance).toBe(0);
  });
});

describe('arm estimates field by field against numpy', () => {
  // Data and every reference value from one numpy run, made by the first test that needs them.
  let data:
    | {
        y: number[];
        x: number[];
        y2: number[];
        x2: number[];
        num: number[];
        den: number[];
        pnum: number[];
        pden: number[];
        mean: { mean: number; var: number };
        ratio: { r: number; var: number };
        cuped: { theta: number; pooled: number; est: number; var: number; bvar: number; cov: number };
        rc: {
          r: number;
          rp: number;
          varL: number;
          varLp: number;
          cov: number;
          theta: number;
          pooled: number;
          est: number;
          var: number;
          covAdj: number;
        };
      }
    | undefined;
  const ref = () => {
    data ??= python(`
import json, numpy as np
rng = np.random.default_rng(41)
x = rng.gamma(2.0, 10, 400); y = 0.6*x + rng.normal(5, 4, 400)
x2 = rng.gamma(2.0, 12, 300); y2 = 0.4*x2 + rng.normal(9, 4, 300)
pden = rng.integers(1, 15, 500).astype(float); pnum = np.floor(pden * rng.uniform(0, 0.4, 500))
den = np.maximum(1, pden + rng.integers(-2, 3, 500)); num = np.floor(den * np.clip(pnum/pden + rng.normal(0.02, 0.05, 500), 0, 1))
# θ and the pooled pre-period mean as a caller computes them; the adjusted unit values y − θ(x − x̄_pooled).
theta = 0.55; pooled = np.r_[x, x2].mean()
adj = y - theta*(x - pooled)
r, rp = num.sum()/den.sum(), pnum.sum()/pden.sum()
L = (num - r*den)/den.mean(); Lp = (pnum - rp*pden)/pden.mean()
rtheta = 0.8; rpooled = 0.17
radj = L - rtheta*Lp
print(json.dumps(dict(y=y.tolist(), x=x.tolist(), y2=y2.tolist(), x2=x2.tolist(), num=num.tolist(), den=den.tolist(), pnum=pnum.tolist(), pden=pden.tolist(),
  mean=dict(mean=y.mean(), var=y.var(ddof=1)),
  ratio=dict(r=r, var=L.var(ddof=1)),
  cuped=dict(theta=theta, pooled=pooled, est=adj.mean(), var=adj.var(ddof=1), bvar=y.var(ddof=1), cov=np.cov(adj, y, ddof=1)[0, 1]),
  rc=dict(r=r, rp=rp, varL=L.var(ddof=1), varLp=Lp.var(ddof=1), cov=np.cov(L, Lp, ddof=1)[0, 1], theta=rtheta, pooled=rpooled,
    est=r - rtheta*(rp - rpooled), var=radj.var(ddof=1), covAdj=np.cov(radj, L, ddof=1)[0, 1]))))
`);
    return data;
  };

  it('a mean: the sample mean, and the sample variance as the variance of both estimate and baseline', () => {
    const m = meanEstimate(sums(ref().y));
    expect(m.n).toBe(400);
    expectRel(m.estimate, ref().mean.mean, EST, 'mean');
    expectRel(m.variance, ref().mean.var, EST, 'variance');
    expectRel(m.baseline, ref().mean.mean, EST, 'baseline');
    expectRel(m.baselineVariance, ref().mean.var, EST, 'baseline variance');
    expectRel(m.covariance, ref().mean.var, EST, 'covariance');
  });

  it('a proportion: the binomial variance p(1 − p), not the sample variance', () => {
    const p = proportionEstimate({ n: 200, sum: 30, sumSquares: 30 });
    expect(p.estimate).toBe(0.15);
    expectRel(p.variance, 0.15 * 0.85, EST, 'p(1 − p)');
    expectRel(p.baselineVariance, 0.1275, EST, 'baseline variance');
    expectRel(p.covariance, 0.1275, EST, 'covariance');
  });

  it('a ratio: Σ num / Σ den with the sample variance of the linearised units (num − r·den)/mean(den)', () => {
    const r = ratioEstimate(ratioSums(ref().num, ref().den));
    expectRel(r.estimate, ref().ratio.r, EST, 'ratio');
    expectRel(r.variance, ref().ratio.var, 1e-8, 'delta-method variance');
    expectRel(r.covariance, ref().ratio.var, 1e-8, 'covariance');
  });

  it('a ratio whose numerator is a fixed multiple of its denominator has no variance', () => {
    const den = [3, 7, 1, 12, 5];
    const r = ratioEstimate(
      ratioSums(
        den.map((d) => 0.3 * d),
        den,
      ),
    );
    expectRel(r.estimate, 0.3, EST, 'ratio');
    expect(r.variance).toBeGreaterThanOrEqual(0);
    expect(r.variance).toBeLessThan(1e-15);
  });

  it('CUPED: ȳ − θ(x̄ − x̄_pooled), the variance of y − θx, the unadjusted baseline and cov(y − θx, y)', () => {
    const { cuped } = ref();
    const e = cupedEstimate(covariateSums(ref().y, ref().x), cuped.theta, cuped.pooled);
    expect(e.n).toBe(400);
    expectRel(e.estimate, cuped.est, EST, 'adjusted mean');
    expectRel(e.variance, cuped.var, 1e-8, 'adjusted variance');
    expectRel(e.baseline, ref().mean.mean, EST, 'baseline');
    expectRel(e.baselineVariance, cuped.bvar, 1e-8, 'baseline variance');
    expectRel(e.covariance, cuped.cov, 1e-8, 'covariance of adjusted and baseline');
  });

  it('CUPED θ defaults to the slope pooled within arms', () => {
    const arms = [covariateSums(ref().y, ref().x), covariateSums(ref().y2, ref().x2)];
    expect(cupedTheta(arms)).toBe(cupedTheta(arms, 'pooled-within-arm'));
    expect(cupedTheta(arms)).not.toBe(cupedTheta(arms, 'overall'));
  });

  it('ratio CUPED moments: r, r′, var(L), var(L′) and cov(L, L′) of the linearised units (Deng et al. 2013)', () => {
    const { rc } = ref();
    const m = ratioCovariateMoments(ratioCovariateSums(ref().num, ref().den, ref().pnum, ref().pden));
    expect(m.n).toBe(500);
    expectRel(m.ratio, rc.r, EST, 'r');
    expectRel(m.preRatio, rc.rp, EST, 'r′');
    expectRel(m.variance, rc.varL, 1e-8, 'var(L)');
    expectRel(m.preVariance, rc.varLp, 1e-8, 'var(L′)');
    expectRel(m.covariance, rc.cov, 1e-8, 'cov(L, L′)');
  });

  it('a ratio-CUPED arm: r − θ(r′ − r′_pooled), var(L − θL′), the unadjusted ratio and cov(L − θL′, L)', () => {
    const { rc } = ref();
    const m = ratioCovariateMoments(ratioCovariateSums(ref().num, ref().den, ref().pnum, ref().pden));
    const e = ratioCupedEstimate(m, rc.theta, rc.pooled);
    expect(e.n).toBe(500);
    expectRel(e.estimate, rc.est, EST, 'adjusted ratio');
    expectRel(e.variance, rc.var, 1e-8, 'adjusted variance');
    expectRel(e.baseline, rc.r, EST, 'baseline');
    expectRel(e.baselineVariance, rc.varL, 1e-8, 'baseline variance');
    expectRel(e.covariance, rc.covAdj, 1e-8, 'covariance of adjusted and baseline');
  });
});

describe('CUPED θ when the covariate carries no information', () => {
  it('a covariate that is zero everywhere or constant gives θ = 0 in both modes, not NaN or ±∞', () => {
    const y = [3, 8, 1, 6];
    for (const value of [0, 0.1, 7.3]) {
      const arms = [
        covariateSums(
          y,
          y.map(() => value),
        ),
        covariateSums([2, 9, 4], [value, value, value]),
      ];
      expect(cupedTheta(arms, 'pooled-within-arm'), `covariate ${value}`).toBe(0);
      expect(cupedTheta(arms, 'overall'), `covariate ${value}`).toBe(0);
    }
  });

  it('ratio θ: Σ(n − 1)cov(L, L′) / Σ(n − 1)var(L′), and 0 when L′ does not vary or the slope is not finite', () => {
    const arm = (n: number, covariance: number, preVariance: number) => ({
      n,
      ratio: 0.1,
      preRatio: 0.1,
      variance: 1,
      preVariance,
      covariance,
    });
    // (10·2 + 20·1) / (10·4 + 20·1): arms weighted by their degrees of freedom, not averaged.
    expectRel(ratioCupedTheta([arm(11, 2, 4), arm(21, 1, 1)]), 40 / 60, EST, 'pooled slope');
    expect(ratioCupedTheta([arm(11, 2, 0), arm(21, 1, 0)])).toBe(0);
    expect(ratioCupedTheta([arm(11, Number.POSITIVE_INFINITY, 4), arm(21, 1, 1)])).toBe(0);
    expect(ratioCupedTheta([arm(11, Number.NaN, 4), arm(21, 1, 1)])).toBe(0);
    expect(ratioCupedTheta([arm(11, 2, -1), arm(21, 1, -3)])).toBe(0);
    // A var(L′) so small (subnormal) that the slope overflows to ∞ is no usable slope either.
    expect(ratioCupedTheta([arm(11, 1, 5e-324), arm(21, 0, 5e-324)])).toBe(0);
  });
});
