import type { KubernetesApiDouble } from '../doubles/kubernetes';
import type { MlflowDouble } from '../doubles/mlflow';

type Json = Record<string, unknown>;

export async function until(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

/** The env the action gave the training container of a batch/v1 Job. */
export function containerEnv(job: Json): Record<string, string> {
  const template = (job.spec as Json).template as {
    spec: { containers: Array<{ env: Array<{ name: string; value: string }> }> };
  };
  return Object.fromEntries(template.spec.containers[0]!.env.map((e) => [e.name, e.value]));
}

export function pod(jobName: string, phase: string, state: Json, name = `${jobName}-x7k2p`): Json {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, labels: { 'batch.kubernetes.io/job-name': jobName, 'job-name': jobName } },
    spec: { containers: [{ name: 'train', image: 'ghcr.io/octo/train:1' }] },
    status: { phase, containerStatuses: [{ name: 'train', state }] },
  };
}

/** What MLflow's Python client does inside the container: log-batch into MLFLOW_RUN_ID, a metrics file as an artifact. */
export async function trainingScriptLogs(
  mlflow: MlflowDouble,
  env: Record<string, string>,
  metricsJson: string,
): Promise<void> {
  const base = env.MLFLOW_TRACKING_URI!;
  const res = await fetch(`${base}/api/2.0/mlflow/runs/log-batch`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      run_id: env.MLFLOW_RUN_ID,
      metrics: [0.9, 0.6, 0.4].map((value, step) => ({
        key: 'loss',
        value,
        step,
        timestamp: 1_700_000_000_000 + step,
      })),
    }),
  });
  if (!res.ok) throw new Error(`log-batch: ${res.status}`);
  const run = mlflow.runs.get(env.MLFLOW_RUN_ID!)!;
  const root = run.artifactUri.replace(/^mlflow-artifacts:\//, '');
  const put = await fetch(`${base}/api/2.0/mlflow-artifacts/artifacts/${root}/metrics/metrics.json`, {
    method: 'PUT',
    body: metricsJson,
  });
  if (!put.ok) throw new Error(`artifact upload: ${put.status}`);
}

/** A cluster where every submitted Job runs: its pod starts, logs, trains into the MLflow run, completes. */
export function runJobsToCompletion(
  api: KubernetesApiDouble,
  mlflow: MlflowDouble,
  namespace: string,
  metricsJson: string,
): void {
  api.onCreate = (_plural, job) => {
    const name = (job.metadata as { name: string }).name;
    const p = `${name}-x7k2p`;
    void (async () => {
      api.putPod(namespace, pod(name, 'Running', { running: {} }));
      api.writeLog(namespace, p, 'epoch 1 loss 0.9', 'epoch 3 loss 0.4');
      await trainingScriptLogs(mlflow, containerEnv(job), metricsJson);
      api.putPod(namespace, pod(name, 'Succeeded', { terminated: { exitCode: 0, reason: 'Completed' } }));
      api.endLog(namespace, p);
      api.setStatus('batch', 'v1', namespace, 'jobs', name, {
        succeeded: 1,
        conditions: [{ type: 'Complete', status: 'True' }],
      });
    })();
  };
}
