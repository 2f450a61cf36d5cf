import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Bucket bounds (seconds) of the latency histogram the model servers expose. */
export const LATENCY_BUCKETS = [
  0.005, 0.01, 0.015, 0.02, 0.025, 0.03, 0.04, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 1, 2.5,
];

export interface ModelServer {
  url: string;
  port: number;
  /** host:port, as a scrape target or an nginx server. */
  address: string;
  readonly track: string;
  /** Starts a fresh series: a new track label and counters from zero (so tests do not see each other's traffic). */
  reset(track: string): void;
  /** Median latency in ms of /predict (log-normal spread around it). */
  setLatency(ms: number): void;
  /** Share of /predict answered 500, from 0 to 1. */
  setErrorRate(rate: number): void;
  /** Share of answered predictions labelled positive, from 0 to 1 (a business metric). */
  setPositiveRate(rate: number): void;
  requests(): number;
  close(): Promise<void>;
}

/**
 * A small model server: POST or GET /predict answers a sentiment after a chosen latency, failing a chosen
 * share with 500; /metrics exposes `http_requests_total{track,code}`, the histogram
 * `http_request_duration_seconds{track}` and `model_predictions_total{track,label}` (positive or negative)
 * in the Prometheus text format.
 */
export async function startModelServer(
  initialTrack: string,
  options: { latencyMs?: number; errorRate?: number; positiveRate?: number } = {},
): Promise<ModelServer> {
  let track = initialTrack;
  let latencyMs = options.latencyMs ?? 10;
  let errorRate = options.errorRate ?? 0;
  let positiveRate = options.positiveRate ?? 1;
  const counts = new Map<string, number>();
  const labels = new Map<string, number>();
  const buckets = LATENCY_BUCKETS.map(() => 0);
  let total = 0;
  let sum = 0;
  const observe = (seconds: number, code: number) => {
    counts.set(String(code), (counts.get(String(code)) ?? 0) + 1);
    total++;
    sum += seconds;
    LATENCY_BUCKETS.forEach((bound, i) => {
      if (seconds <= bound) buckets[i]!++;
    });
  };
  const reset = (label: string) => {
    track = label;
    counts.clear();
    labels.clear();
    buckets.fill(0);
    total = 0;
    sum = 0;
  };
  const server: Server = createServer((req, res) => {
    if (req.url === '/metrics') {
      const lines = [
        '# HELP http_requests_total Requests to /predict by status code.',
        '# TYPE http_requests_total counter',
        ...[...counts.entries()].map(
          ([code, n]) => `http_requests_total{track="${track}",code="${code}"} ${n}`,
        ),
        '# HELP http_request_duration_seconds Latency of /predict.',
        '# TYPE http_request_duration_seconds histogram',
        ...LATENCY_BUCKETS.map(
          (b, i) => `http_request_duration_seconds_bucket{track="${track}",le="${b}"} ${buckets[i]}`,
        ),
        `http_request_duration_seconds_bucket{track="${track}",le="+Inf"} ${total}`,
        `http_request_duration_seconds_sum{track="${track}"} ${sum}`,
        `http_request_duration_seconds_count{track="${track}"} ${total}`,
        '# HELP model_predictions_total Predictions answered, by label.',
        '# TYPE model_predictions_total counter',
        ...[...labels.entries()].map(
          ([label, n]) => `model_predictions_total{track="${track}",label="${label}"} ${n}`,
        ),
      ];
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(`${lines.join('\n')}\n`);
      return;
    }
    if (req.url?.startsWith('/predict')) {
      const started = process.hrtime.bigint();
      // Log-normal around the median: a realistic right-skewed latency.
      const z = Math.sqrt(-2 * Math.log(1 - Math.random())) * Math.cos(2 * Math.PI * Math.random());
      const delay = latencyMs * Math.exp(0.25 * z);
      setTimeout(() => {
        const failed = Math.random() < errorRate;
        const code = failed ? 500 : 200;
        observe(Number(process.hrtime.bigint() - started) / 1e9, code);
        const label = Math.random() < positiveRate ? 'positive' : 'negative';
        if (!failed) labels.set(label, (labels.get(label) ?? 0) + 1);
        res.writeHead(code, { 'content-type': 'application/json', 'x-track': track });
        res.end(
          JSON.stringify(
            failed ? { error: 'model failed' } : { label, score: label === 'positive' ? 0.9 : 0.1, track },
          ),
        );
      }, delay);
      return;
    }
    res.writeHead(404);
    res.end();
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    address: `127.0.0.1:${port}`,
    get track() {
      return track;
    },
    reset,
    setLatency: (ms) => {
      latencyMs = ms;
    },
    setErrorRate: (rate) => {
      errorRate = rate;
    },
    setPositiveRate: (rate) => {
      positiveRate = rate;
    },
    requests: () => total,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

export interface Load {
  /** Requests sent and how many came back from each track (x-track header). */
  sent(): number;
  byTrack(): Record<string, number>;
  stop(): Promise<void>;
}

/**
 * A bounded load generator: `rps` requests a second to `url` with at most `concurrency` in flight,
 * stopping by itself after `maxMs` whatever happens. `request` gives each request its method, headers and
 * body (a GET by default).
 */
export function startLoad(
  url: string,
  options: { rps: number; concurrency?: number; maxMs?: number; request?: () => RequestInit },
): Load {
  const concurrency = options.concurrency ?? 16;
  let inFlight = 0;
  let sent = 0;
  const tracks: Record<string, number> = {};
  const pending = new Set<Promise<void>>();
  const send = () => {
    if (inFlight >= concurrency) return;
    inFlight++;
    sent++;
    const p = fetch(url, { ...options.request?.(), signal: AbortSignal.timeout(5000) })
      .then(async (r) => {
        const track = r.headers.get('x-track') ?? `http-${r.status}`;
        tracks[track] = (tracks[track] ?? 0) + 1;
        await r.body?.cancel();
      })
      .catch(() => undefined)
      .finally(() => {
        inFlight--;
        pending.delete(p);
      });
    pending.add(p);
  };
  const tickMs = 20;
  let carry = 0;
  const timer = setInterval(() => {
    carry += (options.rps * tickMs) / 1000;
    while (carry >= 1) {
      carry--;
      send();
    }
  }, tickMs);
  const limit = setTimeout(() => clearInterval(timer), options.maxMs ?? 120_000);
  return {
    sent: () => sent,
    byTrack: () => ({ ...tracks }),
    stop: async () => {
      clearInterval(timer);
      clearTimeout(limit);
      await Promise.all([...pending]);
    },
  };
}
