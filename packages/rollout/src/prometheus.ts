import { ActionError, basicAuth, HttpClient, HttpError } from '@mlops-actions/kit';
import { type FiringAlert, prometheusAlerts } from './alerts';

/** One series of an instant vector: its labels and value (NaN kept as NaN). */
export interface Sample {
  metric: Record<string, string>;
  value: number;
}

export interface RangeSeries {
  metric: Record<string, string>;
  values: Array<[number, number]>;
}

export interface PrometheusOptions {
  url: string;
  token?: string;
  username?: string;
  password?: string;
  headers?: Record<string, string>;
  retries?: number;
  timeoutMs?: number;
  log?: (line: string) => void;
  fetch?: typeof fetch;
}

interface ApiResponse<T> {
  status: 'success' | 'error';
  data?: T;
  errorType?: string;
  error?: string;
  warnings?: string[];
}

/** Prometheus sends sample values as strings: "NaN", "+Inf", "-Inf" or a decimal. */
export function parseSampleValue(text: string): number {
  if (text === 'NaN') return Number.NaN;
  if (text === '+Inf') return Number.POSITIVE_INFINITY;
  if (text === '-Inf') return Number.NEGATIVE_INFINITY;
  return Number(text);
}

/** Raised when Prometheus rejects a query (400 bad_data, 422 execution): never retried, shown with the query. */
export class QueryError extends ActionError {
  override name = 'QueryError';
  constructor(
    readonly query: string,
    readonly errorType: string,
    readonly detail: string,
  ) {
    super(`Prometheus rejected the query (${errorType}: ${detail}): ${query}`);
  }
}

/** A client of the Prometheus HTTP API (`/api/v1/query`, `/api/v1/query_range`). */
export class PrometheusClient {
  private readonly http: HttpClient;

  constructor(readonly options: PrometheusOptions) {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers.authorization = `Bearer ${options.token}`;
    else if (options.username !== undefined)
      headers.authorization = basicAuth(options.username, options.password ?? '');
    this.http = new HttpClient({
      name: `Prometheus at ${options.url}`,
      baseUrl: options.url.endsWith('/') ? options.url : `${options.url}/`,
      headers,
      retries: options.retries ?? 2,
      minDelayMs: 200,
      maxDelayMs: 2000,
      timeoutMs: options.timeoutMs ?? 10_000,
      log: options.log,
      fetch: options.fetch,
    });
  }

  private async call<T>(
    path: string,
    form: Record<string, string>,
    query: string,
    signal?: AbortSignal,
  ): Promise<T> {
    // POST with a form body keeps long PromQL out of URLs (and logs); the API accepts both.
    const response = await this.http.request('POST', path, {
      body: new URLSearchParams(form).toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      accept: [400, 422],
      signal,
    });
    const text = await response.text();
    let parsed: ApiResponse<T>;
    try {
      parsed = JSON.parse(text) as ApiResponse<T>;
    } catch {
      throw new HttpError(
        `Prometheus at ${this.options.url} answered ${response.status} with a body that is not JSON: ${text.slice(0, 200)}`,
        response.status,
        this.options.url,
        text,
      );
    }
    if (parsed.status !== 'success' || !parsed.data) {
      throw new QueryError(
        query,
        parsed.errorType ?? `HTTP ${response.status}`,
        parsed.error ?? 'no error message',
      );
    }
    for (const warning of parsed.warnings ?? [])
      this.options.log?.(`Prometheus warning for ${query}: ${warning}`);
    return parsed.data;
  }

  /** An instant query; scalars come back as one sample without labels. */
  async query(promql: string, options: { time?: number; signal?: AbortSignal } = {}): Promise<Sample[]> {
    const form: Record<string, string> = { query: promql };
    if (options.time !== undefined) form.time = String(options.time / 1000);
    const data = await this.call<{ resultType: string; result: unknown }>(
      'api/v1/query',
      form,
      promql,
      options.signal,
    );
    if (data.resultType === 'scalar') {
      const [, value] = data.result as [number, string];
      return [{ metric: {}, value: parseSampleValue(value) }];
    }
    if (data.resultType !== 'vector') {
      throw new ActionError(
        `Prometheus returned a ${data.resultType} for an instant query; expected a vector: ${promql}`,
      );
    }
    return (data.result as Array<{ metric: Record<string, string>; value: [number, string] }>).map((s) => ({
      metric: s.metric,
      value: parseSampleValue(s.value[1]),
    }));
  }

  async queryRange(
    promql: string,
    range: { start: number; end: number; stepMs: number },
    signal?: AbortSignal,
  ): Promise<RangeSeries[]> {
    const data = await this.call<{ resultType: string; result: unknown }>(
      'api/v1/query_range',
      {
        query: promql,
        start: String(range.start / 1000),
        end: String(range.end / 1000),
        step: `${range.stepMs / 1000}s`,
      },
      promql,
      signal,
    );
    return (data.result as Array<{ metric: Record<string, string>; values: Array<[number, string]> }>).map(
      (s) => ({
        metric: s.metric,
        values: s.values.map(([t, v]) => [t * 1000, parseSampleValue(v)] as [number, number]),
      }),
    );
  }

  /** The firing alerts of the rules Prometheus evaluates (/api/v1/alerts). */
  alerts(signal?: AbortSignal): Promise<FiringAlert[]> {
    return prometheusAlerts(this.http, signal);
  }

  /** A single number: the sum over the returned series, NaN when nothing came back. */
  async scalar(promql: string, signal?: AbortSignal): Promise<{ value: number; series: number }> {
    const samples = await this.query(promql, { signal });
    if (samples.length === 0) return { value: Number.NaN, series: 0 };
    return { value: samples.reduce((sum, s) => sum + s.value, 0), series: samples.length };
  }
}

/** `{a="b"}` or `a="b"` → `a="b"`, so selectors can be combined with more matchers. */
export function matchers(selector: string): string {
  const trimmed = selector.trim();
  return trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1).trim() : trimmed;
}

function join(...parts: string[]): string {
  return parts.filter((p) => p.length > 0).join(', ');
}

/** Prometheus range syntax for a window in milliseconds (`90s`, `1500ms`). */
export function promDuration(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${Math.round(ms)}ms`;
}

export interface BuiltinQueryOptions {
  requestMetric: string;
  /** Matchers picking the failed requests among `requestMetric`, e.g. `code=~"5.."`. */
  errorMatchers: string;
  /** Base name of a standard histogram (`<name>_bucket{le=…}`, `_count`, `_sum`). */
  latencyMetric: string;
}

/** The PromQL of the built-in metrics, for one track's selector and one window. */
export function builtinQueries(o: BuiltinQueryOptions, selector: string, windowMs: number) {
  const m = matchers(selector);
  const w = promDuration(windowMs);
  const err = matchers(o.errorMatchers);
  return {
    requests: `sum(increase(${o.requestMetric}{${m}}[${w}]))`,
    errors: `sum(increase(${o.requestMetric}{${join(m, err)}}[${w}]))`,
    requestRate: `sum(rate(${o.requestMetric}{${m}}[${w}]))`,
    errorRate: `sum(rate(${o.requestMetric}{${join(m, err)}}[${w}])) / sum(rate(${o.requestMetric}{${m}}[${w}]))`,
    buckets: `sum by (le) (increase(${o.latencyMetric}_bucket{${m}}[${w}]))`,
  };
}

/** Cumulative bucket counts sorted by their `le` bound, from a `sum by (le)` query. */
export function bucketsFromSamples(samples: Sample[]): { bounds: number[]; cumulative: number[] } {
  const rows = samples
    .filter((s) => s.metric.le !== undefined)
    .map((s) => ({ bound: parseSampleValue(s.metric.le!), value: Number.isFinite(s.value) ? s.value : 0 }))
    .sort((a, b) => a.bound - b.bound);
  return { bounds: rows.map((r) => r.bound), cumulative: rows.map((r) => r.value) };
}
