import type { ActionContext } from '@mlops-actions/kit';
import {
  type MetricPoint,
  type MetricsResult,
  type RunHandle,
  readMetricsFiles,
  type TrackingStore,
} from '@mlops-actions/store';

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

/** The metrics files the training wrote on the runner. */
export function readRunnerMetrics(
  ctx: ActionContext,
  metricsFiles: Array<{ path: string; display: string }>,
): MetricsResult {
  const metrics = readMetricsFiles(metricsFiles, (line) => ctx.log.warning(line));
  warnNonFinite(ctx, metrics);
  return metrics;
}

export async function logMetrics(
  store: TrackingStore,
  run: RunHandle,
  metrics: MetricsResult,
): Promise<void> {
  await store.log(run, { metrics: metricPoints(metrics, Date.now()) });
}
