import { describe, expect, it } from 'vitest';
import { coarseBucketHint } from '../src/analysis';
import type { MetricSpec } from '../src/judge';

// Prometheus' default buckets (client_golang DefBuckets), cumulative counts of 1000 requests.
const bounds = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, Number.POSITIVE_INFINITY];
const cumulative = [10, 100, 500, 900, 940, 990, 1000, 1000, 1000, 1000, 1000, 1000];
const p95: MetricSpec = { name: 'p95-latency', class: 'technical', maxRatio: 1.5 };

describe('bucket resolution around a quantile', () => {
  it('says when the bucket holding the quantile is wider than the margin of a ratio rule', () => {
    // Rank 950 falls in the 0.1–0.25 bucket (940 < 950 ≤ 990): ×2.5 wide against a ±50 % margin.
    expect(coarseBucketHint(p95, 0.95, bounds, cumulative)).toBe(
      "buckets too coarse for p95-latency: stable's p95 lies between 0.1 and 0.25 (×2.50 wide), wider than the ±50.0 % margin of its ratio rule; add bucket bounds near it",
    );
    expect(coarseBucketHint({ ...p95, maxRatio: 3 }, 0.95, bounds, cumulative)).toBeUndefined();
    expect(coarseBucketHint({ ...p95, maxRatio: 3, minRatio: 0.9 }, 0.95, bounds, cumulative)).toContain(
      '±10.0 % margin',
    );
  });

  it('says nothing without a ratio rule or without data, and calls the lowest bucket unbounded', () => {
    expect(
      coarseBucketHint({ name: 'p95-latency', class: 'technical', max: 0.2 }, 0.95, bounds, cumulative),
    ).toBe(undefined);
    expect(
      coarseBucketHint(
        p95,
        0.95,
        bounds,
        bounds.map(() => 0),
      ),
    ).toBeUndefined();
    const fast = bounds.map(() => 1000);
    expect(coarseBucketHint(p95, 0.5, bounds, fast)).toContain('between 0 and 0.005 (unbounded on one side)');
  });
});
