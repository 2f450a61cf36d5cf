import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job } from '../harness';
import { type Registry, startRegistry } from '../servers/registry';

const exec = promisify(execFile);

/** A training command that writes metrics and a model directory, so the chain needs no Python. */
const TRAIN = (accuracy: number) =>
  `mkdir -p model && echo "weights ${accuracy}" > model/model.bin && echo '{"test": {"accuracy": ${accuracy}, "f1": ${accuracy}}}' > metrics.json`;

const env = {
  GITHUB_REPOSITORY: 'octo-org/ml-project',
  GITHUB_RUN_ID: '7',
  GITHUB_ACTOR: 'ann',
  GITHUB_SHA: 'c'.repeat(40),
};

async function trainAndRegister(job: Job, id: string, accuracy: number, extra: Record<string, string>) {
  const train = await job.step(`train-${id}`, 'train-and-log', {
    run: TRAIN(accuracy),
    'experiment-name': 'iris',
  });
  expect(train.error, train.stdout.slice(-2000)).toBeUndefined();
  return job.step(`register-${id}`, 'register-model', (steps) => ({
    'model-name': 'iris',
    'run-id': steps[`train-${id}`]!.outputs['run-id'],
    'model-uri': steps[`train-${id}`]!.outputs['model-uri'],
    metrics: steps[`train-${id}`]!.outputs.metrics,
    'tracking-uri': steps[`train-${id}`]!.outputs['tracking-uri'],
    gates: 'test.accuracy >= 0.80',
    'compare-to': 'champion',
    'promote-to': 'champion',
    ...extra,
  }));
}

describe('train-and-log → register-model through the harness', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  }, 30_000);
  afterAll(() => registry.stop());

  it('on the embedded local store: registers into .mlops/registry, gates against the champion, and skopeo reads it', async () => {
    const job = new Job({ env });
    const first = await trainAndRegister(job, 'a', 0.9, {});
    expect(first.error, first.stdout.slice(-2000)).toBeUndefined();
    expect(first.outputs).toMatchObject({ version: '1', alias: 'champion', 'gate-passed': 'true' });
    expect(first.outputs['model-uri']).toMatch(/^oci:.*\.mlops\/registry\/iris:v1$/);
    const { stdout } = await exec('skopeo', [
      'inspect',
      '--raw',
      first.outputs['model-uri']!.replace(/:v1$/, ':champion'),
    ]);
    expect(JSON.parse(stdout).artifactType).toBe('application/vnd.cncf.model.manifest.v1+json');

    const worse = await trainAndRegister(job, 'b', 0.85, {});
    expect(worse.exitCode).toBe(1);
    expect(worse.outputs).toMatchObject({ version: '2', 'gate-passed': 'false' });
    expect(worse.summary).toContain('champion \\(version 1\\)');

    const baseline = await job.step('train-c', 'train-and-log', {
      run: TRAIN(0.95),
      'experiment-name': 'iris',
      baseline: 'models:/iris@champion',
    });
    expect(baseline.error, baseline.stdout.slice(-2000)).toBeUndefined();
    expect(baseline.summary).toMatch(/iris\\?@champion \\?\(version 1, run/);
  });

  it('on the OCI registry: the digest reference comes out and a re-run registers nothing new', async () => {
    const job = new Job({ env });
    const uri = `oci://${registry.host}/team`;
    const first = await trainAndRegister(job, 'a', 0.9, { 'registry-uri': uri });
    expect(first.error, first.stdout.slice(-2000)).toBeUndefined();
    expect(first.outputs['model-uri']).toMatch(
      new RegExp(`^oci://${registry.host}/team/iris@sha256:[0-9a-f]{64}$`),
    );
    expect(first.outputs.digest).toBe(first.outputs['model-uri']!.split('@')[1]);
    const again = await job.step('again', 'register-model', {
      'model-name': 'iris',
      'run-id': job.steps['train-a']!.outputs['run-id'],
      'model-uri': job.steps['train-a']!.outputs['model-uri'],
      'registry-uri': uri,
    });
    expect(again.outputs).toMatchObject({ version: '1', digest: first.outputs.digest });
    const { stdout } = await exec('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/team/iris:champion`,
    ]);
    expect(JSON.parse(stdout).layers[0].mediaType).toBe('application/vnd.cncf.model.weight.v1.tar+gzip');
  });
});
