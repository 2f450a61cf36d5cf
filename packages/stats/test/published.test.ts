import { describe, expect, it } from 'vitest';
import { type ArmEstimate, compareArms, meanEstimate, proportionEstimate } from '../src/index';

/**
 * Worked examples published with GrowthBook's gbstats (packages/stats/tests/frequentist/test_tests.py),
 * given there to 5 decimals: relative effects (gbstats' default), their CIs and standard errors.
 */
const round5 = (x: number) => Math.round(x * 1e5) / 1e5;

function fromMoments(mean: number, sd: number, n: number): ArmEstimate {
  const variance = sd * sd;
  return { n, estimate: mean, variance, baseline: mean, baselineVariance: variance, covariance: variance };
}

describe('GrowthBook gbstats worked examples', () => {
  it('two-sided Welch t-test on means (0.41 ± 3.9, n 3407 vs 0.70 ± 6.2, n 3461)', () => {
    const c = compareArms(fromMoments(0.41, 3.9, 3407), fromMoments(0.7, 6.2, 3461), {
      alpha: 0.05,
      test: 't',
    });
    expect(round5(c.relative.effect)).toBe(0.70732);
    expect(c.relative.ci.map(round5)).toEqual([-0.03526, 1.44989]);
    expect(round5(c.relative.standardError)).toBe(0.37879);
    expect(round5(c.relative.pValue)).toBe(0.06191);
    // The earlier, absolute version of the same example.
    expect(round5(c.absolute.effect)).toBe(0.29);
    expect(c.absolute.ci.map(round5)).toEqual([0.04538, 0.53462]);
    expect(round5(c.absolute.pValue)).toBe(0.02016);
  });

  it('two-sided t-test on proportions (14/28 vs 16/30)', () => {
    const c = compareArms(
      proportionEstimate({ n: 28, sum: 14, sumSquares: 14 }),
      proportionEstimate({ n: 30, sum: 16, sumSquares: 16 }),
      {
        alpha: 0.05,
        test: 't',
      },
    );
    expect(round5(c.relative.effect)).toBe(0.06667);
    expect(c.relative.ci.map(round5)).toEqual([-0.47767, 0.61101]);
    expect(round5(c.relative.standardError)).toBe(0.2717);
    expect(round5(c.relative.pValue)).toBe(0.80707);
  });

  it('sequential test on means with tuning parameter 1000', () => {
    const c = compareArms(
      meanEstimate({ n: 3000, sum: 1396.87, sumSquares: 52377.9767 }),
      meanEstimate({ n: 3461, sum: 2422.7, sumSquares: 134698.29 }),
      { alpha: 0.05, test: 't', sequential: { tuning: 1000 } },
    );
    expect(round5(c.relative.effect)).toBe(0.50336);
    expect(c.relative.ci.map(round5)).toEqual([-0.55844, 1.56516]);
    expect(round5(c.relative.standardError)).toBe(0.33341);
    expect(c.relative.pValue).toBe(1);
  });

  it('sequential test on proportions with the default tuning parameter 5000', () => {
    const c = compareArms(
      proportionEstimate({ n: 3000, sum: 1396, sumSquares: 1396 }),
      proportionEstimate({ n: 3461, sum: 2422, sumSquares: 2422 }),
      { alpha: 0.05, test: 't', sequential: { tuning: 5000 } },
    );
    expect(round5(c.relative.effect)).toBe(0.50386);
    expect(c.relative.ci.map(round5)).toEqual([0.40098, 0.60675]);
    expect(round5(c.relative.standardError)).toBe(0.03386);
    expect(round5(c.relative.pValue)).toBe(0);
  });
});
