import { describe, expect, it } from 'vitest';
import { sequentialHalfwidthOneSided, sequentialPValue, sequentialRho } from '../src/index';
import { expectRel, python } from './scipy';

/**
 * The one-sided forms and the cap of GrowthBook's gbstats (frequentist/tests.py: sequential_rho with
 * 2α for one-sided tests, SequentialOneSidedTreatmentLesserTTest's halfwidth), re-evaluated in numpy.
 */
describe('one-sided confidence sequences and the always-valid p-value (gbstats, numpy)', () => {
  it('ρ of a one-sided bound spends 2α; the one-sided halfwidth is ln(1 + √(nρ² + 1)/(2α))', () => {
    const ref = python<{ rho1: number; rho2: number; hw: number }>(`
import json, numpy as np
def rho(a, N): return np.sqrt((-2*np.log(a) + np.log(-2*np.log(a)+1))/N)
alpha, N, n, s2 = 0.05, 2000, 7000, 3.1
r = rho(2*alpha, N)
hw = np.sqrt(s2 * 2*(n*r**2+1)/(n*r)**2 * np.log(1 + np.sqrt(n*r**2+1)/(2*alpha)))
print(json.dumps(dict(rho1=r, rho2=rho(alpha, N), hw=hw)))
`);
    expectRel(sequentialRho(0.05, 2000, false), ref.rho1, 1e-12, 'one-sided ρ');
    expectRel(sequentialRho(0.05, 2000, true), ref.rho2, 1e-12, 'two-sided ρ');
    expectRel(sequentialRho(0.05, 2000), ref.rho2, 1e-12, 'ρ defaults to two-sided');
    expectRel(sequentialHalfwidthOneSided(3.1, 7000, 0.05, ref.rho1), ref.hw, 1e-12, 'one-sided halfwidth');
  });

  it('the always-valid p-value is 1/e-value below 1 and capped at 1 for small effects', () => {
    const ref = python<{ p: number; raw0: number }>(`
import json, numpy as np
rho, n, s2, d = 0.0102, 12000, 1.7, 0.05
ev = np.exp(rho**2 * (d**2*n*n/s2) / (2*(n*rho**2+1))) / np.sqrt(n*rho**2+1)
print(json.dumps(dict(p=1/ev, raw0=np.sqrt(n*rho**2+1))))
`);
    expect(ref.p).toBeLessThan(1);
    expectRel(sequentialPValue(0.05, 1.7, 12000, 0.0102), ref.p, 1e-12, 'p');
    // No effect: 1/e-value is √(nρ² + 1) > 1, reported as 1.
    expect(ref.raw0).toBeGreaterThan(1);
    expect(sequentialPValue(0, 1.7, 12000, 0.0102)).toBe(1);
  });
});
