import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import {
  combine,
  judgeMetric,
  judgeWindow,
  type Measurement,
  type MetricResult,
  type MetricSpec,
} from '../src/judge';

/**
 * The judge's boundaries, derived by hand from the documented rule (canary-deploy README, "How it
 * decides"): the minimum-sample guards at exactly min-samples, p against alpha, the expected-cell rule
 * that calls in Fisher's exact test, and what a window says when only some metrics can be judged.
 */
const opts = { alpha: 0.01, minSamples: 50 };
const m = (canary: number, stable: number): Measurement => ({ canary, stable });
const cumulative = (bins: number[]) => bins.map((_, i) => bins.slice(0, i + 1).reduce((s, v) => s + v, 0));
const histogram = (canary: number[], stable: number[], bounds = [0.1, 0.2, Number.POSITIVE_INFINITY]) => ({
  ...m(Number.NaN, Number.NaN),
  buckets: { bounds, canary, stable },
});
const latency: MetricSpec = { name: 'latency', class: 'technical', test: 'mann-whitney' };
const errors: MetricSpec = { name: 'error-rate', class: 'technical', test: 'two-proportion' };
const counts = (canaryErrors: number, canaryTotal: number, stableErrors: number, stableTotal: number) => ({
  ...m(canaryErrors / canaryTotal, stableErrors / stableTotal),
  counts: { canaryErrors, canaryTotal, stableErrors, stableTotal },
});

describe('canary judge: one metric', () => {
  it('a metric without any rule cannot pass: inconclusive, carrying its values', () => {
    const r = judgeMetric({ name: 'request-rate', class: 'technical' }, m(12.5, 110), opts);
    expect(r).toEqual({
      name: 'request-rate',
      class: 'technical',
      critical: false,
      canary: 12.5,
      stable: 110,
      verdict: 'inconclusive',
      rules: [],
    });
  });

  it('a failing rule outweighs an inconclusive one on the same metric', () => {
    const r = judgeMetric({ ...latency, max: 0.2 }, m(0.5, 0.1), opts);
    expect(r.rules.map((x) => x.verdict)).toEqual(['fail', 'inconclusive']);
    expect(r.verdict).toBe('fail');
  });

  it('a passing rule does not make up for one that cannot be judged', () => {
    const r = judgeMetric({ ...latency, max: 1 }, m(0.5, 0.4), opts);
    expect(r.rules.map((x) => x.verdict)).toEqual(['pass', 'inconclusive']);
    expect(r.verdict).toBe('inconclusive');
  });

  it('a ratio rule without a canary value is inconclusive, whichever side is missing', () => {
    for (const spec of [
      { name: 'conversion', class: 'business', minRatio: 0.9, higherIsBetter: true },
      { name: 'p95-latency', class: 'technical', maxRatio: 1.2 },
    ] satisfies MetricSpec[]) {
      expect(judgeMetric(spec, m(Number.NaN, 0.1), opts).rules[0]).toMatchObject({
        verdict: 'inconclusive',
        detail: 'canary or stable value missing',
      });
    }
    expect(judgeMetric({ name: 'x', class: 'business', minRatio: 0.9 }, m(0.5, 0.5), opts).rules[0]).toEqual({
      rule: '≥ stable × 0.9',
      verdict: 'pass',
      detail: 'canary 0.5 vs 0.45',
    });
  });

  describe('Mann-Whitney', () => {
    it('too few observations on the stable track alone is inconclusive too', () => {
      const r = judgeMetric(latency, histogram([100, 300, 400], [10, 30, 49]), opts);
      expect(r.verdict).toBe('inconclusive');
      expect(r.rules[0]!.detail).toBe('too few observations (canary 400, stable 49)');
    });

    it('rounds fractional bucket counts (increase() extrapolates) and never lets a cumulative count go back', () => {
      // Canary 30, 25.4, 59.6 cumulative: 30 in the first bucket, none in the second (the count went back),
      // 30 in the third: 60 requests. Stable 20.4, 40.5, 80.2: 20, 21, 39 (40.5 rounds to 41).
      const spec = { ...latency };
      const r = judgeMetric(spec, histogram([30, 25.4, 59.6], [20.4, 40.5, 80.2]), {
        ...opts,
        minSamples: 61,
      });
      expect(r.rules[0]!.detail).toBe('too few observations (canary 60, stable 80)');
      const judged = judgeMetric(spec, histogram([30, 25.4, 59.6], [20.4, 40.5, 80.2]), opts);
      expect(judged.rules[0]!.detail).toMatch(/, n=60\/80$/);
    });

    it('reports P(canary worse), its DeLong standard error and the margin p as scipy computes them', () => {
      const canary = [20, 50, 30];
      const stable = [300, 500, 200];
      const ref = python<{ worse: number; se: number; p: number }>(
        `
import json, sys
import numpy as np
from scipy.stats import mannwhitneyu, norm, rankdata
c = json.load(sys.stdin)
x = np.repeat(np.arange(3), c['canary']).astype(float)
y = np.repeat(np.arange(3), c['stable']).astype(float)
m, n = len(x), len(y)
auc = float(mannwhitneyu(x, y, method='asymptotic').statistic) / (m * n)
r = rankdata(np.concatenate([x, y]))
v10 = (r[:m] - rankdata(x)) / n
v01 = 1 - (r[m:] - rankdata(y)) / m
se = float(np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))
print(json.dumps(dict(worse=auc, se=se, p=float(norm.sf((auc - 0.5 - 0.05) / se)))))
`,
        { canary, stable },
      );
      const r = judgeMetric(latency, histogram(cumulative(canary), cumulative(stable)), opts);
      const [, worse, se, p, n] = /^P\(canary worse\)=(\S+) ± (\S+), p=(\S+), n=(\S+)$/.exec(
        r.rules[0]!.detail,
      )!;
      expect(Number(worse)).toBe(Number(ref.worse.toPrecision(4)));
      expect(Number(se)).toBe(Number(ref.se.toPrecision(4)));
      expect(Number(p)).toBe(Number(ref.p.toExponential(2)));
      expect(n).toBe('100/1000');
      expect(r.verdict).toBe(ref.p < opts.alpha ? 'fail' : 'pass');
    });

    it('a canary slower than every stable request fails with p = 0 (DeLong standard error 0 at complete separation)', () => {
      const r = judgeMetric(latency, histogram([0, 0, 60], [60, 60, 60]), opts);
      expect(r.verdict).toBe('fail');
      expect(r.rules[0]!.detail).toBe('P(canary worse)=1 ± 0, p=0.00e+0, n=60/60');
    });

    it('a canary worse by exactly min-effect does not clear it: p = 0.5 is not below alpha = 0.5', () => {
      // Canary 50 all in the upper bucket, stable 25 below and 25 tied: P(canary worse) = (25 + 25/2) / 50 = 0.75,
      // so with min-effect 0.25 the estimate sits on the margin, z = 0 and the one-sided p is exactly ½.
      const r = judgeMetric({ ...latency, minEffect: 0.25 }, histogram([0, 50, 50], [25, 50, 50]), {
        alpha: 0.5,
        minSamples: 50,
      });
      expect(r.rules[0]!.detail).toMatch(/^P\(canary worse\)=0\.75 ± \S+, p=5\.00e-1, n=50\/50$/);
      expect(r.rules[0]!.verdict).toBe('pass');
      expect(r.verdict).toBe('pass');
    });
  });

  describe('two-proportion', () => {
    it('too few requests on the stable track alone is inconclusive; exactly min-samples on each is judged', () => {
      const few = judgeMetric(errors, counts(0, 500, 0, 49), opts);
      expect(few.verdict).toBe('inconclusive');
      expect(few.rules[0]!.detail).toBe('too few in the denominator (canary 500, stable 49; 50 needed)');
      expect(judgeMetric(errors, counts(0, 50, 0, 50), opts).verdict).toBe('pass');
      expect(judgeMetric(errors, counts(50, 50, 0, 50), opts).verdict).toBe('fail');
    });

    it('rounds fractional counts and caps the events at the requests in the detail', () => {
      const r = judgeMetric(errors, counts(29.6, 499.7, 100.4, 5000.2), opts);
      expect(r.rules[0]!.detail).toMatch(/^0\.06 vs 0\.02 \(n=500\/5000\), p=\S+$/);
      const capped = judgeMetric(errors, counts(63, 60, 1, 600), opts);
      expect(capped.rules[0]!.detail).toMatch(/^1 vs 0\.001667 \(n=60\/600\), p=/);
      expect(capped.verdict).toBe('fail');
    });

    it('reports the Agresti-Caffo margin p as scipy.stats.norm computes it', () => {
      const ref = python<number>(`
import json
from scipy.stats import norm
a1, a2 = 31 / 502, 101 / 5002
se = (a1 * (1 - a1) / 502 + a2 * (1 - a2) / 5002) ** 0.5
print(json.dumps(float(norm.sf((a1 - a2 - 0.005) / se))))
`);
      const r = judgeMetric(errors, counts(30, 500, 100, 5000), opts);
      expect(r.rules[0]!.detail).toBe(`0.06 vs 0.02 (n=500/5000), p=${ref.toExponential(2)}`);
      expect(r.verdict).toBe('fail');
    });

    it('a difference of exactly min-effect does not clear it: p = 0.5 is not below alpha = 0.5', () => {
      // Agresti-Caffo: (47 + 1) / 64 − (15 + 1) / 64 = 0.75 − 0.25 = 0.5, on the margin; every expected cell
      // is 31, so no Fisher test.
      const r = judgeMetric({ ...errors, minEffect: 0.5 }, counts(47, 62, 15, 62), {
        alpha: 0.5,
        minSamples: 50,
      });
      expect(r.rules[0]!.detail).toMatch(/p=5\.00e-1$/);
      expect(r.rules[0]!.verdict).toBe('pass');
      expect(r.verdict).toBe('pass');
    });

    it('calls in Fisher exactly when an expected cell of the 2×2 table is below 5, whichever cell it is', () => {
      // Expected cells: requests × pooled rate and requests × (1 − pooled rate) on each track.
      const withFisher = (c: Measurement) =>
        judgeMetric(errors, c, opts).rules[0]!.detail.includes('Fisher exact');
      // Canary 100 of 1000 requests: 45 events in all expects 4.5 canary events; 50 expects 5.
      expect(withFisher(counts(5, 100, 40, 900))).toBe(true);
      expect(withFisher(counts(10, 100, 40, 900))).toBe(false);
      // 955 events expect 4.5 canary non-events; 950 expect 5.
      expect(withFisher(counts(95, 100, 860, 900))).toBe(true);
      expect(withFisher(counts(90, 100, 860, 900))).toBe(false);
      // The same with stable the small track.
      expect(withFisher(counts(40, 900, 5, 100))).toBe(true);
      expect(withFisher(counts(40, 900, 10, 100))).toBe(false);
      expect(withFisher(counts(860, 900, 95, 100))).toBe(true);
      expect(withFisher(counts(860, 900, 90, 100))).toBe(false);
    });
  });
});

describe('canary judge: the window', () => {
  const traffic = (canaryRequests: number, stableRequests: number) => ({ canaryRequests, stableRequests });
  const broken = new Map([['error-rate', m(0.5, 0)]]);
  const threshold: MetricSpec[] = [{ name: 'error-rate', class: 'technical', max: 0.01 }];

  it('exactly min-samples requests on each track are enough to judge; one fewer on stable alone is not', () => {
    expect(judgeWindow(threshold, broken, traffic(50, 50), opts).verdict).toBe('fail');
    const quiet = judgeWindow(threshold, broken, traffic(5000, 49), opts);
    expect(quiet.verdict).toBe('inconclusive');
    expect(quiet.reason).toBe('too little traffic: 5000 canary and 49 stable requests, 50 needed on each');
  });

  it('below the guard, only a business metric judged by a test on its own sample may fail the window', () => {
    const low = traffic(20, 180);
    // A technical metric with a test counts HTTP requests, which are too few.
    const technical = judgeWindow([errors], new Map([['error-rate', counts(50, 200, 10, 1800)]]), low, opts);
    expect(technical.metrics[0]!.verdict).toBe('fail');
    expect(technical.verdict).toBe('inconclusive');
    // A business metric without a test has no sample of its own.
    const ratio: MetricSpec = { name: 'conversion', class: 'business', minRatio: 0.9, higherIsBetter: true };
    const business = judgeWindow([ratio], new Map([['conversion', m(0.05, 0.1)]]), low, opts);
    expect(business.metrics[0]!.verdict).toBe('fail');
    expect(business.verdict).toBe('inconclusive');
  });

  it('below the guard, a critical own-sample failure rolls back at once and a failing technical metric is not named', () => {
    const own: MetricSpec = {
      name: 'positive-rate',
      class: 'business',
      test: 'two-proportion',
      higherIsBetter: true,
    };
    const specs: MetricSpec[] = [
      { ...errors, critical: true },
      { ...own, critical: true },
    ];
    const values = new Map<string, Measurement>([
      ['error-rate', counts(100, 200, 10, 1800)],
      ['positive-rate', counts(40, 200, 900, 1800)],
    ]);
    const judged = judgeWindow(specs, values, traffic(20, 180), opts);
    expect(judged.metrics.map((x) => x.verdict)).toEqual(['fail', 'fail']);
    expect(judged.verdict).toBe('fail');
    expect(judged.critical).toBe(true);
    expect(judged.reason).toBe('failed: business positive-rate');
    const notCritical = judgeWindow([specs[0]!, own], values, traffic(20, 180), opts);
    expect(notCritical.critical).toBe(false);
  });

  it('a metric the provider did not measure is reported with no values, not zeros', () => {
    const judged = judgeWindow(threshold, new Map(), traffic(500, 500), opts);
    expect(judged.metrics[0]!.canary).toBeNaN();
    expect(judged.metrics[0]!.stable).toBeNaN();
    expect(judged.reason).toBe('inconclusive: error-rate');
  });

  it('one critical metric among several failures rolls back at once; every inconclusive metric is named', () => {
    const specs: MetricSpec[] = [
      { name: 'error-rate', class: 'technical', max: 0.01, critical: true },
      { name: 'p95-latency', class: 'technical', maxRatio: 1.2 },
    ];
    const failed = judgeWindow(
      specs,
      new Map([
        ['error-rate', m(0.05, 0.001)],
        ['p95-latency', m(0.5, 0.2)],
      ]),
      traffic(500, 500),
      opts,
    );
    expect(failed.reason).toBe('failed: technical error-rate, p95-latency');
    expect(failed.critical).toBe(true);
    const unsure = judgeWindow(specs, new Map(), traffic(500, 500), opts);
    expect(unsure.reason).toBe('inconclusive: error-rate, p95-latency');
  });

  it('a class without metrics gets no verdict of its own', () => {
    const judged = judgeWindow(
      threshold,
      new Map([['error-rate', m(0.001, 0.001)]]),
      traffic(500, 500),
      opts,
    );
    expect(judged.classes).toEqual({ technical: 'pass' });
    expect(judged.verdict).toBe('pass');
  });

  it('combine: any fail fails, else any inconclusive or an empty group is inconclusive', () => {
    const of = (...verdicts: MetricResult['verdict'][]) =>
      verdicts.map(
        (verdict, i): MetricResult => ({
          name: `m${i}`,
          class: 'technical',
          critical: false,
          canary: 0,
          stable: 0,
          verdict,
          rules: [],
        }),
      );
    expect(combine([])).toBe('inconclusive');
    expect(combine(of('pass', 'pass'))).toBe('pass');
    expect(combine(of('pass', 'inconclusive'))).toBe('inconclusive');
    expect(combine(of('inconclusive', 'fail', 'pass'))).toBe('fail');
  });
});
