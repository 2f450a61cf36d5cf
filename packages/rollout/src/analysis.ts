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

/** Queries Prometheus for everything the metrics need over one window, both tracks. */
export async function measureWindow(
  client: PrometheusClient,
  specs: MetricSpec[],
  o: MeasureOptions,
): Promise<WindowMeasurements> {
  const tracks = {
    canary: builtinQueries(o, o.canarySelector, o.windowMs),
    stable: builtinQueries(o, o.stableSelector, o.windowMs),
  };
  const scalar = async (q: string) => (await client.scalar(q, o.signal)).value;
  const [canaryReq, stableReq] = await Promise.all([
    client.scalar(tracks.canary.requests, o.signal),
    client.scalar(tracks.stable.requests, o.signal),
  ]);
  const hints: string[] = [];
  if (canaryReq.series === 0) {
    hints.push(
      `no series matched ${o.requestMetric}{${matchers(o.canarySelector)}}: check canary-selector and request-metric`,
    );
  }
  if (stableReq.series === 0) {
    hints.push(
      `no series matched ${o.requestMetric}{${matchers(o.stableSelector)}}: check stable-selector and request-metric`,
    );
  }
  const count = (v: number) => (Number.isFinite(v) ? v : 0);
  const measurements = new Map<string, Measurement>();
  await Promise.all(
    specs.map(async (spec) => {
      const both = async (pick: (t: typeof tracks.canary, selector: string) => string) => {
        const [canary, stable] = await Promise.all([
          scalar(pick(tracks.canary, o.canarySelector)),
          scalar(pick(tracks.stable, o.stableSelector)),
        ]);
        return { canary, stable };
      };
      let m: Measurement;
      const quantile = QUANTILE.exec(spec.name);
      if (spec.query) {
        m = await both((_t, selector) => renderQuery(spec.query!, selector, o.windowMs));
      } else if (spec.name === 'error-rate') {
        const [canaryErrors, stableErrors] = await Promise.all([
          scalar(tracks.canary.errors),
          scalar(tracks.stable.errors),
        ]);
        const ce = count(canaryErrors);
        const se = count(stableErrors);
        const ct = count(canaryReq.value);
        const st = count(stableReq.value);
        m = {
          canary: ct > 0 ? ce / ct : Number.NaN,
          stable: st > 0 ? se / st : Number.NaN,
          counts: { canaryErrors: ce, canaryTotal: ct, stableErrors: se, stableTotal: st },
        };
      } else if (spec.name === 'request-rate') {
        m = await both((t) => t.requestRate);
      } else if (quantile) {
        const q = Number(quantile[1]) / 100;
        m = await both((t) => t.quantile(q));
      } else if (spec.name === 'latency') {
        const [canary, stable] = await Promise.all([
          client.query(tracks.canary.buckets, { signal: o.signal }),
          client.query(tracks.stable.buckets, { signal: o.signal }),
        ]);
        const c = bucketsFromSamples(canary);
        const s = bucketsFromSamples(stable);
        if (c.bounds.length === 0 || s.bounds.length === 0) {
          hints.push(
            `no ${o.latencyMetric}_bucket series for ${c.bounds.length === 0 ? 'canary' : 'stable'}: check latency-metric`,
          );
        }
        const aligned = alignBuckets(c, s);
        m = {
          canary: histogramQuantile(0.5, aligned.bounds, aligned.canary),
          stable: histogramQuantile(0.5, aligned.bounds, aligned.stable),
          buckets: aligned,
        };
      } else {
        throw new Error(`unknown built-in metric ${spec.name}`);
      }
      measurements.set(spec.name, m);
    }),
  );
  return {
    measurements,
    canaryRequests: count(canaryReq.value),
    stableRequests: count(stableReq.value),
    hints,
  };
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
