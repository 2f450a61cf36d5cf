import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { analyze, type MetricResult, parseExperiment, planQuery } from '../src/index';
import { PRELUDE } from './references';
import { close, unitSums, units } from './unit-sums';

/**
 * Every estimator analyze() routes a metric to, against numpy/scipy on the raw per-unit values: Welch
 * t (scipy.stats.ttest_ind, equal_var=False), the Wald z-test of two proportions, the delta-method
 * ratio on linearised values, CUPED with θ from least squares (one intercept per arm, or one slope over
 * both arms) and CUPED on a ratio through the linearised ratio and pre-period ratio (Deng et al. 2013).
 * Relative effects use the delta method over (the arm's estimate, its unadjusted mean); guardrails the
 * one-sided t bound; sample sizes the normal-approximation formula with the configured split.
 */

interface Ref {
  meanA: number;
  meanB?: number;
  effect: number;
  lo: number;
  hi: number;
  p: number;
  rel: number;
  rlo: number;
  rhi: number;
  rp: number;
  se: number;
  rse: number;
  dof: number | null;
  va: number;
  vb: number;
  theta?: number;
  reduction?: number;
  n?: number;
  bayes?: Record<
    'chanceToWin' | 'expectedLoss' | 'expectedLossControl' | 'posteriorMean' | 'posteriorSd',
    number
  >;
  ni?: { margin: number; scale: string; pValue: number; bound: number; status: string };
}

function expectMatches(r: MetricResult, ref: Ref) {
  const what = r.name;
  close(r.control.mean, ref.meanA, `${what} control mean`);
  if (ref.meanB !== undefined) close(r.treatment.mean, ref.meanB, `${what} treatment mean`);
  close(r.effect, ref.effect, `${what} effect`);
  close(r.ci?.[0], ref.lo, `${what} ci low`);
  close(r.ci?.[1], ref.hi, `${what} ci high`);
  close(r.pValue, ref.p, `${what} p`);
  close(r.relativeEffect, ref.rel, `${what} relative effect`);
  close(r.relativeCi?.[0], ref.rlo, `${what} relative ci low`);
  close(r.relativeCi?.[1], ref.rhi, `${what} relative ci high`);
  close(r.relativePValue, ref.rp, `${what} relative p`);
  if (ref.dof === null) expect(r.dof, `${what} dof`).toBeNull();
  else close(r.dof, ref.dof, `${what} dof`);
  if (ref.theta !== undefined) {
    close(r.cuped?.theta, ref.theta, `${what} θ`);
    close(r.cuped?.varianceReduction, ref.reduction!, `${what} variance reduction`);
  } else expect(r.cuped, `${what} has no CUPED`).toBeUndefined();
  if (ref.n !== undefined) expect(r.requiredUnits, `${what} required units`).toBe(ref.n);
  if (ref.bayes) {
    const b = r.bayesian!;
    close(b.chanceToWin, ref.bayes.chanceToWin, `${what} chance to win`);
    close(b.posteriorMean, ref.bayes.posteriorMean, `${what} posterior mean`);
    close(b.posteriorSd, ref.bayes.posteriorSd, `${what} posterior sd`);
    close(b.expectedLoss, ref.bayes.expectedLoss, `${what} expected loss`, 1e-6);
    close(b.expectedLossControl, ref.bayes.expectedLossControl, `${what} loss of control`, 1e-6);
  }
  if (ref.ni) {
    const ni = r.nonInferiority!;
    expect({ margin: ni.margin, scale: ni.scale, status: ni.status }).toEqual({
      margin: ref.ni.margin,
      scale: ref.ni.scale,
      status: ref.ni.status,
    });
    close(ni.pValue, ref.ni.pValue, `${what} non-inferiority p`);
    close(ni.bound, ref.ni.bound, `${what} non-inferiority bound`);
  } else expect(r.nonInferiority, `${what} is no guardrail`).toBeUndefined();
}

interface Data {
  a: Record<string, number[]>;
  b: Record<string, number[]>;
  refs: Record<string, Ref>;
}

const DATA = `
rng = np.random.default_rng(11)
def arm(n, lift):
    pre = rng.normal(300, 60, n)
    impressions = 1 + rng.poisson(20, n)
    sessions = 1 + rng.poisson(3, n)
    pre_sessions = 1 + rng.poisson(3, n)
    pre_spend = pre_sessions * rng.normal(10, 3, n)
    return dict(
        revenue=rng.normal(100 * lift, 30, n),
        converted=(rng.random(n) < 0.1 * lift).astype(float),
        clicks=rng.binomial(impressions, 0.05 * lift).astype(float),
        impressions=impressions.astype(float),
        session=0.8 * pre + rng.normal(70 * lift, 25, n),
        pre_session=pre,
        spend=0.7 * pre_spend + sessions * rng.normal(4 * lift, 2, n),
        sessions=sessions.astype(float),
        pre_spend=pre_spend,
        pre_sessions=pre_sessions.astype(float),
        latency=rng.normal(200 / lift, 40, n),
    )
A, B = arm(1200, 1.0), arm(800, 1.04)
`;

describe('analyze() estimators against numpy/scipy on the per-unit values', () => {
  it('Welch t, Wald z, t on a proportion, a delta-method ratio, CUPED (pooled within arm) and CUPED on a ratio', () => {
    const e = parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
split: { A: 60, B: 40 }
alpha: 0.1
metrics:
  - { name: revenue, kind: mean, column: revenue, role: primary }
  - { name: conversion, kind: proportion, column: converted }
  - { name: conversion_t, kind: proportion, column: converted, test: t }
  - { name: ctr, kind: ratio, numerator: clicks, denominator: impressions }
  - { name: ctr_z, kind: ratio, numerator: clicks, denominator: impressions, test: z }
  - { name: session, kind: mean, column: session, pre: pre_session }
  - { name: spend, kind: ratio, numerator: spend, denominator: sessions, pre-numerator: pre_spend, pre-denominator: pre_sessions, mde: 3% }
  - { name: latency, kind: mean, column: latency, role: guardrail, direction: decrease, margin: 5%, mde: 4%, prior: { mean: 1%, sd: 5% } }
  - { name: session_floor, kind: mean, column: session, role: guardrail, absolute-margin: 4 }
`);
    const ref = python<Data>(`${PRELUDE}${DATA}
alpha = 0.1
refs = {}
a, b = A['revenue'], B['revenue']
refs['revenue'] = plain(a, b, alpha)
refs['revenue']['p_scipy'] = stats.ttest_ind(b, a, equal_var=False).pvalue
pa, pb = A['converted'].mean(), B['converted'].mean()
na, nb = len(A['converted']), len(B['converted'])
refs['conversion'] = compare(pa, pb, pa, pa * (1 - pa), pb * (1 - pb), pa * (1 - pa), pa * (1 - pa), na, nb, alpha, 'z')
refs['conversion_t'] = plain(A['converted'], B['converted'], alpha)
for name, test in (('ctr', 't'), ('ctr_z', 'z')):
    ra, la = linearised(A['clicks'], A['impressions'])
    rb, lb = linearised(B['clicks'], B['impressions'])
    va, vb = la.var(ddof=1), lb.var(ddof=1)
    refs[name] = compare(ra, rb, ra, va, vb, va, va, na, nb, alpha, test)
    refs[name]['meanB'] = rb
# CUPED: θ is the slope of a least-squares fit with one intercept per arm.
y = np.concatenate([A['session'], B['session']]); x = np.concatenate([A['pre_session'], B['pre_session']])
isb = np.concatenate([np.zeros(na), np.ones(nb)])
theta = np.linalg.lstsq(np.column_stack([x, 1 - isb, isb]), y, rcond=None)[0][0]
adj = y - theta * (x - x.mean())
ya, yb = adj[:na], adj[na:]
c = compare(ya.mean(), yb.mean(), A['session'].mean(), ya.var(ddof=1), yb.var(ddof=1), A['session'].var(ddof=1),
            np.cov(ya, A['session'], ddof=1)[0, 1], na, nb, alpha, 't')
c['theta'] = theta
c['reduction'] = 1 - (ya.var(ddof=1) / na + yb.var(ddof=1) / nb) / (A['session'].var(ddof=1) / na + B['session'].var(ddof=1) / nb)
c['meanB'] = B['session'].mean()
refs['session'] = c
# CUPED on a ratio: the linearised ratio regressed on the linearised pre-period ratio (both centre on 0 per arm).
ra, la = linearised(A['spend'], A['sessions']); rb, lb = linearised(B['spend'], B['sessions'])
pa_, ka = linearised(A['pre_spend'], A['pre_sessions']); pb_, kb = linearised(B['pre_spend'], B['pre_sessions'])
theta = np.linalg.lstsq(np.concatenate([ka, kb])[:, None], np.concatenate([la, lb]), rcond=None)[0][0]
pooled = (A['pre_spend'].sum() + B['pre_spend'].sum()) / (A['pre_sessions'].sum() + B['pre_sessions'].sum())
ua, ub = la - theta * ka, lb - theta * kb
c = compare(ra - theta * (pa_ - pooled), rb - theta * (pb_ - pooled), ra, ua.var(ddof=1), ub.var(ddof=1), la.var(ddof=1),
            np.cov(ua, la, ddof=1)[0, 1], na, nb, alpha, 't')
c['theta'] = theta
c['reduction'] = 1 - (ua.var(ddof=1) / na + ub.var(ddof=1) / nb) / (la.var(ddof=1) / na + lb.var(ddof=1) / nb)
c['meanB'] = rb
refs['spend'] = c
refs['latency'] = plain(A['latency'], B['latency'], alpha)
refs['session_floor'] = plain(A['session'], B['session'], alpha)
refs['session_floor']['meanB'] = B['session'].mean()
# direction, prior (mean, sd), the relative mde the sample size uses, and the α it spends (guardrails are one-sided).
specs = dict(latency=(-1, (0.01, 0.05), 0.04, 2 * alpha),
             session_floor=(1, None, 4 / abs(refs['session_floor']['meanA']), 2 * alpha), spend=(1, None, 0.03, alpha))
for name, r in refs.items():
    sign, prior, mde, a_ = specs.get(name, (1, None, 0.01, alpha))
    z = stats.norm.ppf(1 - a_ / 2) + stats.norm.ppf(0.8)
    r['n'] = int(np.ceil(z * z * (r['va'] / 0.6 + r['vb'] / 0.4) / (mde * r['meanA']) ** 2))
    mean, sd = r['rel'], r['rse']
    if prior:
        precision = 1 / sd ** 2 + 1 / prior[1] ** 2
        mean, sd = (mean / sd ** 2 + prior[0] / prior[1] ** 2) / precision, np.sqrt(1 / precision)
    mu = sign * mean
    # The mean of a rectified normal: E[max(0, X)] = μΦ(μ/σ) + σφ(μ/σ), and E[max(0, −X)] with −μ.
    rectified = lambda m: m * stats.norm.cdf(m / sd) + sd * stats.norm.pdf(m / sd)
    r['bayes'] = dict(chanceToWin=stats.norm.sf(0, mu, sd), expectedLoss=rectified(-mu),
                      expectedLossControl=rectified(mu), posteriorMean=mean, posteriorSd=sd)
# Non-inferiority, one-sided at α: latency (lower is better) may not rise by 5 %, session may not fall by 4 (absolute).
r = refs['latency']; q1 = stats.t.ppf(1 - alpha, r['dof'])
r['ni'] = dict(margin=0.05, scale='relative', pValue=stats.t.sf((0.05 - r['rel']) / r['rse'], r['dof']),
               bound=r['rel'] + q1 * r['rse'],
               status='pass' if r['rel'] + q1 * r['rse'] < 0.05 else 'fail' if r['rel'] - q1 * r['rse'] > 0.05 else 'inconclusive')
r = refs['session_floor']; q1 = stats.t.ppf(1 - alpha, r['dof'])
r['ni'] = dict(margin=4, scale='absolute', pValue=stats.t.sf((r['effect'] + 4) / r['se'], r['dof']),
               bound=r['effect'] - q1 * r['se'],
               status='pass' if r['effect'] - q1 * r['se'] > -4 else 'fail' if r['effect'] + q1 * r['se'] < -4 else 'inconclusive')
print(json.dumps(dict(a={k: v.tolist() for k, v in A.items()}, b={k: v.tolist() for k, v in B.items()}, refs=refs), default=float))
`);
    const a = analyze(e, planQuery(e), unitSums(e, { A: units(ref.a), B: units(ref.b) }));
    const byName = Object.fromEntries(a.metrics.map((m) => [m.name, m]));
    expect(Object.keys(byName)).toEqual([
      'revenue',
      'conversion',
      'conversion_t',
      'ctr',
      'ctr_z',
      'session',
      'spend',
      'latency',
      'session_floor',
    ]);
    for (const [name, r] of Object.entries(ref.refs)) expectMatches(byName[name]!, r);
    close(
      byName.revenue!.pValue,
      (ref.refs.revenue as Ref & { p_scipy: number }).p_scipy,
      'revenue p (ttest_ind)',
    );
    expect(byName.revenue!.method).toBe('Welch t-test');
    expect(byName.conversion!.method).toBe('z-test');
    expect(byName.conversion_t!.method).toBe('Welch t-test');
    expect(byName.ctr!.method).toBe('delta-method ratio, Welch t');
    expect(byName.ctr_z!.method).toBe('delta-method ratio, z');
    expect(byName.session!.method).toBe('CUPED (θ pooled-within-arm), Welch t');
    expect(byName.spend!.method).toBe('delta-method ratio with CUPED (θ pooled-within-arm), Welch t');
    for (const r of a.metrics) {
      expect(r.sequential).toBe(false);
      expect(r.control).toMatchObject({ variant: 'A', units: 1200 });
      expect(r.treatment).toMatchObject({ variant: 'B', units: 800 });
      expect(r.warning).toBeUndefined();
      expect(r.error).toBeUndefined();
    }
  });

  it('CUPED with θ fitted over both arms ignoring the arm (cuped: overall), z-test on a mean', () => {
    const e = parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
cuped: overall
prior: { mean: 0, sd: 30% }
metrics:
  - { name: session, kind: mean, column: session, pre: pre_session, role: primary, test: z }
`);
    const ref = python<Data>(`${PRELUDE}${DATA}
na, nb = 1200, 800
y = np.concatenate([A['session'], B['session']]); x = np.concatenate([A['pre_session'], B['pre_session']])
theta = np.polyfit(x, y, 1)[0]
adj = y - theta * (x - x.mean())
ya, yb = adj[:na], adj[na:]
c = compare(ya.mean(), yb.mean(), A['session'].mean(), ya.var(ddof=1), yb.var(ddof=1), A['session'].var(ddof=1),
            np.cov(ya, A['session'], ddof=1)[0, 1], na, nb, 0.05, 'z')
c['theta'] = theta
c['reduction'] = 1 - (ya.var(ddof=1) / na + yb.var(ddof=1) / nb) / (A['session'].var(ddof=1) / na + B['session'].var(ddof=1) / nb)
c['meanB'] = B['session'].mean()
z = stats.norm.ppf(1 - 0.05 / 2) + stats.norm.ppf(0.8)
c['n'] = int(np.ceil(z * z * (c['va'] / 0.5 + c['vb'] / 0.5) / (0.01 * c['meanA']) ** 2))
# The experiment's normal prior on the relative effect, N(0, 0.3²), by precision weighting.
precision = 1 / c['rse'] ** 2 + 1 / 0.3 ** 2
mean, sd = c['rel'] / c['rse'] ** 2 / precision, np.sqrt(1 / precision)
rectified = lambda m: m * stats.norm.cdf(m / sd) + sd * stats.norm.pdf(m / sd)
c['bayes'] = dict(chanceToWin=stats.norm.sf(0, mean, sd), expectedLoss=rectified(-mean), expectedLossControl=rectified(mean),
                  posteriorMean=mean, posteriorSd=sd)
print(json.dumps(dict(a={k: v.tolist() for k, v in A.items()}, b={k: v.tolist() for k, v in B.items()}, refs=dict(session=c)), default=float))
`);
    // 1200/800 against the default even split is a sample ratio mismatch: the estimates are still reported.
    const a = analyze(e, planQuery(e), unitSums(e, { A: units(ref.a), B: units(ref.b) }));
    expectMatches(a.metrics[0]!, ref.refs.session!);
    expect(a.metrics[0]!.method).toBe('CUPED (θ overall), z');
    expect(a.decision).toBe('invalid');
  });
});
