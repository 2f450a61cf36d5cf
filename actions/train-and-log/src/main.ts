import { parsePodTemplate, parseResources } from '@mlops-actions/compute';
import { defineAction, errorMessage, input, z } from '@mlops-actions/kit';
import { isMlflowUri } from '@mlops-actions/mlflow';
import { type MetricsResult, paramsDigest, type RunHandle } from '@mlops-actions/store';
import { trainingOutputs, uploadRunArtifacts } from './artifacts';
import { parseBaseline } from './baseline';
import { captureEnvironment } from './environment';
import { finishFailed, publishReport, type Recorded } from './finish';
import { logRunMetrics } from './metrics';
import { childEnvironment, readParams, resolvePaths } from './prepare';
import { checkRayInputs, rayInputs } from './ray-inputs';
import { logEnvironment, openStore, runIdentity, startRun } from './tracking';
import { planTraining, trainLocally } from './train-local';
import {
  backendFor,
  collectRemoteMetrics,
  JOB_STATE,
  remoteCommand,
  remoteSpec,
  type SavedJob,
  trainRemotely,
} from './train-remote';

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
    backend: z
      .enum(['local', 'kubernetes', 'ray'])
      .default('local')
      .describe(
        'Where the training runs: local (this runner), kubernetes (a Job or Kubeflow training job) or ray (Ray Jobs); remote backends need an MLflow tracking-uri',
      ),
    command: z
      .string()
      .optional()
      .describe(
        'Remote backends: the command the training container runs (sh -c); defaults to `run`, or the notebook executed by jupyter nbconvert',
      ),
    image: z
      .string()
      .optional()
      .describe('Kubernetes: the training image (required with backend: kubernetes)'),
    'kubernetes-kind': z
      .enum(['job', 'trainjob', 'pytorchjob'])
      .default('job')
      .describe(
        'Kubernetes: job (batch/v1 Job, Indexed for several nodes), trainjob (Kubeflow Trainer trainer.kubeflow.org/v1alpha1, v2.2 or later: pod settings go in runtimePatches) or pytorchjob (Kubeflow training operator kubeflow.org/v1)',
      ),
    namespace: z.string().default('default').describe('Kubernetes: namespace the job runs in'),
    resources: input
      .keyValues()
      .prefault('')
      .describe('Kubernetes: per node, as lines cpu: 8, memory: 32Gi, gpu: 1 (nvidia.com/gpu)'),
    'node-selector': input
      .keyValues()
      .prefault('')
      .describe('Kubernetes: node labels the pods must match, as KEY=value lines (e.g. the GPU node pool)'),
    tolerations: input
      .json(
        z.array(
          z.object({
            key: z.string().optional(),
            operator: z.enum(['Exists', 'Equal']).optional(),
            value: z.string().optional(),
            effect: z.enum(['NoSchedule', 'PreferNoSchedule', 'NoExecute']).optional(),
            tolerationSeconds: z.number().int().optional(),
          }),
        ),
      )
      .prefault('[]')
      .describe(
        'Kubernetes: pod tolerations as a JSON list (e.g. [{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}])',
      ),
    'service-account': z.string().optional().describe('Kubernetes: service account the training pods run as'),
    nodes: input.integer().prefault('1').describe('Kubernetes: number of nodes (pods) that train together'),
    'pod-template': z
      .string()
      .default('')
      .describe(
        "Kubernetes: a pod template as YAML merged over the generated one (containers and volumes merged by name), for anything the other inputs do not cover; a trainjob carries only what a Trainer runtime patch takes (labels, annotations, volumes, imagePullSecrets, securityContext, affinity, schedulingGates, containers' env, volumeMounts and securityContext)",
      ),
    'trainjob-runtime': z
      .string()
      .default('torch-distributed')
      .describe('Kubernetes trainjob: the ClusterTrainingRuntime the TrainJob refers to'),
    kubeconfig: z
      .string()
      .optional()
      .describe('Kubernetes: kubeconfig path; default KUBECONFIG, ~/.kube/config, then in-cluster'),
    'kube-context': z.string().optional().describe('Kubernetes: context to use'),
    'poll-interval': input
      .duration()
      .prefault('2s')
      .describe('Remote backends: how often the job status is read'),
    ...rayInputs,
  })
  .superRefine((value, ctx) => {
    checkRayInputs(value, ctx);
    if (value.backend !== 'local' && !isMlflowUri(value['tracking-uri'])) {
      ctx.addIssue({
        code: 'custom',
        path: ['tracking-uri'],
        message: `backend ${value.backend} trains on another machine, which cannot write into the embedded store '${value['tracking-uri']}'; give the MLflow server both can reach (http(s)://… or databricks)`,
      });
    }
    if (value.backend === 'kubernetes' && !value.image) {
      ctx.addIssue({
        code: 'custom',
        path: ['image'],
        message: 'backend kubernetes needs the training image (e.g. the image output of build-model-image)',
      });
    }
    if (value.nodes < 1 || value.nodes > 1000) {
      ctx.addIssue({ code: 'custom', path: ['nodes'], message: 'expected a whole number from 1 to 1000' });
    }
    for (const [name, check] of [
      ['resources', () => parseResources(value.resources)],
      ['pod-template', () => parsePodTemplate(value['pod-template'])],
    ] as const) {
      try {
        check();
      } catch (error) {
        ctx.addIssue({ code: 'custom', path: [name], message: (error as Error).message });
      }
    }
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
    const remote = i.backend === 'local' ? undefined : backendFor(i, ctx);
    const plan = remote ? undefined : planTraining(i, paths, env);
    const command = plan?.command ?? remoteCommand(i);
    const environment = await captureEnvironment(paths.workDir, env, plan?.python ?? 'python3');
    const identity = runIdentity(i, ctx, {
      command,
      source: plan?.source ?? (i.notebook ? i.notebook : 'run'),
      digest,
      environment,
      backend: remote ? remote.describe() : undefined,
    });
    const { store, run } = await startRun(i, ctx, openStore(i, ctx), identity);
    const recorded: Recorded = { store, run, params, digest };
    await logEnvironment(ctx, store, run, { environment, params, seed: i.seed, command, digest });

    const training = remote
      ? await trainRemotely(i, ctx, remote, remoteSpec(i, ctx, store, run, params), run)
      : await trainLocally(i, ctx, paths, plan!, env);
    let metrics: MetricsResult = { latest: {}, history: {} };
    if (training.failure) return finishFailed(i, ctx, recorded, training, metrics, training.failure);
    let modelUri: string;
    try {
      if (remote) {
        const collected = await collectRemoteMetrics(ctx, store, run, paths.metricsFiles);
        metrics = collected.metrics;
        modelUri = collected.hasModel ? store.modelUri(run, 'model') : '';
        await store.uploadArtifacts(run, trainingOutputs(training), { signal: ctx.signal });
      } else {
        metrics = await logRunMetrics(store, run, paths.metricsFiles, ctx);
        modelUri = await uploadRunArtifacts(i, ctx, store, run, paths, training);
      }
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
  /** A remote job the main step did not see to its end (cancelled, crashed) is deleted: no GPU pods left behind. */
  async post(i, ctx) {
    const saved = ctx.state.get<SavedJob>(JOB_STATE);
    if (!saved || saved.finished) return;
    await backendFor(i, ctx).cancel(saved.job);
    ctx.log.info(`Deleted ${saved.job.id}: the main step ended before the job did.`);
    try {
      await openStore(i, ctx).finish({ runId: saved.runId } as RunHandle, 'KILLED', Date.now());
      ctx.log.info(`Run ${saved.runId} marked KILLED.`);
    } catch (error) {
      ctx.log.warning(`Could not mark run ${saved.runId} KILLED: ${errorMessage(error)}`);
    }
    ctx.summary.add(
      `### Train and log: training job deleted\n\nThe step stopped while ${saved.job.id} was running; the post step deleted it and marked run ${saved.runId} KILLED.`,
    );
  },
});
