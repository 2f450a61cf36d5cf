import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job } from 'kubernetes-models/batch/v1/Job';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { KubernetesApiDouble } from '../doubles/kubernetes';
import { MlflowDouble } from '../doubles/mlflow';
import { runStep } from '../harness';
import { containerEnv, pod, trainingScriptLogs as scriptLogs, until } from './cluster';
import { emptyWorkspace } from './workspace';

const NS = 'ml-train';
const api = new KubernetesApiDouble();
const mlflow = new MlflowDouble();
let kubeconfig: string;

type Json = Record<string, unknown>;

const created: Json[] = [];

beforeAll(async () => {
  await api.start();
  await mlflow.start();
  api.validate('batch/v1', 'Job', (object) => {
    try {
      new Job(object as never).validate();
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  });
  api.validateKubeflow();
  kubeconfig = join(mkdtempSync(join(tmpdir(), 'kube-')), 'config');
  // The double speaks plain HTTP, which client-node allows only with insecure-skip-tls-verify.
  writeFileSync(
    kubeconfig,
    `apiVersion: v1
kind: Config
clusters:
- name: double
  cluster: {server: '${api.url}', insecure-skip-tls-verify: true}
users:
- name: ci
  user: {token: test-token}
contexts:
- name: double
  context: {cluster: double, user: ci}
current-context: double
`,
  );
});

afterAll(async () => {
  await api.close();
  await mlflow.stop();
});

beforeEach(() => {
  created.length = 0;
  api.onCreate = (_plural, object) => created.push(object);
});

function inputs(extra: Record<string, string> = {}): Record<string, string> {
  return {
    backend: 'kubernetes',
    image: 'ghcr.io/octo/train:1',
    run: 'python train.py',
    namespace: NS,
    kubeconfig,
    'tracking-uri': mlflow.url,
    'experiment-name': 'k8s',
    resources: 'cpu: 2\nmemory: 4Gi\ngpu: 1',
    'node-selector': 'cloud.google.com/gke-accelerator=nvidia-l4',
    tolerations: '[{"key":"nvidia.com/gpu","operator":"Exists","effect":"NoSchedule"}]',
    'poll-interval': '100ms',
    baseline: 'none',
    comment: 'false',
    ...extra,
  };
}

describe('train-and-log backend: kubernetes (Kubernetes API double, MLflow double)', () => {
  it('submits a valid batch/v1 Job, streams its pod log, and reads the metrics the job logged into the run', async () => {
    const scenario = (async () => {
      await until(() => created.length > 0, 'the Job');
      const job = created[0]!;
      const name = (job.metadata as { name: string }).name;
      api.putPod(NS, pod(name, 'Pending', { waiting: { reason: 'ContainerCreating' } }));
      api.putPod(NS, pod(name, 'Running', { running: { startedAt: '2026-12-03T12:00:01Z' } }));
      api.writeLog(NS, `${name}-x7k2p`, 'epoch 1 loss 0.9');
      await until(() => api.openLogStreams(NS, `${name}-x7k2p`) > 0, 'the log stream');
      api.writeLog(NS, `${name}-x7k2p`, 'epoch 2 loss 0.6', 'epoch 3 loss 0.4');
      await scriptLogs(mlflow, containerEnv(job), JSON.stringify({ test: { accuracy: 0.93 } }));
      api.putPod(NS, pod(name, 'Succeeded', { terminated: { exitCode: 0, reason: 'Completed' } }));
      api.endLog(NS, `${name}-x7k2p`);
      api.setStatus('batch', 'v1', NS, 'jobs', name, {
        succeeded: 1,
        conditions: [{ type: 'Complete', status: 'True' }],
      });
    })();
    const step = await runStep({ action: 'train-and-log', workspace: emptyWorkspace(), inputs: inputs() });
    await scenario;
    expect(step.error, step.stdout.slice(-3000)).toBeUndefined();
    const job = created[0]!;
    const name = (job.metadata as { name: string }).name;
    const env = containerEnv(job);
    const runId = step.outputs['run-id']!;
    expect(env.MLFLOW_RUN_ID).toBe(runId);
    expect(env.MLFLOW_EXPERIMENT_ID).toBe(step.outputs['experiment-id']);
    expect(env.MLFLOW_TRACKING_URI).toBe(mlflow.url);
    expect(env.MLOPS_SEED).toBe('42');
    const podSpec = (job.spec as { template: { spec: Json } }).template.spec;
    expect(podSpec.nodeSelector).toEqual({ 'cloud.google.com/gke-accelerator': 'nvidia-l4' });
    expect((podSpec.containers as Array<{ resources: Json }>)[0]!.resources).toEqual({
      limits: { memory: '4Gi', 'nvidia.com/gpu': '1' },
      requests: { cpu: '2', memory: '4Gi' },
    });
    for (const line of ['epoch 1 loss 0.9', 'epoch 2 loss 0.6', 'epoch 3 loss 0.4'])
      expect(step.stdout.split(`[${name}-x7k2p] ${line}`).length - 1).toBe(1);
    expect(step.stdout).toContain(`pod ${name}-x7k2p: Running`);
    const run = mlflow.runs.get(runId)!;
    expect(run.status).toBe('FINISHED');
    expect(JSON.parse(step.outputs.metrics!)).toEqual({ loss: 0.4, 'test.accuracy': 0.93 });
    expect(run.latest.get('test.accuracy')?.value).toBe(0.93);
    expect(step.summary).toContain('loss');
    expect(step.post?.stdout ?? '').not.toContain('Deleted');
  }, 120_000);

  it('submits a TrainJob the Trainer v1alpha1 schema accepts, pod settings as a runtime patch, and follows it to Complete', async () => {
    const scenario = (async () => {
      await until(() => created.length > 0, 'the TrainJob');
      const name = (created[0]!.metadata as { name: string }).name;
      const node = pod(
        name,
        'Succeeded',
        { terminated: { exitCode: 0, reason: 'Completed' } },
        `${name}-node-0-0-abcde`,
      );
      node.metadata = { name: `${name}-node-0-0-abcde`, labels: { 'jobset.sigs.k8s.io/jobset-name': name } };
      api.putPod(NS, node);
      api.endLog(NS, `${name}-node-0-0-abcde`);
      api.setStatus('trainer.kubeflow.org', 'v1alpha1', NS, 'trainjobs', name, {
        conditions: [
          {
            type: 'Complete',
            status: 'True',
            reason: 'JobSetCompleted',
            message: 'done',
            lastTransitionTime: '2026-12-03T12:00:05Z',
          },
        ],
      });
    })();
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: inputs({
        'kubernetes-kind': 'trainjob',
        'service-account': 'trainer',
        'pod-template': 'spec:\n  imagePullSecrets: [{name: ghcr}]\n',
      }),
    });
    await scenario;
    expect(step.error, step.stdout.slice(-3000)).toBeUndefined();
    const job = created[0]! as { spec: Json };
    expect(api.requests.some((r) => r.startsWith('POST') && r.includes('fieldValidation=Strict'))).toBe(true);
    const patch = JSON.stringify(job.spec.runtimePatches);
    expect(patch).toContain('"serviceAccountName":"trainer"');
    expect(patch).toContain('"nodeSelector":{"cloud.google.com/gke-accelerator":"nvidia-l4"}');
    expect(patch).toContain('"imagePullSecrets":[{"name":"ghcr"}]');
    expect((job.spec.trainer as Json).resourcesPerNode).toEqual({
      limits: { memory: '4Gi', 'nvidia.com/gpu': '1' },
      requests: { cpu: '2', memory: '4Gi' },
    });
  }, 120_000);

  it('the double refuses, as the API server does, a TrainJob field the CRD lacks (Strict) and a wrong type (422)', async () => {
    const post = (body: Json, query = '') =>
      fetch(`${api.url}/apis/trainer.kubeflow.org/v1alpha1/namespaces/${NS}/trainjobs${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const base = {
      apiVersion: 'trainer.kubeflow.org/v1alpha1',
      kind: 'TrainJob',
      metadata: { name: 'stale', namespace: NS },
      spec: {
        runtimeRef: { name: 'torch-distributed' },
        podSpecOverrides: [{ targetJobs: [{ name: 'node' }] }],
      },
    };
    const strict = await post(base, '?fieldValidation=Strict');
    expect(strict.status).toBe(400);
    expect(((await strict.json()) as Json).message).toBe(
      'strict decoding error: unknown field "spec.podSpecOverrides"',
    );
    const wrong = await post({
      ...base,
      spec: { runtimeRef: { name: 'torch-distributed' }, trainer: { numNodes: 'two' } },
    });
    expect(wrong.status).toBe(422);
    expect(((await wrong.json()) as Json).message).toBe(
      'TrainJob.trainer.kubeflow.org "stale" is invalid: spec.trainer.numNodes: must be integer',
    );
  });

  it('reports the failing pod with its exit code and log tail, and marks the run FAILED', async () => {
    const scenario = (async () => {
      await until(() => created.length > 0, 'the Job');
      const name = (created[0]!.metadata as { name: string }).name;
      api.putPod(NS, pod(name, 'Running', { running: {} }));
      api.writeLog(
        NS,
        `${name}-x7k2p`,
        'loading data',
        'Traceback (most recent call last):',
        'KeyError: label',
      );
      api.putPod(NS, pod(name, 'Failed', { terminated: { exitCode: 3, reason: 'Error' } }));
      api.endLog(NS, `${name}-x7k2p`);
      api.setStatus('batch', 'v1', NS, 'jobs', name, {
        failed: 1,
        conditions: [
          {
            type: 'Failed',
            status: 'True',
            reason: 'BackoffLimitExceeded',
            message: 'Job has reached the specified backoff limit',
          },
        ],
      });
    })();
    const step = await runStep({ action: 'train-and-log', workspace: emptyWorkspace(), inputs: inputs() });
    await scenario;
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      /failed with exit code 3: BackoffLimitExceeded: Job has reached the specified backoff limit; pod \S+ Error; run \w+ marked FAILED/,
    );
    expect(step.summary).toContain('KeyError: label');
    const run = [...mlflow.runs.values()].find((r) => step.error?.includes(r.runId))!;
    expect(run.status).toBe('FAILED');
  }, 120_000);

  it('reports ErrImagePull at once and deletes the job instead of waiting for the timeout', async () => {
    const scenario = (async () => {
      await until(() => created.length > 0, 'the Job');
      const name = (created[0]!.metadata as { name: string }).name;
      api.putPod(
        NS,
        pod(name, 'Pending', {
          waiting: {
            reason: 'ErrImagePull',
            message:
              'rpc error: code = NotFound desc = failed to pull and unpack image "ghcr.io/octo/train:nope": not found',
          },
        }),
      );
    })();
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: inputs({ image: 'ghcr.io/octo/train:nope', timeout: '6h' }),
    });
    await scenario;
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/ErrImagePull: rpc error: code = NotFound .*train:nope/);
    expect(api.deletes.at(-1)).toMatchObject({ propagationPolicy: 'Foreground' });
  }, 120_000);

  it('reconnects a dropped log stream from sinceTime without repeating lines', async () => {
    const scenario = (async () => {
      await until(() => created.length > 0, 'the Job');
      const job = created[0]!;
      const name = (job.metadata as { name: string }).name;
      const p = `${name}-x7k2p`;
      api.putPod(NS, pod(name, 'Running', { running: {} }));
      api.writeLog(NS, p, 'line one');
      await until(() => api.openLogStreams(NS, p) > 0, 'the log stream');
      api.writeLog(NS, p, 'line two');
      api.writeLogSameSecond(NS, p, 'line two and a half');
      await new Promise((r) => setTimeout(r, 300));
      expect(api.dropLogStreams(NS, p)).toBe(1);
      api.writeLog(NS, p, 'line three');
      await until(() => api.openLogStreams(NS, p) > 0, 'the reconnected stream');
      api.writeLog(NS, p, 'line four');
      await scriptLogs(mlflow, containerEnv(job), '{"acc": 1}');
      api.putPod(NS, pod(name, 'Succeeded', { terminated: { exitCode: 0 } }));
      api.endLog(NS, p);
      api.setStatus('batch', 'v1', NS, 'jobs', name, { conditions: [{ type: 'Complete', status: 'True' }] });
    })();
    const step = await runStep({ action: 'train-and-log', workspace: emptyWorkspace(), inputs: inputs() });
    await scenario;
    expect(step.error, step.stdout.slice(-3000)).toBeUndefined();
    const name = (created[0]!.metadata as { name: string }).name;
    const shown = step.stdout
      .split('\n')
      .filter((l) => l.startsWith(`[${name}-x7k2p] line`))
      .map((l) => l.slice(l.indexOf('] ') + 2));
    expect(shown).toEqual(['line one', 'line two', 'line two and a half', 'line three', 'line four']);
    const logs = api.requests.filter((r) => r.includes(`/pods/${name}-x7k2p/log?`));
    expect(logs.length).toBeGreaterThanOrEqual(2);
    expect(logs[1]).toMatch(/sinceTime=2026-12-03T12%3A00%3A\d\dZ/);
  }, 120_000);

  it('deletes the job when the step is cancelled and marks the run KILLED', async () => {
    const scenario = (async () => {
      await until(() => created.length > 0, 'the Job');
      const name = (created[0]!.metadata as { name: string }).name;
      api.putPod(NS, pod(name, 'Running', { running: {} }));
      api.writeLog(NS, `${name}-x7k2p`, 'epoch 1 of 1000');
    })();
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: inputs(),
      killWhenStdout: /epoch 1 of 1000/,
    });
    await scenario;
    const name = (created[0]!.metadata as { name: string }).name;
    expect(api.get('batch', 'v1', NS, 'jobs', name)).toBeUndefined();
    expect(api.deletes.at(-1)).toEqual({
      path: `/apis/batch/v1/namespaces/${NS}/jobs/${name}`,
      propagationPolicy: 'Foreground',
    });
    expect(api.pod(NS, `${name}-x7k2p`)).toBeUndefined();
    const runId = containerEnv(created[0]!).MLFLOW_RUN_ID!;
    expect(mlflow.runs.get(runId)!.status).toBe('KILLED');
    expect(step.post?.stdout).toContain(`Deleted ${NS}/job/${name}`);
  }, 120_000);

  it('retries the API while it answers 503 and 429', async () => {
    const before = api.requests.length;
    api.failNext(/\/jobs$/, 503, 2, 'POST');
    api.failNext(/\/jobs\/[^/]+$/, 429, 2, 'GET');
    const scenario = (async () => {
      await until(() => created.length > 0, 'the Job');
      const job = created[0]!;
      const name = (job.metadata as { name: string }).name;
      await scriptLogs(mlflow, containerEnv(job), '{"acc": 1}');
      api.putPod(NS, pod(name, 'Succeeded', { terminated: { exitCode: 0 } }));
      api.endLog(NS, `${name}-x7k2p`);
      api.setStatus('batch', 'v1', NS, 'jobs', name, { conditions: [{ type: 'Complete', status: 'True' }] });
    })();
    const step = await runStep({ action: 'train-and-log', workspace: emptyWorkspace(), inputs: inputs() });
    await scenario;
    expect(step.error, step.stdout.slice(-3000)).toBeUndefined();
    expect(api.requests.slice(before).filter((r) => r.startsWith('POST') && r.includes('/jobs')).length).toBe(
      3,
    );
    expect(step.stdout).toMatch(/answered 503 .*retrying/);
    expect(step.stdout).toMatch(/answered 429 .*retrying/);
  }, 120_000);
});

describe('train-and-log backend: kubernetes, bad input (Kubernetes API double)', () => {
  it('refuses a remote backend with the embedded store, naming tracking-uri', async () => {
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: inputs({ 'tracking-uri': '.mlops' }),
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      /^Input 'tracking-uri': backend kubernetes trains on another machine.*give the MLflow server/,
    );
    expect(step.error).not.toContain('\n');
  });

  it("refuses 'gpu: two' in resources", async () => {
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: inputs({ resources: 'gpu: two' }),
    });
    expect(step.error).toMatch(
      /^Input 'resources': gpu: 'two' is not a whole number of GPUs; expected e\.g\. gpu: 2 \(got "gpu: two"\)$/,
    );
  });

  it('says where it looked when there is no kubeconfig and no cluster', async () => {
    const home = mkdtempSync(join(tmpdir(), 'home-'));
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: inputs({ kubeconfig: '' }),
      env: { HOME: home, KUBECONFIG: '', KUBERNETES_SERVICE_HOST: '' },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/Input 'kubeconfig': no Kubernetes credentials: .*not running in a cluster/);
  });

  it('shows what a 403 is missing: verb, resource, namespace, user', async () => {
    api.forbid('POST', /\/namespaces\/locked\/jobs$/, {
      user: 'system:serviceaccount:ci:runner',
      verb: 'create',
      resource: 'jobs',
      group: 'batch',
      namespace: 'locked',
    });
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: inputs({ namespace: 'locked', 'service-account': 'trainer' }),
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      /Kubernetes refused to create jobs\.batch in namespace locked \(403 Forbidden for system:serviceaccount:ci:runner\): grant 'create' on jobs\.batch in locked/,
    );
  });
});
