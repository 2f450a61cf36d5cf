import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ModelServer, startModelServer } from '../../../test/servers/model-server';
import { waitFor } from '../../../test/servers/process';
import { type Prometheus, startPrometheus } from '../../../test/servers/prometheus';
import { measureWindow, metricSelector } from '../src/analysis';
import { PrometheusClient } from '../src/prometheus';

let model: ModelServer;
let prometheus: Prometheus;

beforeAll(async () => {
  model = await startModelServer('canary-gap');
  prometheus = await startPrometheus([model.address]);
  for (let i = 0; i < 20; i++) await fetch(`${model.url}/predict`).then((r) => r.body?.cancel());
});

afterAll(async () => {
  await prometheus?.close();
  await model?.close().catch(() => undefined);
});

const options = {
  stableSelector: 'track="canary-gap"',
  canarySelector: 'track="canary-gap"',
  requestMetric: 'http_requests_total',
  errorMatchers: 'code=~"5.."',
  latencyMetric: 'http_request_duration_seconds',
  windowMs: 2000,
};

describe('missing data (real Prometheus)', () => {
  it('says since when the data is missing when the series existed before, and blames the selector only when it never matched', async () => {
    const client = new PrometheusClient({ url: prometheus.url });
    await waitFor(
      async () => (await client.scalar('sum(http_requests_total{track="canary-gap"})')).value === 20,
      30_000,
      'the first scrape',
    );
    // The target goes away, as in a scrape gap or a restart of Prometheus: its series go stale.
    await model.close();
    const before = Date.now();
    await waitFor(
      async () => (await client.scalar('sum(http_requests_total{track="canary-gap"})')).series === 0,
      30_000,
      'the series to go stale',
    );
    await new Promise((r) => setTimeout(r, 2500));
    const gap = await measureWindow(client, [], options);
    expect(gap.hints).toHaveLength(2);
    const since = /since (\S+) \(the series existed before\): data missing/.exec(gap.hints[0]!);
    expect(since).not.toBeNull();
    const at = Date.parse(since![1]!);
    expect(at).toBeLessThanOrEqual(before);
    expect(at).toBeGreaterThan(before - 30_000);
    expect(gap.hints[0]).not.toContain('check canary-selector');

    const wrong = await measureWindow(client, [], { ...options, canarySelector: 'track="nope"' });
    expect(wrong.hints[0]).toBe(
      'no series matched http_requests_total{track="nope"} in the last 6h: check canary-selector and request-metric',
    );
  });

  it('adds a metric’s own matchers to each track’s selector', () => {
    expect(metricSelector('{track="canary"}', { name: 'latency', class: 'technical' })).toBe(
      'track="canary"',
    );
    expect(
      metricSelector('track="canary"', {
        name: 'latency',
        class: 'technical',
        selector: '{route="/predict"}',
      }),
    ).toBe('track="canary", route="/predict"');
  });
});
