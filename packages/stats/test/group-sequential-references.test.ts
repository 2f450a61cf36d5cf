import { describe, expect, it } from 'vitest';
import { alphaSpent, groupSequentialBounds, plannedFractions, repeatedPValue } from '../src/index';
import { expectRel, python } from './scipy';

/**
 * The Lan-DeMets spending functions as DeMets & Lan (Statistics in Medicine 13, 1994, eqs. 2–3) write
 * them for a two-sided test with α/2 per side: O'Brien-Fleming type 2·(2 − 2Φ(z_{1−α/4}/√t)), Pocock
 * type α·ln(1 + (e − 1)t); evaluated with scipy.stats.norm.
 */
describe('alpha spending (Lan & DeMets 1983, DeMets & Lan 1994) against scipy', () => {
  it('both spending functions at several information fractions and levels', () => {
    const grid = { alphas: [0.05, 0.1, 0.01], ts: [0.05, 0.2, 0.5, 0.77, 1] };
    const ref = python<Array<[number, number, number, number]>>(`
import json, math
from scipy.stats import norm
out = []
for a in ${JSON.stringify(grid.alphas)}:
    for t in ${JSON.stringify(grid.ts)}:
        obf = 4 * norm.sf(norm.isf(a / 4) / math.sqrt(t))
        out.append([a, t, obf, a * math.log(1 + (math.e - 1) * t)])
print(json.dumps(out))
`);
    for (const [a, t, obf, pocock] of ref) {
      expectRel(alphaSpent(a, t, 'obrien-fleming'), obf, 1e-9, `O'Brien-Fleming α=${a} t=${t}`);
      expectRel(alphaSpent(a, t, 'pocock'), pocock, 1e-12, `Pocock α=${a} t=${t}`);
    }
  });

  it('nothing is spent before the start, and all of α once the information is complete or exceeded', () => {
    for (const spending of ['obrien-fleming', 'pocock'] as const) {
      expect(alphaSpent(0.05, 0, spending), spending).toBe(0);
      expect(alphaSpent(0.05, -0.2, spending), spending).toBe(0);
      expectRel(alphaSpent(0.05, 1, spending), 0.05, 1e-12, `${spending} at t = 1`);
      expectRel(alphaSpent(0.05, 1.7, spending), 0.05, 1e-12, `${spending} past t = 1`);
    }
  });
});

describe('group-sequential boundaries in special designs', () => {
  it('one look at full information is the fixed-sample test: z_{1−α/2} (scipy)', () => {
    const ref = python<{ c05: number; c10: number; half: number }>(`
import json, math
from scipy.stats import norm
half = 0.05 * math.log(1 + (math.e - 1) * 0.5)
print(json.dumps(dict(c05=norm.ppf(0.975), c10=norm.ppf(0.95), half=norm.ppf(1 - half / 2))))
`);
    expectRel(groupSequentialBounds(0.05, [1], 'obrien-fleming')[0]!, ref.c05, 1e-9, 'OBF, one look');
    expectRel(groupSequentialBounds(0.1, [1], 'pocock')[0]!, ref.c10, 1e-9, 'Pocock, one look, α = 0.1');
    // A single interim look at half the information spends only the Pocock α(0.5).
    expectRel(
      groupSequentialBounds(0.05, [0.5], 'pocock')[0]!,
      ref.half,
      1e-9,
      'Pocock, one look at t = 0.5',
    );
  });

  it('a first look too early to spend any α never stops the test; the last look is then the fixed-sample z', () => {
    // O'Brien-Fleming spends 4Φ(−z_{0.9875}/√0.001) ≈ 10⁻¹²⁷⁰ at t = 0.001: nothing in doubles.
    const [early, last] = groupSequentialBounds(0.05, [0.001, 1], 'obrien-fleming');
    expect(early).toBeGreaterThanOrEqual(40);
    const z = python<number>('from scipy.stats import norm; print(norm.ppf(0.975))');
    // 2e-4: the accuracy of the 101-point grid, as in the published-table test.
    expect(Math.abs(last! - z)).toBeLessThan(2e-4);
  });

  it('the probability of crossing by each look is the α spent, for α = 0.1 and three unequal looks (scipy multivariate normal)', () => {
    const fractions = [0.2, 0.6, 1];
    for (const spending of ['obrien-fleming', 'pocock'] as const) {
      const bounds = groupSequentialBounds(0.1, fractions, spending);
      const crossed = python<number[]>(`
import json, numpy as np
from scipy import stats
t = np.array(${JSON.stringify(fractions)}); c = np.array(${JSON.stringify(bounds)})
C = np.sqrt(np.minimum.outer(t, t) / np.maximum.outer(t, t))
out = [2 * stats.norm.sf(c[0])] + [1 - stats.multivariate_normal.cdf(c[:k], cov=C[:k, :k], lower_limit=-c[:k], abseps=1e-8, releps=1e-6, maxpts=10**6) for k in range(2, len(t) + 1)]
print(json.dumps(out))
`);
      const spent = python<number[]>(`
import json, math
from scipy.stats import norm
a, obf = 0.1, '${spending}' == 'obrien-fleming'
print(json.dumps([4 * norm.sf(norm.isf(a / 4) / math.sqrt(t)) if obf else a * math.log(1 + (math.e - 1) * t) for t in ${JSON.stringify(fractions)}]))
`);
      for (const [k, p] of crossed.entries())
        expect(Math.abs(p - spent[k]!), `${spending} look ${k + 1}`).toBeLessThan(1e-6);
    }
  });

  it('planned looks are equally spaced up to full information', () => {
    expect(plannedFractions(4)).toEqual([0.25, 0.5, 0.75, 1]);
    expect(plannedFractions(1)).toEqual([1]);
  });
});

describe('repeated p-values (Jennison & Turnbull §9.1)', () => {
  /**
   * At the first look the boundary is z_{1−α(t)/2}, so the repeated p-value solves α′(t) = 2Φ(−|z|):
   * O'Brien-Fleming type p = 4Φ(−√t · Φ⁻¹(1 − Φ(−|z|)/2)), Pocock type p = 2Φ(−|z|) / ln(1 + (e − 1)t).
   */
  it('at the first look it inverts the spending function (scipy)', () => {
    const cases = [
      [2.5, 0.5],
      [3.1, 0.25],
      [2.2, 1 / 3],
    ] as const;
    const ref = python<Array<[number, number]>>(`
import json, math
from scipy.stats import norm
out = []
for z, t in ${JSON.stringify(cases)}:
    obf = 4 * norm.cdf(-math.sqrt(t) * norm.ppf(1 - norm.cdf(-abs(z)) / 2))
    out.append([obf, 2 * norm.cdf(-abs(z)) / math.log(1 + (math.e - 1) * t)])
print(json.dumps(out))
`);
    for (const [i, [z, t]] of cases.entries()) {
      const fractions = [t, 1];
      expectRel(repeatedPValue(z, 1, fractions, 'obrien-fleming'), ref[i]![0], 1e-6, `OBF z=${z} t=${t}`);
      expectRel(repeatedPValue(-z, 1, fractions, 'pocock'), ref[i]![1], 1e-6, `Pocock z=−${z} t=${t}`);
    }
  });

  it('is 1 when no level short of 1 would reject, and bottoms out at 10⁻¹² for overwhelming evidence', () => {
    const fractions = plannedFractions(3);
    expect(repeatedPValue(0.3, 2, fractions, 'pocock')).toBe(1);
    expect(repeatedPValue(0, 1, fractions, 'obrien-fleming')).toBe(1);
    expect(repeatedPValue(15, 2, fractions, 'pocock')).toBe(1e-12);
    expect(repeatedPValue(-15, 3, fractions, 'obrien-fleming')).toBe(1e-12);
  });
});
