/**
 * register-model's cost on the OCI backends: registers a model directory (BENCH_MODEL_MB, default 256;
 * 1024 for the 1 GB) in the local registry (image layout) and pushes it to a local
 * docker-registry, then registers the same run again. Wall time and peak memory are printed against
 * floors measured in the same run: `sha256sum` + `cp -r` of the same files for the local registry, one raw
 * `curl` PUT of the same bytes (monolithic upload) for the remote. curl streams the file (`-T`) and must
 * succeed: with `--data-binary @file` it reads the file into memory and refuses one of 1 GiB or more.
 *
 *   BENCH_MODEL_MB=1024 npx tsx bench/register-model.ts
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LayoutStore, RegistryClient } from '@mlops-actions/oci';
import { OciModelRegistry } from '@mlops-actions/store';
import { startRegistry } from '../test/servers/registry';

const MB = Number(process.env.BENCH_MODEL_MB ?? 256);
const SHARDS = 8;
const root = mkdtempSync(join(tmpdir(), 'bench-register-'));
const model = join(root, 'model');
mkdirSync(model);
const shard = Math.floor((MB * 1024 * 1024) / SHARDS);
for (let i = 0; i < SHARDS; i++) {
  const path = join(model, `weights-${i}.bin`);
  writeFileSync(path, randomBytes(shard));
}

/** Wall seconds and max RSS (MB) of a command, from GNU time. */
function timedWithRss(command: string, args: string[]): { seconds: number; rssMb: number } {
  const started = performance.now();
  const result = execFileSync(
    'bash',
    ['-c', `set -o pipefail; /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -1`, '_', command, ...args],
    {
      encoding: 'utf8',
    },
  );
  return { seconds: (performance.now() - started) / 1000, rssMb: Number(result.trim()) / 1024 };
}

let peak = 0;
const sampler = setInterval(() => {
  peak = Math.max(peak, process.memoryUsage().rss);
}, 20);
async function ours(work: () => Promise<unknown>): Promise<{ seconds: number; rssMb: number }> {
  peak = process.memoryUsage().rss;
  const started = performance.now();
  await work();
  return { seconds: (performance.now() - started) / 1000, rssMb: peak / 1024 / 1024 };
}

const registry = await startRegistry();
try {
  const runId = 'a'.repeat(32);
  const local = new OciModelRegistry({
    kind: 'local',
    store: new LayoutStore(join(root, 'layout')),
    namespace: '',
    uri: 'layout',
    reference: (r, _d, t) => `${r}:${t}`,
  });
  const floorLocal = timedWithRss('bash', [
    '-c',
    `sha256sum ${model}/* >/dev/null && cp -r ${model} ${root}/copy`,
  ]);
  const localRun = await ours(() => local.registerVersion({ name: 'bench', source: model, runId }));

  const client = new RegistryClient({ registry: registry.host });
  const remote = new OciModelRegistry({
    kind: 'oci',
    store: client,
    namespace: 'bench',
    uri: registry.host,
    reference: (r, d) => `${r}@${d}`,
  });
  const tarball = join(root, 'all.tar');
  execFileSync('tar', ['-cf', tarball, '-C', root, 'model']);
  const digest = execFileSync('sha256sum', [tarball], { encoding: 'utf8' }).split(' ')[0];
  const location = execFileSync(
    'curl',
    ['-s', '-D', '-', '-o', '/dev/null', '-X', 'POST', `${registry.url}/v2/floor/blobs/uploads/`],
    { encoding: 'utf8' },
  ).match(/^location:\s*(\S+)/im)![1]!;
  const put = new URL(location, registry.url);
  put.searchParams.set('digest', `sha256:${digest}`);
  const floorRemote = timedWithRss('curl', [
    '-s',
    '-f',
    '-X',
    'PUT',
    '-H',
    'content-type: application/octet-stream',
    '-H',
    'expect:',
    '-T',
    tarball,
    put.toString(),
  ]);
  const remoteRun = await ours(() => remote.registerVersion({ name: 'bench', source: model, runId }));
  const requestsBefore = registry
    .output()
    .split('\n')
    .filter((l) => /PATCH|PUT .*blobs/.test(l)).length;
  const again = await ours(() => remote.registerVersion({ name: 'bench', source: model, runId }));
  const requestsAfter = registry
    .output()
    .split('\n')
    .filter((l) => /PATCH|PUT .*blobs/.test(l)).length;

  const row = (
    label: string,
    a: { seconds: number; rssMb: number },
    floor: { seconds: number; rssMb: number },
  ) =>
    `${label}: ${a.seconds.toFixed(2)} s, peak RSS ${a.rssMb.toFixed(0)} MB | floor ${floor.seconds.toFixed(2)} s, ${floor.rssMb.toFixed(0)} MB | ratio ${(a.seconds / floor.seconds).toFixed(2)}x`;
  console.log(`model: ${MB} MB in ${SHARDS} files`);
  console.log(row('local registry (layout)', localRun, floorLocal));
  console.log(row('push to docker-registry', remoteRun, floorRemote));
  console.log(
    `second registration of the same run: ${again.seconds.toFixed(2)} s, blob upload requests ${requestsAfter - requestsBefore}`,
  );
} finally {
  clearInterval(sampler);
  await registry.stop();
  rmSync(root, { recursive: true, force: true });
}
