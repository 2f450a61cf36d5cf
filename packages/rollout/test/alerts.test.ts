import { HttpClient } from '@mlops-actions/kit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, sendJson } from '../../../test/doubles/http-server';
import { waitFor } from '../../../test/servers/process';
import { type Prometheus, startPrometheus } from '../../../test/servers/prometheus';
import {
  alertmanagerAlerts,
  describeAlerts,
  firingAlerts,
  matchesSelector,
  parseAlertSelector,
} from '../src/alerts';
import { PrometheusClient } from '../src/prometheus';

// A rule that fires at its first evaluation, one that stays pending (for: 1h) and one that never fires.
const RULES = `groups:
  - name: canary
    rules:
      - alert: CanaryLatencySpike
        expr: vector(1)
        labels:
          severity: page
          service: model-canary
        annotations:
          summary: p99 latency above 1 s on the canary
      - alert: SlowBurn
        expr: vector(1)
        for: 1h
        labels:
          severity: page
      - alert: NeverFires
        expr: vector(1) == 0
`;

let prometheus: Prometheus;
const seen: string[] = [];
let alertmanager: Awaited<ReturnType<typeof listen>>;

beforeAll(async () => {
  prometheus = await startPrometheus([], { rules: RULES });
  // Alertmanager's /api/v2/alerts as published (gettableAlerts): a JSON array, status.state
  // active|suppressed|unprocessed, filtered by the active/silenced/inhibited query parameters.
  alertmanager = await listen((req, res) => {
    seen.push(req.url ?? '');
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname !== '/api/v2/alerts') {
      sendJson(res, 404, { code: 404, message: 'not found' });
      return;
    }
    const all = [
      {
        labels: { alertname: 'ModelDrift', severity: 'page' },
        annotations: { summary: 'prediction drift on the canary' },
        status: { state: 'active', silencedBy: [], inhibitedBy: [] },
        startsAt: '2026-12-03T09:00:00.000Z',
        endsAt: '2026-12-03T10:00:00.000Z',
        updatedAt: '2026-12-03T09:00:00.000Z',
        fingerprint: 'a1',
        receivers: [{ name: 'team' }],
      },
      {
        labels: { alertname: 'Silenced', severity: 'page' },
        annotations: {},
        status: { state: 'suppressed', silencedBy: ['s1'], inhibitedBy: [] },
        startsAt: '2026-12-03T09:00:00.000Z',
        endsAt: '2026-12-03T10:00:00.000Z',
        updatedAt: '2026-12-03T09:00:00.000Z',
        fingerprint: 'b2',
        receivers: [{ name: 'team' }],
      },
    ];
    const silenced = url.searchParams.get('silenced') !== 'false';
    sendJson(
      res,
      200,
      all.filter((a) => silenced || a.status.state !== 'suppressed'),
    );
  });
});

afterAll(async () => {
  await prometheus?.close();
  await alertmanager?.close();
});

describe('abort-on-alerts', () => {
  it('parses alert names and label matchers, and matches them as Prometheus does', () => {
    expect(parseAlertSelector('HighLatency')).toEqual([
      { label: 'alertname', op: '=', value: 'HighLatency' },
    ]);
    const s = parseAlertSelector('{severity="page", service=~"model-.*"}');
    expect(matchesSelector({ severity: 'page', service: 'model-canary' }, s)).toBe(true);
    expect(matchesSelector({ severity: 'page', service: 'xmodel-canary' }, s)).toBe(false);
    expect(matchesSelector({ severity: 'page' }, parseAlertSelector('team!="ml"'))).toBe(true);
    expect(() => parseAlertSelector('severity=page')).toThrow(
      'alert selector \'severity=page\': \'severity=page\' is not a label matcher; expected an alert name or matchers such as severity="page", team=~"ml.*"',
    );
  });

  it('reads firing alerts of a real Prometheus rule file, leaving out pending ones and alerts no selector names', async () => {
    const client = new PrometheusClient({ url: prometheus.url });
    await waitFor(
      async () => (await client.alerts()).some((a) => a.name === 'CanaryLatencySpike'),
      30_000,
      'the rule to fire',
    );
    const selectors = [parseAlertSelector('severity="page"'), parseAlertSelector('NeverFires')];
    const firing = await firingAlerts([(signal) => client.alerts(signal)], selectors);
    expect(firing.map((a) => a.name)).toEqual(['CanaryLatencySpike']);
    expect(describeAlerts(firing)).toBe(
      'CanaryLatencySpike (p99 latency above 1 s on the canary) from prometheus',
    );
    expect(
      await firingAlerts([(signal) => client.alerts(signal)], [parseAlertSelector('NeverFires')]),
    ).toEqual([]);
  });

  it('reads active, unsilenced alerts from an Alertmanager double of /api/v2/alerts', async () => {
    const http = new HttpClient({ name: 'Alertmanager', baseUrl: alertmanager.url });
    const firing = await firingAlerts(
      [(signal) => alertmanagerAlerts(http, signal)],
      [parseAlertSelector('severity="page"')],
    );
    expect(firing.map((a) => a.name)).toEqual(['ModelDrift']);
    expect(seen.at(-1)).toBe('/api/v2/alerts?active=true&silenced=false&inhibited=false');
  });
});
