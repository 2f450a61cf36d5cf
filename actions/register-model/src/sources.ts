import { posix } from 'node:path';
import { ActionError, HttpError } from '@mlops-actions/kit';
import type { MlflowClient } from '@mlops-actions/mlflow';
import type { TrackingStore } from '@mlops-actions/store';

export interface Candidate {
  /** What the version is registered from. */
  source: string;
  runId?: string;
}

/**
 * Where the model comes from: `model-uri` as train-and-log wrote it (`runs:/<id>/<path>` for MLflow, a
 * directory for the local store), or `runs:/<run-id>/model` when only the run id is given.
 */
export function resolveCandidate(modelUri: string | undefined, runId: string | undefined): Candidate {
  const fromUri = /^runs:\/([0-9a-f]{32})(?:\/|$)/.exec(modelUri ?? '')?.[1];
  if (runId && fromUri && fromUri !== runId)
    throw new ActionError(
      `Input 'model-uri': ${modelUri} belongs to run ${fromUri}, but run-id is ${runId}; give the outputs of the same train-and-log step`,
    );
  if (modelUri) return { source: modelUri, runId: runId ?? fromUri };
  if (runId) return { source: `runs:/${runId}/model`, runId };
  throw new ActionError(
    "Input 'model-uri': give model-uri or run-id (the outputs of train-and-log) to register a model",
  );
}

/** Fails clearly when a `runs:/` model uri names a run or an artifact path the server does not have. */
export async function checkMlflowSource(
  client: MlflowClient,
  candidate: Candidate,
  where: string,
): Promise<void> {
  const match = /^runs:\/([0-9a-f]{32})\/(.+?)\/?$/.exec(candidate.source);
  if (!match) return;
  const [, runId, path] = match as unknown as [string, string, string];
  try {
    await client.getRun(runId);
  } catch (error) {
    if (error instanceof HttpError && error.status === 404)
      throw new ActionError(`model-uri ${candidate.source}: run ${runId} does not exist on ${where}`);
    throw error;
  }
  if ((await client.listArtifacts(runId, path)).length > 0) return;
  const parent = posix.dirname(path) === '.' ? '' : posix.dirname(path);
  const siblings = await client.listArtifacts(runId, parent);
  if (siblings.some((f) => f.path === path)) return;
  throw new ActionError(
    `model-uri ${candidate.source}: run ${runId} on ${where} has no artifact '${path}'; log the model under that path or pass the right model-uri`,
  );
}

type MetricValue = number | 'NaN' | 'Infinity' | '-Infinity';

/** The candidate's metrics: the `metrics` input (train-and-log's output) or the run's latest values. */
export async function candidateMetrics(
  given: Record<string, MetricValue> | undefined,
  store: TrackingStore | undefined,
  runId: string | undefined,
): Promise<Record<string, number>> {
  if (given && Object.keys(given).length > 0)
    return Object.fromEntries(Object.entries(given).map(([k, v]) => [k, Number(v)]));
  if (!store || !runId) return {};
  return (await store.getRunMetrics(runId)).metrics;
}
