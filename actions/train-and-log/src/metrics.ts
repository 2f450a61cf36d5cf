import { statSync } from 'node:fs';
import type { ActionContext } from '@mlops-actions/kit';
import {
  logMetricsFiles,
  type MetricPoint,
  type MetricsResult,
  type RunHandle,
  type TrackingStore,
} from '@mlops-actions/store';

/** log-batch requests in flight at once against MLflow; the local store rewrites its record per call. */
const MLFLOW_CONCURRENCY = 4;

/** Every point of a metrics result: the history where the file had steps, else the value at step 0. */
export function metricPoints(metrics: MetricsResult, timestamp: number): MetricPoint[] {
  const points: MetricPoint[] = [];
  for (const [key, value] of Object.entries(metrics.latest)) {
    const history = metrics.history[key];
    if (history?.length)
      for (const p of history) points.push({ key, value: p.value, step: p.step, timestamp });
    else points.push({ key, value, step: 0, timestamp });
  }
  return points;
}

export function warnNonFinite(ctx: ActionContext, metrics: MetricsResult): void {
  const nonFinite = Object.entries(metrics.latest).filter(([, v]) => !Number.isFinite(v));
  if (nonFinite.length)
    ctx.log.warning(
      `Metrics that are not finite numbers: ${nonFinite.map(([k, v]) => `${k}=${v}`).join(', ')} (logged as such)`,
    );
}

/**
 * Logs every point of the metrics files the training wrote on the runner, streaming long CSV/TSV
 * histories in bounded memory with progress in the log; returns the latest values and a sample of each
 * history.
 */
export async function logRunMetrics(
  store: TrackingStore,
  run: RunHandle,
  files: Array<{ path: string; display: string }>,
  ctx: ActionContext,
): Promise<MetricsResult> {
  const totalBytes = files.reduce((sum, f) => {
    try {
      return sum + statSync(f.path).size;
    } catch {
      return sum;
    }
  }, 0);
  const progress = ctx.progress({ label: 'Logging metrics', totalBytes, unit: 'points' });
  const timestamp = Date.now();
  const result = await logMetricsFiles(
    files,
    (points) => store.log(run, { metrics: points.map((p) => ({ ...p, timestamp })) }),
    {
      concurrency: store.kind === 'mlflow' ? MLFLOW_CONCURRENCY : 1,
      warn: (line) => ctx.log.warning(line),
      onRead: (bytes) => progress.tick(0, bytes),
      onLogged: (points) => progress.tick(points),
      signal: ctx.signal,
    },
  );
  if (result.points > 0) progress.done();
  const metrics = { latest: result.latest, history: result.history };
  warnNonFinite(ctx, metrics);
  return metrics;
}
