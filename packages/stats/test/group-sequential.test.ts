import { describe, expect, it } from 'vitest';
import { alphaSpent, groupSequentialBounds, plannedFractions, repeatedPValue } from '../src/index';
import { python } from './scipy';

describe('group-sequential boundaries with Lan-DeMets alpha spending', () => {
  // Published two-sided symmetric boundaries, α = 0.05 (0.025 per side), equally spaced looks, as
  // tabulated by DeMets & Lan (Statistics in Medicine 1994, Table I) and printed by gsDesign
  // (gsDesign(k, test.type = 2, alpha = 0.025, sfu = sfLDOF / sfLDPocock)) to 4 decimals.
  it.each([
    ['obrien-fleming', 5, [4.8769, 3.3569, 2.6803, 2.2898, 2.031]],
    ['obrien-fleming', 4, [4.3326, 2.9631, 2.359, 2.0141]],
    ['pocock', 5, [2.438, 2.4268, 2.4101, 2.3966, 2.3859]],
  ] as const)('%s with %i looks matches the published table', (spending, looks, published) => {
    const bounds = groupSequentialBounds(0.05, plannedFractions(looks), spending);
    for (const [k, c] of bounds.entries())
      expect(Math.abs(c - published[k]!), `look ${k + 1}`).toBeLessThan(2e-4);
  });

  it('the probability of crossing by look k is the α spent by t_k (scipy multivariate normal, unequal looks)', () => {
    const fractions = [0.3, 0.55, 0.8, 1];
    for (const spending of ['obrien-fleming', 'pocock'] as const) {
      const bounds = groupSequentialBounds(0.05, fractions, spending);
      const crossed = python<number[]>(`
import json, numpy as np
from scipy import stats
t = np.array(${JSON.stringify(fractions)}); c = np.array(${JSON.stringify(bounds)})
C = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
out = [2 * stats.norm.sf(c[0])] + [1 - stats.multivariate_normal.cdf(c[:k], cov=C[:k, :k], lower_limit=-c[:k], abseps=1e-8, releps=1e-6, maxpts=10**6) for k in range(2, len(t) + 1)]
print(json.dumps(out))
`);
      for (const [k, p] of crossed.entries()) {
        const spent = alphaSpent(0.05, fractions[k]!, spending);
        expect(Math.abs(p - spent), `${spending} look ${k + 1}`).toBeLessThan(1e-6);
      }
    }
  });

  it('the repeated p-value is below α exactly when |z| crosses the look’s boundary', () => {
    const fractions = plannedFractions(5);
    const c3 = groupSequentialBounds(0.05, fractions, 'obrien-fleming')[2]!;
    expect(repeatedPValue(c3 * 1.001, 3, fractions, 'obrien-fleming')).toBeLessThan(0.05);
    expect(repeatedPValue(c3 * 0.999, 3, fractions, 'obrien-fleming')).toBeGreaterThan(0.05);
    expect(Math.abs(repeatedPValue(c3, 3, fractions, 'obrien-fleming') - 0.05)).toBeLessThan(1e-6);
    // At the last look of a Pocock design the boundary is above 1.96: the nominal p would be too small.
    const p = repeatedPValue(2.2, 5, fractions, 'pocock');
    expect(p).toBeGreaterThan(0.05);
  });
});
