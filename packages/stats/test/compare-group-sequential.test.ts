import { describe, expect, it } from 'vitest';
import { type ArmEstimate, compareArms, nonInferiority, plannedFractions } from '../src/index';
import { expectRel, python } from './scipy';

const P = 1e-6;

function fromMoments(mean: number, variance: number, n: number): ArmEstimate {
  return { n, estimate: mean, variance, baseline: mean, baselineVariance: variance, covariance: variance };
}

const CONTROL = fromMoments(10, 16, 2000);
const TREATMENT = fromMoments(10.35, 17.64, 2000);

interface LookOneRef {
  d: number;
  se: number;
  rel: number;
  rse: number;
  c: number;
  p: number;
  rp: number;
}

/**
 * At the first look the boundary and the repeated p-value have closed forms: the probability of crossing
 * is the α spent by t₁. O'Brien-Fleming type, two-sided α as α/2 spent per side (Lan & DeMets 1983):
 * 2·sf(c₁) = 2·(2 − 2Φ(z_{1−α/4}/√t₁)); Pocock type: 2·sf(c₁) = α ln(1 + (e − 1)t₁). The repeated p-value
 * is the α′ whose c₁(α′) is |z|, solved by hand for each.
 */
function lookOneRef(spending: 'obrien-fleming' | 'pocock', t: number, alpha: number): LookOneRef {
  return python<LookOneRef>(`
import json, numpy as np
from scipy.stats import norm
na, ma, va, nb, mb, vb = 2000, 10, 16, 2000, 10.35, 17.64
t, alpha = ${t}, ${alpha}
d = mb - ma; se = np.sqrt(va/na + vb/nb)
rel = mb/ma - 1; rse = np.sqrt(vb/nb/ma**2 + va/na*mb**2/ma**4)
if '${spending}' == 'pocock':
    spent = lambda a: a*np.log(1 + (np.e - 1)*t)
    repeated = lambda z: min(1.0, 2*norm.sf(abs(z))/np.log(1 + (np.e - 1)*t))
else:
    spent = lambda a: 4*norm.sf(norm.isf(a/4)/np.sqrt(t))
    repeated = lambda z: min(1.0, 4*norm.sf(np.sqrt(t)*norm.isf(norm.sf(abs(z))/2)))
print(json.dumps(dict(d=d, se=se, rel=rel, rse=rse, c=norm.isf(spent(alpha)/2), p=repeated(d/se), rp=repeated(rel/rse))))
`);
}

describe('compareArms at a look of a group-sequential design', () => {
  it('O’Brien-Fleming, first of two looks: repeated CI effect ± c₁·se and repeated p-value match the closed forms (scipy)', () => {
    const ref = lookOneRef('obrien-fleming', 0.5, 0.05);
    const c = compareArms(CONTROL, TREATMENT, {
      alpha: 0.05,
      test: 'z',
      groupSequential: { look: 1, fractions: [0.5, 1], spending: 'obrien-fleming' },
    });
    expect(c.sequential).toBe(true);
    expectRel(c.absolute.effect, ref.d, 1e-12, 'effect');
    expectRel(c.absolute.standardError, ref.se, 1e-12, 'se');
    expectRel(c.absolute.statistic, ref.d / ref.se, 1e-12, 'z');
    expectRel(c.absolute.ci[0], ref.d - ref.c * ref.se, P, 'ci lo');
    expectRel(c.absolute.ci[1], ref.d + ref.c * ref.se, P, 'ci hi');
    expectRel(c.absolute.pValue, ref.p, P, 'repeated p');
    expectRel(c.relative.ci[0], ref.rel - ref.c * ref.rse, P, 'relative ci lo');
    expectRel(c.relative.ci[1], ref.rel + ref.c * ref.rse, P, 'relative ci hi');
    expectRel(c.relative.pValue, ref.rp, P, 'relative repeated p');
    // |z| ≈ 2.7 is significant at a fixed horizon but not at the first look of this design.
    expect(c.absolute.pValue).toBeGreaterThan(0.05);
    expect(c.absolute.ci[0]).toBeLessThan(0);
  });

  it('Pocock, first of four looks at α = 0.1: boundary and repeated p-value match the closed forms (scipy)', () => {
    const ref = lookOneRef('pocock', 0.25, 0.1);
    const c = compareArms(CONTROL, TREATMENT, {
      alpha: 0.1,
      test: 'z',
      groupSequential: { look: 1, fractions: plannedFractions(4), spending: 'pocock' },
    });
    expectRel(c.absolute.ci[0], ref.d - ref.c * ref.se, P, 'ci lo');
    expectRel(c.absolute.ci[1], ref.d + ref.c * ref.se, P, 'ci hi');
    expectRel(c.absolute.pValue, ref.p, P, 'repeated p');
    expectRel(c.relative.pValue, ref.rp, P, 'relative repeated p');
    expect(c.alpha).toBe(0.1);
  });

  it('third of five O’Brien-Fleming looks: the published boundary 2.6803 (DeMets & Lan 1994), and p < α exactly when the repeated CI excludes 0', () => {
    const groupSequential = { look: 3, fractions: plannedFractions(5), spending: 'obrien-fleming' as const };
    const se = Math.sqrt(16 / 2000 + 17.64 / 2000);
    // Effects at multiples of the published boundary; its 4-decimal rounding is far inside 1 %.
    for (const factor of [0, 0.5, 0.99, 1.01, 1.5]) {
      const treatment = fromMoments(10 + factor * 2.6803 * se, 17.64, 2000);
      const c = compareArms(CONTROL, treatment, { alpha: 0.05, test: 'z', groupSequential });
      expectRel(c.absolute.standardError, se, 1e-12, 'se');
      expect(Math.abs((c.absolute.ci[1] - c.absolute.effect) / se - 2.6803), `× ${factor}`).toBeLessThan(
        2e-4,
      );
      expect(Math.abs((c.absolute.effect - c.absolute.ci[0]) / se - 2.6803), `× ${factor}`).toBeLessThan(
        2e-4,
      );
      expect(c.absolute.ci[0] > 0, `× ${factor}`).toBe(factor > 1);
      expect(c.absolute.pValue < 0.05, `× ${factor}`).toBe(factor > 1);
    }
  });

  it('a design without variance in either arm: the exact difference, a point interval, p 0 (or 1 for no difference)', () => {
    const groupSequential = { look: 2, fractions: [0.5, 1], spending: 'pocock' as const };
    const c = compareArms(fromMoments(4, 0, 50), fromMoments(5, 0, 50), {
      alpha: 0.05,
      test: 'z',
      groupSequential,
    });
    expect(c.absolute).toEqual({ effect: 1, standardError: 0, ci: [1, 1], pValue: 0, statistic: 0 });
    expect(c.relative).toEqual({ effect: 0.25, standardError: 0, ci: [0.25, 0.25], pValue: 0, statistic: 0 });
    const none = compareArms(fromMoments(4, 0, 50), fromMoments(4, 0, 50), {
      alpha: 0.05,
      test: 'z',
      groupSequential,
    });
    expect(none.absolute.pValue).toBe(1);
    expect(none.relative.pValue).toBe(1);
  });
});

interface NiRef {
  d: number;
  se: number;
  q: number;
  p: number;
  pDown: number;
}

describe('non-inferiority at a look of a group-sequential design', () => {
  it('one-sided at α is one side of the two-sided boundary at 2α: bound and p-value at the first O’Brien-Fleming look (scipy closed forms)', () => {
    const c = compareArms(CONTROL, TREATMENT, {
      alpha: 0.05,
      test: 'z',
      groupSequential: { look: 1, fractions: [0.4, 0.7, 1], spending: 'obrien-fleming' },
    });
    const margin = 0.1;
    const ref = python<NiRef>(`
import json, numpy as np
from scipy.stats import norm
t, alpha, margin = 0.4, 0.05, ${margin}
d, se = 10.35 - 10, np.sqrt(16/2000 + 17.64/2000)
# Two-sided at 2α: 2·sf(q) = 4·sf(z_{1−2α/4}/√t). The p-value is half the two-sided repeated p-value.
q = norm.isf(2*norm.sf(norm.isf(2*alpha/4)/np.sqrt(t)))
half = lambda z: 2*norm.sf(np.sqrt(t)*norm.isf(norm.sf(z)/2))
print(json.dumps(dict(d=d, se=se, q=q, p=half((d + margin)/se), pDown=half((0.5 - d)/se))))
`);
    const { d: effect, se } = ref;
    const design = { look: 1, fractions: [0.4, 0.7, 1], spending: 'obrien-fleming' as const };
    const up = nonInferiority(c, margin, 'increase', 0.05, { design }, 'absolute');
    expectRel(up.bound, effect - ref.q * se, P, 'bound (higher is better)');
    expectRel(up.pValue, ref.p, P, 'p (higher is better)');
    expect(up.nonInferior).toBe(true);
    expect(up.pValue).toBeLessThan(0.05);
    expect(up.inferior).toBe(false);
    // Lower is better: the effect is harm now, p is 1 and nothing is proven within a margin of 0.1 ...
    const down = nonInferiority(c, margin, 'decrease', 0.05, { design }, 'absolute');
    expectRel(down.bound, effect + ref.q * se, P, 'bound (lower is better)');
    expect(down.pValue).toBe(1);
    expect(down.nonInferior).toBe(false);
    expect(down.inferior).toBe(false);
    // ... but an effect of 0.8 has even its favourable bound beyond the margin: proven inferior.
    const worse = compareArms(CONTROL, fromMoments(10.8, 17.64, 2000), {
      alpha: 0.05,
      test: 'z',
      groupSequential: design,
    });
    expect(0.8 - ref.q * se).toBeGreaterThan(margin);
    const inferior = nonInferiority(worse, margin, 'decrease', 0.05, { design }, 'absolute');
    expectRel(inferior.bound, 0.8 + ref.q * se, P, 'bound (proven inferior)');
    expect(inferior.nonInferior).toBe(false);
    expect(inferior.inferior).toBe(true);
    // A margin of 0.5: harm within it, but not proven to be.
    const wide = nonInferiority(c, 0.5, 'decrease', 0.05, { design }, 'absolute');
    expectRel(wide.pValue, ref.pDown, P, 'p (lower is better, wide margin)');
    expect(wide.pValue).toBeGreaterThan(0.05);
    expect(wide.nonInferior).toBe(false);
    expect(wide.inferior).toBe(false);
  });

  it('an effect already past the margin on the side of harm has p-value 1', () => {
    const design = { look: 2, fractions: [0.5, 1], spending: 'pocock' as const };
    const c = compareArms(TREATMENT, CONTROL, { alpha: 0.05, test: 'z', groupSequential: design });
    const ni = nonInferiority(c, 0.01, 'increase', 0.05, { design }, 'relative');
    expect(c.relative.effect + 0.01).toBeLessThan(0);
    expect(ni.pValue).toBe(1);
    expect(ni.nonInferior).toBe(false);
  });
});
