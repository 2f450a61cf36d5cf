import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import {
  type ActionContext,
  ActionError,
  artifactServiceAvailable,
  defineAction,
  errorMessage,
  input,
  NetworkError,
  uploadArtifact,
  writeFileAtomic,
  z,
} from '@mlops-actions/kit';
import { isMlflowUri, resolveConnection } from '@mlops-actions/mlflow';
import {
  type BaselineRun,
  findFiles,
  LocalStore,
  listFiles,
  type MetricsResult,
  MlflowStore,
  paramsDigest,
  type RunHandle,
  readParamsFile,
  type TrackingStore,
  type UploadFile,
} from '@mlops-actions/store';
import { loadBaseline, parseBaseline } from './baseline';
import { captureEnvironment } from './environment';
import { execute } from './execute';
import { logRunMetrics } from './metrics';
import {
  extractCellError,
  findNotebookRunner,
  findOnPath,
  injectParameters,
  isPythonIdentifier,
  type Notebook,
  notebookErrors,
} from './notebook';
import { buildReport } from './report';

const metricValue = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);

export const inputs = z
  .object({
    notebook: z
      .string()
      .optional()
      .describe(
        'Jupyter notebook to execute headless (papermill when installed, else `jupyter nbconvert --execute`); give this or `run`',
      ),
    run: z
      .string()
      .optional()
      .describe('Shell command that trains (run with bash -e -o pipefail); give this or `notebook`'),
    'working-directory': z
      .string()
      .default('.')
      .describe('Directory the training runs in; relative paths of the other inputs are resolved against it'),
    env: input
      .keyValues()
      .prefault('')
      .describe('Extra environment variables for the training, as KEY=value lines'),
    timeout: input
      .duration()
      .prefault('6h')
      .describe('Stop the training after this long (e.g. 90m); 0 for no limit'),
    seed: input
      .integer()
      .prefault('42')
      .describe(
        'Seed exported as PYTHONHASHSEED and MLOPS_SEED and injected as the notebook parameter `seed`',
      ),
    params: input
      .keyValues()
      .prefault('')
      .describe(
        'Params as KEY=value lines: logged with the run and injected into the notebook cell tagged `parameters`',
      ),
    'params-file': z
      .string()
      .default('params.yaml')
      .describe('YAML or JSON params file (DVC style), flattened with dots; skipped when absent'),
    'metrics-files': input
      .list()
      .prefault('metrics.json')
      .describe(
        'Metrics files written by the training: JSON (DVC metrics.json, nested), YAML, or CSV/TSV with a step column for history; `none` for no metrics',
      ),
    'model-path': z
      .string()
      .default('model')
      .describe(
        'Directory (or file) the training writes the model to; logged under the artifact path `model`',
      ),
    artifacts: input
      .list()
      .prefault('')
      .describe('Extra files to log as artifacts, as globs relative to the working directory'),
    'tracking-uri': z
      .string()
      .default('.mlops')
      .describe(
        'Where runs are recorded: an MLflow server (http(s)://…), `databricks`, or a local directory (the embedded store)',
      ),
    'tracking-token': input
      .secret(z.string().optional())
      .describe(
        'Bearer token for the MLflow server; defaults to MLFLOW_TRACKING_TOKEN (basic auth: MLFLOW_TRACKING_USERNAME/PASSWORD)',
      ),
    'tracking-required': input
      .boolean()
      .prefault('true')
      .describe(
        'Fail when the tracking server cannot be reached; false records the run in the local store instead, with a warning',
      ),
    'experiment-name': z.string().optional().describe('MLflow experiment; defaults to the repository name'),
    'run-name': z.string().optional().describe('Run name; defaults to <workflow>-<run number>-<attempt>'),
    'data-hash': z
      .string()
      .optional()
      .describe('The data-hash output of dvc-pull, recorded as the mlops.data-hash tag'),
    baseline: z
      .string()
      .default('pr-base')
      .describe(
        "What to compare metrics with: 'pr-base' (the metrics files at the pull request's base commit), 'git:<rev>', an MLflow run id, 'models:/<name>@<alias>', or 'none'",
      ),
    'higher-is-better': input
      .list()
      .prefault('')
      .describe(
        'Metric names (globs allowed) where higher is better, on top of the defaults (accuracy, f1, auc, …)',
      ),
    'lower-is-better': input
      .list()
      .prefault('')
      .describe(
        'Metric names (globs allowed) where lower is better, on top of the defaults (loss, rmse, latency, …)',
      ),
    comment: input
      .boolean()
      .prefault('true')
      .describe('Post the metric diff as a sticky comment on the pull request'),
    'github-token': input
      .secret(z.string().optional())
      .describe('Token for the pull request comment; defaults to GITHUB_TOKEN from the environment'),
    'upload-parallelism': input.integer().prefault('8').describe('Artifact uploads in flight at once'),
    'artifact-name': z
      .string()
      .optional()
      .describe('Name of the workflow artifact holding the local store; defaults to mlops-run-<run id>'),
  })
  .superRefine((value, ctx) => {
    if (!value.notebook && !value.run) {
      ctx.addIssue({
        code: 'custom',
        path: ['notebook'],
        message: 'give either `notebook` (a .ipynb to execute) or `run` (a shell command); neither was set',
      });
    }
    if (value.notebook && value.run) {
      ctx.addIssue({ code: 'custom', path: ['run'], message: 'give either `notebook` or `run`, not both' });
    }
    if (value.notebook && !/\.ipynb$/i.test(value.notebook)) {
      ctx.addIssue({ code: 'custom', path: ['notebook'], message: 'expected a path to a .ipynb notebook' });
    }
    try {
      parseBaseline(value.baseline);
    } catch (error) {
      ctx.addIssue({ code: 'custom', path: ['baseline'], message: (error as Error).message });
    }
    if (value['upload-parallelism'] < 1 || value['upload-parallelism'] > 64) {
      ctx.addIssue({
        code: 'custom',
        path: ['upload-parallelism'],
        message: 'expected a number from 1 to 64',
      });
    }
    if (value.seed < 0 || value.seed > 4294967295) {
      ctx.addIssue({
        code: 'custom',
        path: ['seed'],
        message: 'expected a whole number from 0 to 4294967295 (PYTHONHASHSEED range)',
      });
    }
  });

export const outputs = z.object({
  'run-id': z.string().describe('Id of the recorded run'),
  'experiment-id': z.string().describe('Id of the experiment the run belongs to'),
  'tracking-uri': z
    .string()
    .describe(
      'Where the run was recorded (without credentials); the local store directory when it fell back',
    ),
  'model-uri': z
    .string()
    .describe(
      'runs:/<run-id>/model for MLflow, or the model directory in the local store; empty when no model was written',
    ),
  'artifact-uri': z.string().describe("The run's artifact root"),
  metrics: z
    .record(z.string(), metricValue)
    .describe('Latest value of each metric, as a JSON object (NaN and infinities as strings)'),
  params: z.record(z.string(), z.string()).describe('Params logged with the run, as a JSON object'),
  'params-digest': z.string().describe('sha256 over the sorted params'),
  status: z.enum(['FINISHED', 'FAILED']).describe('Final status of the run'),
});

type Inputs = z.output<typeof inputs>;

function wire(value: number): number | 'NaN' | 'Infinity' | '-Infinity' {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

/** Every path input, resolved inside the workspace (symlinks followed) before anything runs. */
interface Paths {
  workspace: string;
  workDir: string;
  notebook?: string;
  paramsFile: string;
  metricsFiles: Array<{ path: string; display: string }>;
  modelPath: string;
}

function resolvePaths(i: Inputs, ctx: ActionContext): Paths {
  const workspace = resolve(ctx.workspace);
  const workDir = ctx.path(i['working-directory'], { input: 'working-directory' });
  if (!existsSync(workDir) || !statSync(workDir).isDirectory()) {
    throw new ActionError(
      `Input 'working-directory': '${i['working-directory']}' is not a directory in the workspace`,
    );
  }
  const inWorkDir = (value: string, input: string) => ctx.path(value, { input, base: workDir });
  const notebook = i.notebook ? inWorkDir(i.notebook, 'notebook') : undefined;
  if (notebook && !existsSync(notebook))
    throw new ActionError(`Input 'notebook': '${i.notebook}' does not exist (looked in ${workDir})`);
  const listed =
    i['metrics-files'].length === 1 && i['metrics-files'][0] === 'none' ? [] : i['metrics-files'];
  return {
    workspace,
    workDir,
    notebook,
    paramsFile: inWorkDir(i['params-file'], 'params-file'),
    metricsFiles: listed.map((f) => ({ path: inWorkDir(f, 'metrics-files'), display: f })),
    modelPath: inWorkDir(i['model-path'], 'model-path'),
  };
}

/** Params: the params file, then the params input on top; recorded before the training starts. */
function readParams(i: Inputs, paths: Paths): Record<string, string> {
  const params: Record<string, string> = {};
  if (existsSync(paths.paramsFile)) Object.assign(params, readParamsFile(paths.paramsFile, i['params-file']));
  Object.assign(params, i.params);
  params.seed ??= String(i.seed);
  return params;
}

/**
 * Linux refuses to start a process whose single environment variable exceeds 128 KiB (E2BIG), which a
 * few thousand params reach: the params always go in a file named by MLOPS_PARAMS_FILE, and inline in
 * MLOPS_PARAMS only while they are small.
 */
const INLINE_PARAMS_LIMIT_BYTES = 32 * 1024;

function childEnvironment(i: Inputs, ctx: ActionContext, params: Record<string, string>): NodeJS.ProcessEnv {
  const json = JSON.stringify(params);
  const paramsFile = join(ctx.tempDir, 'params.json');
  writeFileAtomic(paramsFile, json);
  const env: NodeJS.ProcessEnv = {
    ...ctx.env,
    ...i.env,
    PYTHONHASHSEED: String(i.seed),
    MLOPS_SEED: String(i.seed),
    MLOPS_PARAMS_FILE: paramsFile,
  };
  if (Buffer.byteLength(json) <= INLINE_PARAMS_LIMIT_BYTES) env.MLOPS_PARAMS = json;
  else {
    delete env.MLOPS_PARAMS;
    ctx.log.info(
      `The params take ${Buffer.byteLength(json)} bytes: passed in ${paramsFile} (MLOPS_PARAMS_FILE) only, as one environment variable may not exceed 128 KiB.`,
    );
  }
  for (const key of Object.keys(env)) if (key.startsWith('INPUT_')) delete env[key];
  return env;
}

async function openStore(i: Inputs, ctx: ActionContext, workDir: string): Promise<TrackingStore> {
  const uri = i['tracking-uri'];
  if (!isMlflowUri(uri)) return new LocalStore(resolve(ctx.workspace, uri), uri);
  const connection = resolveConnection(uri, ctx.env, i['tracking-token']);
  for (const secret of connection.secrets) ctx.mask(secret);
  void workDir;
  return new MlflowStore(connection, {
    log: (line) => ctx.log.info(line),
    warn: (line) => ctx.log.warning(line),
  });
}

async function uploadLocalStore(
  store: LocalStore,
  run: RunHandle,
  name: string,
  ctx: ActionContext,
): Promise<void> {
  if (!artifactServiceAvailable(ctx.env)) {
    ctx.log.info(
      `Local store kept at ${store.root}; not uploading it as a workflow artifact (no ACTIONS_RUNTIME_TOKEN: not on a GitHub runner).`,
    );
    return;
  }
  const files = [
    join(store.root, 'experiments.json'),
    ...listFiles(join(store.root, 'runs', run.runId), '').map((f) => f.localPath),
  ].filter((f) => existsSync(f));
  const result = await uploadArtifact(name, files, store.root);
  ctx.log.info(
    `Uploaded the local store as workflow artifact '${name}' (${files.length} files, id ${result.id ?? '?'}).`,
  );
}

export default defineAction({
  id: 'train-and-log',
  name: 'Train and log',
  description:
    'Runs a notebook or training command reproducibly, logs params, metrics, environment and artifacts to MLflow or a local store, and diffs metrics on the pull request.',
  branding: { icon: 'activity', color: 'purple' },
  inputs,
  outputs,
  async run(i, ctx) {
    const paths = resolvePaths(i, ctx);
    const { workspace, workDir } = paths;
    const notebookPath = paths.notebook;
    const metricsFiles = paths.metricsFiles;
    const params = readParams(i, paths);
    const digest = paramsDigest(params);
    const childEnv = childEnvironment(i, ctx, params);
    const runner = notebookPath ? findNotebookRunner(childEnv.PATH) : undefined;
    if (notebookPath && !runner) {
      throw new ActionError(
        'Cannot execute the notebook: neither papermill nor jupyter nbconvert is installed (pip install nbconvert ipykernel, or apt-get install jupyter-nbconvert python3-ipykernel)',
      );
    }
    const python = runner
      ? (findOnPath('python3', dirname(runner.command)) ?? 'python3')
      : (findOnPath('python3', childEnv.PATH) ?? 'python3');

    let store = await openStore(i, ctx, workDir);
    const gh = ctx.github;
    const command = notebookPath ? `${runner!.kind} ${relative(workspace, notebookPath)}` : i.run!;
    const tags: Record<string, string> = {
      'mlflow.source.type': 'JOB',
      'mlflow.source.name': notebookPath ? relative(workspace, notebookPath) : 'run',
      'mlops.command': command,
      'mlops.params.digest': digest,
      'mlops.seed': String(i.seed),
    };
    if (gh.sha) tags['mlflow.source.git.commit'] = gh.sha;
    if (gh.ref) tags['mlflow.source.git.branch'] = gh.ref.replace(/^refs\/heads\//, '');
    if (gh.repository) tags['mlops.repository'] = gh.repository;
    if (gh.ref) tags['mlops.ref'] = gh.ref;
    if (gh.runUrl) tags['mlops.workflow-run-url'] = gh.runUrl;
    if (gh.actor) tags['mlflow.user'] = gh.actor;
    if (i['data-hash']) tags['mlops.data-hash'] = i['data-hash'];
    const pr = gh.event.pull_request as { base?: { sha?: string }; number?: number } | undefined;
    if (pr?.number) tags['mlops.pull-request'] = String(pr.number);
    const experimentName = i['experiment-name'] || gh.repository.split('/')[1] || 'Default';
    const runName =
      i['run-name'] ||
      (gh.workflow && gh.runId ? `${gh.workflow}-${gh.runId}-${gh.runAttempt}` : `run-${Date.now()}`);

    const environment = await captureEnvironment(workDir, childEnv, python);
    if (environment.python) tags['mlops.env.python'] = environment.python;
    tags['mlops.env.lockfiles'] =
      Object.entries(environment.lockfiles)
        .map(([p, d]) => `${p}=${d.slice(7, 19)}`)
        .join(',') || 'none';

    let run: RunHandle;
    try {
      run = await ctx.log.group(`Starting a run on ${store.uri}`, () =>
        store.startRun({ experimentName, runName, startTime: Date.now(), tags }),
      );
    } catch (error) {
      if (store.kind === 'mlflow' && !i['tracking-required'] && error instanceof NetworkError) {
        ctx.log.warning(
          `The tracking server ${store.uri} could not be reached (${errorMessage(error)}); recording the run in the local store .mlops instead (tracking-required: false).`,
        );
        store = new LocalStore(resolve(workspace, '.mlops'), '.mlops');
        run = await store.startRun({ experimentName, runName, startTime: Date.now(), tags });
      } else if (store.kind === 'mlflow' && error instanceof NetworkError) {
        throw new ActionError(
          `${errorMessage(error)}; check tracking-uri, or set tracking-required: false to record the run in the local store when the server is down`,
        );
      } else throw error;
    }
    ctx.log.info(`Run ${run.runId} in experiment ${run.experimentId} (${store.uri}).`);

    const envDir = join(ctx.tempDir, 'environment');
    mkdirSync(envDir, { recursive: true });
    writeFileSync(
      join(envDir, 'environment.json'),
      `${JSON.stringify({ ...environment, pipFreeze: undefined, seed: i.seed, command, paramsDigest: digest }, null, 2)}\n`,
    );
    if (environment.pipFreeze) writeFileSync(join(envDir, 'pip-freeze.txt'), environment.pipFreeze);
    await store.log(run, { params });
    await store.uploadArtifacts(run, listFiles(envDir, 'environment'));

    const logDir = join(ctx.tempDir, 'logs');
    mkdirSync(logDir, { recursive: true });
    const logFile = join(logDir, 'train.log');
    let failure: string | undefined;
    let cellError: string | undefined;
    let tail: string[] = [];
    let executedNotebook: string | undefined;
    const started = Date.now();
    try {
      let result: Awaited<ReturnType<typeof execute>>;
      const timeoutMs = i.timeout;
      const execOptions = {
        cwd: workDir,
        env: childEnv,
        timeoutMs,
        signal: ctx.signal,
        logFile,
        onLine: (line: string) => ctx.log.info(line),
      };
      if (notebookPath) {
        const nb = JSON.parse(readFileSync(notebookPath, 'utf8')) as Notebook;
        const injected: Record<string, unknown> = { seed: i.seed };
        for (const [k, v] of Object.entries(i.params)) {
          if (isPythonIdentifier(k)) injected[k] = v;
          else
            ctx.log.warning(
              `Param '${k}' is not a Python identifier, so it is logged but not injected into the notebook`,
            );
        }
        const inputCopy = join(workDir, `.${basename(notebookPath, '.ipynb')}.mlops-input.ipynb`);
        writeFileSync(inputCopy, JSON.stringify(injectParameters(nb, injected), null, 1));
        const outDir = join(ctx.tempDir, 'notebook');
        mkdirSync(outDir, { recursive: true });
        executedNotebook = join(outDir, basename(notebookPath));
        try {
          result = await ctx.log.group(
            `Executing ${relative(workspace, notebookPath)} with ${runner!.kind}`,
            () =>
              execute(
                runner!.command,
                runner!.args(inputCopy, outDir, basename(notebookPath), workDir),
                execOptions,
              ),
          );
        } finally {
          rmSync(inputCopy, { force: true });
        }
        if (existsSync(executedNotebook)) {
          const errors = notebookErrors(JSON.parse(readFileSync(executedNotebook, 'utf8')) as Notebook);
          if (errors.length) cellError = errors[0];
        } else executedNotebook = undefined;
        if (result.exitCode !== 0) cellError ??= extractCellError(result.stderr);
      } else {
        result = await ctx.log.group(`Running: ${i.run}`, () =>
          execute(
            existsSync('/bin/bash') ? '/bin/bash' : '/bin/sh',
            existsSync('/bin/bash') ? ['-e', '-o', 'pipefail', '-c', i.run!] : ['-e', '-c', i.run!],
            execOptions,
          ),
        );
      }
      tail = result.tail;
      if (result.timedOut) failure = `The training was stopped after the timeout of ${i.timeout / 1000} s`;
      else if (result.cancelled) failure = 'The training was cancelled';
      else if (result.exitCode !== 0)
        failure = `The training ${notebookPath ? 'notebook' : 'command'} failed with ${result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode}`}`;
    } catch (error) {
      failure = `The training could not be started: ${errorMessage(error)}`;
    }
    ctx.log.info(
      `Training ${failure ? 'failed' : 'finished'} in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
    );

    let metrics: MetricsResult = { latest: {}, history: {} };
    let modelUri = '';
    const finishFailed = async (message: string): Promise<never> => {
      const tailFile = join(logDir, 'log-tail.txt');
      writeFileSync(tailFile, `${tail.join('\n')}\n`);
      const files: UploadFile[] = [
        { localPath: tailFile, artifactPath: 'logs/log-tail.txt', size: statSync(tailFile).size },
      ];
      if (existsSync(logFile))
        files.push({ localPath: logFile, artifactPath: 'logs/train.log', size: statSync(logFile).size });
      if (executedNotebook)
        files.push({
          localPath: executedNotebook,
          artifactPath: `notebook/${basename(executedNotebook)}`,
          size: statSync(executedNotebook).size,
        });
      try {
        await store.uploadArtifacts(run, files, { parallel: i['upload-parallelism'] });
        await store.finish(run, 'FAILED', Date.now());
      } catch (error) {
        ctx.log.warning(`Could not mark run ${run.runId} as FAILED: ${errorMessage(error)}`);
      }
      const { markdown } = buildReport({
        status: 'FAILED',
        runName: run.runName,
        runId: run.runId,
        experimentId: run.experimentId,
        trackingUri: store.uri,
        modelUri: '',
        paramsDigest: digest,
        params,
        metrics: metrics.latest,
        history: metrics.history,
        higherIsBetter: i['higher-is-better'],
        lowerIsBetter: i['lower-is-better'],
        error: message,
        cellError,
        logTail: cellError ? undefined : tail.slice(-40),
      });
      ctx.summary.add(markdown);
      if (store instanceof LocalStore)
        await uploadLocalStore(store, run, i['artifact-name'] || `mlops-run-${run.runId}`, ctx).catch((e) =>
          ctx.log.warning(errorMessage(e)),
        );
      throw new ActionError(
        `${message}; run ${run.runId} marked FAILED on ${store.uri}${
          cellError
            ? ` (failing cell: ${
                cellError
                  .split('\n')
                  .find((l) => /Error|Exception/.test(l))
                  ?.trim()
                  .slice(0, 200) ?? 'see the job summary'
              })`
            : ''
        }`,
      );
    };
    if (failure) return finishFailed(failure);

    try {
      metrics = await logRunMetrics(store, run, metricsFiles, ctx);

      const uploads: UploadFile[] = [];
      // The training may have replaced the model path by a link since the inputs were checked.
      const modelPath = ctx.path(i['model-path'], { input: 'model-path', base: workDir });
      if (existsSync(modelPath)) {
        if (statSync(modelPath).isDirectory()) uploads.push(...listFiles(modelPath, 'model'));
        else
          uploads.push({
            localPath: modelPath,
            artifactPath: `model/${basename(modelPath)}`,
            size: statSync(modelPath).size,
          });
        modelUri = store.modelUri(run, 'model');
      } else {
        ctx.log.warning(`No model at '${i['model-path']}' after the training; model-uri is empty`);
      }
      for (const rel of i.artifacts.length
        ? findFiles(workDir, i.artifacts, ['.git', 'node_modules', '.mlops'])
        : []) {
        const full = ctx.path(rel, { input: 'artifacts', base: workDir });
        uploads.push({ localPath: full, artifactPath: rel.split(sep).join('/'), size: statSync(full).size });
      }
      for (const f of metricsFiles) {
        uploads.push({
          localPath: f.path,
          artifactPath: `metrics/${basename(f.display)}`,
          size: statSync(f.path).size,
        });
      }
      if (executedNotebook)
        uploads.push({
          localPath: executedNotebook,
          artifactPath: `notebook/${basename(executedNotebook)}`,
          size: statSync(executedNotebook).size,
        });
      if (existsSync(logFile))
        uploads.push({ localPath: logFile, artifactPath: 'logs/train.log', size: statSync(logFile).size });
      const totalBytes = uploads.reduce((s, f) => s + f.size, 0);
      const progress = ctx.progress({ label: 'Artifacts', total: uploads.length, totalBytes, unit: 'files' });
      await store.uploadArtifacts(run, uploads, {
        parallel: i['upload-parallelism'],
        onFile: (f) => progress.tick(1, f.size),
        signal: ctx.signal,
      });
      progress.done();
      await store.finish(run, 'FINISHED', Date.now());
    } catch (error) {
      return finishFailed(errorMessage(error));
    }

    let baseline: BaselineRun | undefined;
    let baselineNote: string | undefined;
    try {
      baseline = await loadBaseline(parseBaseline(i.baseline), {
        store,
        workspace,
        workDir,
        metricsFiles: metricsFiles.map((f) => f.display),
        prBaseSha: pr?.base?.sha,
        log: (line) => ctx.log.info(line),
      });
      if (!baseline)
        baselineNote = i.baseline === 'none' ? 'no baseline' : 'no baseline outside a pull request';
    } catch (error) {
      baselineNote = `baseline unavailable: ${errorMessage(error)}`;
      ctx.log.warning(baselineNote);
    }
    const { markdown } = buildReport({
      status: 'FINISHED',
      runName: run.runName,
      runId: run.runId,
      experimentId: run.experimentId,
      trackingUri: store.uri,
      modelUri,
      paramsDigest: digest,
      params,
      metrics: metrics.latest,
      history: metrics.history,
      baseline,
      baselineNote,
      higherIsBetter: i['higher-is-better'],
      lowerIsBetter: i['lower-is-better'],
    });
    // The summary first: a comment is a side effect that may fall back to it or fail (kit warns).
    ctx.summary.add(markdown);
    if (i.comment && gh.issueNumber) await ctx.comment('metrics', markdown, { token: i['github-token'] });

    if (store instanceof LocalStore) {
      await uploadLocalStore(store, run, i['artifact-name'] || `mlops-run-${run.runId}`, ctx).catch((error) =>
        ctx.log.warning(`Could not upload the local store as a workflow artifact: ${errorMessage(error)}`),
      );
    }
    return {
      'run-id': run.runId,
      'experiment-id': run.experimentId,
      'tracking-uri': store.uri,
      'model-uri': modelUri,
      'artifact-uri': run.artifactUri,
      metrics: Object.fromEntries(Object.entries(metrics.latest).map(([k, v]) => [k, wire(v)])),
      params,
      'params-digest': digest,
      status: 'FINISHED' as const,
    };
  },
});
