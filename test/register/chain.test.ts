import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { RegistryClient } from '@mlops-actions/oci';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job } from '../harness';
import { type Registry, startRegistry } from '../servers/registry';
import { startUploadProxy } from '../servers/upload-proxy';

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
    expect(JSON.parse(stdout).layers[0].mediaType).toBe('application/vnd.cncf.model.weight.v1.tar');
  });

  it('on the OCI registry: a 503 and a reset mid-push are retried, and no version tag shows before every blob and the manifest exist', async () => {
    const proxy = await startUploadProxy(registry.url);
    const upstream = new RegistryClient({ registry: registry.host });
    const tagsAtFaults: string[][] = [];
    const seeTags = async () => {
      tagsAtFaults.push(await upstream.listTags('flaky/iris'));
    };
    try {
      const job = new Job({ env });
      const train = await job.step('train', 'train-and-log', {
        // 3 MB of weights, hashed first, then sent in one monolithic PUT: the cut lands 200 KB into it.
        run: `mkdir -p model && head -c 3000000 /dev/urandom > model/weights.bin && echo '{"test": {"accuracy": 0.9}}' > metrics.json`,
        'experiment-name': 'iris',
      });
      expect(train.error, train.stdout.slice(-2000)).toBeUndefined();
      const register = (id: string) =>
        job.step(id, 'register-model', (steps) => ({
          'model-name': 'iris',
          'run-id': steps.train!.outputs['run-id'],
          'model-uri': steps.train!.outputs['model-uri'],
          metrics: steps.train!.outputs.metrics,
          'tracking-uri': steps.train!.outputs['tracking-uri'],
          'registry-uri': `oci://${proxy.host}/flaky`,
          'promote-to': 'champion',
        }));

      // Every attempt is cut: the step fails clearly and leaves no version tag behind.
      for (let i = 0; i < 3; i++) proxy.failNext({ kind: 'reset', afterBytes: 200_000 }, seeTags);
      const failed = await register('register-cut');
      expect(failed.exitCode).toBe(1);
      expect(failed.error).toMatch(new RegExp(`${proxy.host}`));
      expect(failed.stdout).toMatch(/cut off.*starting again \(3\/3\)/);
      expect(await upstream.listTags('flaky/iris')).toEqual([]);

      proxy.log.length = 0;
      proxy.failNext({ kind: 'status', status: 503 }, seeTags);
      proxy.failNext({ kind: 'reset', afterBytes: 200_000 }, seeTags);
      const ok = await register('register-ok');
      expect(ok.error, ok.stdout.slice(-3000)).toBeUndefined();
      expect(ok.stdout).toMatch(/cut off \(.*503.*\); starting again \(2\/3\)/);
      expect(ok.stdout).toMatch(/cut off.*starting again \(3\/3\)/);
      expect(ok.outputs).toMatchObject({ version: '1', alias: 'champion' });
      expect(proxy.log.slice(0, 4)).toEqual([
        '503 PATCH blob',
        'cut PATCH blob',
        'PATCH blob 202',
        'PUT blob 201',
      ]);
      const firstManifest = proxy.log.findIndex((e) => e.startsWith('PUT manifest'));
      // The layer's closing PUT and the config's PUT come before any manifest.
      expect(proxy.log.slice(0, firstManifest).filter((e) => e === 'PUT blob 201')).toHaveLength(2);
      expect(tagsAtFaults).toHaveLength(5);
      for (const tags of tagsAtFaults) expect(tags.filter((t) => /^v\d+$/.test(t))).toEqual([]);
      // Besides the version and the alias, only the promotion history's referrers tag (sha256-<hex>).
      expect((await upstream.listTags('flaky/iris')).filter((t) => !t.startsWith('sha256-'))).toEqual([
        'champion',
        'v1',
      ]);
      const layer = JSON.parse(
        (
          await exec('skopeo', [
            'inspect',
            '--raw',
            '--tls-verify=false',
            `docker://${registry.host}/flaky/iris:v1`,
          ])
        ).stdout,
      ).layers[0];
      const blob = await upstream.getBlob('flaky/iris', layer.digest);
      expect(blob.byteLength).toBe(layer.size);
    } finally {
      await proxy.stop();
    }
  });
});
