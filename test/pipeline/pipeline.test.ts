import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { RegistryClient } from '@mlops-actions/oci';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Job, repoRoot } from '../harness';
import { pushBusyboxBase } from '../image/base';
import { type Registry, startRegistry } from '../servers/registry';
import { debianPythonEnv } from '../train/workspace';

const exec = promisify(execFile);
const dirs: string[] = [];

function temp(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(dir);
  return dir;
}

/** The example project as checked out: the CSV is only in the committed DVC remote until dvc-pull runs. */
function exampleCheckout(): string {
  const dir = temp('pipeline-ws-');
  cpSync(join(repoRoot, 'examples'), dir, { recursive: true });
  return dir;
}

const chain = {
  run: 'python3 train.py',
  'register-model-name': 'cancer',
  gates: 'test.accuracy >= 0.8',
  'promote-to': 'champion',
};

let registry: Registry;
beforeAll(async () => {
  registry = await startRegistry();
  await pushBusyboxBase(new RegistryClient({ registry: registry.host }), 'runtimes/busybox');
}, 60_000);
afterAll(async () => {
  await registry?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

describe('the root action.yml runs dvc-pull → train-and-log → register-model → build-model-image in one step', () => {
  it('on the example project with the local store: data pulled, run logged with its data hash, registered behind passing gates, image built; then a failing gate stops it', async () => {
    const workspace = exampleCheckout();
    const job = new Job({ workspace, env: debianPythonEnv() });
    const ok = await job.step('ml', repoRoot, {
      ...chain,
      'build-image': true,
      'base-image': `${registry.host}/runtimes/busybox:1`,
      push: false,
      output: 'image-layout',
    });
    expect(ok.error, ok.stdout.slice(-3000)).toBeUndefined();
    const pointer = readFileSync(join(workspace, 'data/breast_cancer.csv.dvc'), 'utf8');
    const md5 = createHash('md5')
      .update(readFileSync(join(workspace, 'data/breast_cancer.csv')))
      .digest('hex');
    expect(pointer).toContain(`md5: ${md5}`);
    expect(ok.outputs['data-hash']).toMatch(/^[0-9a-f]{64}$/);
    const run = JSON.parse(
      readFileSync(join(workspace, '.mlops/runs', ok.outputs['run-id']!, 'run.json'), 'utf8'),
    );
    // Fed forward: train-and-log tagged the run with dvc-pull's data hash.
    expect(run.tags['mlops.data-hash']).toBe(ok.outputs['data-hash']);
    expect(ok.outputs).toMatchObject({
      'model-name': 'cancer',
      version: '1',
      alias: 'champion',
      'gate-passed': 'true',
    });
    expect(ok.outputs['register-model-uri']).toMatch(/\.mlops\/registry\/cancer:v1$/);
    expect(ok.outputs['train-model-uri']).not.toBe(ok.outputs['register-model-uri']);
    expect(ok.outputs['image-digest']).toMatch(/^sha256:[0-9a-f]{64}$/);
    // Tagged from register-model's model-name and version, fed forward.
    expect(ok.outputs.tags).toContain('cancer-1');
    // skopeo, not our code, reads the image back: its config carries the model's lineage.
    const { stdout } = await exec('skopeo', [
      'inspect',
      '--config',
      `oci:${join(workspace, 'image-layout')}:cancer-1`,
    ]);
    expect(JSON.stringify(JSON.parse(stdout).config.Labels)).toContain(ok.outputs['run-id']!);
    const json = ok.json as Record<string, unknown>;
    expect(json.version).toBe('1');
    expect(json['gate-passed']).toBe(true);
    for (const section of ['### dvc-pull', '### pipeline', '| build-model-image | done |'])
      expect(ok.summary).toContain(section);
    expect(ok.summary.indexOf('### dvc-pull')).toBeLessThan(ok.summary.indexOf('### pipeline'));

    // An input the user sets wins over the value fed forward.
    const lineage = 'b'.repeat(64);
    const gated = await job.step('ml-again', repoRoot, {
      ...chain,
      gates: 'test.accuracy >= 0.9999',
      'train-data-hash': lineage,
    });
    expect(gated.exitCode).toBe(1);
    expect(gated.error).toMatch(
      /^register-model: cancer version 2 failed its gates \(test\.accuracy\); no alias was moved$/,
    );
    expect(gated.outputs).toMatchObject({
      version: '2',
      'gate-passed': 'false',
      'data-hash': ok.outputs['data-hash'],
    });
    expect(gated.outputs).not.toHaveProperty('image-digest');
    const second = JSON.parse(
      readFileSync(join(workspace, '.mlops/runs', gated.outputs['run-id']!, 'run.json'), 'utf8'),
    );
    expect(second.tags['mlops.data-hash']).toBe(lineage);
    expect(gated.summary).toContain('| register-model | failed: cancer version 2 failed its gates');
  }, 240_000);

  it('a bad input of a step names the prefixed input; the steps before it still write their outputs', async () => {
    const job = new Job({ workspace: exampleCheckout(), env: debianPythonEnv() });
    const bad = await job.step('ml', repoRoot, { ...chain, 'train-working-directory': 'no-such-dir' });
    expect(bad.exitCode).toBe(1);
    expect(bad.error).toMatch(/^train-and-log: Input 'train-working-directory': /);
    expect(bad.error).not.toContain('\n');
    expect(bad.outputs['data-hash']).toMatch(/^[0-9a-f]{64}$/);
    expect(bad.outputs).not.toHaveProperty('run-id');

    const invalid = await job.step('ml-2', repoRoot, { ...chain, 'dvc-working-directory': '../outside' });
    expect(invalid.error).toMatch(/^dvc-pull: Input 'dvc-working-directory': /);

    const missingBase = await job.step('ml-3', repoRoot, {
      ...chain,
      'build-image': 'true',
      'base-image': '',
    });
    expect(missingBase.error).toBe("build-model-image: Input 'base-image' is required but was not set");
    expect(missingBase.outputs).toMatchObject({ version: '1', 'gate-passed': 'true' });
  }, 240_000);
});
