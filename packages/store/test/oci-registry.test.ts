import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { LayoutStore, RegistryClient } from '@mlops-actions/oci';
import Ajv2020 from 'ajv/dist/2020.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Registry, startRegistry } from '../../../test/servers/registry';
import { sharedDir } from '../../../test/train/mlflow-fixtures';
import { ModelPack, OciModelRegistry, RecordType } from '../src';

const exec = promisify(execFile);
const scratch: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oci-model-'));
  scratch.push(dir);
  return dir;
}

function modelDir(content: string): string {
  const dir = join(temp(), 'model');
  mkdirSync(dir);
  writeFileSync(join(dir, 'model.pkl'), content);
  writeFileSync(join(dir, 'MLmodel'), 'flavors: {}\n');
  return dir;
}

const schema = JSON.parse(readFileSync(join(sharedDir(), 'fixtures/modelpack/config-schema.json'), 'utf8'));
const ajv = new Ajv2020({ strict: false, validateFormats: false });
const validateConfig = ajv.compile(schema);

function remote(registry: Registry, credentials = false): OciModelRegistry {
  return new OciModelRegistry({
    kind: 'oci',
    store: new RegistryClient({
      registry: registry.host,
      credentials: credentials ? { username: registry.username!, password: registry.password! } : undefined,
      credentialInput: 'registry-password',
    }),
    namespace: 'ml',
    uri: `oci://${registry.host}/ml`,
    reference: (repository, digest) => `oci://${registry.host}/${repository}@${digest}`,
  });
}

const RUN_A = 'a'.repeat(32);
const RUN_B = 'b'.repeat(32);

describe('OciModelRegistry against docker-registry 2.8 (no auth)', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry();
  }, 30_000);
  afterAll(async () => {
    await registry.stop();
    for (const dir of scratch) rmSync(dir, { recursive: true, force: true });
  });

  it('pushes a ModelPack artifact as v1 that skopeo reads, with a config valid against the model-spec schema', async () => {
    const models = remote(registry);
    expect((await models.ensureModel('iris')).created).toBe(true);
    const { version, created } = await models.registerVersion({
      name: 'iris',
      source: modelDir('weights-1'),
      runId: RUN_A,
      tags: { 'mlops.data-hash': 'md5:1' },
    });
    expect(created).toBe(true);
    expect(version.version).toBe('1');
    expect(version.uri).toBe(`oci://${registry.host}/ml/iris@${version.digest}`);
    const { stdout } = await exec('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/ml/iris:v1`,
    ]);
    const manifest = JSON.parse(stdout);
    expect(manifest.artifactType).toBe(ModelPack.manifest);
    expect(manifest.config.mediaType).toBe(ModelPack.config);
    expect(manifest.layers[0].mediaType).toBe('application/vnd.cncf.model.weight.v1.tar+gzip');
    expect(manifest.layers[0].annotations['org.cncf.model.filepath']).toBe('model');
    expect(manifest.annotations['org.mlops.run-id']).toBe(RUN_A);
    const configJson = (
      await exec('skopeo', [
        'inspect',
        '--raw',
        '--config',
        '--tls-verify=false',
        `docker://${registry.host}/ml/iris:v1`,
      ])
    ).stdout;
    const config = JSON.parse(configJson);
    expect(validateConfig(config), JSON.stringify(validateConfig.errors)).toBe(true);
    expect(config.descriptor).toMatchObject({ name: 'iris', revision: RUN_A });
    const copy = join(temp(), 'copy');
    await exec('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/ml/iris:v1`,
      `oci:${copy}:v1`,
    ]);
  });

  it('registers the same run once, the next run as v2, and moves aliases as tags', async () => {
    const models = remote(registry);
    const again = await models.registerVersion({ name: 'iris', source: modelDir('weights-1'), runId: RUN_A });
    expect(again).toMatchObject({ created: false, version: { version: '1' } });
    const second = await models.registerVersion({
      name: 'iris',
      source: modelDir('weights-2'),
      runId: RUN_B,
    });
    expect(second.version.version).toBe('2');
    expect(await models.getAlias('iris', 'champion')).toBeUndefined();
    await models.setAlias('iris', 'champion', '1');
    await models.setAlias('iris', 'champion', '2');
    const champion = await models.getAlias('iris', 'champion');
    expect(champion).toMatchObject({ version: '2', runId: RUN_B, digest: second.version.digest });
    expect(() => models.validateAlias('v3')).toThrow(/reserved/);
    expect(() => models.validateAlias('-bad')).toThrow(/not a valid OCI tag/);
  });

  it('keeps the history as referrers under the sha256-<hex> tag fallback', async () => {
    const models = remote(registry);
    const entry = {
      action: 'promote' as const,
      alias: 'champion',
      to: '2',
      from: '1',
      actor: 'ann',
      time: '2026-01-02T00:00:00.000Z',
      reason: 'better',
    };
    await models.appendHistory('iris', {
      ...entry,
      to: '1',
      from: undefined,
      time: '2026-01-01T00:00:00.000Z',
    });
    await models.appendHistory('iris', entry);
    const history = await models.readHistory('iris');
    expect(history.map((h) => [h.from, h.to])).toEqual([
      [undefined, '1'],
      ['1', '2'],
    ]);
    const v2 = (await models.getVersion('iris', '2'))!;
    const fallback = `${v2.digest!.replace(':', '-')}`;
    const { stdout } = await exec('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/ml/iris:${fallback}`,
    ]);
    const index = JSON.parse(stdout);
    expect(index.manifests.map((m: { artifactType: string }) => m.artifactType)).toEqual([
      RecordType.history,
    ]);
  });

  it('two registrations racing for the next tag both end with their own version', async () => {
    const models = remote(registry);
    await models.registerVersion({ name: 'race', source: modelDir('r0'), runId: '0'.repeat(32) });
    const [x, y] = await Promise.all([
      remote(registry).registerVersion({ name: 'race', source: modelDir('r1'), runId: '1'.repeat(32) }),
      remote(registry).registerVersion({ name: 'race', source: modelDir('r2'), runId: '2'.repeat(32) }),
    ]);
    expect([x.version.version, y.version.version].sort()).toEqual(['2', '3']);
    for (const v of [x, y])
      expect((await models.getVersion('race', v.version.version))?.runId).toBe(v.version.runId);
  });
});

describe('OciModelRegistry against docker-registry 2.8 behind a token server', () => {
  let registry: Registry;
  beforeAll(async () => {
    registry = await startRegistry({ auth: 'token' });
  }, 30_000);
  afterAll(() => registry.stop());

  it('pushes with the bearer flow and fails a 401 naming the registry and the input, not the secret', async () => {
    const { version } = await remote(registry, true).registerVersion({
      name: 'secure',
      source: modelDir('s'),
      runId: RUN_A,
    });
    expect(version.version).toBe('1');
    const wrong = new OciModelRegistry({
      kind: 'oci',
      store: new RegistryClient({
        registry: registry.host,
        credentials: { username: registry.username!, password: 'not-the-password' },
        credentialInput: 'registry-password',
      }),
      namespace: 'ml',
      uri: `oci://${registry.host}/ml`,
      reference: (r, d) => `${r}@${d}`,
    });
    const error = await wrong.getVersion('secure', '1').then(
      () => undefined,
      (e: Error) => e,
    );
    expect(error?.message).toMatch(
      new RegExp(`Registry ${registry.host.replace(/\./g, '\\.')} refused .*check 'registry-password'`),
    );
    expect(error?.message).not.toContain('not-the-password');
  });
});

describe('OciModelRegistry on an image layout (local registry)', () => {
  it('writes what skopeo reads through the oci: transport', async () => {
    const root = temp();
    const models = new OciModelRegistry({
      kind: 'local',
      store: new LayoutStore(root),
      namespace: '',
      uri: root,
      reference: (repository, _digest, tag) => `oci:${join(root, repository)}:${tag}`,
    });
    const { version } = await models.registerVersion({ name: 'iris', source: modelDir('w'), runId: RUN_A });
    await models.setAlias('iris', 'champion', version.version);
    const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci:${join(root, 'iris')}:champion`]);
    expect(JSON.parse(stdout).artifactType).toBe(ModelPack.manifest);
    expect(version.uri).toBe(`oci:${join(root, 'iris')}:v1`);
    await models.appendHistory('iris', {
      action: 'promote',
      alias: 'champion',
      to: '1',
      actor: 'a',
      time: '2026-01-01T00:00:00Z',
      reason: '',
    });
    expect((await models.readHistory('iris')).map((h) => h.to)).toEqual(['1']);
  });
});
