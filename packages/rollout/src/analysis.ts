import type { Measurement, MetricSpec } from './judge';
import {
  type BuiltinQueryOptions,
  bucketsFromSamples,
  builtinQueries,
  matchers,
  type PrometheusClient,
  promDuration,
} from './prometheus';
import { histogramQuantile } from './stats';

export interface MeasureOptions extends BuiltinQueryOptions {
  stableSelector: string;
  canarySelector: string;
  windowMs: number;
  signal?: AbortSignal;
}

export interface WindowMeasurements {
  measurements: Map<string, Measurement>;
  canaryRequests: number;
  stableRequests: number;
  /** Hints for the log and report, e.g. a selector that matches no series. */
  hints: string[];
}

const QUANTILE = /^p(\d{2})-latency$/;

/** Fills a custom query's placeholders for one track. */
export function renderQuery(query: string, selector: string, windowMs: number): string {
  return query.replaceAll('$selector', matchers(selector)).replaceAll('$window', promDuration(windowMs));
}

/** A track's selector with a metric's own matchers added (one metric on `/predict`, another overall). */
export function metricSelector(trackSelector: string, spec: MetricSpec): string {
  return [matchers(trackSelector), spec.selector ? matchers(spec.selector) : '']
    .filter((part) => part.length > 0)
    .join(', ');
}

type Tracks<T> = { canary: T; stable: T };

interface MeasureContext {
  client: PrometheusClient;
  o: MeasureOptions;
  hints: string[];
  /** The request counts of both tracks under the track selectors alone. */
  requests: Tracks<number>;
}

const count = (v: number) => (Number.isFinite(v) ? v : 0);

async function bothScalars(c: MeasureContext, query: (selector: string) => string): Promise<Tracks<number>> {
  const [canary, stable] = await Promise.all([
    c.client.scalar(query(c.o.canarySelector), c.o.signal),
    c.client.scalar(query(c.o.stableSelector), c.o.signal),
  ]);
  return { canary: canary.value, stable: stable.value };
}

function selectorsOf(spec: MetricSpec) {
  return (track: string) => metricSelector(track, spec);
}

async function measureErrors(c: MeasureContext, spec: MetricSpec): Promise<Measurement> {
  const selector = selectorsOf(spec);
  const own = spec.selector !== undefined;
  const [errors, totals] = await Promise.all([
    bothScalars(c, (s) => builtinQueries(c.o, selector(s), c.o.windowMs).errors),
    own
      ? bothScalars(c, (s) => builtinQueries(c.o, selector(s), c.o.windowMs).requests)
      : Promise.resolve(c.requests),
  ]);
  const ct = count(totals.canary);
  const st = count(totals.stable);
  const ce = count(errors.canary);
  const se = count(errors.stable);
  return {
    canary: ct > 0 ? ce / ct : Number.NaN,
    stable: st > 0 ? se / st : Number.NaN,
    counts: { canaryErrors: ce, canaryTotal: ct, stableErrors: se, stableTotal: st },
  };
}

/** A rate given as numerator and denominator counts: the two-proportion test needs both. */
async function measureRatio(c: MeasureContext, spec: MetricSpec): Promise<Measurement> {
  const selector = selectorsOf(spec);
  const render = (q: string) => (s: string) => renderQuery(q, selector(s), c.o.windowMs);
  const [num, den] = await Promise.all([
    bothScalars(c, render(spec.numerator!)),
    bothScalars(c, render(spec.denominator!)),
  ]);
  const ct = count(den.canary);
  const st = count(den.stable);
  return {
    canary: ct > 0 ? count(num.canary) / ct : Number.NaN,
    stable: st > 0 ? count(num.stable) / st : Number.NaN,
    counts: {
      canaryErrors: count(num.canary),
      canaryTotal: ct,
      stableErrors: count(num.stable),
      stableTotal: st,
    },
  };
}

async function measureBuckets(c: MeasureContext, spec: MetricSpec, histogram: string) {
  const selector = selectorsOf(spec);
  const query = (s: string) =>
    builtinQueries({ ...c.o, latencyMetric: histogram }, selector(s), c.o.windowMs).buckets;
  const [canary, stable] = await Promise.all([
    c.client.query(query(c.o.canarySelector), { signal: c.o.signal }),
    c.client.query(query(c.o.stableSelector), { signal: c.o.signal }),
  ]);
  const cb = bucketsFromSamples(canary);
  const sb = bucketsFromSamples(stable);
  if (cb.bounds.length === 0 || sb.bounds.length === 0) {
    c.hints.push(
      `no ${histogram}_bucket series for ${cb.bounds.length === 0 ? 'canary' : 'stable'} (${spec.name}): check ${spec.histogram ? 'its histogram' : 'latency-metric'}`,
    );
  }
  return alignBuckets(cb, sb);
}

/** A histogram's median per track and its buckets, for Mann-Whitney. */
async function measureHistogram(
  c: MeasureContext,
  spec: MetricSpec,
  histogram: string,
): Promise<Measurement> {
  const buckets = await measureBuckets(c, spec, histogram);
  return {
    canary: histogramQuantile(0.5, buckets.bounds, buckets.canary),
    stable: histogramQuantile(0.5, buckets.bounds, buckets.stable),
    buckets,
  };
}

/**
 * A latency quantile interpolated inside its bucket as histogram_quantile does, from the same bucket
 * counts; when the bucket holding stable's quantile is wider than a ratio rule's margin, a hint says the
 * rule cannot resolve it.
 */
async function measureQuantile(c: MeasureContext, spec: MetricSpec, q: number): Promise<Measurement> {
  const buckets = await measureBuckets(c, spec, c.o.latencyMetric);
  const m: Measurement = {
    canary: histogramQuantile(q, buckets.bounds, buckets.canary),
    stable: histogramQuantile(q, buckets.bounds, buckets.stable),
    buckets,
  };
  const hint = coarseBucketHint(spec, q, buckets.bounds, buckets.stable);
  if (hint) c.hints.push(hint);
  return m;
}

/** Says when the bucket around a quantile is wider than the margin of the metric's ratio rules. */
export function coarseBucketHint(
  spec: MetricSpec,
  q: number,
  bounds: number[],
  cumulative: number[],
): string | undefined {
  const margins = [spec.maxRatio, spec.minRatio]
    .filter((r): r is number => r !== undefined)
    .map((r) => Math.abs(r - 1));
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (margins.length === 0 || !(total > 0)) return undefined;
  const index = cumulative.findIndex((v) => v >= q * total);
  if (index < 0) return undefined;
  const lower = index === 0 ? 0 : bounds[index - 1]!;
  const upper = bounds[index]!;
  const width = upper / lower;
  const margin = Math.min(...margins);
  if (!(width - 1 > margin)) return undefined;
  const span = Number.isFinite(width) ? `×${width.toPrecision(3)} wide` : 'unbounded on one side';
  return `buckets too coarse for ${spec.name}: stable's p${Math.round(q * 100)} lies between ${lower} and ${upper} (${span}), wider than the ±${(margin * 100).toPrecision(3)} % margin of its ratio rule; add bucket bounds near it`;
}

async function measureMetric(c: MeasureContext, spec: MetricSpec): Promise<Measurement> {
  if (spec.numerator && spec.denominator) return measureRatio(c, spec);
  if (spec.histogram) return measureHistogram(c, spec, spec.histogram);
  if (spec.query) {
    return bothScalars(c, (s) => renderQuery(spec.query!, metricSelector(s, spec), c.o.windowMs));
  }
  if (spec.name === 'error-rate') return measureErrors(c, spec);
  if (spec.name === 'request-rate') {
    return bothScalars(c, (s) => builtinQueries(c.o, metricSelector(s, spec), c.o.windowMs).requestRate);
  }
  const quantile = QUANTILE.exec(spec.name);
  if (quantile) return measureQuantile(c, spec, Number(quantile[1]) / 100);
  if (spec.name === 'latency') return measureHistogram(c, spec, c.o.latencyMetric);
  throw new Error(`unknown built-in metric ${spec.name}`);
}

/** Queries Prometheus for everything the metrics need over one window, both tracks. */
export async function measureWindow(
  client: PrometheusClient,
  specs: MetricSpec[],
  o: MeasureOptions,
): Promise<WindowMeasurements> {
  const [canaryReq, stableReq] = await Promise.all([
    client.scalar(builtinQueries(o, o.canarySelector, o.windowMs).requests, o.signal),
    client.scalar(builtinQueries(o, o.stableSelector, o.windowMs).requests, o.signal),
  ]);
  const hints: string[] = [];
  for (const [track, result, selector] of [
    ['canary', canaryReq, o.canarySelector],
    ['stable', stableReq, o.stableSelector],
  ] as const) {
    if (result.series === 0) hints.push(await missingSeriesHint(client, o, track, selector));
  }
  const c: MeasureContext = {
    client,
    o,
    hints,
    requests: { canary: count(canaryReq.value), stable: count(stableReq.value) },
  };
  const measurements = new Map<string, Measurement>();
  await Promise.all(
    specs.map(async (spec) => {
      measurements.set(spec.name, await measureMetric(c, spec));
    }),
  );
  return { measurements, canaryRequests: c.requests.canary, stableRequests: c.requests.stable, hints };
}

/** How far back a missing series is looked for, to tell a gap in the data from a selector that never matched. */
const LOOKBACK = '6h';

/**
 * No series in the window: when the selector matched samples earlier, the data stopped (a Prometheus
 * restart, a scrape gap, a crashed target) and the hint says since when; otherwise the selector is wrong.
 */
async function missingSeriesHint(
  client: PrometheusClient,
  o: MeasureOptions,
  track: 'canary' | 'stable',
  selector: string,
): Promise<string> {
  const series = `${o.requestMetric}{${matchers(selector)}}`;
  const last = await client
    .scalar(`max(max_over_time(timestamp(${series})[${LOOKBACK}:]))`, o.signal)
    .catch(() => ({ value: Number.NaN }));
  if (Number.isFinite(last.value)) {
    return `no ${series} samples since ${new Date(last.value * 1000).toISOString()} (the series existed before): data missing, e.g. after a Prometheus restart or a scrape gap`;
  }
  return `no series matched ${series} in the last ${LOOKBACK}: check ${track}-selector and request-metric`;
}

/** Both tracks on the union of their bucket bounds (a bound missing on one side carries its lower count). */
export function alignBuckets(
  c: { bounds: number[]; cumulative: number[] },
  s: { bounds: number[]; cumulative: number[] },
): { bounds: number[]; canary: number[]; stable: number[] } {
  const bounds = [...new Set([...c.bounds, ...s.bounds])].sort((a, b) => a - b);
  const at = (h: { bounds: number[]; cumulative: number[] }, bound: number) => {
    let value = 0;
    for (let i = 0; i < h.bounds.length && h.bounds[i]! <= bound; i++) value = h.cumulative[i]!;
    return value;
  };
  return { bounds, canary: bounds.map((b) => at(c, b)), stable: bounds.map((b) => at(s, b)) };
}
