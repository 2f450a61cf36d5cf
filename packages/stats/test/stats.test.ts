import { describe, expect, it } from 'vitest';
import {
  type ArmEstimate,
  adjustPValues,
  bayesian,
  chiSquareSf,
  compareArms,
  cupedEstimate,
  cupedTheta,
  meanEstimate,
  nonInferiority,
  normalCdf,
  normalQuantile,
  proportionEstimate,
  ratioEstimate,
  requiredSampleSize,
  sampleRatioMismatch,
  sequentialHalfwidth,
  sequentialPValue,
  sequentialRho,
  tCdf,
  tQuantile,
} from '../src/index';
import { expectRel, python, sums } from './scipy';

const EST = 1e-10;
const P = 1e-6;

describe('distribution functions against scipy', () => {
  it('t, normal and χ² agree with scipy to 1e-9 relative', () => {
    const ref = python<{ t: number[][]; tq: number[][]; nq: number[][]; chi: number[][]; n: number[][] }>(`
import json
from scipy import stats
t=[]; tq=[]; nq=[]; chi=[]; n=[]
for df in [1, 2.5, 7, 30, 123.4, 5000, 1e6]:
    for x in [-40, -8, -3.1, -1, -0.2, 0.7, 2, 5.5]:
        t.append([x, df, float(stats.t.cdf(x, df))])
    for p in [1e-10, 1e-4, 0.025, 0.3, 0.5, 0.8, 0.975, 0.999]:
        tq.append([p, df, float(stats.t.ppf(p, df))])
for p in [1e-12, 1e-5, 0.001, 0.05, 0.4, 0.6, 0.95, 0.9999]:
    nq.append([p, float(stats.norm.ppf(p))])
for x in [-30, -5, -1.5, 0.3, 2.2, 6]:
    n.append([x, float(stats.norm.cdf(x))])
for k in [1, 2, 3, 9, 40]:
    for x in [0.01, 0.5, 3.84, 10, 45, 120]:
        chi.append([x, k, float(stats.chi2.sf(x, k))])
print(json.dumps(dict(t=t, tq=tq, nq=nq, chi=chi, n=n)))
`);
    for (const [x, df, p] of ref.t) expectRel(tCdf(x!, df!), p!, 1e-9, `t.cdf(${x}, ${df})`);
    // scipy 1.10's t.ppf itself is only good to ~2e-9 (its own t.cdf shows it), so quantiles are held to
    // 1e-8 against it and to 1e-12 in the round trip through the CDF checked above.
    for (const [p, df, q] of ref.tq) {
      // The median of t is 0 by symmetry; scipy 1.10 answers ~1e-16 there, which no relative tolerance can match.
      if (p === 0.5) expect(tQuantile(p, df!), `t.ppf(0.5, ${df})`).toBe(0);
      else expectRel(tQuantile(p!, df!), q!, 1e-8, `t.ppf(${p}, ${df})`);
      expectRel(tCdf(tQuantile(p!, df!), df!), p!, 1e-12, `t.cdf(t.ppf(${p}, ${df}))`);
    }
    for (const [p, q] of ref.nq) expectRel(normalQuantile(p!), q!, 1e-9, `norm.ppf(${p})`);
    for (const [x, p] of ref.n) expectRel(normalCdf(x!), p!, 1e-9, `norm.cdf(${x})`);
    for (const [x, k, p] of ref.chi) expectRel(chiSquareSf(x!, k!), p!, 1e-9, `chi2.sf(${x}, ${k})`);
  });
});

interface Samples {
  a: number[];
  b: number[];
}

describe('two-sample tests against scipy', () => {
  const data = python<
    Samples & {
      t: number;
      p: number;
      dof: number;
      lo: number;
      hi: number;
      rel: number;
      rlo: number;
      rhi: number;
      rp: number;
    }
  >(`
import json, numpy as np
from scipy import stats
rng = np.random.default_rng(7)
a = rng.lognormal(3.0, 0.8, 1500); b = rng.lognormal(3.05, 0.85, 1700)
r = stats.ttest_ind(b, a, equal_var=False)
va, vb = a.var(ddof=1)/len(a), b.var(ddof=1)/len(b)
dof = (va+vb)**2/(va**2/(len(a)-1) + vb**2/(len(b)-1))
d = b.mean()-a.mean(); q = stats.t.ppf(0.975, dof); se = np.sqrt(va+vb)
ma, mb = a.mean(), b.mean()
rel = mb/ma - 1
rse = np.sqrt(vb/ma**2 + va*mb**2/ma**4)
print(json.dumps(dict(a=a.tolist(), b=b.tolist(), t=r.statistic, p=r.pvalue, dof=dof, lo=d-q*se, hi=d+q*se,
  rel=rel, rlo=rel-q*rse, rhi=rel+q*rse, rp=2*stats.t.sf(abs(rel/rse), dof))))
`);
  // Computed inside each test: an exception must fail a test, not the collection of the file.
  const c = () =>
    compareArms(meanEstimate(sums(data.a)), meanEstimate(sums(data.b)), { alpha: 0.05, test: 't' });

  it('Welch t-test: statistic, Welch–Satterthwaite dof, p-value and CI match scipy.stats.ttest_ind(equal_var=False)', () => {
    expectRel(c().absolute.statistic, data.t, P, 't');
    expectRel(c().dof, data.dof, P, 'dof');
    expectRel(c().absolute.pValue, data.p, P, 'p');
    expectRel(c().absolute.ci[0], data.lo, P, 'ci lo');
    expectRel(c().absolute.ci[1], data.hi, P, 'ci hi');
  });

  it('relative effect and its delta-method CI match the formula evaluated with numpy', () => {
    expectRel(c().relative.effect, data.rel, EST, 'relative effect');
    expectRel(c().relative.ci[0], data.rlo, P, 'relative lo');
    expectRel(c().relative.ci[1], data.rhi, P, 'relative hi');
    expectRel(c().relative.pValue, data.rp, P, 'relative p');
  });

  it('z-test of two proportions (Wald, unpooled) matches scipy.stats.norm', () => {
    const ref = python<{ a: number[]; b: number[]; z: number; p: number; lo: number; hi: number }>(`
import json, numpy as np
from scipy import stats
rng = np.random.default_rng(11)
a = (rng.random(4000) < 0.10).astype(float); b = (rng.random(4100) < 0.115).astype(float)
pa, pb = a.mean(), b.mean(); se = np.sqrt(pa*(1-pa)/len(a) + pb*(1-pb)/len(b))
z = (pb-pa)/se; q = stats.norm.ppf(0.975)
print(json.dumps(dict(a=a.tolist(), b=b.tolist(), z=z, p=2*stats.norm.sf(abs(z)), lo=pb-pa-q*se, hi=pb-pa+q*se)))
`);
    const z = compareArms(proportionEstimate(sums(ref.a)), proportionEstimate(sums(ref.b)), {
      alpha: 0.05,
      test: 'z',
    });
    expectRel(z.absolute.statistic, ref.z, P, 'z');
    expectRel(z.absolute.pValue, ref.p, P, 'p');
    expectRel(z.absolute.ci[0], ref.lo, P, 'lo');
    expectRel(z.absolute.ci[1], ref.hi, P, 'hi');
  });
});

describe('ratio metrics and CUPED against numpy/scipy', () => {
  it('ratio (clicks / impressions per user) by the delta method equals a Welch test on the linearised values', () => {
    const ref = python<{
      ca: number[];
      ia: number[];
      cb: number[];
      ib: number[];
      ra: number;
      rb: number;
      t: number;
      p: number;
      rel: number;
      rlo: number;
      rhi: number;
    }>(`
import json, numpy as np
from scipy import stats
rng = np.random.default_rng(3)
ia = rng.poisson(12, 3000)+1; ib = rng.poisson(12, 3100)+1
ca = rng.binomial(ia, 0.08); cb = rng.binomial(ib, 0.088)
ra, rb = ca.sum()/ia.sum(), cb.sum()/ib.sum()
la = (ca - ra*ia)/ia.mean(); lb = (cb - rb*ib)/ib.mean()
r = stats.ttest_ind(lb + rb, la + ra, equal_var=False)
va, vb = la.var(ddof=1)/len(la), lb.var(ddof=1)/len(lb)
dof = (va+vb)**2/(va**2/(len(la)-1) + vb**2/(len(lb)-1))
rel = rb/ra-1; rse = np.sqrt(vb/ra**2 + va*rb**2/ra**4); q = stats.t.ppf(0.975, dof)
print(json.dumps(dict(ca=ca.tolist(), ia=ia.tolist(), cb=cb.tolist(), ib=ib.tolist(), ra=ra, rb=rb, t=r.statistic, p=r.pvalue, rel=rel, rlo=rel-q*rse, rhi=rel+q*rse)))
`);
    const ratioSums = (num: number[], den: number[]) => {
      const s = { n: num.length, sumNum: 0, sumNumSquares: 0, sumDen: 0, sumDenSquares: 0, sumNumDen: 0 };
      for (const [i, x] of num.entries()) {
        const y = den[i]!;
        s.sumNum += x;
        s.sumNumSquares += x * x;
        s.sumDen += y;
        s.sumDenSquares += y * y;
        s.sumNumDen += x * y;
      }
      return s;
    };
    const a = ratioEstimate(ratioSums(ref.ca, ref.ia));
    const b = ratioEstimate(ratioSums(ref.cb, ref.ib));
    expectRel(a.estimate, ref.ra, EST, 'ratio A');
    expectRel(b.estimate, ref.rb, EST, 'ratio B');
    const c = compareArms(a, b, { alpha: 0.05, test: 't' });
    expectRel(c.absolute.statistic, ref.t, P, 't');
    expectRel(c.absolute.pValue, ref.p, P, 'p');
    expectRel(c.relative.effect, ref.rel, EST, 'relative');
    expectRel(c.relative.ci[0], ref.rlo, P, 'relative lo');
    expectRel(c.relative.ci[1], ref.rhi, P, 'relative hi');
  });

  it('CUPED with θ pooled over arms equals a Welch test on y − θ(x − x̄) with θ from numpy least squares', () => {
    const ref = python<{
      ya: number[];
      xa: number[];
      yb: number[];
      xb: number[];
      theta: number;
      t: number;
      p: number;
      d: number;
      rawSe: number;
      adjSe: number;
    }>(`
import json, numpy as np
from scipy import stats
rng = np.random.default_rng(5)
xa = rng.gamma(2.0, 30, 2500); xb = rng.gamma(2.0, 30, 2600)
ya = 0.7*xa + rng.normal(20, 15, 2500); yb = 0.7*xb + rng.normal(22, 15, 2600)
# θ: least squares slope of y on x with a separate intercept per arm
X = np.column_stack([np.concatenate([xa, xb]), np.concatenate([np.ones(2500), np.zeros(2600)]), np.concatenate([np.zeros(2500), np.ones(2600)])])
theta = np.linalg.lstsq(X, np.concatenate([ya, yb]), rcond=None)[0][0]
xm = np.concatenate([xa, xb]).mean()
aa, ab = ya - theta*(xa-xm), yb - theta*(xb-xm)
r = stats.ttest_ind(ab, aa, equal_var=False)
raw = np.sqrt(ya.var(ddof=1)/2500 + yb.var(ddof=1)/2600); adj = np.sqrt(aa.var(ddof=1)/2500 + ab.var(ddof=1)/2600)
print(json.dumps(dict(ya=ya.tolist(), xa=xa.tolist(), yb=yb.tolist(), xb=xb.tolist(), theta=theta, t=r.statistic, p=r.pvalue, d=ab.mean()-aa.mean(), rawSe=raw, adjSe=adj)))
`);
    const cov = (y: number[], x: number[]) => {
      const s = { ...sums(y), sumPre: 0, sumPreSquares: 0, sumCross: 0 };
      for (const [i, v] of x.entries()) {
        s.sumPre += v;
        s.sumPreSquares += v * v;
        s.sumCross += v * y[i]!;
      }
      return s;
    };
    const sa = cov(ref.ya, ref.xa);
    const sb = cov(ref.yb, ref.xb);
    const theta = cupedTheta([sa, sb]);
    expectRel(theta, ref.theta, EST, 'θ');
    const pooled = (sa.sumPre + sb.sumPre) / (sa.n + sb.n);
    const c = compareArms(cupedEstimate(sa, theta, pooled), cupedEstimate(sb, theta, pooled), {
      alpha: 0.05,
      test: 't',
    });
    expectRel(c.absolute.effect, ref.d, EST, 'adjusted effect');
    expectRel(c.absolute.statistic, ref.t, P, 't');
    expectRel(c.absolute.pValue, ref.p, P, 'p');
    expectRel(c.absolute.standardError, ref.adjSe, P, 'se');
    expect(c.absolute.standardError).toBeLessThan(ref.rawSe * 0.8);
  });
});

describe('SRM, non-inferiority, corrections, sequential, Bayesian, power', () => {
  it('SRM χ² matches scipy.stats.chisquare against the configured split', () => {
    const ref = python<[number, number][]>(`
import json
from scipy import stats
cases = [([5000, 5210], [0.5, 0.5]), ([10000, 10600], [0.5, 0.5]), ([3100, 2950, 6010], [0.25, 0.25, 0.5]), ([900, 2100], [0.3, 0.7])]
out = []
for obs, w in cases:
    exp = [sum(obs)*x for x in w]
    r = stats.chisquare(obs, exp)
    out.append([r.statistic, r.pvalue])
print(json.dumps(out))
`);
    const cases: [number[], number[]][] = [
      [
        [5000, 5210],
        [0.5, 0.5],
      ],
      [
        [10000, 10600],
        [0.5, 0.5],
      ],
      [
        [3100, 2950, 6010],
        [25, 25, 50],
      ],
      [
        [900, 2100],
        [30, 70],
      ],
    ];
    for (const [i, [obs, w]] of cases.entries()) {
      const r = sampleRatioMismatch(obs, w);
      expectRel(r.chiSquare, ref[i]![0], EST, 'χ²');
      expectRel(r.pValue, ref[i]![1], P, 'p');
    }
    expect(sampleRatioMismatch([10000, 10600], [1, 1]).pValue).toBeLessThan(0.001);
  });

  it('non-inferiority with a relative margin matches the one-sided t-test from scipy', () => {
    const ref = python<Samples & { p: number; bound: number; p2: number; bound2: number }>(`
import json, numpy as np
from scipy import stats
rng = np.random.default_rng(9)
a = rng.normal(300, 90, 2000); b = rng.normal(297, 92, 2100)
va, vb = a.var(ddof=1)/len(a), b.var(ddof=1)/len(b)
dof = (va+vb)**2/(va**2/(len(a)-1) + vb**2/(len(b)-1))
ma, mb = a.mean(), b.mean(); rel = mb/ma-1; rse = np.sqrt(vb/ma**2 + va*mb**2/ma**4)
print(json.dumps(dict(a=a.tolist(), b=b.tolist(), p=stats.t.sf((rel+0.02)/rse, dof), bound=rel-stats.t.ppf(0.95, dof)*rse,
  p2=stats.t.cdf((rel-0.02)/rse, dof), bound2=rel+stats.t.ppf(0.95, dof)*rse)))
`);
    const c = compareArms(meanEstimate(sums(ref.a)), meanEstimate(sums(ref.b)), { alpha: 0.05, test: 't' });
    const up = nonInferiority(c, 0.02, 'increase', 0.05);
    expectRel(up.pValue!, ref.p, P, 'p (higher is better)');
    expectRel(up.bound, ref.bound, P, 'bound');
    expect(up.nonInferior).toBe(ref.p < 0.05);
    const down = nonInferiority(c, 0.02, 'decrease', 0.05);
    expectRel(down.pValue!, ref.p2, P, 'p (lower is better)');
    expectRel(down.bound, ref.bound2, P, 'bound (lower is better)');
  });

  it('Holm and Benjamini–Hochberg match their step-down/step-up definitions computed with numpy', () => {
    const p = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04];
    const ref = python<{ holm: number[]; bh: number[] }>(`
import json, numpy as np
p = np.array(${JSON.stringify(p)}); m = len(p); o = np.argsort(p, kind='stable')
h = np.minimum(1, np.maximum.accumulate((m - np.arange(m)) * p[o])); holm = np.empty(m); holm[o] = h
b = np.minimum(1, np.minimum.accumulate((m / np.arange(m, 0, -1)) * p[o][::-1]))[::-1]; bh = np.empty(m); bh[o] = b
print(json.dumps(dict(holm=holm.tolist(), bh=bh.tolist())))
`);
    for (const [i, v] of adjustPValues(p, 'holm').entries()) expectRel(v, ref.holm[i]!, EST, `holm[${i}]`);
    for (const [i, v] of adjustPValues(p, 'bh').entries()) expectRel(v, ref.bh[i]!, EST, `bh[${i}]`);
  });

  it('sequential CI and always-valid p-value follow the normal-mixture boundary (numpy re-derivation) and are wider than fixed CIs', () => {
    const ref = python<{ hw: number; p: number; rho: number }>(`
import json, numpy as np
alpha, N, n, s2, d = 0.05, 5000, 8000, 2.5, 0.06
rho = np.sqrt((-2*np.log(alpha) + np.log(-2*np.log(alpha)+1))/N)
hw = np.sqrt(s2) * np.sqrt(2*(n*rho**2+1)*np.log(np.sqrt(n*rho**2+1)/alpha)/(n*rho)**2)
ev = np.exp(rho**2 * (d**2*n*n/s2) / (2*(n*rho**2+1))) / np.sqrt(n*rho**2+1)
print(json.dumps(dict(hw=hw, p=min(1, 1/ev), rho=rho)))
`);
    const rho = sequentialRho(0.05, 5000);
    expectRel(rho, ref.rho, EST, 'ρ');
    expectRel(sequentialHalfwidth(2.5, 8000, 0.05, rho), ref.hw, EST, 'halfwidth');
    expectRel(sequentialPValue(0.06, 2.5, 8000, rho), ref.p, EST, 'p');
    const a: ArmEstimate = {
      n: 4000,
      estimate: 1,
      variance: 1.2,
      baseline: 1,
      baselineVariance: 1.2,
      covariance: 1.2,
    };
    const b = { ...a, estimate: 1.06 };
    const fixed = compareArms(a, b, { alpha: 0.05, test: 'z' });
    const seq = compareArms(a, b, { alpha: 0.05, test: 'z', sequential: { tuning: 5000 } });
    expect(seq.absolute.ci[1] - seq.absolute.ci[0]).toBeGreaterThan(
      fixed.absolute.ci[1] - fixed.absolute.ci[0],
    );
    // The always-valid p-value is below α exactly when the confidence sequence excludes zero.
    let excluded = 0;
    for (let k = 0; k <= 40; k++) {
      const s = compareArms(
        a,
        { ...a, estimate: 1 + k * 0.005 },
        { alpha: 0.05, test: 'z', sequential: { tuning: 5000 } },
      );
      const excludes = s.absolute.ci[0] > 0 || s.absolute.ci[1] < 0;
      if (excludes) excluded++;
      expect(s.absolute.pValue < 0.05, `effect ${k * 0.005}`).toBe(excludes);
    }
    expect(excluded).toBeGreaterThan(5);
    expect(excluded).toBeLessThan(40);
  });

  it('chance to win and expected loss match gbstats’ truncated-normal formulation in scipy', () => {
    const ref = python<{ ctw: number; risk: number; riskCtrl: number }>(`
import json
from scipy.stats import norm, truncnorm
mu, sigma = 0.013, 0.009
p_ctrl = norm.cdf(0, loc=mu, scale=sigma)
mn_neg = truncnorm.mean(a=-float('inf'), b=(0-mu)/sigma, loc=mu, scale=sigma)
mn_pos = truncnorm.mean(a=(0-mu)/sigma, b=float('inf'), loc=mu, scale=sigma)
print(json.dumps(dict(ctw=1-p_ctrl, risk=-p_ctrl*mn_neg, riskCtrl=(1-p_ctrl)*mn_pos)))
`);
    const c = {
      relative: { effect: 0.013, standardError: 0.009, ci: [0, 0], pValue: 1, statistic: 0 },
    } as unknown as Parameters<typeof bayesian>[0];
    const r = bayesian(c, 'increase');
    expectRel(r.chanceToWin, ref.ctw, P, 'chance to win');
    expectRel(r.expectedLoss, ref.risk, P, 'expected loss');
    expectRel(r.expectedLossControl, ref.riskCtrl, P, 'expected loss of control');
  });

  it('required sample size matches the normal-approximation formula and powers the test in a scipy check', () => {
    const n = requiredSampleSize({
      varianceControl: 0.09,
      varianceTreatment: 0.09,
      weightControl: 1,
      weightTreatment: 1,
      baseline: 0.1,
      mde: 0.1,
      alpha: 0.05,
      power: 0.8,
    });
    const ref = python<{ n: number; power: number }>(`
import json, math
from scipy.stats import norm
z = norm.ppf(0.975) + norm.ppf(0.8); n = math.ceil(z*z*(0.09/0.5 + 0.09/0.5)/(0.01**2))
se = math.sqrt(0.09/(n/2)*2)
print(json.dumps(dict(n=n, power=norm.sf(norm.ppf(0.975) - 0.01/se))))
`);
    expect(n).toBe(ref.n);
    expect(ref.power).toBeGreaterThanOrEqual(0.8);
    const seq = requiredSampleSize({
      varianceControl: 0.09,
      varianceTreatment: 0.09,
      weightControl: 1,
      weightTreatment: 1,
      baseline: 0.1,
      mde: 0.1,
      alpha: 0.05,
      power: 0.8,
      sequential: { tuning: 5000 },
    });
    expect(seq).toBeGreaterThan(n);
  });
});
