import { createWriteStream } from 'node:fs';
import { basename, resolve } from 'node:path';
import {
  type BackendKind,
  createBackend,
  parsePodTemplate,
  parseResources,
  type SubmittedJob,
  type TrainingBackend,
  type TrainingJobSpec,
} from '@mlops-actions/compute';
import { type ActionContext, errorMessage } from '@mlops-actions/kit';
import {
  type MetricsResult,
  type MlflowStore,
  parseMetricsText,
  type RunHandle,
  type TrackingStore,
} from '@mlops-actions/store';
import type { Inputs } from './main';
import { metricPoints, warnNonFinite } from './metrics';
import { INLINE_PARAMS_LIMIT_BYTES } from './prepare';
import { rayOptions } from './ray-inputs';
import { logFilePath, type TrainingResult } from './train-local';

/** What the post step needs to delete a job the main step left running. */
export interface SavedJob {
  job: SubmittedJob;
  runId: string;
  finished: boolean;
}

export const JOB_STATE = 'remote-job';

export function backendFor(i: Inputs, ctx: ActionContext): TrainingBackend {
  return createBackend(i.backend as BackendKind, {
    kubernetes: {
      kind: i['kubernetes-kind'],
      namespace: i.namespace,
      image: i.image ?? '',
      resources: parseResources(i.resources),
      nodeSelector: i['node-selector'],
      tolerations: i.tolerations,
      serviceAccount: i['service-account'],
      nodes: i.nodes,
      podTemplate: parsePodTemplate(i['pod-template']),
      runtime: i['trainjob-runtime'],
      // As canary-deploy: kubeconfigs written by setup actions live in RUNNER_TEMP, outside the workspace.
      kubeconfig: i.kubeconfig ? resolve(ctx.workspace, i.kubeconfig) : undefined,
      context: i['kube-context'],
      env: ctx.env,
      pollMs: i['poll-interval'],
    },
    ray: i['ray-address']
      ? {
          ...rayOptions({ ...i, 'ray-address': i['ray-address'] }, (line) => ctx.log.info(line)),
          pollIntervalMs: i['poll-interval'],
        }
      : undefined,
    log: ctx.log,
  });
}

/** The command the remote process runs: `command`, else the `run` command, else the notebook executed by nbconvert. */
export function remoteCommand(i: Inputs): string {
  if (i.command) return i.command;
  if (i.run) return i.run;
  return `jupyter nbconvert --to notebook --execute --output ${basename(i.notebook!, '.ipynb')}.executed.ipynb ${i.notebook}`;
}

/** Run ids are hex: a DNS-1123 name of at most 63 characters. */
function jobName(run: RunHandle): string {
  return `mlops-train-${run.runId
    .toLowerCase()
    .replace(/[^a-z0-9]/g, '')
    .slice(0, 32)}`;
}

export function remoteSpec(
  i: Inputs,
  ctx: ActionContext,
  store: TrackingStore,
  run: RunHandle,
  params: Record<string, string>,
): TrainingJobSpec {
  const json = JSON.stringify(params);
  const env: Record<string, string> = {
    ...i.env,
    MLFLOW_TRACKING_URI: store.uri,
    MLFLOW_RUN_ID: run.runId,
    MLFLOW_EXPERIMENT_ID: run.experimentId,
    PYTHONHASHSEED: String(i.seed),
    MLOPS_SEED: String(i.seed),
  };
  if (Buffer.byteLength(json) <= INLINE_PARAMS_LIMIT_BYTES) env.MLOPS_PARAMS = json;
  if (i['data-hash']) env.MLOPS_DATA_HASH = i['data-hash'];
  const labels: Record<string, string> = {
    'app.kubernetes.io/managed-by': 'mlops-actions',
    'mlops-actions/run-id': run.runId,
  };
  if (ctx.github.sha) labels['mlops-actions/commit'] = ctx.github.sha;
  return {
    name: jobName(run),
    command: ['/bin/sh', '-c', remoteCommand(i)],
    env,
    workingDirectory: ctx.path(i['working-directory'], { input: 'working-directory' }),
    labels,
    timeoutMs: i.timeout,
  };
}

/** Submits the job, saves it for the post step, streams its logs into the step log and train.log. */
export async function trainRemotely(
  i: Inputs,
  ctx: ActionContext,
  backend: TrainingBackend,
  spec: TrainingJobSpec,
  run: RunHandle,
): Promise<TrainingResult> {
  const logFile = logFilePath(ctx);
  const log = createWriteStream(logFile);
  const started = Date.now();
  const result: TrainingResult = { tail: [], logFile };
  try {
    const job = await ctx.log.group(`Submitting to ${backend.describe()}`, () =>
      backend.submit(spec, ctx.signal),
    );
    ctx.state.save(JOB_STATE, { job, runId: run.runId, finished: false } satisfies SavedJob);
    ctx.log.info(`Submitted ${job.id} (${job.describe}).`);
    const outcome = await backend.follow(job, spec, {
      onLine: (line) => {
        log.write(`${line}\n`);
        ctx.log.info(line);
      },
      onPhase: (phase) => ctx.log.info(`▶ ${phase}`),
      signal: ctx.signal,
    });
    ctx.state.save(JOB_STATE, { job, runId: run.runId, finished: true } satisfies SavedJob);
    result.tail = outcome.tail;
    if (outcome.status === 'cancelled') {
      result.cancelled = true;
      result.failure = `The training was cancelled; ${job.id} was deleted`;
    } else if (outcome.status === 'timed-out')
      result.failure = `The training was stopped after the timeout of ${i.timeout / 1000} s (${job.id} deleted)`;
    else if (outcome.status === 'failed')
      result.failure = `The training job ${job.id} failed${outcome.exitCode !== undefined ? ` with exit code ${outcome.exitCode}` : ''}: ${outcome.reason ?? 'no reason given'}`;
  } catch (error) {
    result.failure = `The training job could not run: ${errorMessage(error)}`;
  } finally {
    await new Promise<void>((resolve) => log.end(resolve));
  }
  ctx.log.info(
    `Training ${result.failure ? 'failed' : 'finished'} in ${((Date.now() - started) / 1000).toFixed(1)} s on ${backend.kind}.`,
  );
  return result;
}

/**
 * What the remote process recorded: the run's metrics with their history (runs/get, metrics/get-history)
 * and the metrics files it logged as run artifacts under metrics/; file values the run lacks are logged.
 */
export async function collectRemoteMetrics(
  ctx: ActionContext,
  store: TrackingStore,
  run: RunHandle,
  metricsFiles: Array<{ display: string }>,
): Promise<{ metrics: MetricsResult; hasModel: boolean }> {
  const client = (store as MlflowStore).client;
  const metrics: MetricsResult = { latest: {}, history: {} };
  const recorded = await client.getRun(run.runId);
  for (const m of recorded.data.metrics ?? []) {
    const history = await client.getMetricHistory(run.runId, m.key);
    // One point is a value, not a history, as for a metrics file without steps.
    if (history.length > 1)
      metrics.history[m.key] = history
        .map((p) => ({ step: p.step ?? 0, value: p.value }))
        .sort((a, b) => a.step - b.step);
    metrics.latest[m.key] = m.value;
  }
  const listed = new Set((await client.listArtifacts(run.runId, 'metrics')).map((f) => f.path));
  const fromFiles: MetricsResult = { latest: {}, history: {} };
  for (const file of metricsFiles) {
    const path = `metrics/${basename(file.display)}`;
    if (!listed.has(path)) continue;
    const text = (await client.downloadArtifact(run.artifactUri, path)).toString('utf8');
    const { result } = parseMetricsText(text, file.display);
    Object.assign(fromFiles.latest, result.latest);
    Object.assign(fromFiles.history, result.history);
  }
  const missing: MetricsResult = { latest: {}, history: {} };
  for (const [key, value] of Object.entries(fromFiles.latest)) {
    if (key in metrics.latest) continue;
    missing.latest[key] = value;
    if (fromFiles.history[key]) missing.history[key] = fromFiles.history[key]!;
  }
  if (Object.keys(missing.latest).length)
    await store.log(run, { metrics: metricPoints(missing, Date.now()) });
  Object.assign(metrics.latest, missing.latest);
  Object.assign(metrics.history, missing.history);
  warnNonFinite(ctx, metrics);
  const hasModel = (await client.listArtifacts(run.runId, 'model')).length > 0;
  return { metrics, hasModel };
}
