import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { judgeMetric, type Measurement, type MetricSpec } from '../src/judge';

/**
 * Every comparison the canary judge makes on a business metric, in both orientations: a canary that is
 * worse in the metric's own direction fails, one that is better passes. The statistical rules test one
 * side (canary worse by more than min-effect) and their p-values are checked against margin tests computed
 * with scipy at test time.
 */
const opts = { alpha: 0.01, minSamples: 20 };
const business = (higherIsBetter: boolean, rule: Partial<MetricSpec>): MetricSpec => ({
  name: higherIsBetter ? 'conversion' : 'cost-per-order',
  class: 'business',
  higherIsBetter,
  ...rule,
});
const values = (canary: number, stable: number): Measurement => ({ canary, stable });
const pOf = (detail: string) => Number(/p=([^ ,]+)/.exec(detail)![1]);
/**
 * The two-proportion judge's test written out in Python: one-sided p that the canary's share of bad
 * outcomes exceeds stable's by more than the default min-effect, Agresti-Caffo difference, scipy's normal.
 */
const MARGIN_P = `from scipy.stats import norm
def margin_p(bad1, n1, bad2, n2, margin=0.005):
    a1, a2 = (bad1 + 1) / (n1 + 2), (bad2 + 1) / (n2 + 2)
    se = (a1 * (1 - a1) / (n1 + 2) + a2 * (1 - a2) / (n2 + 2)) ** 0.5
    return float(norm.sf((a1 - a2 - margin) / se))`;

describe('canary judge: direction of every business-metric comparison', () => {
  it('min and max bounds hold as written, whichever way is better', () => {
    for (const higherIsBetter of [true, false]) {
      const floor = business(higherIsBetter, { min: 0.1 });
      expect(judgeMetric(floor, values(0.09, 0.12), opts).verdict).toBe('fail');
      expect(judgeMetric(floor, values(0.1, 0.12), opts).verdict).toBe('pass');
      const ceiling = business(higherIsBetter, { max: 2.5 });
      expect(judgeMetric(ceiling, values(2.6, 2), opts).verdict).toBe('fail');
      expect(judgeMetric(ceiling, values(2.5, 2), opts).verdict).toBe('pass');
    }
  });

  it('higher is better: min-ratio fails a canary below stable × ratio and passes one above', () => {
    const spec = business(true, { minRatio: 0.95 });
    expect(judgeMetric(spec, values(0.094, 0.1), opts).verdict).toBe('fail');
    expect(judgeMetric(spec, values(0.095, 0.1), opts).verdict).toBe('pass');
    expect(judgeMetric(spec, values(0.2, 0.1), opts).verdict).toBe('pass');
  });

  it('lower is better: max-ratio fails a canary above stable × ratio and passes one below', () => {
    const spec = business(false, { maxRatio: 1.05 });
    expect(judgeMetric(spec, values(10.6, 10), opts).verdict).toBe('fail');
    expect(judgeMetric(spec, values(10.5, 10), opts).verdict).toBe('pass');
    expect(judgeMetric(spec, values(5, 10), opts).verdict).toBe('pass');
  });

  describe('two-proportion margin test (Agresti-Caffo) against scipy.stats.norm', () => {
    // Conversions of 6000 canary and 60 000 stable users: 8 % or 12 % on the canary, 10 % on stable.
    // The judge fails only when the canary's share of bad outcomes (missed conversions where higher is
    // better) exceeds stable's by more than min-effect (0.005 by default) at α, one-sided.
    const lower = { canaryErrors: 480, canaryTotal: 6000, stableErrors: 6000, stableTotal: 60000 };
    const higher = { canaryErrors: 720, canaryTotal: 6000, stableErrors: 6000, stableTotal: 60000 };
    // 9.7 % against 10 % in ten times as many users: worse beyond doubt, but by less than the margin.
    const slightly = { canaryErrors: 5820, canaryTotal: 60000, stableErrors: 60000, stableTotal: 600000 };
    const ref = python<{
      lowerMissed: number;
      higherEvents: number;
      slightlyMissed: number;
      slightlyPlain: number;
    }>(
      `
import json, sys
${MARGIN_P}
def plain_less(x1, n1, x2, n2):
    p = (x1 + x2) / (n1 + n2)
    return float(norm.cdf((x1 / n1 - x2 / n2) / (p * (1 - p) * (1 / n1 + 1 / n2)) ** 0.5))
c = json.load(sys.stdin)
lo, hi, sl = c['lower'], c['higher'], c['slightly']
missed = lambda k: (k['canaryTotal'] - k['canaryErrors'], k['canaryTotal'], k['stableTotal'] - k['stableErrors'], k['stableTotal'])
events = lambda k: (k['canaryErrors'], k['canaryTotal'], k['stableErrors'], k['stableTotal'])
print(json.dumps(dict(lowerMissed=margin_p(*missed(lo)), higherEvents=margin_p(*events(hi)),
  slightlyMissed=margin_p(*missed(sl)), slightlyPlain=plain_less(*events(sl)))))
`,
      { lower, higher, slightly },
    );
    const measure = (counts: typeof lower): Measurement => ({
      canary: counts.canaryErrors / counts.canaryTotal,
      stable: counts.stableErrors / counts.stableTotal,
      counts,
    });

    it('higher is better (conversion): a lower canary rate fails on its missed conversions, a higher one passes', () => {
      const spec = business(true, { test: 'two-proportion' });
      const worse = judgeMetric(spec, measure(lower), opts);
      expect(ref.lowerMissed).toBeLessThan(opts.alpha);
      expect(pOf(worse.rules[0]!.detail)).toBeCloseTo(Number(ref.lowerMissed.toExponential(2)), 12);
      expect(worse.verdict).toBe('fail');
      expect(judgeMetric(spec, measure(higher), opts).verdict).toBe('pass');
    });

    it('lower is better (error-like): a higher canary rate fails on its events, a lower one passes', () => {
      const spec = business(false, { test: 'two-proportion' });
      const worse = judgeMetric(spec, measure(higher), opts);
      expect(ref.higherEvents).toBeLessThan(opts.alpha);
      expect(pOf(worse.rules[0]!.detail)).toBeCloseTo(Number(ref.higherEvents.toExponential(2)), 12);
      expect(worse.verdict).toBe('fail');
      expect(judgeMetric(spec, measure(lower), opts).verdict).toBe('pass');
    });

    it('a canary significantly but less than min-effect worse passes (the plain one-sided z test would fail it)', () => {
      const spec = business(true, { test: 'two-proportion' });
      const r = judgeMetric(spec, measure(slightly), opts);
      expect(ref.slightlyPlain).toBeLessThan(opts.alpha);
      expect(ref.slightlyMissed).toBeGreaterThan(opts.alpha);
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.slightlyMissed.toExponential(2)), 12);
      expect(r.verdict).toBe('pass');
    });
  });

  describe("Fisher's exact test must agree when an expected cell is below 5, against scipy.stats.fisher_exact", () => {
    // Conversions where higher is better: a missed conversion is the bad outcome, so scipy's 'less' tail on
    // conversions is the canary-worse tail. Where lower is better, 'greater' on the events is.
    const ref = python<{
      noneLess: number;
      noneMargin: number;
      eventsGreater: number;
      eventsMargin: number;
      vetoLess: number;
      vetoMargin: number;
    }>(`
import json
from scipy.stats import fisher_exact
${MARGIN_P}
print(json.dumps(dict(
  noneLess=float(fisher_exact([[0, 50], [40, 360]], alternative='less')[1]), noneMargin=margin_p(50, 50, 360, 400),
  eventsGreater=float(fisher_exact([[9, 41], [10, 390]], alternative='greater')[1]), eventsMargin=margin_p(9, 50, 10, 400),
  vetoLess=float(fisher_exact([[0, 20], [6, 14]], alternative='less')[1]), vetoMargin=margin_p(20, 20, 14, 20))))
`);
    const fisherOf = (detail: string) => Number(/Fisher exact p=([^ ,]+)/.exec(detail)![1]);

    it('higher is better: no conversions in 50 canary users against 10 % on stable fails (missed conversions)', () => {
      const counts = { canaryErrors: 0, canaryTotal: 50, stableErrors: 40, stableTotal: 400 };
      const spec = business(true, { test: 'two-proportion' });
      const r = judgeMetric(spec, { canary: 0, stable: 0.1, counts }, opts);
      expect(ref.noneMargin).toBeLessThan(opts.alpha);
      expect(ref.noneLess).toBeLessThan(opts.alpha);
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.noneMargin.toExponential(2)), 12);
      expect(fisherOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.noneLess.toExponential(2)), 12);
      expect(r.verdict).toBe('fail');
      const better = { canaryErrors: 9, canaryTotal: 50, stableErrors: 10, stableTotal: 400 };
      expect(judgeMetric(spec, { canary: 0.18, stable: 0.025, counts: better }, opts).verdict).toBe('pass');
    });

    it('lower is better: 9 events in 50 canary users against 2.5 % on stable fails (events)', () => {
      const counts = { canaryErrors: 9, canaryTotal: 50, stableErrors: 10, stableTotal: 400 };
      const spec = business(false, { test: 'two-proportion' });
      const r = judgeMetric(spec, { canary: 0.18, stable: 0.025, counts }, opts);
      expect(ref.eventsMargin).toBeLessThan(opts.alpha);
      expect(ref.eventsGreater).toBeLessThan(opts.alpha);
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.eventsMargin.toExponential(2)), 12);
      expect(fisherOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.eventsGreater.toExponential(2)), 12);
      expect(r.verdict).toBe('fail');
      const better = { canaryErrors: 0, canaryTotal: 50, stableErrors: 40, stableTotal: 400 };
      expect(judgeMetric(spec, { canary: 0, stable: 0.1, counts: better }, opts).verdict).toBe('pass');
    });

    it('higher is better: the margin test alone would fail 0 of 20 against 6 of 20, but Fisher does not agree', () => {
      const counts = { canaryErrors: 0, canaryTotal: 20, stableErrors: 6, stableTotal: 20 };
      const spec = business(true, { test: 'two-proportion' });
      const r = judgeMetric(spec, { canary: 0, stable: 0.3, counts }, opts);
      expect(ref.vetoMargin).toBeLessThan(opts.alpha);
      expect(ref.vetoLess).toBeGreaterThanOrEqual(opts.alpha);
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.vetoMargin.toExponential(2)), 12);
      expect(fisherOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.vetoLess.toExponential(2)), 12);
      expect(r.verdict).toBe('pass');
    });
  });

  describe('Mann-Whitney on histogram buckets: one-sided margin test of P(canary worse), against scipy', () => {
    // Bins of 1000 stable and 100 canary observations; the canary sits higher. The one-sided p of
    // P(canary worse) − 0.5 > 0.05 (DeLong's standard error from scipy.stats.rankdata midranks, the
    // effect from scipy.stats.mannwhitneyu's U) is between α/2 and α, so a two-sided test would pass it.
    const stableBins = [300, 500, 150, 40, 10];
    const canaryBins = [18, 41, 30, 11, 0];
    const ref = python<{ effect: number; oneSided: number; twoSided: number }>(
      `
import json, sys
import numpy as np
from scipy.stats import mannwhitneyu, norm, rankdata
c = json.load(sys.stdin)
x = np.repeat(np.arange(5), c['canary']).astype(float)
y = np.repeat(np.arange(5), c['stable']).astype(float)
m, n = len(x), len(y)
auc = float(mannwhitneyu(x, y, alternative='greater', method='asymptotic').statistic) / (m * n)
r = rankdata(np.concatenate([x, y]))
v10 = (r[:m] - rankdata(x)) / n
v01 = 1 - (r[m:] - rankdata(y)) / m
se = float(np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))
one = float(norm.sf((auc - 0.5 - 0.05) / se))
two = float(2 * norm.sf((abs(auc - 0.5) - 0.05) / se))
print(json.dumps(dict(effect=auc, oneSided=one, twoSided=two)))
`,
      { canary: canaryBins, stable: stableBins },
    );
    const cumulative = (bins: number[]) =>
      bins.map((_, i) => bins.slice(0, i + 1).reduce((s, v) => s + v, 0));
    const histogram = (canary: number[], stable: number[]): Measurement => ({
      canary: Number.NaN,
      stable: Number.NaN,
      buckets: {
        bounds: [1, 2, 3, 4, Number.POSITIVE_INFINITY],
        canary: cumulative(canary),
        stable: cumulative(stable),
      },
    });
    const worseOf = (detail: string) => Number(/P\(canary worse\)=([^ ,]+)/.exec(detail)![1]);

    it('lower is better (latency-like): the higher canary fails at α although the two-sided p is above α', () => {
      expect(ref.oneSided).toBeLessThan(opts.alpha);
      expect(ref.twoSided).toBeGreaterThan(opts.alpha);
      const spec = business(false, { test: 'mann-whitney' });
      const r = judgeMetric(spec, histogram(canaryBins, stableBins), opts);
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.oneSided.toExponential(2)), 12);
      expect(worseOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.effect.toPrecision(4)), 12);
      expect(r.verdict).toBe('fail');
      // The same canary is better where higher is better.
      expect(
        judgeMetric(business(true, { test: 'mann-whitney' }), histogram(canaryBins, stableBins), opts)
          .verdict,
      ).toBe('pass');
    });

    it('higher is better: the mirrored, lower canary fails on the other tail with the same p', () => {
      const spec = business(true, { test: 'mann-whitney' });
      const r = judgeMetric(spec, histogram([...canaryBins].reverse(), [...stableBins].reverse()), opts);
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.oneSided.toExponential(2)), 12);
      // P(canary worse) of the mirrored canary where higher is better is that of the unmirrored one.
      expect(worseOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.effect.toPrecision(4)), 12);
      expect(r.verdict).toBe('fail');
      expect(
        judgeMetric(
          business(false, { test: 'mann-whitney' }),
          histogram([...canaryBins].reverse(), [...stableBins].reverse()),
          opts,
        ).verdict,
      ).toBe('pass');
    });
  });
});
