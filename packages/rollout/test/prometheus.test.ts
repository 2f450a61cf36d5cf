import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listen, readBody } from '../../../test/doubles/http-server';
import { bucketsFromSamples, builtinQueries, PrometheusClient, parseSampleValue } from '../src/prometheus';

/** A loopback server that records what the client sends and answers as Prometheus' HTTP API does. */
let server: Awaited<ReturnType<typeof listen>>;
const seen: Array<{
  path: string;
  headers: Record<string, string | string[] | undefined>;
  form: URLSearchParams;
}> = [];

beforeAll(async () => {
  server = await listen(async (req, res) => {
    const form = new URLSearchParams((await readBody(req)).toString());
    seen.push({ path: req.url ?? '', headers: req.headers, form });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        status: 'success',
        data: { resultType: 'vector', result: [{ metric: {}, value: [1, '+Inf'] }] },
      }),
    );
  });
});

afterAll(async () => {
  await server?.close();
});

describe('Prometheus client', () => {
  it('sends bearer, basic and custom headers with the query as a form', async () => {
    await new PrometheusClient({ url: server.url, token: 'tkn', headers: { 'X-Scope-OrgID': 'ml' } }).query(
      'up',
    );
    await new PrometheusClient({ url: `${server.url}/prom/`, username: 'ci', password: 'p:w' }).query('up');
    expect(seen[0]!.path).toBe('/api/v1/query');
    expect(seen[0]!.headers.authorization).toBe('Bearer tkn');
    expect(seen[0]!.headers['x-scope-orgid']).toBe('ml');
    expect(seen[0]!.form.get('query')).toBe('up');
    expect(seen[1]!.path).toBe('/prom/api/v1/query');
    expect(seen[1]!.headers.authorization).toBe(`Basic ${Buffer.from('ci:p:w').toString('base64')}`);
  });

  it('parses the special sample values', () => {
    expect(parseSampleValue('NaN')).toBeNaN();
    expect(parseSampleValue('+Inf')).toBe(Number.POSITIVE_INFINITY);
    expect(parseSampleValue('-Inf')).toBe(Number.NEGATIVE_INFINITY);
    expect(parseSampleValue('0.25')).toBe(0.25);
  });

  it('builds the standard queries from a selector and a window', () => {
    const q = builtinQueries(
      {
        requestMetric: 'http_requests_total',
        errorMatchers: 'code=~"5.."',
        latencyMetric: 'http_request_duration_seconds',
      },
      '{app="sentiment", track="canary"}',
      30_000,
    );
    expect(q.errorRate).toBe(
      'sum(rate(http_requests_total{app="sentiment", track="canary", code=~"5.."}[30s])) / sum(rate(http_requests_total{app="sentiment", track="canary"}[30s]))',
    );
    expect(q.buckets).toBe(
      'sum by (le) (increase(http_request_duration_seconds_bucket{app="sentiment", track="canary"}[30s]))',
    );
  });

  it('sorts buckets by their le bound, +Inf last', () => {
    const b = bucketsFromSamples([
      { metric: { le: '+Inf' }, value: 10 },
      { metric: { le: '0.1' }, value: 4 },
      { metric: { le: '0.05' }, value: Number.NaN },
    ]);
    expect(b).toEqual({ bounds: [0.05, 0.1, Number.POSITIVE_INFINITY], cumulative: [0, 4, 10] });
  });
});
