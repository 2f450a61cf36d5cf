/**
 * build-model-image against its floor, measured in the same run (the machine is shared: only ratios mean much).
 *
 * Model: BENCH_MODEL_MB megabytes (default 256; 1024 for the issue's 1 GB) of random bytes (weights barely
 * compress): one file of half the size, ten of 3 % each, the rest in 500 small files. Base: a three-layer
 * image in a local docker-registry 2.8 (started here); the image is pushed to another repository of it.
 *
 * Prints wall time and peak RSS of:
 * - the bundled action (build the layer + push: base layers mounted, model layer uploaded), at the full
 *   size and at a quarter of it (peak memory should not follow the model size);
 * - the floor: `tar -c | gzip -1 > /dev/null` of the same folder, plus one raw `curl` upload (POST, then a
 *   monolithic PUT) of the compressed bytes to the same registry.
 * Run: npx tsx bench/build-model-image.ts   (BENCH_MODEL_MB=1024 for 1 GB; npm run build -- build-model-image first)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  buildLayer,
  describe,
  encodeJson,
  listTree,
  MediaType,
  RegistryClient,
  sha256,
} from '@mlops-actions/oci';
import { repoRoot } from '../test/harness/index';
import { startRegistry } from '../test/servers/registry';

const MB = Number(process.env.BENCH_MODEL_MB ?? 256);
const bundle = join(repoRoot, 'dist', 'build-model-image', 'index.js');
const root = mkdtempSync(join(tmpdir(), 'image-bench-'));

function writeModel(dir: string, bytes: number): void {
  mkdirSync(join(dir, 'shards'), { recursive: true });
  mkdirSync(join(dir, 'small'), { recursive: true });
  const write = (path: string, size: number) => {
    const chunk = 16 * 1024 * 1024;
    writeFileSync(path, '');
    for (let done = 0; done < size; done += chunk)
      writeFileSync(path, randomBytes(Math.min(chunk, size - done)), { flag: 'a' });
  };
  write(join(dir, 'model.safetensors'), Math.round(bytes * 0.5));
  for (let i = 0; i < 10; i++) write(join(dir, 'shards', `shard-${i}.bin`), Math.round(bytes * 0.03));
  const small = Math.round((bytes * 0.2) / 500);
  for (let i = 0; i < 500; i++) write(join(dir, 'small', `f-${i}.json`), small);
}

async function pushBase(client: RegistryClient): Promise<void> {
  const layers = [];
  for (const n of [1, 2, 3]) {
    const dir = join(root, `base-${n}`);
    mkdirSync(join(dir, `layer${n}`), { recursive: true });
    writeFileSync(join(dir, `layer${n}`, 'data'), randomBytes(2_000_000));
    const layer = await buildLayer(listTree(dir, ''), { output: join(root, `base-${n}.tgz`) });
    await client.pushBlob('bench/base', layer.descriptor, readFileSync(join(root, `base-${n}.tgz`)));
    layers.push(layer);
  }
  const config = encodeJson({
    architecture: 'amd64',
    os: 'linux',
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
  });
  const configDescriptor = describe(MediaType.ociConfig, config);
  await client.pushBlob('bench/base', configDescriptor, config);
  const manifest = encodeJson({
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDescriptor,
    layers: layers.map((l) => l.descriptor),
  });
  await client.putManifest('bench/base', manifest, MediaType.ociManifest, '1');
}

function timed(
  command: string,
  args: string[],
  env?: NodeJS.ProcessEnv,
): { s: number; rssMb: number; stdout: string } {
  const started = process.hrtime.bigint();
  const result = spawnSync('/usr/bin/time', ['-f', '%M', command, ...args], {
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const s = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stdout}${result.stderr}`);
  const rssKb = Number(result.stderr.trim().split('\n').pop());
  return { s, rssMb: rssKb / 1024, stdout: result.stdout };
}

function runAction(modelDir: string, repository: string) {
  const output = join(root, `output-${Date.now()}`);
  writeFileSync(output, '');
  const env = {
    PATH: process.env.PATH,
    GITHUB_WORKSPACE: root,
    GITHUB_OUTPUT: output,
    RUNNER_TEMP: join(root, 'runner'),
    'INPUT_MODEL-PATH': modelDir,
    'INPUT_BASE-IMAGE': `${registry.host}/bench/base:1`,
    INPUT_IMAGE: `${registry.host}/${repository}`,
    INPUT_TAGS: 'bench',
    INPUT_ATTEST: 'false',
  };
  mkdirSync(env.RUNNER_TEMP, { recursive: true });
  return timed(process.execPath, [bundle], env);
}

const registry = await startRegistry();
try {
  const client = new RegistryClient({ registry: registry.host });
  await pushBase(client);
  const full = Math.round(MB * 1024 * 1024);
  console.log(`Model: ${MB} MB in ${root}; registry ${registry.host}`);
  writeModel(join(root, 'model'), full);
  writeModel(join(root, 'quarter'), Math.round(full / 4));

  const action = runAction('model', 'bench/full');
  const quarter = runAction('quarter', 'bench/quarter');

  const floorTar = timed('sh', ['-c', `tar -cf - -C '${join(root, 'model')}' . | gzip -1 > /dev/null`]);
  execFileSync('sh', [
    '-c',
    `tar -cf - -C '${join(root, 'model')}' . | gzip -1 > '${join(root, 'floor.tgz')}'`,
  ]);
  const bytes = readFileSync(join(root, 'floor.tgz'));
  const digest = sha256(bytes);
  const post = await fetch(`${registry.url}/v2/bench/raw/blobs/uploads/`, { method: 'POST' });
  const location = new URL(post.headers.get('location')!, registry.url);
  location.searchParams.set('digest', digest);
  const floorCurl = timed('curl', [
    '-sf',
    '-X',
    'PUT',
    '-H',
    'content-type: application/octet-stream',
    '-T',
    join(root, 'floor.tgz'),
    location.toString(),
  ]);
  const floor = floorTar.s + floorCurl.s;

  const row = (name: string, r: { s: number; rssMb: number }, vs?: number) =>
    `| ${name} | ${r.s.toFixed(2)} s | ${r.rssMb.toFixed(0)} MB | ${vs ? `${(r.s / vs).toFixed(2)}×` : ''} |`;
  console.log(
    `\ncompressed model layer ≈ ${(statSync(join(root, 'floor.tgz')).size / 1e6).toFixed(1)} MB (gzip -1)\n`,
  );
  console.log('| run | wall | peak RSS | vs floor |');
  console.log('| --- | ---: | ---: | ---: |');
  console.log(row(`build-model-image, ${MB} MB`, action, floor));
  console.log(row(`build-model-image, ${MB / 4} MB (memory check)`, quarter));
  console.log(row('floor: tar -c, gzip -1 to /dev/null', floorTar));
  console.log(row('floor: curl PUT of the compressed bytes', floorCurl));
  console.log(`| floor total | ${floor.toFixed(2)} s | | 1.00× |`);
} finally {
  await registry.stop();
  rmSync(root, { recursive: true, force: true });
}
