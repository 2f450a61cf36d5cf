/**
 * register-model's cost on the OCI backends: registers a model directory (BENCH_MODEL_MB, default 256;
 * 1024 for the 1 GB) in the local registry (image layout) and pushes it to a local
 * docker-registry, then registers the same run again. Wall time and peak memory are printed against
 * floors measured in the same run: `sha256sum` + `cp -r` of the same files for the local registry, one raw
 * `curl` PUT of the same bytes (monolithic upload) for the remote. curl streams the file (`-T`) and must
 * succeed: with `--data-binary @file` it reads the file into memory and refuses one of 1 GiB or more.
 * BENCH_ROUNDS (default 3) pairs of ours and floor run in alternating order; the median ratio is the figure.
 *
 *   BENCH_MODEL_MB=1024 npx tsx bench/register-model.ts
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs';
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
// Written 8 MB at a time, so the process starts the measurements without a gigabyte of garbage in its RSS.
for (let i = 0; i < SHARDS; i++) {
  const fd = openSync(join(model, `weights-${i}.bin`), 'w');
  for (let left = shard; left > 0; left -= 8 * 1024 * 1024)
    writeSync(fd, randomBytes(Math.min(left, 8 * 1024 * 1024)));
  closeSync(fd);
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
/** Our side also reports its CPU seconds (user + system): on 2 cores they are taken from the registry. */
async function ours(work: () => Promise<unknown>): Promise<Timing> {
  peak = process.memoryUsage().rss;
  const started = performance.now();
  const cpu = process.cpuUsage();
  await work();
  const used = process.cpuUsage(cpu);
  return {
    seconds: (performance.now() - started) / 1000,
    rssMb: peak / 1024 / 1024,
    cpuSeconds: (used.user + used.system) / 1e6,
  };
}

type Timing = { seconds: number; rssMb: number; cpuSeconds?: number };

/**
 * Starts a step with no dirty pages left by the last one: each step writes a gigabyte, and the kernel's
 * background writeback of the previous step's bytes would otherwise land on whichever step comes next.
 */
function settle(): void {
  execFileSync('sync');
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const registry = await startRegistry();
try {
  const tarball = join(root, 'all.tar');
  execFileSync('tar', ['-cf', tarball, '-C', root, 'model']);
  const digest = execFileSync('sha256sum', [tarball], { encoding: 'utf8' }).split(' ')[0];
  const client = new RegistryClient({ registry: registry.host });
  const remoteFor = (namespace: string) =>
    new OciModelRegistry({
      kind: 'oci',
      store: client,
      namespace,
      uri: registry.host,
      reference: (r, d) => `${r}@${d}`,
    });

  const floorLocal = (round: number) => {
    settle();
    const timing = timedWithRss('bash', [
      '-c',
      `sha256sum ${model}/* >/dev/null && cp -r ${model} ${root}/copy-${round}`,
    ]);
    rmSync(join(root, `copy-${round}`), { recursive: true, force: true });
    return timing;
  };
  const oursLocal = async (round: number) => {
    settle();
    const layout = join(root, `layout-${round}`);
    const local = new OciModelRegistry({
      kind: 'local',
      store: new LayoutStore(layout),
      namespace: '',
      uri: 'layout',
      reference: (r, _d, t) => `${r}:${t}`,
    });
    const timing = await ours(() =>
      local.registerVersion({ name: 'bench', source: model, runId: 'a'.repeat(32) }),
    );
    rmSync(layout, { recursive: true, force: true });
    return timing;
  };
  // Every round pushes to repositories of its own: a registry answers a blob HEAD per repository, so
  // each round uploads the whole blob, as the first registration of a model does.
  const floorRemote = (round: number) => {
    settle();
    const location = execFileSync(
      'curl',
      ['-s', '-D', '-', '-o', '/dev/null', '-X', 'POST', `${registry.url}/v2/floor-${round}/blobs/uploads/`],
      { encoding: 'utf8' },
    ).match(/^location:\s*(\S+)/im)![1]!;
    const put = new URL(location, registry.url);
    put.searchParams.set('digest', `sha256:${digest}`);
    return timedWithRss('curl', [
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
  };
  const oursRemote = async (round: number) => {
    settle();
    return ours(() =>
      remoteFor(`bench-${round}`).registerVersion({ name: 'bench', source: model, runId: 'b'.repeat(32) }),
    );
  };

  const local: Array<[Timing, Timing]> = [];
  const remote: Array<[Timing, Timing]> = [];
  // The order flips every round, so neither side always runs on a machine the other has just warmed or loaded.
  for (let round = 0; round < ROUNDS; round++) {
    const flip = round % 2 === 1;
    if (flip) {
      const a = await oursLocal(round);
      local.push([a, floorLocal(round)]);
      const b = await oursRemote(round);
      remote.push([b, floorRemote(round)]);
    } else {
      const f = floorLocal(round);
      local.push([await oursLocal(round), f]);
      const g = floorRemote(round);
      remote.push([await oursRemote(round), g]);
    }
  }

  const requests = () =>
    registry
      .output()
      .split('\n')
      .filter((l) => /PATCH|PUT .*blobs/.test(l)).length;
  const requestsBefore = requests();
  const again = await ours(() =>
    remoteFor('bench-0').registerVersion({ name: 'bench', source: model, runId: 'b'.repeat(32) }),
  );
  const requestsAfter = requests();

  const summary = (label: string, pairs: Array<[Timing, Timing]>) => {
    const rounds = pairs
      .map(
        ([a, f]) =>
          `${a.seconds.toFixed(2)}/${f.seconds.toFixed(2)} s = ${(a.seconds / f.seconds).toFixed(2)}x`,
      )
      .join(', ');
    const ratio = median(pairs.map(([a, f]) => a.seconds / f.seconds));
    const peak = Math.max(...pairs.map(([a]) => a.rssMb));
    const floorPeak = Math.max(...pairs.map(([, f]) => f.rssMb));
    const cpu = median(pairs.map(([a]) => a.cpuSeconds ?? 0));
    return `${label}: median ratio ${ratio.toFixed(2)}x | rounds (ours/floor): ${rounds} | our CPU ${cpu.toFixed(2)} s (median) | peak RSS ${peak.toFixed(0)} MB, floor ${floorPeak.toFixed(0)} MB`;
  };
  console.log(`model: ${MB} MB in ${SHARDS} files, ${ROUNDS} rounds`);
  console.log(summary('local registry (layout) vs sha256sum + cp -r', local));
  console.log(summary('push to docker-registry vs curl -T', remote));
  console.log(
    `second registration of the same run: ${again.seconds.toFixed(2)} s, blob upload requests ${requestsAfter - requestsBefore}`,
  );
} finally {
  clearInterval(sampler);
  await registry.stop();
  rmSync(root, { recursive: true, force: true });
}
