import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { analyze, type Experiment, parseExperiment, planQuery, type VariantSums } from '../src/index';

/**
 * The sample ratio check and the units the decision rule still wants, against independent references:
 * scipy.stats.chisquare with the configured (unequal) expected shares, and the normal-approximation
 * sample size of G*Power / statsmodels' NormalIndPower, n = (z₁₋α/₂ + z₁₋β)² (σ²_A/w_A + σ²_B/w_B) / δ².
 */
function experiment(extra = ''): Experiment {
  return parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
mde: 0.05
metrics:
  - { name: revenue, kind: mean, column: revenue, role: primary }
${extra}`);
}

/** Per-variant sums and products of the plan's columns over per-unit revenue values. */
function variantSums(e: Experiment, arms: Record<string, number[]>): VariantSums[] {
  const plan = planQuery(e);
  const column = (values: number[], name: string) => (name === 'revenue' ? values : values.map(() => 0));
  return Object.entries(arms).map(([variant, values]) => {
    const cols = plan.values.map((v) => column(values, v.column));
    const dot = (x: number[], y: number[]) => x.reduce((s, v, k) => s + v * y[k]!, 0);
    return {
      variant,
      units: values.length,
      rows: values.length,
      sums: cols.map((c) => c.reduce((s, v) => s + v, 0)),
      products: new Map(plan.products.map(([i, j]) => [`${i},${j}`, dot(cols[i]!, cols[j]!)])),
    };
  });
}

interface Reference {
  a: number[];
  b: number[];
  chi2: number;
  p: number;
  expected: number[];
  n: number;
}

/** Revenue per unit for both arms, scipy's χ² against the split, and the total units needed at power. */
function reference(
  units: [number, number],
  shares: [number, number],
  power: number,
  seed: number,
): Reference {
  return python<Reference>(`
import json, math
import numpy as np
from scipy import stats
rng = np.random.default_rng(${seed})
a = rng.normal(100, 30, ${units[0]}); b = rng.normal(100.2, 30, ${units[1]})
shares = np.array([${shares[0]}, ${shares[1]}], dtype=float); w = shares / shares.sum()
observed = np.array([${units[0]}, ${units[1]}], dtype=float)
r = stats.chisquare(observed, f_exp=observed.sum() * w)
delta = 0.05 * a.mean()
z = stats.norm.ppf(1 - 0.05 / 2) + stats.norm.ppf(${power})
n = math.ceil(z * z * (a.var(ddof=1) / w[0] + b.var(ddof=1) / w[1]) / delta ** 2)
print(json.dumps(dict(a=a.tolist(), b=b.tolist(), chi2=float(r.statistic), p=float(r.pvalue),
  expected=(observed.sum() * w).tolist(), n=n)))
`);
}

describe('SRM against the configured split (scipy.stats.chisquare with unequal expected shares)', () => {
  it('a 90/10 experiment that got 90/10 traffic is valid; its χ² and p are scipy’s', () => {
    const e = experiment('split: { A: 90, B: 10 }');
    const ref = reference([9030, 970], [90, 10], 0.8, 1);
    const a = analyze(e, planQuery(e), variantSums(e, { A: ref.a, B: ref.b }));
    expect(a.srm.chiSquare).toBeCloseTo(ref.chi2, 9);
    expect(Math.abs(a.srm.pValue - ref.p) / ref.p).toBeLessThan(1e-9);
    expect(a.srm.expected).toEqual({ A: ref.expected[0], B: ref.expected[1] });
    expect(a.srm.alert).toBe(false);
    expect(a.decision).not.toBe('invalid');
  });

  it('a 90/10 experiment that got 88.5/11.5 traffic is invalid (p from scipy below srm-alpha)', () => {
    const e = experiment('split: { A: 90, B: 10 }');
    const ref = reference([8850, 1150], [90, 10], 0.8, 2);
    expect(ref.p).toBeLessThan(0.001);
    const a = analyze(e, planQuery(e), variantSums(e, { A: ref.a, B: ref.b }));
    expect(Math.abs(a.srm.pValue - ref.p) / ref.p).toBeLessThan(1e-9);
    expect(a.srm.alert).toBe(true);
    expect(a.decision).toBe('invalid');
  });

  it('an even split of 5000/5000 is valid while 50/50 traffic under a 90/10 split is not', () => {
    const even = experiment();
    const ref = reference([5000, 5000], [1, 1], 0.8, 3);
    const ok = analyze(even, planQuery(even), variantSums(even, { A: ref.a, B: ref.b }));
    expect(ok.srm.pValue).toBe(1);
    const skewed = experiment('split: { A: 90, B: 10 }');
    const bad = analyze(skewed, planQuery(skewed), variantSums(skewed, { A: ref.a, B: ref.b }));
    expect(bad.decision).toBe('invalid');
  });
});

describe('users-needed against the G*Power normal-approximation sample size', () => {
  it('at the default power (0.8) and α 0.05, equal split: the total units minus those already in', () => {
    const e = experiment();
    expect(e.power).toBe(0.8);
    const ref = reference([300, 300], [1, 1], 0.8, 7);
    const a = analyze(e, planQuery(e), variantSums(e, { A: ref.a, B: ref.b }));
    expect(a.decision).toBe('keep-running');
    expect(a.metrics[0]!.requiredUnits).toBe(ref.n);
    expect(a.usersNeeded).toBe(ref.n - 600);
  });

  it('at power 0.9 with a 90/10 split, where the small arm drives the size', () => {
    const e = experiment('split: { A: 90, B: 10 }\npower: 0.9');
    const ref = reference([900, 100], [90, 10], 0.9, 5);
    const a = analyze(e, planQuery(e), variantSums(e, { A: ref.a, B: ref.b }));
    expect(a.decision).toBe('keep-running');
    expect(a.metrics[0]!.requiredUnits).toBe(ref.n);
    expect(a.usersNeeded).toBe(ref.n - 1000);
  });

  it('the textbook case: d = 0.5, α 0.05 two-sided, power 0.8 needs 63 per group (126 in all)', async () => {
    // Cohen's d = 0.5 is a 50 % relative effect on a mean of 1 with unit variance.
    const { requiredSampleSize } = await import('@mlops-actions/stats');
    const n = requiredSampleSize({
      varianceControl: 1,
      varianceTreatment: 1,
      weightControl: 1,
      weightTreatment: 1,
      baseline: 1,
      mde: 0.5,
      alpha: 0.05,
      power: 0.8,
    });
    expect(n).toBe(126);
  });
});
