import { statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ActionContext, ActionError, errorMessage } from '@mlops-actions/kit';
import {
  type BaselineRun,
  LocalStore,
  type MetricsResult,
  type RunHandle,
  type TrackingStore,
} from '@mlops-actions/store';
import { trainingOutputs } from './artifacts';
import { loadBaseline, parseBaseline } from './baseline';
import type { Inputs } from './main';
import type { Paths } from './prepare';
import { buildReport } from './report';
import { pullRequest, uploadLocalStore } from './tracking';
import type { TrainingResult } from './train-local';

/** The recorded run and what it was given, shared by the closing steps. */
export interface Recorded {
  store: TrackingStore;
  run: RunHandle;
  params: Record<string, string>;
  digest: string;
}

async function keepLocalStore(i: Inputs, ctx: ActionContext, r: Recorded): Promise<void> {
  if (!(r.store instanceof LocalStore)) return;
  await uploadLocalStore(r.store, r.run, i['artifact-name'] || `mlops-run-${r.run.runId}`, ctx).catch(
    (error) =>
      ctx.log.warning(`Could not upload the local store as a workflow artifact: ${errorMessage(error)}`),
  );
}

/** Uploads the log tail, marks the run FAILED (KILLED when cancelled), writes the summary and throws. */
export async function finishFailed(
  i: Inputs,
  ctx: ActionContext,
  r: Recorded,
  training: TrainingResult,
  metrics: MetricsResult,
  message: string,
): Promise<never> {
  const tailFile = join(dirname(training.logFile), 'log-tail.txt');
  writeFileSync(tailFile, `${training.tail.join('\n')}\n`);
  const status = training.cancelled ? 'KILLED' : 'FAILED';
  try {
    await r.store.uploadArtifacts(
      r.run,
      [
        { localPath: tailFile, artifactPath: 'logs/log-tail.txt', size: statSync(tailFile).size },
        ...trainingOutputs(training),
      ],
      { parallel: i['upload-parallelism'] },
    );
    await r.store.finish(r.run, status, Date.now());
  } catch (error) {
    ctx.log.warning(`Could not mark run ${r.run.runId} as ${status}: ${errorMessage(error)}`);
  }
  const { markdown } = buildReport({
    status: 'FAILED',
    runName: r.run.runName,
    runId: r.run.runId,
    experimentId: r.run.experimentId,
    trackingUri: r.store.uri,
    modelUri: '',
    paramsDigest: r.digest,
    params: r.params,
    metrics: metrics.latest,
    history: metrics.history,
    higherIsBetter: i['higher-is-better'],
    lowerIsBetter: i['lower-is-better'],
    error: message,
    cellError: training.cellError,
    logTail: training.cellError ? undefined : training.tail.slice(-40),
  });
  ctx.summary.add(markdown);
  await keepLocalStore(i, ctx, r);
  const cell = training.cellError
    ? ` (failing cell: ${
        training.cellError
          .split('\n')
          .find((l) => /Error|Exception/.test(l))
          ?.trim()
          .slice(0, 200) ?? 'see the job summary'
      })`
    : '';
  throw new ActionError(`${message}; run ${r.run.runId} marked ${status} on ${r.store.uri}${cell}`);
}

/** The baseline to diff against; a baseline that cannot be loaded is a note in the report, not a failure. */
async function baselineFor(
  i: Inputs,
  ctx: ActionContext,
  store: TrackingStore,
  paths: Paths,
): Promise<{ baseline?: BaselineRun; note?: string }> {
  try {
    const baseline = await loadBaseline(parseBaseline(i.baseline), {
      store,
      workspace: paths.workspace,
      workDir: paths.workDir,
      metricsFiles: paths.metricsFiles.map((f) => f.display),
      prBaseSha: pullRequest(ctx)?.base?.sha,
      log: (line) => ctx.log.info(line),
    });
    if (baseline) return { baseline };
    return { note: i.baseline === 'none' ? 'no baseline' : 'no baseline outside a pull request' };
  } catch (error) {
    const note = `baseline unavailable: ${errorMessage(error)}`;
    ctx.log.warning(note);
    return { note };
  }
}

/** The metric diff against the baseline: job summary, sticky PR comment, and the local store kept. */
export async function publishReport(
  i: Inputs,
  ctx: ActionContext,
  r: Recorded,
  paths: Paths,
  metrics: MetricsResult,
  modelUri: string,
): Promise<void> {
  const { baseline, note } = await baselineFor(i, ctx, r.store, paths);
  const { markdown } = buildReport({
    status: 'FINISHED',
    runName: r.run.runName,
    runId: r.run.runId,
    experimentId: r.run.experimentId,
    trackingUri: r.store.uri,
    modelUri,
    paramsDigest: r.digest,
    params: r.params,
    metrics: metrics.latest,
    history: metrics.history,
    baseline,
    baselineNote: note,
    higherIsBetter: i['higher-is-better'],
    lowerIsBetter: i['lower-is-better'],
  });
  // The summary first: a comment is a side effect that may fall back to it or fail (kit warns).
  ctx.summary.add(markdown);
  if (i.comment && ctx.github.issueNumber)
    await ctx.comment('metrics', markdown, { token: i['github-token'] });
  await keepLocalStore(i, ctx, r);
}
