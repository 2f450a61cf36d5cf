import { defineAction, errorMessage, input, z } from '@mlops-actions/kit';
import { type MetricsResult, paramsDigest } from '@mlops-actions/store';
import { uploadRunArtifacts } from './artifacts';
import { parseBaseline } from './baseline';
import { captureEnvironment } from './environment';
import { finishFailed, publishReport, type Recorded } from './finish';
import { logMetrics, readRunnerMetrics } from './metrics';
import { childEnvironment, readParams, resolvePaths } from './prepare';
import { logEnvironment, openStore, runIdentity, startRun } from './tracking';
import { planTraining, trainLocally } from './train-local';

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

export type Inputs = z.output<typeof inputs>;

function wire(value: number): number | 'NaN' | 'Infinity' | '-Infinity' {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
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
    const params = readParams(i, paths);
    const digest = paramsDigest(params);
    const env = childEnvironment(i, ctx, params);
    const plan = planTraining(i, paths, env);
    const environment = await captureEnvironment(paths.workDir, env, plan.python);
    const identity = runIdentity(i, ctx, { command: plan.command, source: plan.source, digest, environment });
    const { store, run } = await startRun(i, ctx, openStore(i, ctx), identity);
    const recorded: Recorded = { store, run, params, digest };
    await logEnvironment(ctx, store, run, {
      environment,
      params,
      seed: i.seed,
      command: plan.command,
      digest,
    });

    const training = await trainLocally(i, ctx, paths, plan, env);
    let metrics: MetricsResult = { latest: {}, history: {} };
    if (training.failure) return finishFailed(i, ctx, recorded, training, metrics, training.failure);
    let modelUri: string;
    try {
      metrics = readRunnerMetrics(ctx, paths.metricsFiles);
      await logMetrics(store, run, metrics);
      modelUri = await uploadRunArtifacts(i, ctx, store, run, paths, training);
      await store.finish(run, 'FINISHED', Date.now());
    } catch (error) {
      return finishFailed(i, ctx, recorded, training, metrics, errorMessage(error));
    }

    await publishReport(i, ctx, recorded, paths, metrics, modelUri);
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
