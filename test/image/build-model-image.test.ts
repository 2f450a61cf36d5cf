import { execFile } from 'node:child_process';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  describe as describeBytes,
  encodeJson,
  LayoutStore,
  listReferrers,
  MediaType,
  RegistryClient,
  sha256,
} from '@mlops-actions/oci';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStep } from '../harness';
import { type Registry, startRegistry } from '../servers/registry';
import { startUploadProxy } from '../servers/upload-proxy';
import { pushBusyboxBase } from './base';

const exec = promisify(execFile);
const dirs: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'image-e2e-'));
  dirs.push(dir);
  return dir;
}

let registry: Registry;
let secured: Registry;

function writeModel(root: string, mtime: number, umask: number): void {
  const old = process.umask(umask);
  try {
    mkdirSync(join(root, 'model', 'weights'), { recursive: true });
    writeFileSync(join(root, 'model', 'MLmodel'), 'artifact_path: model\nflavors:\n  sklearn: {}\n');
    writeFileSync(join(root, 'model', 'weights', 'model.pkl'), Buffer.alloc(200_000, 3));
    writeFileSync(join(root, 'model', 'predict.sh'), '#!/bin/sh\necho 1\n');
    chmodSync(join(root, 'model', 'predict.sh'), 0o775 & ~umask);
    for (const f of ['MLmodel', 'weights/model.pkl', 'predict.sh'])
      utimesSync(join(root, 'model', f), mtime, mtime);
  } finally {
    process.umask(old);
  }
}

beforeAll(async () => {
  [registry, secured] = await Promise.all([startRegistry(), startRegistry({ auth: 'token' })]);
  await pushBusyboxBase(new RegistryClient({ registry: registry.host }), 'runtimes/busybox');
}, 120_000);

afterAll(async () => {
  await registry?.stop();
  await secured?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

const common = (workspace: string) => ({
  'model-path': 'model',
  'model-name': 'iris',
  version: '3',
  'run-id': 'abc123',
  'data-hash': 'd'.repeat(64),
  env: 'MODEL_NAME=iris\nMODE=serve',
  cmd: '["sh","-c","ls /mnt/models"]',
  port: '8080',
  workdir: '/mnt/models',
  'registry-password': undefined,
  'compression-level': '1',
  workspace,
});

describe('build-model-image (bundle, real docker-registry 2.8)', () => {
  it('adds the model to every platform, mounts base layers, and skopeo + umoci read back files, modes, config and annotations', async () => {
    const workspace = temp();
    writeModel(workspace, 1_600_000_000, 0o022);
    const { workspace: _w, ...inputs } = common(workspace);
    const step = await runStep({
      action: 'build-model-image',
      workspace,
      inputs: {
        ...inputs,
        'base-image': `${registry.host}/runtimes/busybox:1`,
        image: `${registry.host}/serving/iris`,
      },
      env: { SOURCE_DATE_EPOCH: '1700000000' },
    });
    expect(step.error ?? '').toBe('');
    expect(step.exitCode).toBe(0);
    const json = step.json as { image: string; digest: string; tags: string[]; platforms: string[] };
    expect(json.platforms).toEqual(['linux/amd64', 'linux/arm64']);
    expect(json.tags).toEqual(['iris-3', 'sha-aaaaaaa']);
    expect(json.image).toBe(`${registry.host}/serving/iris@${json.digest}`);
    // Base layers came over by cross-repository mount (201), the model layer was uploaded.
    expect(step.summary).toMatch(/\| base \| linux\/amd64 \| .* \| mounted \|/);
    expect(step.summary).toMatch(/\| model \| all \| .* \| uploaded \|/);
    expect(step.summary).not.toMatch(/\| base \|[^\n]*uploaded/);

    const raw = JSON.parse(
      (
        await exec('skopeo', [
          'inspect',
          '--raw',
          '--tls-verify=false',
          `docker://${registry.host}/serving/iris:iris-3`,
        ])
      ).stdout,
    );
    expect(raw.mediaType).toBe(MediaType.ociIndex);
    expect(sha256(JSON.stringify(raw))).toBe(json.digest);
    expect(raw.annotations['org.opencontainers.image.created']).toBe('2023-11-14T22:13:20Z');
    expect(raw.annotations['org.opencontainers.image.revision']).toBe('a'.repeat(40));
    expect(raw.annotations['mlops.model.name']).toBe('iris');
    expect(raw.annotations['mlops.model.data-hash']).toBe('d'.repeat(64));

    const oci = join(temp(), 'oci');
    await exec('skopeo', [
      'copy',
      '--override-arch',
      'arm64',
      '--src-tls-verify=false',
      `docker://${registry.host}/serving/iris:iris-3`,
      `oci:${oci}:arm64`,
    ]);
    const bundle = join(temp(), 'bundle');
    await exec('umoci', ['unpack', '--rootless', '--image', `${oci}:arm64`, bundle]);
    const rootfs = join(bundle, 'rootfs');
    expect(readFileSync(join(rootfs, 'mnt/models/MLmodel'), 'utf8')).toContain('sklearn');
    expect(statSync(join(rootfs, 'mnt/models/weights/model.pkl')).size).toBe(200_000);
    expect(statSync(join(rootfs, 'mnt/models/predict.sh')).mode & 0o777).toBe(0o755);
    expect(statSync(join(rootfs, 'mnt/models/MLmodel')).mode & 0o777).toBe(0o644);
    expect(existsSync(join(rootfs, 'bin/busybox'))).toBe(true);
    const config = JSON.parse(readFileSync(join(bundle, 'config.json'), 'utf8'));
    expect(config.process.env).toEqual(
      expect.arrayContaining(['PATH=/bin', 'MODE=serve', 'MODEL_NAME=iris']),
    );
    expect(config.process.args).toEqual(['/bin/busybox', 'sh', '-c', 'ls /mnt/models']);
    expect(config.process.cwd).toBe('/mnt/models');
    expect(config.annotations['org.opencontainers.image.title']).toBe('iris');
  });

  it('gives the same digest for two builds in different folders with different mtimes and umask', async () => {
    const digests: string[] = [];
    for (const [mtime, umask] of [
      [1_000_000, 0o022],
      [1_750_000_000, 0o077],
    ] as const) {
      const workspace = temp();
      writeModel(workspace, mtime, umask);
      const { workspace: _w, ...inputs } = common(workspace);
      const step = await runStep({
        action: 'build-model-image',
        workspace,
        inputs: {
          ...inputs,
          'base-image': `${registry.host}/runtimes/busybox:1`,
          push: 'false',
          output: 'out/image.tar',
          attest: 'true',
        },
        env: { SOURCE_DATE_EPOCH: '1700000000' },
      });
      expect(step.error ?? '').toBe('');
      digests.push((step.json as { digest: string }).digest);
      const provenance = JSON.parse(readFileSync(join(workspace, 'out/image.tar.provenance.json'), 'utf8'));
      expect(provenance.predicateType).toBe('https://slsa.dev/provenance/v1');
      expect(provenance.subject[0].digest.sha256).toBe(digests.at(-1)!.slice(7));
      await exec('skopeo', ['inspect', '--raw', `oci-archive:${join(workspace, 'out/image.tar')}:iris-3`]);
    }
    expect(digests[1]).toBe(digests[0]);
  });

  it('builds from an oci:// ModelPack artifact and records the image on it as a referrer', async () => {
    const client = new RegistryClient({ registry: registry.host });
    const weights = Buffer.alloc(50_000, 9);
    const layer = describeBytes('application/vnd.cncf.model.weight.v1.raw', weights, {
      annotations: { 'org.cncf.model.filepath': 'weights/model.bin' },
    });
    await client.pushBlob('models/iris', layer, weights);
    const config = encodeJson({
      descriptor: { name: 'iris' },
      modelfs: { type: 'layers', diffIds: [layer.digest] },
      config: {},
    });
    const configDescriptor = describeBytes('application/vnd.cncf.model.config.v1+json', config);
    await client.pushBlob('models/iris', configDescriptor, config);
    const model = await client.putManifest(
      'models/iris',
      encodeJson({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType: 'application/vnd.cncf.model.manifest.v1+json',
        config: configDescriptor,
        layers: [layer],
      }),
      MediaType.ociManifest,
      'v1',
    );
    const workspace = temp();
    const step = await runStep({
      action: 'build-model-image',
      workspace,
      inputs: {
        'model-uri': `oci://${registry.host}/models/iris@${model.digest}`,
        digest: model.digest,
        'model-name': 'iris',
        version: '1',
        'base-image': `${registry.host}/runtimes/busybox:1`,
        image: `${registry.host}/serving/iris-oci`,
        platforms: 'linux/amd64',
      },
    });
    expect(step.error ?? '').toBe('');
    const json = step.json as { digest: string; platforms: string[] };
    expect(json.platforms).toEqual(['linux/amd64']);
    const referrers = await listReferrers(
      client,
      'models/iris',
      model.digest,
      'application/vnd.mlops.image.v1+json',
    );
    expect(referrers.map((r) => r.annotations?.['mlops.image.digest'])).toEqual([json.digest]);
  });
});

describe('build-model-image bad input (bundle)', () => {
  async function fails(inputs: Record<string, string | undefined>, prepare?: (workspace: string) => void) {
    const workspace = temp();
    prepare?.(workspace);
    const step = await runStep({
      action: 'build-model-image',
      workspace,
      inputs: {
        'base-image': `${registry.host}/runtimes/busybox:1`,
        image: `${registry.host}/serving/bad`,
        ...inputs,
      },
    });
    expect(step.exitCode).toBe(1);
    return step.error ?? '';
  }
  const withModel = (ws: string) => writeModel(ws, 1, 0o022);

  it('a base image that does not exist', async () => {
    expect(
      await fails({ 'model-path': 'model', 'base-image': `${registry.host}/runtimes/none:1` }, withModel),
    ).toMatch(/Input 'base-image': '127\.0\.0\.1:\d+\/runtimes\/none:1' does not exist/);
  });
  it('a platform the base lacks', async () => {
    expect(await fails({ 'model-path': 'model', platforms: 'linux/s390x' }, withModel)).toMatch(
      /Input 'platforms':.*has no linux\/s390x image; it has linux\/amd64, linux\/arm64/,
    );
  });
  it('a model path that is missing or empty', async () => {
    expect(await fails({ 'model-path': 'nowhere' })).toMatch(/Input 'model-path': 'nowhere' does not exist/);
    expect(await fails({ 'model-path': 'empty' }, (ws) => mkdirSync(join(ws, 'empty')))).toMatch(
      /Input 'model-path': 'empty' is an empty folder/,
    );
  });
  it('a model path or output outside the workspace', async () => {
    expect(await fails({ 'model-path': '../' })).toMatch(
      /Input 'model-path': '\.\.\/' is outside the workspace/,
    );
    expect(await fails({ 'model-path': 'model', output: '../image.tar' }, withModel)).toMatch(
      /Input 'output': '\.\.\/image\.tar' is outside the workspace/,
    );
  });
  it('a tag that is not a valid OCI tag', async () => {
    expect(await fails({ 'model-path': 'model', tags: 'ok,-bad' }, withModel)).toMatch(
      /Input 'tags'.*'-bad' is not a valid OCI tag/,
    );
  });
  it('a registry 401 names the registry and the credential input, never the secret', async () => {
    const error = await fails(
      {
        'model-path': 'model',
        image: `${secured.host}/serving/iris`,
        'registry-username': 'ci-user',
        'registry-password': 'wrong-secret-value',
      },
      withModel,
    );
    expect(error).toMatch(
      new RegExp(
        `Registry ${secured.host.replace(/\./g, '\\.')} refused the credentials.*'registry-password'`,
      ),
    );
    expect(error).not.toContain('wrong-secret-value');
  });
  it('builder docker without a Docker engine fails clearly', async () => {
    const error = await fails({ 'model-path': 'model', builder: 'docker' }, withModel);
    expect(error).toMatch(/Input 'builder': 'docker' needs a Docker engine/);
  });
});

describe('build-model-image from a local layout registry (bundle)', () => {
  it("reads a ModelPack artifact from register-model's oci:<layout>:<tag> and from <layout>:<tag>, writes an OCI layout, and records the image as a referrer there", async () => {
    const workspace = temp();
    const layout = new LayoutStore(join(workspace, '.mlops/registry/iris'));
    const weights = Buffer.from('weights');
    const layer = describeBytes('application/vnd.cncf.model.weight.v1.raw', weights, {
      annotations: { 'org.cncf.model.filepath': 'model.bin' },
    });
    await layout.pushBlob('', layer, weights);
    const config = encodeJson({
      descriptor: { name: 'iris' },
      modelfs: { type: 'layers', diffIds: [layer.digest] },
      config: {},
    });
    const configDescriptor = describeBytes('application/vnd.cncf.model.config.v1+json', config);
    await layout.pushBlob('', configDescriptor, config);
    const model = await layout.putManifest(
      '',
      encodeJson({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: configDescriptor,
        layers: [layer],
      }),
      MediaType.ociManifest,
      'v2',
    );
    const build = (modelUri: string, output: string) =>
      runStep({
        action: 'build-model-image',
        workspace,
        inputs: {
          'model-uri': modelUri,
          'base-image': `${registry.host}/runtimes/busybox:1`,
          push: 'false',
          output,
          tags: 'local',
        },
      });
    const step = await build(`oci:${join(workspace, '.mlops/registry/iris')}:v2`, 'out/layout');
    expect(step.error ?? '').toBe('');
    const digest = (step.json as { digest: string }).digest;
    const relative = await build('.mlops/registry/iris:v2', 'out/relative');
    expect(relative.error ?? '').toBe('');
    const relativeDigest = (relative.json as { digest: string }).digest;
    const raw = JSON.parse(
      (await exec('skopeo', ['inspect', '--raw', `oci:${join(workspace, 'out/layout')}:local`])).stdout,
    );
    expect(raw.manifests).toHaveLength(2);
    expect(sha256(JSON.stringify(raw))).toBe(digest);
    const referrers = await listReferrers(layout, '', model.digest);
    expect(referrers.map((r) => r.annotations?.['mlops.image.digest']).sort()).toEqual(
      [digest, relativeDigest].sort(),
    );
  });
});

describe('build-model-image with an upload cut off mid-blob (bundle, proxy in front of docker-registry)', () => {
  it('retries a reset and a 503 mid-push, and pushes no manifest or tag before all its blobs exist', async () => {
    const proxy = await startUploadProxy(registry.url);
    const client = new RegistryClient({ registry: registry.host });
    const tagsAtFaults: string[][] = [];
    const seeTags = async () => {
      tagsAtFaults.push(await client.listTags('serving/cut'));
    };
    proxy.failNext({ kind: 'reset', afterBytes: 64 }, seeTags);
    proxy.failNext({ kind: 'status', status: 503 }, seeTags);
    try {
      const workspace = temp();
      writeModel(workspace, 5, 0o022);
      const step = await runStep({
        action: 'build-model-image',
        workspace,
        inputs: {
          'model-path': 'model',
          'base-image': `${proxy.host}/runtimes/busybox:1`,
          image: `${proxy.host}/serving/cut`,
          tags: 'cut',
        },
      });
      expect(step.error ?? '').toBe('');
      expect(step.stdout).toMatch(/cut off.*starting again \(2\/3\)/);
      expect(step.stdout).toMatch(/cut off \(.*503.*\); starting again \(3\/3\)/);
      expect(proxy.log.slice(0, 2)).toEqual(['cut PATCH blob', '503 PATCH blob']);
      expect(tagsAtFaults).toEqual([[], []]);
      const firstManifest = proxy.log.findIndex((e) => e.startsWith('PUT manifest'));
      expect(firstManifest).toBeGreaterThan(0);
      expect(proxy.log.slice(firstManifest).every((e) => e.startsWith('PUT manifest'))).toBe(true);
      expect(proxy.log.filter((e) => e === 'PUT blob 201').length).toBeGreaterThanOrEqual(2);
      expect((await client.resolve('serving/cut', 'cut'))?.digest).toBe(
        (step.json as { digest: string }).digest,
      );
    } finally {
      await proxy.stop();
    }
  });
});
