import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ActionContext, ActionError, errorMessage, NetworkError } from '@mlops-actions/kit';
import { isMlflowUri, resolveConnection } from '@mlops-actions/mlflow';
import { LocalStore, listFiles, MlflowStore, type RunHandle, type TrackingStore } from '@mlops-actions/store';
import type { EnvironmentCapture } from './environment';
import type { Inputs } from './main';

export function openStore(i: Inputs, ctx: ActionContext): TrackingStore {
  const uri = i['tracking-uri'];
  if (!isMlflowUri(uri)) return new LocalStore(resolve(ctx.workspace, uri), uri);
  const connection = resolveConnection(uri, ctx.env, i['tracking-token']);
  for (const secret of connection.secrets) ctx.mask(secret);
  return new MlflowStore(connection, {
    log: (line) => ctx.log.info(line),
    warn: (line) => ctx.log.warning(line),
  });
}

export interface RunIdentity {
  experimentName: string;
  runName: string;
  tags: Record<string, string>;
}

/** Lineage tags (source, commit, workflow run, data hash, params digest, environment) and the run's names. */
export function runIdentity(
  i: Inputs,
  ctx: ActionContext,
  options: {
    command: string;
    source: string;
    digest: string;
    environment: EnvironmentCapture;
    backend?: string;
  },
): RunIdentity {
  const gh = ctx.github;
  const tags: Record<string, string> = {
    'mlflow.source.type': 'JOB',
    'mlflow.source.name': options.source,
    'mlops.command': options.command,
    'mlops.params.digest': options.digest,
    'mlops.seed': String(i.seed),
  };
  if (options.backend) tags['mlops.backend'] = options.backend;
  if (gh.sha) tags['mlflow.source.git.commit'] = gh.sha;
  if (gh.ref) tags['mlflow.source.git.branch'] = gh.ref.replace(/^refs\/heads\//, '');
  if (gh.repository) tags['mlops.repository'] = gh.repository;
  if (gh.ref) tags['mlops.ref'] = gh.ref;
  if (gh.runUrl) tags['mlops.workflow-run-url'] = gh.runUrl;
  if (gh.actor) tags['mlflow.user'] = gh.actor;
  if (i['data-hash']) tags['mlops.data-hash'] = i['data-hash'];
  const pr = pullRequest(ctx);
  if (pr?.number) tags['mlops.pull-request'] = String(pr.number);
  if (options.environment.python) tags['mlops.env.python'] = options.environment.python;
  tags['mlops.env.lockfiles'] =
    Object.entries(options.environment.lockfiles)
      .map(([p, d]) => `${p}=${d.slice(7, 19)}`)
      .join(',') || 'none';
  const experimentName = i['experiment-name'] || gh.repository.split('/')[1] || 'Default';
  const runName =
    i['run-name'] ||
    (gh.workflow && gh.runId ? `${gh.workflow}-${gh.runId}-${gh.runAttempt}` : `run-${Date.now()}`);
  return { experimentName, runName, tags };
}

export function pullRequest(ctx: ActionContext): { base?: { sha?: string }; number?: number } | undefined {
  return ctx.github.event.pull_request as { base?: { sha?: string }; number?: number } | undefined;
}

/** Starts the run; with tracking-required: false an unreachable server falls back to the local store. */
export async function startRun(
  i: Inputs,
  ctx: ActionContext,
  store: TrackingStore,
  identity: RunIdentity,
): Promise<{ store: TrackingStore; run: RunHandle }> {
  const options = { ...identity, startTime: Date.now() };
  let run: RunHandle;
  try {
    run = await ctx.log.group(`Starting a run on ${store.uri}`, () => store.startRun(options));
  } catch (error) {
    // A remote job cannot log into the local store, so only a local training falls back to it.
    if (
      store.kind === 'mlflow' &&
      !i['tracking-required'] &&
      i.backend === 'local' &&
      error instanceof NetworkError
    ) {
      ctx.log.warning(
        `The tracking server ${store.uri} could not be reached (${errorMessage(error)}); recording the run in the local store .mlops instead (tracking-required: false).`,
      );
      store = new LocalStore(resolve(ctx.workspace, '.mlops'), '.mlops');
      run = await store.startRun(options);
    } else if (store.kind === 'mlflow' && error instanceof NetworkError) {
      throw new ActionError(
        `${errorMessage(error)}; check tracking-uri, or set tracking-required: false to record the run in the local store when the server is down`,
      );
    } else throw error;
  }
  ctx.log.info(`Run ${run.runId} in experiment ${run.experimentId} (${store.uri}).`);
  return { store, run };
}

/** Params and the captured environment (environment.json, pip-freeze.txt), logged before the training. */
export async function logEnvironment(
  ctx: ActionContext,
  store: TrackingStore,
  run: RunHandle,
  options: {
    environment: EnvironmentCapture;
    params: Record<string, string>;
    seed: number;
    command: string;
    digest: string;
  },
): Promise<void> {
  const { environment } = options;
  const envDir = join(ctx.tempDir, 'environment');
  mkdirSync(envDir, { recursive: true });
  writeFileSync(
    join(envDir, 'environment.json'),
    `${JSON.stringify(
      {
        ...environment,
        pipFreeze: undefined,
        seed: options.seed,
        command: options.command,
        paramsDigest: options.digest,
      },
      null,
      2,
    )}\n`,
  );
  if (environment.pipFreeze) writeFileSync(join(envDir, 'pip-freeze.txt'), environment.pipFreeze);
  await store.log(run, { params: options.params });
  await store.uploadArtifacts(run, listFiles(envDir, 'environment'));
}

export async function uploadLocalStore(
  store: LocalStore,
  run: RunHandle,
  name: string,
  ctx: ActionContext,
): Promise<void> {
  if (!ctx.env.ACTIONS_RUNTIME_TOKEN) {
    ctx.log.info(
      `Local store kept at ${store.root}; not uploading it as a workflow artifact (no ACTIONS_RUNTIME_TOKEN: not on a GitHub runner).`,
    );
    return;
  }
  const files = [
    join(store.root, 'experiments.json'),
    ...listFiles(join(store.root, 'runs', run.runId), '').map((f) => f.localPath),
  ].filter((f) => existsSync(f));
  const { DefaultArtifactClient } = await import('@actions/artifact');
  const client = new DefaultArtifactClient();
  const result = await client.uploadArtifact(name, files, store.root, { retentionDays: undefined });
  ctx.log.info(
    `Uploaded the local store as workflow artifact '${name}' (${files.length} files, id ${result.id ?? '?'}).`,
  );
}
