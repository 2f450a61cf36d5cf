import { describe, expect, it } from 'vitest';
import { type PowerInput, requiredSampleSize } from '../src/index';
import { python } from './scipy';

/**
 * Sample sizes against the textbook two-sample z formula with unequal variances and allocation
 * (Chow, Shao & Wang, "Sample Size Calculations in Clinical Research", 2nd ed., §3.2.1; the same
 * formula G*Power and statsmodels' NormalIndPower.solve_power use for equal variances):
 * n_A = (z_{1−α/2} + z_{1−β})² (σ_A² + σ_B²/κ) / δ², n_B = κ·n_A, evaluated with scipy.stats.norm.
 */
const base: PowerInput = {
  varianceControl: 0.09,
  varianceTreatment: 0.09,
  weightControl: 1,
  weightTreatment: 1,
  baseline: 0.1,
  mde: 0.1,
  alpha: 0.05,
  power: 0.8,
};

interface FixedCase {
  varA: number;
  varB: number;
  wA: number;
  wB: number;
  delta: number;
  alpha: number;
  power: number;
}

function chowReference(cases: FixedCase[]) {
  return python<Array<{ n: number; achieved: number }>>(
    `
import json, math, sys
from scipy.stats import norm
out = []
for c in json.load(sys.stdin):
    k = c['wB'] / c['wA']
    za, zb = norm.ppf(1 - c['alpha'] / 2), norm.ppf(c['power'])
    nA = (za + zb) ** 2 * (c['varA'] + c['varB'] / k) / c['delta'] ** 2
    n = math.ceil(nA * (1 + k))
    # Power of the two-sided z test actually reached with n units split wA : wB.
    def power(total):
        se = math.sqrt(c['varA'] / (total / (1 + k)) + c['varB'] / (total * k / (1 + k)))
        return norm.sf(za - c['delta'] / se) + norm.cdf(-za - c['delta'] / se)
    out.append(dict(n=n, achieved=power(n)))
print(json.dumps(out))
`,
    cases,
  );
}

describe('requiredSampleSize against the two-sample z formula (Chow, Shao & Wang §3.2.1, scipy)', () => {
  const cases: Array<[string, PowerInput]> = [
    ['equal arms, 80 % power', base],
    ['90 % power', { ...base, power: 0.9 }],
    ['50 % power (the users-needed bug of issue 16 would give this size)', { ...base, power: 0.5 }],
    ['α = 0.01', { ...base, alpha: 0.01 }],
    ['unequal variances', { ...base, varianceControl: 0.04, varianceTreatment: 0.16 }],
    ['a 1 : 3 split', { ...base, weightControl: 1, weightTreatment: 3 }],
    ['a 90/10 split given as percentages', { ...base, weightControl: 90, weightTreatment: 10 }],
    ['a negative minimum effect (a decrease worth detecting)', { ...base, mde: -0.05, baseline: 12 }],
    [
      'a negative baseline',
      { ...base, mde: 0.05, baseline: -12, varianceControl: 30, varianceTreatment: 30 },
    ],
  ];

  const toCase = (input: PowerInput): FixedCase => ({
    varA: input.varianceControl,
    varB: input.varianceTreatment,
    wA: input.weightControl,
    wB: input.weightTreatment,
    delta: Math.abs(input.mde * input.baseline),
    alpha: input.alpha,
    power: input.power,
  });
  // One scipy run for every case, made by the first test that needs it (never while the file is collected).
  let references: ReturnType<typeof chowReference> | undefined;
  const reference = (i: number) => {
    references ??= chowReference(cases.map(([, c]) => toCase(c)));
    return references[i]!;
  };

  it.each(cases.map(([name, input], i) => [name, input, i] as const))('%s', (_, input, i) => {
    const ref = reference(i);
    expect(requiredSampleSize(input)).toBe(ref.n);
    // Sanity of the reference itself: that many units do reach the power (scipy's power of the z test).
    expect(ref.achieved).toBeGreaterThanOrEqual(input.power - 1e-9);
  });

  it('more power, a smaller α or a smaller effect each need more units', () => {
    const n = requiredSampleSize(base);
    expect(requiredSampleSize({ ...base, power: 0.9 })).toBeGreaterThan(n);
    expect(requiredSampleSize({ ...base, power: 0.5 })).toBeLessThan(n);
    expect(requiredSampleSize({ ...base, alpha: 0.01 })).toBeGreaterThan(n);
    expect(requiredSampleSize({ ...base, mde: 0.05 })).toBeGreaterThan(n);
  });
});

describe('requiredSampleSize: cases with no finite answer', () => {
  it('a zero minimum effect can never be detected, even with no variance', () => {
    expect(requiredSampleSize({ ...base, mde: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(requiredSampleSize({ ...base, mde: 0, varianceControl: 0, varianceTreatment: 0 })).toBe(
      Number.POSITIVE_INFINITY,
    );
    expect(requiredSampleSize({ ...base, baseline: 0, sequential: { tuning: 5000 } })).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it('an unknown variance (NaN, as a one-unit arm gives) or an arm with no traffic needs infinitely many units', () => {
    expect(requiredSampleSize({ ...base, varianceControl: Number.NaN })).toBe(Number.POSITIVE_INFINITY);
    expect(requiredSampleSize({ ...base, weightTreatment: 0 })).toBe(Number.POSITIVE_INFINITY);
    expect(requiredSampleSize({ ...base, varianceTreatment: Number.NaN, sequential: { tuning: 5000 } })).toBe(
      Number.POSITIVE_INFINITY,
    );
  });

  it('a metric with no variance is decided by the smallest possible experiment, two units', () => {
    const still = { ...base, varianceControl: 0, varianceTreatment: 0 };
    expect(requiredSampleSize(still)).toBe(2);
    expect(requiredSampleSize({ ...still, sequential: { tuning: 5000 } })).toBe(2);
  });
});

describe('requiredSampleSize for confidence sequences (GrowthBook gbstats normal-mixture boundary)', () => {
  /**
   * The smallest n at which halfwidth(n) + z_power·s/√n ≤ δ, with gbstats' ρ and halfwidth
   * (sequential_rho, sequential_interval_halfwidth) re-evaluated in numpy and searched over every n.
   */
  function sequentialReference(s2: number, delta: number, alpha: number, power: number, tuning: number) {
    return python<{ n: number }>(`
import json, numpy as np
from scipy.stats import norm
s2, d, alpha, power, N = ${s2}, ${delta}, ${alpha}, ${power}, ${tuning}
rho = np.sqrt((-2*np.log(alpha) + np.log(-2*np.log(alpha)+1))/N)
n = np.arange(3, 2_000_000, dtype=float)
hw = np.sqrt(s2) * np.sqrt(2*(n*rho**2+1)*np.log(np.sqrt(n*rho**2+1)/alpha)/(n*rho)**2)
ok = hw + norm.ppf(power)*np.sqrt(s2/n) <= d
print(json.dumps(dict(n=int(n[np.argmax(ok)]) if ok.any() else None)))
`).n;
  }

  it.each([
    ['the default tuning, equal arms', base, 0.36],
    [
      'tuning 1000, 90 % power, α = 0.1',
      { ...base, power: 0.9, alpha: 0.1, sequential: { tuning: 1000 } },
      0.36,
    ],
    [
      'a 1 : 3 split with unequal variances and a large effect',
      { ...base, weightTreatment: 3, varianceTreatment: 0.16, mde: 2 },
      0.09 / 0.25 + 0.16 / 0.75,
    ],
  ] as const)('%s', (_, input, s2) => {
    const sequential = input.sequential ?? { tuning: 5000 };
    const expected = sequentialReference(
      s2,
      Math.abs(input.mde * input.baseline),
      input.alpha,
      input.power,
      sequential.tuning,
    );
    expect(requiredSampleSize({ ...input, sequential })).toBe(expected);
    // Always valid at every look costs units: more than the fixed-horizon size.
    expect(expected).toBeGreaterThan(requiredSampleSize({ ...input, sequential: undefined }));
  });

  it('an effect too small to reach with 10^15 units gives up with an infinite size', () => {
    expect(requiredSampleSize({ ...base, mde: 1e-9, sequential: { tuning: 5000 } })).toBe(
      Number.POSITIVE_INFINITY,
    );
    // The fixed-horizon formula has a finite (if absurd) answer for the same effect.
    expect(requiredSampleSize({ ...base, mde: 1e-9 })).toBeLessThan(Number.POSITIVE_INFINITY);
  });
});
