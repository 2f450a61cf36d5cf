import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowDouble } from '../doubles/mlflow';
import { type RayJobsDouble, startRayJobsDouble } from '../doubles/ray-jobs';
import { runStep } from '../harness';
import { freePort } from '../servers/process';
import { emptyWorkspace, git } from './workspace';

/**
 * What a training script on the Ray cluster does with the run train-and-log created: it logs into it
 * through the MLflow REST API (as MLflow's client does with MLFLOW_TRACKING_URI and MLFLOW_RUN_ID) and
 * writes metrics.json in its working directory. Standard library only: the double runs it with the
 * machine's python3.
 */
const REMOTE_TRAIN = `
import json, os, sys, time, urllib.request
uri, run_id = os.environ["MLFLOW_TRACKING_URI"], os.environ["MLFLOW_RUN_ID"]
mode = sys.argv[1] if len(sys.argv) > 1 else "ok"
print("training on ray, run", run_id, flush=True)
if mode == "sleep":
    time.sleep(60)
for epoch, loss in enumerate([0.9, 0.5, 0.3]):
    print(f"epoch {epoch} loss={loss}", flush=True)
if mode == "fail":
    print("ValueError: NaN in features", file=sys.stderr, flush=True)
    sys.exit(3)
now = int(time.time() * 1000)
body = {"run_id": run_id, "metrics": [
    {"key": "accuracy", "value": 0.93, "timestamp": now, "step": 0},
    {"key": "loss", "value": 0.3, "timestamp": now, "step": 2},
]}
request = urllib.request.Request(uri + "/api/2.0/mlflow/runs/log-batch", data=json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json"}, method="POST")
urllib.request.urlopen(request).read()
json.dump({"accuracy": 0.93, "loss": 0.3}, open("metrics.json", "w"))
print("done", flush=True)
`;

function rayWorkspace(): string {
  const dir = emptyWorkspace();
  writeFileSync(join(dir, 'remote_train.py'), REMOTE_TRAIN);
  git(dir, 'init', '-q', '-b', 'main');
  git(dir, 'add', '-A');
  git(dir, 'commit', '-qm', 'ray project');
  return dir;
}

describe('train-and-log with backend ray (Ray Jobs API double running the job, MLflow double)', () => {
  const mlflow = new MlflowDouble();
  let ray: RayJobsDouble;

  beforeAll(async () => {
    await mlflow.start();
    ray = await startRayJobsDouble({ execute: true });
  });
  afterAll(async () => {
    await ray.stop();
    await mlflow.stop();
  });

  const inputs = (extra: Record<string, string> = {}) => ({
    backend: 'ray',
    run: 'python3 remote_train.py',
    'tracking-uri': mlflow.url,
    'experiment-name': 'ray-training',
    'ray-address': ray.url,
    'ray-entrypoint-cpus': '1',
    comment: 'false',
    ...extra,
  });

  it('trains on Ray: logs streamed, the job logs into the run, metrics read back from the run', async () => {
    const step = await runStep({ action: 'train-and-log', workspace: rayWorkspace(), inputs: inputs() });
    expect(step.error, step.stdout.slice(-3000)).toBeUndefined();
    const runId = step.outputs['run-id']!;
    const job = [...ray.jobs.values()].find(
      (j) => (j.runtime_env.env_vars as Record<string, string>).MLFLOW_RUN_ID === runId,
    )!;
    expect(job.status).toBe('SUCCEEDED');
    expect(job.entrypoint_num_cpus).toBe(1);
    expect(job.runtime_env.working_dir).toMatch(/^gcs:\/\/_ray_pkg_[0-9a-f]{16}\.zip$/);
    expect(step.stdout.match(/epoch 1 loss=0\.5/g)).toHaveLength(1);
    expect(mlflow.runs.get(runId)!.status).toBe('FINISHED');
    expect(JSON.parse(step.outputs.metrics!)).toMatchObject({ accuracy: 0.93 });
  });

  it('marks the run FAILED when the Ray job fails, with its exit code and log tail', async () => {
    const step = await runStep({
      action: 'train-and-log',
      workspace: rayWorkspace(),
      inputs: inputs({ run: 'python3 remote_train.py fail' }),
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/exit code 3/);
    expect(step.stdout).toContain('ValueError: NaN in features');
    const failed = [...mlflow.runs.values()].filter((r) => r.status === 'FAILED');
    expect(failed.length).toBeGreaterThan(0);
  });

  it('stops the Ray job when the step is cancelled, and the run is KILLED', async () => {
    const before = new Set(ray.jobs.keys());
    const step = await runStep({
      action: 'train-and-log',
      workspace: rayWorkspace(),
      inputs: inputs({ run: 'python3 remote_train.py sleep' }),
      cancelWhenStdout: 'training on ray, run',
    });
    expect(step.exitCode).not.toBe(0);
    const job = [...ray.jobs.values()].find((j) => !before.has(j.submission_id))!;
    expect(job.status).toBe('STOPPED');
    const runId = (job.runtime_env.env_vars as Record<string, string>).MLFLOW_RUN_ID!;
    expect(mlflow.runs.get(runId)!.status).toBe('KILLED');
  });

  it('refuses backend ray with the embedded store, naming tracking-uri', async () => {
    const step = await runStep({
      action: 'train-and-log',
      workspace: rayWorkspace(),
      inputs: { backend: 'ray', run: 'python3 remote_train.py', 'ray-address': ray.url },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/tracking-uri/);
    expect(step.error).not.toContain('\n');
  });

  it('fails with one line naming ray-address when the Ray dashboard does not answer', async () => {
    const port = await freePort();
    const step = await runStep({
      action: 'train-and-log',
      workspace: rayWorkspace(),
      inputs: inputs({ 'ray-address': `http://127.0.0.1:${port}` }),
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toContain(
      `Input 'ray-address': the Ray dashboard at http://127.0.0.1:${port} does not answer (ECONNREFUSED)`,
    );
    expect(step.error).not.toContain('\n');
  });
});
