import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { analyze, type Experiment, parseExperiment, planQuery, type VariantSums } from '../src/index';
import { PRELUDE } from './references';
import { close, spread, unitSums, units } from './unit-sums';

/**
 * Boundaries of analyze(): CUPED whose covariate column the plan met before the metric's own column (the
 * product sums are keyed by the smaller index first), arms of equal size, a covariate that cannot reduce
 * a variance that is already zero, a mean compared by z, proportions summed with rounding noise by a
 * warehouse, rows without a variant, sequential flags on untestable metrics, the Bayesian switch, a
 * group-sequential sample size, and exactly as many units as the rule wants.
 */
function definition(metrics: string, extra = ''): Experiment {
  return parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
${extra}
metrics:
${metrics}`);
}

interface Data {
  a: Record<string, number[]>;
  b: Record<string, number[]>;
  refs: Record<
    string,
    { rel: number; rlo: number; rhi: number; rp: number; theta?: number; dof: number | null }
  >;
}

describe('CUPED with the covariate planned before the metric, arms of equal size', () => {
  it('θ and the relative effect of a mean and of a ratio match numpy', () => {
    const e = definition(`
  - { name: pre_level, kind: mean, column: pre_session }
  - { name: pre_rate, kind: ratio, numerator: pre_spend, denominator: pre_sessions }
  - { name: session, kind: mean, column: session, pre: pre_session, role: primary }
  - { name: spend, kind: ratio, numerator: spend, denominator: sessions, pre-numerator: pre_spend, pre-denominator: pre_sessions }
`);
    const ref = python<Data>(`${PRELUDE}
rng = np.random.default_rng(31)
n = 1000
def arm(lift, pre_sessions):
    pre = rng.normal(300, 60, n)
    sessions = 1 + rng.poisson(3, n)
    pre_spend = pre_sessions * rng.normal(10, 3, n)
    return dict(session=0.8 * pre + rng.normal(70 * lift, 25, n), pre_session=pre,
                spend=0.7 * pre_spend + sessions * rng.normal(4 * lift, 2, n), sessions=sessions.astype(float),
                pre_spend=pre_spend, pre_sessions=pre_sessions)
# The same pre-period sessions in both arms, shuffled: equal sums, as a balanced pre-period can give.
pre_sessions = (1 + rng.poisson(3, n)).astype(float)
A, B = arm(1.0, pre_sessions), arm(1.03, rng.permutation(pre_sessions))
refs = {}
y = np.concatenate([A['session'], B['session']]); x = np.concatenate([A['pre_session'], B['pre_session']])
isb = np.concatenate([np.zeros(n), np.ones(n)])
theta = np.linalg.lstsq(np.column_stack([x, 1 - isb, isb]), y, rcond=None)[0][0]
adj = y - theta * (x - x.mean()); ya, yb = adj[:n], adj[n:]
refs['session'] = compare(ya.mean(), yb.mean(), A['session'].mean(), ya.var(ddof=1), yb.var(ddof=1),
                          A['session'].var(ddof=1), np.cov(ya, A['session'], ddof=1)[0, 1], n, n, 0.05, 't')
refs['session']['theta'] = theta
ra, la = linearised(A['spend'], A['sessions']); rb, lb = linearised(B['spend'], B['sessions'])
pa, ka = linearised(A['pre_spend'], A['pre_sessions']); pb, kb = linearised(B['pre_spend'], B['pre_sessions'])
theta = np.linalg.lstsq(np.concatenate([ka, kb])[:, None], np.concatenate([la, lb]), rcond=None)[0][0]
ua, ub = la - theta * ka, lb - theta * kb
refs['spend'] = compare(ra - theta * pa, rb - theta * pb, ra, ua.var(ddof=1), ub.var(ddof=1), la.var(ddof=1),
                        np.cov(ua, la, ddof=1)[0, 1], n, n, 0.05, 't')
refs['spend']['theta'] = theta
print(json.dumps(dict(a={k: v.tolist() for k, v in A.items()}, b={k: v.tolist() for k, v in B.items()}, refs=refs), default=float))
`);
    const a = analyze(e, planQuery(e), unitSums(e, { A: units(ref.a), B: units(ref.b) }));
    for (const name of ['session', 'spend']) {
      const r = a.metrics.find((m) => m.name === name)!;
      const x = ref.refs[name]!;
      close(r.cuped?.theta, x.theta!, `${name} θ`);
      close(r.relativeEffect, x.rel, `${name} relative effect`);
      close(r.relativeCi?.[0], x.rlo, `${name} relative ci low`);
      close(r.relativeCi?.[1], x.rhi, `${name} relative ci high`);
      close(r.relativePValue, x.rp, `${name} relative p`);
    }
  });

  it('a metric constant in each arm leaves nothing for CUPED to reduce: θ 0, reduction 0, the exact effect', () => {
    const e = definition('  - { name: revenue, kind: mean, column: revenue, pre: pre, role: primary }');
    const arm = (revenue: number) => units({ revenue: spread(100, revenue, 0), pre: spread(100, 50, 5) });
    const r = analyze(e, planQuery(e), unitSums(e, { A: arm(100), B: arm(104) })).metrics[0]!;
    expect(r.cuped).toEqual({ theta: 0, varianceReduction: 0 });
    expect(r).toMatchObject({ effect: 4, relativeEffect: 0.04, outcome: 'better' });
    expect(r.warning).toBe(
      "'revenue' has zero variance in both arms: the effect is exact and no test applies",
    );
  });
});

describe('tests and sums', () => {
  it('a mean compared by z uses the sample variance (not p(1 − p)) and the normal quantiles', () => {
    const e = definition('  - { name: revenue, kind: mean, column: revenue, role: primary, test: z }');
    const ref = python<Data>(`${PRELUDE}
rng = np.random.default_rng(5)
A = dict(revenue=rng.normal(0.5, 0.3, 400)); B = dict(revenue=rng.normal(0.53, 0.3, 400))
print(json.dumps(dict(a={k: v.tolist() for k, v in A.items()}, b={k: v.tolist() for k, v in B.items()},
                      refs=dict(revenue=plain(A['revenue'], B['revenue'], 0.05, 'z'))), default=float))
`);
    const r = analyze(e, planQuery(e), unitSums(e, { A: units(ref.a), B: units(ref.b) })).metrics[0]!;
    expect(r.method).toBe('z-test');
    expect(r.dof).toBeNull();
    close(r.relativeCi?.[0], ref.refs.revenue!.rlo, 'relative ci low');
    close(r.relativePValue, ref.refs.revenue!.rp, 'relative p');
  });

  it('0/1 sums that a warehouse returns with rounding noise are still a proportion', () => {
    const e = definition('  - { name: conversion, kind: proportion, column: converted, role: primary }');
    // Σx = 500 and Σx² = 500 + 1e-7: within the 1e-9 relative tolerance of 500 (5e-7).
    const arm = (variant: string, sum: number): VariantSums => ({
      variant,
      units: 5000,
      rows: 5000,
      sums: [sum],
      products: new Map([['0,0', sum + 1e-7]]),
    });
    const r = analyze(e, planQuery(e), [arm('A', 500), arm('B', 600)]).metrics[0]!;
    expect(r.error).toBeUndefined();
    expect(r.method).toBe('z-test');
    // A gap of 1e-3 on 500 is beyond rounding: not a proportion.
    const off = analyze(e, planQuery(e), [
      arm('A', 500),
      { ...arm('B', 600), products: new Map([['0,0', 600.001]]) },
    ]);
    expect(off.metrics[0]!.outcome).toBe('untestable');
  });

  it('rows whose variant is NULL belong to no arm and are no unknown variant', () => {
    const e = definition('  - { name: revenue, kind: mean, column: revenue, role: primary }');
    const rows = unitSums(e, {
      A: units({ revenue: spread(100, 10, 1) }),
      B: units({ revenue: spread(100, 11, 1) }),
    });
    const a = analyze(e, planQuery(e), [...rows, { ...rows[0]!, variant: null }]);
    expect(a.unknownVariants).toEqual({});
    expect(a.units).toBe(200);
  });
});

describe('flags and switches', () => {
  const REVENUE = '  - { name: revenue, kind: mean, column: revenue, role: primary }';
  const arm = (n: number, mean: number) => units({ revenue: spread(n, mean, 10) });

  it('an untestable metric carries the experiment’s sequential flag', () => {
    for (const sequential of [true, false]) {
      const e = definition(REVENUE, `sequential: ${sequential}`);
      const r = analyze(e, planQuery(e), unitSums(e, { A: arm(3, 100), B: arm(1, 100) })).metrics[0]!;
      expect(r.outcome).toBe('untestable');
      expect(r.sequential).toBe(sequential);
    }
  });

  it('bayesian: false leaves the Bayesian summary out; the default adds it', () => {
    const off = definition(REVENUE, 'bayesian: false');
    expect(
      analyze(off, planQuery(off), unitSums(off, { A: arm(100, 100), B: arm(100, 101) })).metrics[0]!
        .bayesian,
    ).toBeUndefined();
    const on = definition(REVENUE);
    expect(
      analyze(on, planQuery(on), unitSums(on, { A: arm(100, 100), B: arm(100, 101) })).metrics[0]!.bayesian,
    ).toBeDefined();
  });

  it('group-sequential designs take the fixed-horizon sample size (the search is for confidence sequences)', () => {
    const e = definition(REVENUE, 'sequential: true\nsequential-method: group-sequential\nlooks: 4\nlook: 1');
    const n = python<number>(`
import math
from scipy import stats
v = 10 ** 2 * 100 / 99
z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
print(math.ceil(z * z * 4 * v / (0.01 * 100) ** 2))
`);
    const r = analyze(e, planQuery(e), unitSums(e, { A: arm(100, 100), B: arm(100, 100) })).metrics[0]!;
    expect(r.requiredUnits).toBe(n);
  });
});

describe('exactly as many units as the rule wants', () => {
  it('is enough: dont-ship, not keep-running', () => {
    // Two-point arms of 200 units, sd 3.558, a flat primary with mde 1 % of 100: scipy's count is 400.
    const e = definition('  - { name: revenue, kind: mean, column: revenue, role: primary }');
    const n = python<number>(`
import math
from scipy import stats
v = 3.558 ** 2 * 200 / 199
z = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
print(math.ceil(z * z * 4 * v / (0.01 * 100) ** 2))
`);
    expect(n).toBe(400);
    const arm = () => units({ revenue: spread(200, 100, 3.558) });
    const a = analyze(e, planQuery(e), unitSums(e, { A: arm(), B: arm() }));
    expect(a.metrics[0]!.requiredUnits).toBe(400);
    expect(a.decision).toBe('dont-ship');
    expect(a.usersNeeded).toBe(0);
  });
});
