import { describe, expect, it } from 'vitest';
import {
  type ArmEstimate,
  compareArms,
  type Direction,
  type MarginScale,
  meanEstimate,
  nonInferiority,
  type SequentialNonInferiority,
} from '../src/index';
import { expectRel, python } from './scipy';

const P = 1e-6;

function fromMoments(mean: number, variance: number, n: number): ArmEstimate {
  return { n, estimate: mean, variance, baseline: mean, baselineVariance: variance, covariance: variance };
}

describe('sequential non-inferiority: gbstats’ one-sided confidence sequence', () => {
  const n = 3000 + 3100;
  // Called inside each test: an exception must fail a test, not the collection of the file.
  const sequentialComparison = () =>
    compareArms(
      meanEstimate({ n: 3000, sum: 300 * 3000, sumSquares: 3000 * 300 * 300 + 2999 * 90 * 90 }),
      meanEstimate({ n: 3100, sum: 301 * 3100, sumSquares: 3100 * 301 * 301 + 3099 * 90 * 90 }),
      { alpha: 0.05, test: 't', sequential: { tuning: 5000 } },
    );
  const cases: [MarginScale, Direction, number][] = [
    ['relative', 'increase', 0.02],
    ['relative', 'decrease', 0.02],
    ['relative', 'decrease', 0.006],
    ['absolute', 'increase', 6],
    ['absolute', 'decrease', 2],
    ['absolute', 'decrease', 0.5],
  ];

  it.each(cases)(
    '%s margin, %s is better, margin %s: bound and p-value match gbstats’ halfwidth solved with scipy',
    (scale, direction, margin) => {
      const c = sequentialComparison();
      // gbstats' one-sided halfwidth with ρ of 2α, and the α′ at which it equals the distance to the margin.
      const ref = python<{ bound: number; p: number; distance: number }>(
        `
import json, sys, numpy as np
from scipy.optimize import brentq
d = json.load(sys.stdin)
alpha, N, sign, margin = 0.05, 5000, d['sign'], d['margin']
na, ma, va, nb, mb, vb = 3000, 300, 90**2, 3100, 301, 90**2
n = na + nb
if d['scale'] == 'relative':
    e, se = mb/ma - 1, np.sqrt(vb/nb/ma**2 + va/na*mb**2/ma**4)
else:
    e, se = mb - ma, np.sqrt(va/na + vb/nb)
rho = np.sqrt((-2*np.log(2*alpha) + np.log(-2*np.log(2*alpha) + 1))/N)
nr2 = n*rho**2
hw = lambda a: np.sqrt(se**2*n * 2*(nr2 + 1)/(n*nr2) * np.log(1 + np.sqrt(nr2 + 1)/(2*a)))
distance = sign*e + margin
if distance <= 0 or hw(1) >= distance:
    p = 1.0
else:
    p = brentq(lambda a: np.log(hw(a)) - np.log(distance), 1e-300, 1, xtol=1e-300, rtol=1e-15, maxiter=500)
print(json.dumps(dict(bound=e - sign*hw(alpha), p=p, distance=distance)))
`,
        { scale, sign: direction === 'increase' ? 1 : -1, margin },
      );
      const ni = nonInferiority(c, margin, direction, 0.05, { tuning: 5000, n }, scale);
      expectRel(ni.bound, ref.bound, P, 'bound');
      expectRel(ni.pValue, ref.p, P, 'p');
      expect(ni.pValue).toBeLessThanOrEqual(1);
      // The p-value and the bound tell the same story.
      expect(ni.nonInferior).toBe(ni.pValue < 0.05);
      expect(ni.margin).toBe(margin);
      expect(ni.scale).toBe(scale);
    },
  );

  it('the cases cover a proven, an unproven with p capped at 1, and a harmful effect', () => {
    const c = sequentialComparison();
    const run = ([scale, direction, margin]: [MarginScale, Direction, number]) =>
      nonInferiority(c, margin, direction, 0.05, { tuning: 5000, n }, scale);
    const results = cases.map(run);
    expect(results.some((r) => r.nonInferior)).toBe(true);
    expect(results.some((r) => !r.nonInferior && r.pValue === 1)).toBe(true);
    expect(results.some((r) => r.pValue > 0.05 && r.pValue < 1)).toBe(true);
  });

  it('a harm far beyond the margin has p-value 1, not the small α′ the formula gives for −z, and is proven inferior', () => {
    const c = compareArms(
      meanEstimate({ n: 3000, sum: 300 * 3000, sumSquares: 3000 * 300 * 300 + 2999 * 90 * 90 }),
      meanEstimate({ n: 3100, sum: 320 * 3100, sumSquares: 3100 * 320 * 320 + 3099 * 90 * 90 }),
      { alpha: 0.05, test: 't', sequential: { tuning: 5000 } },
    );
    // Latency up by 20 ms with a standard error of about 2.3 ms, against a margin of 2 ms.
    const ni = nonInferiority(c, 2, 'decrease', 0.05, { tuning: 5000, n }, 'absolute');
    expect(ni.pValue).toBe(1);
    expect(ni.nonInferior).toBe(false);
    expect(ni.inferior).toBe(true);
  });

  it('the always-valid comparison reports the statistic effect / se beside its confidence sequence', () => {
    const c = sequentialComparison();
    expect(c.sequential).toBe(true);
    const se = Math.sqrt((90 * 90) / 3000 + (90 * 90) / 3100);
    expectRel(c.absolute.standardError, se, 1e-9, 'se');
    expectRel(c.absolute.statistic, (301 - 300) / se, 1e-9, 'statistic');
    const relSe = Math.sqrt((90 * 90) / 3100 / 300 ** 2 + ((90 * 90) / 3000) * (301 ** 2 / 300 ** 4));
    expectRel(c.relative.statistic, (301 / 300 - 1) / relSe, 1e-9, 'relative statistic');
  });
});

describe('non-inferiority of an exact effect (both arms without variance)', () => {
  // Absolute effect 4.5 − 5 = −0.5 and relative −0.1 exactly, in binary floating point too.
  const worse = () => compareArms(fromMoments(5, 0, 40), fromMoments(4.5, 0, 40), { alpha: 0.05, test: 't' });
  const design = { look: 1, fractions: [0.5, 1], spending: 'pocock' as const };
  const modes: [string, SequentialNonInferiority | undefined][] = [
    ['fixed horizon', undefined],
    ['always valid', { tuning: 5000, n: 80 }],
    ['group-sequential', { design }],
  ];

  it.each(modes)(
    '%s: an effect exactly at the margin is neither proven non-inferior nor inferior',
    (_, sequential) => {
      const absolute = nonInferiority(worse(), 0.5, 'increase', 0.05, sequential, 'absolute');
      expect(absolute).toEqual({
        margin: 0.5,
        scale: 'absolute',
        pValue: 1,
        bound: -0.5,
        nonInferior: false,
        inferior: false,
      });
      const relative = nonInferiority(worse(), 0.1, 'increase', 0.05, sequential, 'relative');
      expect(relative.bound).toBe(-0.1);
      expect(relative.pValue).toBe(1);
      expect(relative.nonInferior).toBe(false);
      expect(relative.inferior).toBe(false);
      // Where lower is better, the same decrease is a gain of 0.5 against the margin of 0.5.
      const lower = nonInferiority(worse(), 0.5, 'decrease', 0.05, sequential, 'absolute');
      expect(lower.bound).toBe(-0.5);
      expect(lower.pValue).toBe(0);
      expect(lower.nonInferior).toBe(true);
      expect(lower.inferior).toBe(false);
    },
  );

  it.each(modes)(
    '%s: an exact effect beyond the margin is proven inferior with p 1; within it, non-inferior with p 0',
    (_, sequential) => {
      const beyond = nonInferiority(worse(), 0.4, 'increase', 0.05, sequential, 'absolute');
      expect(beyond.pValue).toBe(1);
      expect(beyond.nonInferior).toBe(false);
      expect(beyond.inferior).toBe(true);
      const within = nonInferiority(worse(), 0.6, 'increase', 0.05, sequential, 'absolute');
      expect(within.pValue).toBe(0);
      expect(within.nonInferior).toBe(true);
      expect(within.inferior).toBe(false);
    },
  );
});
