import { statSync } from 'node:fs';
import type { ActionContext } from '@mlops-actions/kit';
import {
  logMetricsFiles,
  type MetricsResult,
  type RunHandle,
  type TrackingStore,
} from '@mlops-actions/store';

/** log-batch requests in flight at once against MLflow; the local store rewrites its record per call. */
const MLFLOW_CONCURRENCY = 4;

/**
 * Logs every point of the training's metrics files to the run, streaming long CSV/TSV histories in
 * bounded memory with progress in the log; returns the latest values and a sample of each history.
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
  const nonFinite = Object.entries(result.latest).filter(([, v]) => !Number.isFinite(v));
  if (nonFinite.length)
    ctx.log.warning(
      `Metrics that are not finite numbers: ${nonFinite.map(([k, v]) => `${k}=${v}`).join(', ')} (logged as such)`,
    );
  return { latest: result.latest, history: result.history };
}
