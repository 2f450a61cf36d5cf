import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { judgeMetric, type Measurement, type MetricSpec } from '../src/judge';

/**
 * Every comparison the canary judge makes on a business metric, in both orientations: a canary that is
 * worse in the metric's own direction fails, one that is better passes. The statistical rules are
 * one-sided (canary worse) and their p-values are checked against scipy's one-sided tests.
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

  describe('two-proportion test (z) against scipy.stats.norm one-sided tails', () => {
    // Conversions of 6000 canary and 60 000 stable users: 9 % or 11 % on the canary, 10 % on stable.
    const lower = { canaryErrors: 540, canaryTotal: 6000, stableErrors: 6000, stableTotal: 60000 };
    const higher = { canaryErrors: 660, canaryTotal: 6000, stableErrors: 6000, stableTotal: 60000 };
    const ref = python<{ lowerLess: number; higherGreater: number }>(`
import json
from scipy.stats import norm
def z(x1, n1, x2, n2):
    p = (x1 + x2) / (n1 + n2)
    return (x1 / n1 - x2 / n2) / (p * (1 - p) * (1 / n1 + 1 / n2)) ** 0.5
print(json.dumps(dict(lowerLess=norm.cdf(z(540, 6000, 6000, 60000)), higherGreater=norm.sf(z(660, 6000, 6000, 60000)))))
`);
    const measure = (counts: typeof lower): Measurement => ({
      canary: counts.canaryErrors / counts.canaryTotal,
      stable: counts.stableErrors / counts.stableTotal,
      counts,
    });

    it('higher is better (conversion): a lower canary rate fails on the lower tail, a higher one passes', () => {
      const spec = business(true, { test: 'two-proportion' });
      const worse = judgeMetric(spec, measure(lower), opts);
      expect(ref.lowerLess).toBeLessThan(opts.alpha);
      expect(pOf(worse.rules[0]!.detail)).toBeCloseTo(Number(ref.lowerLess.toExponential(2)), 12);
      expect(worse.verdict).toBe('fail');
      expect(judgeMetric(spec, measure(higher), opts).verdict).toBe('pass');
    });

    it('lower is better (error-like): a higher canary rate fails on the upper tail, a lower one passes', () => {
      const spec = business(false, { test: 'two-proportion' });
      const worse = judgeMetric(spec, measure(higher), opts);
      expect(ref.higherGreater).toBeLessThan(opts.alpha);
      expect(pOf(worse.rules[0]!.detail)).toBeCloseTo(Number(ref.higherGreater.toExponential(2)), 12);
      expect(worse.verdict).toBe('fail');
      expect(judgeMetric(spec, measure(lower), opts).verdict).toBe('pass');
    });
  });

  describe("Fisher's exact test for few events, against scipy.stats.fisher_exact", () => {
    const ref = python<{ less: number; greater: number }>(`
import json
from scipy.stats import fisher_exact
print(json.dumps(dict(less=fisher_exact([[0, 50], [40, 360]], alternative='less')[1],
  greater=fisher_exact([[9, 41], [10, 390]], alternative='greater')[1])))
`);

    it('higher is better: no conversions in 50 canary users against 10 % on stable fails (lower tail)', () => {
      const counts = { canaryErrors: 0, canaryTotal: 50, stableErrors: 40, stableTotal: 400 };
      const spec = business(true, { test: 'two-proportion' });
      const r = judgeMetric(spec, { canary: 0, stable: 0.1, counts }, opts);
      expect(r.rules[0]!.detail).toContain('Fisher exact');
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.less.toExponential(2)), 12);
      expect(r.verdict).toBe(ref.less < opts.alpha ? 'fail' : 'pass');
      expect(r.verdict).toBe('fail');
      const better = { canaryErrors: 9, canaryTotal: 50, stableErrors: 10, stableTotal: 400 };
      expect(judgeMetric(spec, { canary: 0.18, stable: 0.025, counts: better }, opts).verdict).toBe('pass');
    });

    it('lower is better: 9 events in 50 canary users against 2.5 % on stable fails (upper tail)', () => {
      const counts = { canaryErrors: 9, canaryTotal: 50, stableErrors: 10, stableTotal: 400 };
      const spec = business(false, { test: 'two-proportion' });
      const r = judgeMetric(spec, { canary: 0.18, stable: 0.025, counts }, opts);
      expect(r.rules[0]!.detail).toContain('Fisher exact');
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.greater.toExponential(2)), 12);
      expect(r.verdict).toBe('fail');
      const better = { canaryErrors: 0, canaryTotal: 50, stableErrors: 40, stableTotal: 400 };
      expect(judgeMetric(spec, { canary: 0, stable: 0.1, counts: better }, opts).verdict).toBe('pass');
    });
  });

  describe('Mann-Whitney on histogram buckets is one-sided, against scipy.stats.mannwhitneyu', () => {
    // Bins of 1000 stable and 100 canary observations; the canary sits higher. scipy's one-sided p is
    // between α/2 and α, so a two-sided test (p doubled) would wrongly pass this canary.
    const stableBins = [300, 500, 150, 40, 10];
    const canaryBins = [30, 30, 28, 12, 0];
    const ref = python<{ greater: number; twoSided: number }>(`
import json
import numpy as np
from scipy.stats import mannwhitneyu
x = np.repeat(np.arange(5), ${JSON.stringify(canaryBins)}); y = np.repeat(np.arange(5), ${JSON.stringify(stableBins)})
g = mannwhitneyu(x, y, alternative='greater', method='asymptotic', use_continuity=True).pvalue
t = mannwhitneyu(x, y, alternative='two-sided', method='asymptotic', use_continuity=True).pvalue
print(json.dumps(dict(greater=g, twoSided=t)))
`);
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

    it('lower is better (latency-like): the higher canary fails at α although the two-sided p is above α', () => {
      expect(ref.greater).toBeLessThan(opts.alpha);
      expect(ref.twoSided).toBeGreaterThan(opts.alpha);
      const spec = business(false, { test: 'mann-whitney' });
      const r = judgeMetric(spec, histogram(canaryBins, stableBins), opts);
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.greater.toExponential(2)), 12);
      expect(r.rules[0]!.detail).toContain('P(canary worse)=0.5714');
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
      expect(pOf(r.rules[0]!.detail)).toBeCloseTo(Number(ref.greater.toExponential(2)), 12);
      // U/(n1·n2) of the unmirrored canary is 0.5714 (scipy's statistic / (100·1000)); worse on both sides.
      expect(r.rules[0]!.detail).toContain('P(canary worse)=0.5714');
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
