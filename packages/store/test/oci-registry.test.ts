import { execFile } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
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

function local(root: string, layerFormat?: 'tar' | 'tar+gzip'): OciModelRegistry {
  return new OciModelRegistry({
    kind: 'local',
    store: new LayoutStore(root),
    namespace: '',
    uri: root,
    reference: (repository, _digest, tag) => `oci:${join(root, repository)}:${tag}`,
    layerFormat,
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
    expect(manifest.layers[0].mediaType).toBe('application/vnd.cncf.model.weight.v1.tar');
    const tar = join(temp(), 'layer.tar');
    await exec('curl', ['-sf', '-o', tar, `${registry.url}/v2/ml/iris/blobs/${manifest.layers[0].digest}`]);
    expect((await exec('sha256sum', [tar])).stdout.split(' ')[0]).toBe(
      manifest.layers[0].digest.slice('sha256:'.length),
    );
    expect((await exec('tar', ['-tvf', tar])).stdout).toMatch(
      /-rw-r--r-- 0\/0 +9 1970-01-01 00:00 model\/model\.pkl/,
    );
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

  it('hashes the layer while sending it, logs progress, and fails naming the file rewritten between the two reads, with no version tagged', async () => {
    const dir = modelDir('weights one');
    const logs: string[] = [];
    let opened = 0;
    // A training job still writing the model: the file changes after the digest pass.
    class Rewriting extends RegistryClient {
      override pushStream(...[repository, open, options]: Parameters<RegistryClient['pushStream']>) {
        return super.pushStream(
          repository,
          () => {
            if (opened++ === 1) writeFileSync(join(dir, 'model.pkl'), 'weights two');
            return open();
          },
          options,
        );
      }
    }
    const models = new OciModelRegistry({
      kind: 'oci',
      store: new Rewriting({ registry: registry.host, log: (l) => logs.push(l) }),
      namespace: 'ml',
      uri: `oci://${registry.host}/ml`,
      reference: (repository, digest) => `oci://${registry.host}/${repository}@${digest}`,
      log: (l) => logs.push(l),
    });
    const error = await models
      .registerVersion({ name: 'rewritten', source: dir, runId: RUN_A })
      .catch((e: Error) => e);
    expect((error as Error).message).toBe(
      `The model files in '${dir}' changed while they were pushed to oci://${registry.host}/ml: '${join(dir, 'model.pkl')}' was modified while the layer was read (its mtime moved after it was listed). Register the model once nothing writes to it any more`,
    );
    expect(await new RegistryClient({ registry: registry.host }).listTags('ml/rewritten')).toEqual([]);

    const ok = await models.registerVersion({ name: 'rewritten', source: dir, runId: RUN_B });
    expect(ok.version.version).toBe('1');
    expect(logs.join('\n')).toMatch(
      /sha256:[0-9a-f]{64} \(\d+ bytes\) hashed in [\d.]+ s while it was being sent to /,
    );
    expect(logs.join('\n')).toMatch(/model layer sent to oci:\/\/.*\/ml: 1\/1 layer, (\S+ \S+)\/\1, .* in /);
  });

  it('two registrations racing for the same tag both end with their own version, and the loser logs its retry', async () => {
    await remote(registry).registerVersion({ name: 'race', source: modelDir('r0'), runId: '0'.repeat(32) });
    // Both runs list the tags, see v1, and are held until both are about to push v2: a real race on one tag.
    const arrived: (() => void)[] = [];
    const logs: string[][] = [[], []];
    const racer = (i: number) => {
      const client = new RegistryClient({ registry: registry.host });
      const put = client.putManifest.bind(client);
      let held = false;
      client.putManifest = async (repository, bytes, mediaType, tag) => {
        if (tag && /^v\d+$/.test(tag) && !held) {
          held = true;
          await new Promise<void>((resolve) => {
            arrived.push(resolve);
            if (arrived.length === 2) for (const go of arrived) go();
          });
        }
        return put(repository, bytes, mediaType, tag);
      };
      return new OciModelRegistry({
        kind: 'oci',
        store: client,
        namespace: 'ml',
        uri: `oci://${registry.host}/ml`,
        reference: (repository, digest) => `oci://${registry.host}/${repository}@${digest}`,
        log: (line) => logs[i]!.push(line),
      });
    };
    const [x, y] = await Promise.all([
      racer(0).registerVersion({ name: 'race', source: modelDir('r1'), runId: '1'.repeat(32) }),
      racer(1).registerVersion({ name: 'race', source: modelDir('r2'), runId: '2'.repeat(32) }),
    ]);
    expect([x.version.version, y.version.version].sort()).toEqual(['2', '3']);
    const loser = x.version.version === '3' ? 0 : 1;
    expect(logs[loser]!.join('\n')).toMatch(
      /v2 of ml\/race was taken by another run at the same moment; trying the next number/,
    );
    expect(logs[1 - loser]!.join('\n')).not.toMatch(/taken by another run/);
    const models = remote(registry);
    for (const v of [x, y]) {
      const stored = await models.getVersion('race', v.version.version);
      expect(stored?.runId).toBe(v.version.runId);
      expect(stored?.digest).toBe(v.version.digest);
    }
    expect((await new RegistryClient({ registry: registry.host }).listTags('ml/race')).sort()).toEqual([
      'v1',
      'v2',
      'v3',
    ]);
  });
});

describe('OciModelRegistry alias deletion on docker-registry 2.8 (storage.delete enabled and disabled)', () => {
  it.each([
    [true, /answered 400 DIGEST_INVALID/],
    [false, /answered 405 UNSUPPORTED/],
  ])(
    'delete.enabled %s: fails in one line saying the registry cannot delete tags, and leaves version and alias in place',
    async (deleteEnabled, answer) => {
      const registry = await startRegistry({ deleteEnabled });
      try {
        const models = remote(registry);
        const { version } = await models.registerVersion({
          name: 'iris',
          source: modelDir('w'),
          runId: RUN_A,
        });
        await models.setAlias('iris', 'staging', '1');
        const error = await models.deleteAlias('iris', 'staging').catch((e: Error) => e);
        expect(error).toBeInstanceOf(Error);
        const message = (error as Error).message;
        expect(message).not.toContain('\n');
        expect(message).toMatch(
          new RegExp(
            `alias 'staging' of iris cannot be deleted: Registry ${registry.host} cannot delete tags`,
          ),
        );
        expect(message).toMatch(answer);
        expect((await models.getAlias('iris', 'staging'))?.digest).toBe(version.digest);
        expect((await models.getVersion('iris', '1'))?.digest).toBe(version.digest);
      } finally {
        await registry.stop();
      }
    },
  );
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
    const models = local(root);
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
    await models.deleteAlias('iris', 'champion');
    await models.deleteAlias('iris', 'champion');
    expect(await models.getAlias('iris', 'champion')).toBeUndefined();
    expect((await models.getVersion('iris', '1'))?.digest).toBe(version.digest);
    await exec('skopeo', ['inspect', '--raw', `oci:${join(root, 'iris')}:v1`]);
  });

  it('packs tar by default and tar+gzip on request, with the same layer digest for the same model, and leaves no temporary file', async () => {
    const layers = async (layerFormat?: 'tar' | 'tar+gzip') => {
      const root = temp();
      const models = local(root, layerFormat);
      await models.registerVersion({ name: 'm', source: modelDir('same weights'), runId: RUN_A });
      await models.registerVersion({ name: 'm', source: modelDir('same weights'), runId: RUN_B });
      const manifests = await Promise.all(
        ['v1', 'v2'].map(async (tag) =>
          JSON.parse((await exec('skopeo', ['inspect', '--raw', `oci:${join(root, 'm')}:${tag}`])).stdout),
        ),
      );
      const blobs = readdirSync(join(root, 'm', 'blobs', 'sha256'));
      return { root, manifests, blobs };
    };
    const plain = await layers();
    const gzipped = await layers('tar+gzip');
    expect(plain.manifests.map((m) => m.layers[0].mediaType)).toEqual([
      ModelPack.weightTar,
      ModelPack.weightTar,
    ]);
    expect(gzipped.manifests.map((m) => m.layers[0].mediaType)).toEqual([
      ModelPack.weightTarGzip,
      ModelPack.weightTarGzip,
    ]);
    for (const { manifests, blobs, root } of [plain, gzipped]) {
      expect(manifests[1].layers[0].digest).toBe(manifests[0].layers[0].digest);
      expect(
        blobs.every((b) => /^[a-f0-9]{64}$/.test(b)),
        blobs.join(' '),
      ).toBe(true);
      const hex = manifests[0].layers[0].digest.slice('sha256:'.length);
      expect((await exec('sha256sum', [join(root, 'm', 'blobs', 'sha256', hex)])).stdout.split(' ')[0]).toBe(
        hex,
      );
    }
    // The diffID of a plain tar layer is its digest; of a gzip'd one, the digest of the tar inside.
    const config = (root: string, m: { config: { digest: string } }) =>
      JSON.parse(readFileSync(join(root, 'm', 'blobs', 'sha256', m.config.digest.slice(7)), 'utf8'));
    expect(config(plain.root, plain.manifests[0]).modelfs.diffIds).toEqual([
      plain.manifests[0].layers[0].digest,
    ]);
    expect(config(gzipped.root, gzipped.manifests[0]).modelfs.diffIds).toEqual([
      plain.manifests[0].layers[0].digest,
    ]);
  });
});
