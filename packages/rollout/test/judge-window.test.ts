import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { judgeMetric, judgeWindow, type Measurement, type MetricSpec } from '../src/judge';
import { binCounts, histogramQuantile, logGamma } from '../src/stats';

/** The judge's inconclusive paths and the window verdicts and reasons the report shows. */
const opts = { alpha: 0.01, minSamples: 50 };
const m = (canary: number, stable: number): Measurement => ({ canary, stable });
const traffic = { canaryRequests: 500, stableRequests: 5000 };

describe('canary judge: what it cannot judge, and the window reasons', () => {
  it('a missing canary value makes min and max rules inconclusive, with the reason', () => {
    const r = judgeMetric({ name: 'x', class: 'business', min: 0.1, max: 1 }, m(Number.NaN, 0.5), opts);
    expect(r.verdict).toBe('inconclusive');
    expect(r.rules).toEqual([
      { rule: '≤ 1', verdict: 'inconclusive', detail: 'no canary value (no traffic or no series)' },
      { rule: '≥ 0.1', verdict: 'inconclusive', detail: 'no canary value (no traffic or no series)' },
    ]);
    const known = judgeMetric({ name: 'x', class: 'business', min: 0.1, max: 1 }, m(0.5, 0.5), opts);
    expect(known.rules.map((x) => [x.verdict, x.detail])).toEqual([
      ['pass', 'canary 0.5'],
      ['pass', 'canary 0.5'],
    ]);
    const ratio = judgeMetric({ name: 'x', class: 'technical', maxRatio: 1.1 }, m(0.3, 0.25), opts);
    expect(ratio.rules[0]).toEqual({
      rule: '≤ stable × 1.1',
      verdict: 'fail',
      detail: 'canary 0.3 vs 0.275',
    });
  });

  it('Mann-Whitney without buckets or with too few observations is inconclusive, not a pass', () => {
    const spec: MetricSpec = { name: 'latency', class: 'technical', test: 'mann-whitney' };
    const none = judgeMetric(spec, m(0.1, 0.1), opts);
    expect(none.verdict).toBe('inconclusive');
    expect(none.rules[0]).toEqual({
      rule: 'Mann-Whitney: P(canary worse) − 0.5 > 0.05 at α=0.01',
      verdict: 'inconclusive',
      detail: 'no histogram buckets',
    });
    const few = judgeMetric(
      spec,
      {
        ...m(0.1, 0.1),
        buckets: { bounds: [0.1, Number.POSITIVE_INFINITY], canary: [10, 40], stable: [500, 1000] },
      },
      opts,
    );
    expect(few.verdict).toBe('inconclusive');
    expect(few.rules[0]!.detail).toBe('too few observations (canary 40, stable 1000)');
    // Exactly minSamples observations on each track are enough to judge.
    const enough = judgeMetric(
      spec,
      {
        ...m(0.1, 0.1),
        buckets: { bounds: [0.1, Number.POSITIVE_INFINITY], canary: [25, 50], stable: [25, 50] },
      },
      opts,
    );
    expect(enough.verdict).toBe('pass');
  });

  it('two-proportion without counts or with too few requests is inconclusive, not a pass', () => {
    const spec: MetricSpec = { name: 'error-rate', class: 'technical', test: 'two-proportion' };
    const none = judgeMetric(spec, m(0.1, 0.1), opts);
    expect(none.verdict).toBe('inconclusive');
    expect(none.rules[0]).toEqual({
      rule: 'two-proportion: difference > 0.005 at α=0.01',
      verdict: 'inconclusive',
      detail: 'too few in the denominator (canary 0, stable 0; 50 needed)',
    });
    const few = judgeMetric(
      spec,
      { ...m(0.5, 0), counts: { canaryErrors: 20, canaryTotal: 40, stableErrors: 0, stableTotal: 4000 } },
      opts,
    );
    expect(few.verdict).toBe('inconclusive');
    expect(few.rules[0]!.detail).toBe('too few in the denominator (canary 40, stable 4000; 50 needed)');
  });

  it('a window passes only when every metric passed, and says so', () => {
    const specs: MetricSpec[] = [
      { name: 'error-rate', class: 'technical', max: 0.01 },
      { name: 'conversion', class: 'business', minRatio: 0.9, higherIsBetter: true },
    ];
    const judged = judgeWindow(
      specs,
      new Map([
        ['error-rate', m(0.001, 0.001)],
        ['conversion', m(0.1, 0.1)],
      ]),
      traffic,
      opts,
    );
    expect(judged).toMatchObject({
      verdict: 'pass',
      critical: false,
      reason: 'every metric passed',
      classes: { technical: 'pass', business: 'pass' },
    });
  });

  it('an inconclusive metric (no measurement at all) makes the window inconclusive, naming it', () => {
    const specs: MetricSpec[] = [
      { name: 'error-rate', class: 'technical', max: 0.01 },
      { name: 'conversion', class: 'business', minRatio: 0.9, higherIsBetter: true },
    ];
    const judged = judgeWindow(specs, new Map([['error-rate', m(0.001, 0.001)]]), traffic, opts);
    expect(judged.verdict).toBe('inconclusive');
    expect(judged.reason).toBe('inconclusive: conversion');
    expect(judged.classes).toEqual({ technical: 'pass', business: 'inconclusive' });
    expect(judged.critical).toBe(false);
  });

  it('failures are listed per class; a non-critical failure does not ask for an immediate rollback', () => {
    const specs: MetricSpec[] = [
      { name: 'error-rate', class: 'technical', max: 0.01 },
      { name: 'p95-latency', class: 'technical', maxRatio: 1.2 },
      { name: 'conversion', class: 'business', minRatio: 0.9, higherIsBetter: true },
    ];
    const judged = judgeWindow(
      specs,
      new Map([
        ['error-rate', m(0.05, 0.001)],
        ['p95-latency', m(0.5, 0.2)],
        ['conversion', m(0.05, 0.1)],
      ]),
      traffic,
      opts,
    );
    expect(judged.verdict).toBe('fail');
    expect(judged.critical).toBe(false);
    expect(judged.reason).toBe('failed: technical error-rate, p95-latency; business conversion');
    const quiet = judgeWindow(specs, new Map(), { canaryRequests: 49, stableRequests: 5000 }, opts);
    expect(quiet.reason).toBe('too little traffic: 49 canary and 5000 stable requests, 50 needed on each');
  });
});

describe('histogram helpers', () => {
  it('binCounts turns cumulative le counts into per-bucket counts and never goes negative', () => {
    expect(binCounts([3, 5, 5, 9])).toEqual([3, 2, 0, 4]);
    expect(binCounts([3, 2, 5])).toEqual([3, 0, 2]);
  });

  it('a quantile in the +Inf bucket is the highest finite bound, as Prometheus histogram_quantile answers', () => {
    const bounds = [0.1, 0.2, Number.POSITIVE_INFINITY];
    expect(histogramQuantile(0.99, bounds, [50, 90, 100])).toBe(0.2);
    expect(histogramQuantile(0.5, [Number.POSITIVE_INFINITY], [10])).toBeNaN();
  });

  it('logGamma matches scipy.special.gammaln, below ½ (reflection) too', () => {
    const xs = [0.3, 0.5, 7.25, 120.5];
    const ref = python<number[]>(
      `import json\nfrom scipy.special import gammaln\nprint(json.dumps([float(gammaln(x)) for x in ${JSON.stringify(xs)}]))`,
    );
    for (const [i, x] of xs.entries()) {
      expect(Math.abs(logGamma(x) - ref[i]!) / Math.abs(ref[i]!), `gammaln(${x})`).toBeLessThan(1e-12);
    }
  });
});
