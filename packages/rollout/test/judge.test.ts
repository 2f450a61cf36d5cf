import { describe, expect, it } from 'vitest';
import { judgeMetric, judgeWindow, type Measurement, type MetricSpec } from '../src/judge';

const opts = { alpha: 0.01, minSamples: 50 };
const m = (canary: number, stable: number): Measurement => ({ canary, stable });

describe('canary judge', () => {
  it('applies absolute thresholds', () => {
    const spec: MetricSpec = { name: 'error-rate', class: 'technical', max: 0.01 };
    expect(judgeMetric(spec, m(0.005, 0.004), opts).verdict).toBe('pass');
    expect(judgeMetric(spec, m(0.02, 0.004), opts).verdict).toBe('fail');
    expect(judgeMetric(spec, m(Number.NaN, 0.004), opts).verdict).toBe('inconclusive');
  });

  it('applies rules relative to stable over the same window', () => {
    const spec: MetricSpec = { name: 'p95-latency', class: 'technical', maxRatio: 1.1 };
    expect(judgeMetric(spec, m(0.108, 0.1), opts).verdict).toBe('pass');
    expect(judgeMetric(spec, m(0.12, 0.1), opts).verdict).toBe('fail');
    expect(judgeMetric(spec, m(0, 0), opts).verdict).toBe('pass');
    expect(judgeMetric(spec, m(0.1, Number.NaN), opts).verdict).toBe('inconclusive');
    const business: MetricSpec = {
      name: 'positive-feedback',
      class: 'business',
      minRatio: 0.95,
      higherIsBetter: true,
    };
    expect(judgeMetric(business, m(0.7, 0.8), opts).verdict).toBe('fail');
    expect(judgeMetric(business, m(0.78, 0.8), opts).verdict).toBe('pass');
  });

  it('fails a slower canary on the histogram buckets, passes an equal one, and respects the effect floor', () => {
    const bounds = [0.01, 0.02, 0.05, 0.1, Number.POSITIVE_INFINITY];
    const spec: MetricSpec = { name: 'latency', class: 'technical', test: 'mann-whitney' };
    const slower: Measurement = {
      canary: 0,
      stable: 0,
      buckets: { bounds, stable: [300, 800, 950, 990, 1000], canary: [5, 40, 80, 98, 100] },
    };
    const same: Measurement = {
      canary: 0,
      stable: 0,
      buckets: { bounds, stable: [300, 800, 950, 990, 1000], canary: [30, 80, 95, 99, 100] },
    };
    expect(judgeMetric(spec, slower, opts).verdict).toBe('fail');
    expect(judgeMetric(spec, same, opts).verdict).toBe('pass');
    // A tiny but significant shift on lots of traffic fails without a floor, passes under the default one.
    const tiny: Measurement = {
      canary: 0,
      stable: 0,
      buckets: {
        bounds,
        stable: [30000, 80000, 95000, 99000, 100000],
        canary: [28500, 79000, 94800, 99000, 100000],
      },
    };
    expect(judgeMetric({ ...spec, minEffect: 0 }, tiny, opts).verdict).toBe('fail');
    expect(judgeMetric(spec, tiny, opts).verdict).toBe('pass');
  });

  it('fails only when the canary is worse than stable by more than the margin, whatever the p-value of no difference', () => {
    const bounds = [0.01, 0.02, 0.05, 0.1, Number.POSITIVE_INFINITY];
    const spec: MetricSpec = { name: 'latency', class: 'technical', test: 'mann-whitney' };
    const stable = [3000, 8000, 9500, 9900, 10000];
    // Canary 10 % in the first bin instead of 30 %: P(canary worse) = 0.1·0.15 + 0.7·0.55 + 0.15·0.875 +
    // 0.04·0.97 + 0.01·0.995 = 0.58 (ties count one half), and n = 1000 puts its bound well above 0.55.
    const worse: Measurement = {
      canary: 0,
      stable: 0,
      buckets: { bounds, stable, canary: [100, 800, 950, 990, 1000] },
    };
    const failed = judgeMetric(spec, worse, opts);
    expect(failed.verdict).toBe('fail');
    expect(failed.rules[0]!.detail).toMatch(/^P\(canary worse\)=0\.58 /);
    // 28 % instead of 30 %: P(canary worse) = 0.28·0.15 + 0.52·0.55 + 0.13125 + 0.0388 + 0.00995 = 0.508,
    // significantly slower (Mann-Whitney z ≈ 6 at n = 100 000 each) but by less than the margin.
    const offset: Measurement = {
      canary: 0,
      stable: 0,
      buckets: {
        bounds,
        stable: stable.map((v) => v * 10),
        canary: [28000, 80000, 95000, 99000, 100000],
      },
    };
    const judged = judgeMetric(spec, offset, opts);
    expect(judged.verdict).toBe('pass');
    expect(judged.rules[0]!.detail).toMatch(/^P\(canary worse\)=0\.508 /);
  });

  it('judges a business rate where higher is better on its own denominator', () => {
    const spec: MetricSpec = {
      name: 'positive-rate',
      class: 'business',
      query: 'x',
      test: 'two-proportion',
      minEffect: 0.02,
      higherIsBetter: true,
    };
    // 30 % fewer positives: 0.28 against 0.40 on 300 / 2700 predictions.
    const drop = { canaryErrors: 84, canaryTotal: 300, stableErrors: 1080, stableTotal: 2700 };
    expect(judgeMetric(spec, { ...m(0.28, 0.4), counts: drop }, opts).verdict).toBe('fail');
    const rise = { canaryErrors: 135, canaryTotal: 300, stableErrors: 1080, stableTotal: 2700 };
    expect(judgeMetric(spec, { ...m(0.45, 0.4), counts: rise }, opts).verdict).toBe('pass');
    const few = { canaryErrors: 5, canaryTotal: 30, stableErrors: 1080, stableTotal: 2700 };
    const judged = judgeMetric(spec, { ...m(0.17, 0.4), counts: few }, opts);
    expect(judged.verdict).toBe('inconclusive');
    expect(judged.rules[0]!.detail).toContain('too few in the denominator (canary 30');
  });

  it('uses the exact test for few errors, and fails clear error regressions', () => {
    const spec: MetricSpec = { name: 'error-rate', class: 'technical', test: 'two-proportion' };
    const few = judgeMetric(
      spec,
      { ...m(0.1, 0.02), counts: { canaryErrors: 2, canaryTotal: 20, stableErrors: 4, stableTotal: 180 } },
      { ...opts, minSamples: 10 },
    );
    expect(few.rules[0]!.detail).toContain('Fisher exact');
    expect(few.verdict).toBe('pass');
    const many = judgeMetric(
      spec,
      {
        ...m(0.1, 0.02),
        counts: { canaryErrors: 50, canaryTotal: 500, stableErrors: 90, stableTotal: 4500 },
      },
      opts,
    );
    expect(many.verdict).toBe('fail');
    expect(many.rules[0]!.detail).not.toContain('Fisher');
  });

  it('never passes or fails a window with too little traffic, and marks a critical failure', () => {
    const specs: MetricSpec[] = [{ name: 'error-rate', class: 'technical', max: 0.01, critical: true }];
    const bad = new Map([['error-rate', m(0.5, 0)]]);
    expect(judgeWindow(specs, bad, { canaryRequests: 10, stableRequests: 1000 }, opts).verdict).toBe(
      'inconclusive',
    );
    const judged = judgeWindow(specs, bad, { canaryRequests: 100, stableRequests: 1000 }, opts);
    expect(judged.verdict).toBe('fail');
    expect(judged.critical).toBe(true);
  });

  it('lets a business metric with a test fail on its own denominator when HTTP traffic is below the guard', () => {
    const specs: MetricSpec[] = [
      { name: 'error-rate', class: 'technical', max: 0.01 },
      {
        name: 'positive-rate',
        class: 'business',
        query: 'x',
        test: 'two-proportion',
        higherIsBetter: true,
      },
    ];
    const values = new Map<string, Measurement>([
      ['error-rate', m(0, 0)],
      [
        'positive-rate',
        {
          ...m(0.2, 0.5),
          counts: { canaryErrors: 40, canaryTotal: 200, stableErrors: 900, stableTotal: 1800 },
        },
      ],
    ]);
    const judged = judgeWindow(specs, values, { canaryRequests: 20, stableRequests: 180 }, opts);
    expect(judged.verdict).toBe('fail');
    expect(judged.reason).toBe('failed: business positive-rate');
    const same = new Map(values);
    same.set('positive-rate', {
      ...m(0.5, 0.5),
      counts: { canaryErrors: 100, canaryTotal: 200, stableErrors: 900, stableTotal: 1800 },
    });
    const quiet = judgeWindow(specs, same, { canaryRequests: 20, stableRequests: 180 }, opts);
    expect(quiet.verdict).toBe('inconclusive');
    expect(quiet.reason).toContain('too little traffic');
  });

  it('gives technical and business metrics verdicts of their own', () => {
    const specs: MetricSpec[] = [
      { name: 'error-rate', class: 'technical', max: 0.01 },
      { name: 'positive-feedback', class: 'business', query: 'x', minRatio: 0.95, higherIsBetter: true },
    ];
    const values = new Map([
      ['error-rate', m(0.001, 0.001)],
      ['positive-feedback', m(0.6, 0.8)],
    ]);
    const judged = judgeWindow(specs, values, { canaryRequests: 100, stableRequests: 1000 }, opts);
    expect(judged.classes).toEqual({ technical: 'pass', business: 'fail' });
    expect(judged.verdict).toBe('fail');
    expect(judged.reason).toBe('failed: business positive-feedback');
  });
});
