/**
 * dvc-pull against its floors, measured in the same run (the machine is shared: only ratios mean much).
 *
 * Dataset: DVC_BENCH_FILES files (default 2,000): all but DVC_BENCH_BIG (default 10) are 10–100 KB, the big
 * ones 10 MB: about 210 MB. DVC_BENCH_SCALE (default 1) multiplies every size, to shrink the run on a busy
 * machine while keeping the shape.
 *
 * Prints, for a local remote and for the same remote behind nginx:
 * - dvc-pull cold (empty .dvc/cache and workspace), the bundled action run as the runner runs it, once filling
 *   .dvc/cache (cache: true, the repository's default cache.type reflink,copy) and once without (cache: false);
 * - dvc-pull with a warm .dvc/cache (workspace empty);
 * - dvc-pull with everything already in the workspace (goal: under 1 s);
 * - the floor: `cp -r` of the remote's objects (local), a parallel plain HTTP GET of every object to disk
 *   with the same concurrency (nginx);
 * - what bounds a verifying pull, as fresh Node processes: md5 of every object and nothing else, and a bare
 *   loop doing only what the pull must do per object (kernel copy into a temp file, md5 of the copy, rename),
 *   and the same plus the workspace copy a filled cache needs where reflinks are not available (a second
 *   kernel copy and rename), the same jobs at a time.
 * Each figure is the median of DVC_BENCH_ROUNDS (default 3) interleaved rounds. DVC_BENCH_BUNDLE runs another
 * build of the action (default dist/dvc-pull/index.js), to measure a baseline beside a change.
 * Run: npx tsx bench/dvc-pull.ts
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { mapPool } from '@mlops-actions/kit';
import { serveRemote } from '../test/dvc/nginx-remote';
import { repoRoot } from '../test/harness/index';

const FILES = Number(process.env.DVC_BENCH_FILES ?? 2000);
const BIG = Number(process.env.DVC_BENCH_BIG ?? 10);
const SCALE = Number(process.env.DVC_BENCH_SCALE ?? 1);
const JOBS = Number(process.env.DVC_BENCH_JOBS ?? 8);
const ROUNDS = Number(process.env.DVC_BENCH_ROUNDS ?? 3);
const bundle = process.env.DVC_BENCH_BUNDLE ?? join(repoRoot, 'dist', 'dvc-pull', 'index.js');

const root = mkdtempSync(join(tmpdir(), 'dvc-bench-'));
const remote = join(root, 'remote');
const template = join(root, 'template');

function generate(): { objects: string[]; bytes: number } {
  const entries: Array<{ md5: string; relpath: string }> = [];
  let bytes = 0;
  let seed = 1;
  const rand = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  for (let i = 0; i < FILES; i++) {
    const big = i < BIG;
    const size = Math.round((big ? 10_000_000 : 10_000 + rand() * 90_000) * SCALE);
    const data = randomBytes(size);
    const md5 = createHash('md5').update(data).digest('hex');
    const dir = join(remote, 'files', 'md5', md5.slice(0, 2));
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, md5.slice(2)), data);
    entries.push({
      md5,
      relpath: `${big ? 'big' : `part-${String(i % 20).padStart(2, '0')}`}/file-${String(i).padStart(5, '0')}.bin`,
    });
    bytes += size;
  }
  entries.sort((a, b) => (a.relpath < b.relpath ? -1 : 1));
  // As DVC writes it: json.dumps(sort_keys=True) of the sorted list.
  const manifest = `[${entries.map((e) => `{"md5": "${e.md5}", "relpath": "${e.relpath}"}`).join(', ')}]`;
  const dirMd5 = createHash('md5').update(manifest).digest('hex');
  mkdirSync(join(remote, 'files', 'md5', dirMd5.slice(0, 2)), { recursive: true });
  writeFileSync(join(remote, 'files', 'md5', dirMd5.slice(0, 2), `${dirMd5.slice(2)}.dir`), manifest);
  mkdirSync(join(template, '.dvc'), { recursive: true });
  writeFileSync(
    join(template, '.dvc', 'config'),
    `[core]\n    remote = store\n['remote "store"']\n    url = ../../remote\n`,
  );
  writeFileSync(
    join(template, 'data.dvc'),
    `outs:\n- md5: ${dirMd5}.dir\n  size: ${bytes}\n  nfiles: ${FILES}\n  hash: md5\n  path: data\n`,
  );
  return {
    objects: [
      ...entries.map((e) => `files/md5/${e.md5.slice(0, 2)}/${e.md5.slice(2)}`),
      `files/md5/${dirMd5.slice(0, 2)}/${dirMd5.slice(2)}.dir`,
    ],
    bytes,
  };
}

function seconds(started: bigint): number {
  return Number(process.hrtime.bigint() - started) / 1e9;
}

function freshRepo(name: string): string {
  const dir = join(root, name);
  rmSync(dir, { recursive: true, force: true });
  execFileSync('cp', ['-r', template, dir]);
  return dir;
}

function runAction(workspace: string, cache: boolean, extraConfig = ''): { s: number; outputs: string } {
  if (extraConfig) writeFileSync(join(workspace, '.dvc', 'config.local'), extraConfig);
  const output = join(root, `output-${Date.now()}`);
  writeFileSync(output, '');
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, [bundle], {
    env: {
      PATH: process.env.PATH,
      GITHUB_WORKSPACE: workspace,
      GITHUB_OUTPUT: output,
      RUNNER_TEMP: root,
      // No actions/cache service here: cache true only decides whether .dvc/cache is filled.
      INPUT_CACHE: String(cache),
      'INPUT_WORKING-DIRECTORY': '.',
      INPUT_JOBS: String(JOBS),
    },
    encoding: 'utf8',
  });
  const s = seconds(started);
  if (result.status !== 0) throw new Error(`dvc-pull failed: ${result.stdout}${result.stderr}`);
  return { s, outputs: result.stdout };
}

function dropWorkspaceData(workspace: string): void {
  rmSync(join(workspace, 'data'), { recursive: true, force: true });
}

async function httpFloor(url: string, objects: string[], dest: string): Promise<number> {
  mkdirSync(dest, { recursive: true });
  const started = process.hrtime.bigint();
  let n = 0;
  await mapPool(objects, JOBS, async (object) => {
    const file = join(dest, String(n++));
    // nginx closes a keep-alive connection after keepalive_requests: retried, as dvc-pull's client does.
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await fetch(`${url}/${object}`);
        if (!response.ok || !response.body) throw new Error(`GET ${object}: ${response.status}`);
        await pipeline(Readable.fromWeb(response.body as never), createWriteStream(file));
        return;
      } catch (error) {
        if (attempt >= 3) throw error;
      }
    }
  });
  return seconds(started);
}

/** The bound scripts run in a fresh `node`, as the action does: its start-up is part of both. */
const BOUND_SCRIPT = `
import { createHash } from 'node:crypto';
import { closeSync, openSync, readdirSync, readSync } from 'node:fs';
import { copyFile, mkdir, rename } from 'node:fs/promises';
import { join } from 'node:path';
const [mode, src, dest, jobs] = process.argv.slice(1);
const objects = readdirSync(src, { recursive: true }).filter((p) => /^[0-9a-f]{2}\\/[0-9a-f]{30}$/.test(p));
const buffer = Buffer.allocUnsafe(1 << 20);
const md5 = (path) => {
  const fd = openSync(path, 'r');
  const hash = createHash('md5');
  for (let n = readSync(fd, buffer); n > 0; n = readSync(fd, buffer)) hash.update(buffer.subarray(0, n));
  closeSync(fd);
  return hash.digest('hex');
};
let next = 0;
await Promise.all(Array.from({ length: Number(jobs) }, async () => {
  while (next < objects.length) {
    const object = objects[next++];
    if (mode === 'hash') { md5(join(src, object)); continue; }
    await mkdir(join(dest, object.slice(0, 2)), { recursive: true });
    await copyFile(join(src, object), join(dest, object + '.tmp'));
    if (md5(join(dest, object + '.tmp')) !== object.replace('/', '')) throw new Error('bad ' + object);
    await rename(join(dest, object + '.tmp'), join(dest, object));
    if (mode !== 'copy+copy') continue;
    await copyFile(join(dest, object), join(dest, object + '.ws.tmp'));
    await rename(join(dest, object + '.ws.tmp'), join(dest, object + '.ws'));
  }
}));
`;

function bound(mode: 'hash' | 'copy' | 'copy+copy'): number {
  const dest = join(root, 'bound');
  const started = process.hrtime.bigint();
  execFileSync(process.execPath, [
    '--input-type=module',
    '-e',
    BOUND_SCRIPT,
    mode,
    join(remote, 'files', 'md5'),
    dest,
    String(JOBS),
  ]);
  const s = seconds(started);
  rmSync(dest, { recursive: true, force: true });
  return s;
}

const fmt = (s: number) => `${s.toFixed(2)} s`;
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`;

console.log(`Generating ${FILES} files (${BIG} big) at scale ${SCALE} in ${root} …`);
const { objects, bytes } = generate();
console.log(`Dataset: ${objects.length - 1} objects, ${(bytes / 1e6).toFixed(1)} MB; jobs ${JOBS}`);

const runs: Record<string, number[]> = {};
const record = (name: string, s: number) => {
  runs[name] ??= [];
  runs[name].push(s);
};
const served = await serveRemote(remote);
try {
  // Rounds interleave floors and dvc-pull so that load from other work on a shared machine hits both alike.
  for (let round = 0; round < ROUNDS; round++) {
    const cpDest = join(root, 'cp-floor');
    const started = process.hrtime.bigint();
    execFileSync('cp', ['-r', join(remote, 'files'), cpDest]);
    record('cp', seconds(started));
    rmSync(cpDest, { recursive: true, force: true });
    record('boundHash', bound('hash'));
    record('boundCopy', bound('copy'));
    record('boundCopyTwice', bound('copy+copy'));

    const direct = freshRepo('direct');
    record('localColdNoCache', runAction(direct, false).s);
    const local = freshRepo('local');
    record('localCold', runAction(local, true).s);
    dropWorkspaceData(local);
    record('localWarmCache', runAction(local, true).s);
    record('localNoop', runAction(local, true).s);

    record('httpFloor', await httpFloor(served.url, objects, join(root, 'http-floor')));
    rmSync(join(root, 'http-floor'), { recursive: true, force: true });
    const web = freshRepo('web');
    record(
      'httpCold',
      runAction(web, false, `[core]\n    remote = web\n['remote "web"']\n    url = ${served.url}\n`).s,
    );
    record('httpNoop', runAction(web, false).s);
    console.log(`round ${round + 1}/${ROUNDS} done`);
  }
} finally {
  await served.nginx.stop();
}
rmSync(root, { recursive: true, force: true });

const median = (name: string) => {
  const sorted = [...runs[name]!].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
};
const cpFloor = median('cp');
const localCold = median('localCold');
const localColdNoCache = median('localColdNoCache');
const localWarmCache = median('localWarmCache');
const localNoop = median('localNoop');
const httpFloorS = median('httpFloor');
const httpCold = median('httpCold');
const httpNoop = median('httpNoop');
const boundHash = median('boundHash');
const boundCopy = median('boundCopy');
const boundCopyTwice = median('boundCopyTwice');

console.log('');
console.log(`Medians of ${ROUNDS} interleaved rounds:`);
console.log('| run | time | vs floor |');
console.log('| --- | ---: | ---: |');
console.log(`| floor: cp -r of the remote objects | ${fmt(cpFloor)} | 1.00× |`);
console.log(
  `| bound: node, md5 of every object, nothing written | ${fmt(boundHash)} | ${ratio(boundHash, cpFloor)} |`,
);
console.log(
  `| bound: node, kernel copy + md5 of the copy + rename per object | ${fmt(boundCopy)} | ${ratio(boundCopy, cpFloor)} |`,
);
console.log(
  `| bound: the same, then a second kernel copy + rename (cache and workspace) | ${fmt(boundCopyTwice)} | ${ratio(boundCopyTwice, cpFloor)} |`,
);
console.log(
  `| dvc-pull cold, local remote, .dvc/cache filled (cache: true) | ${fmt(localCold)} | ${ratio(localCold, cpFloor)} |`,
);
console.log(
  `| dvc-pull cold, local remote, no .dvc/cache (cache: false) | ${fmt(localColdNoCache)} | ${ratio(localColdNoCache, cpFloor)} |`,
);
console.log(
  `| dvc-pull, warm .dvc/cache (workspace empty) | ${fmt(localWarmCache)} | ${ratio(localWarmCache, cpFloor)} |`,
);
console.log(
  `| dvc-pull, everything already in the workspace | ${fmt(localNoop)} | ${ratio(localNoop, cpFloor)} |`,
);
console.log(`| floor: parallel plain HTTP GET (${JOBS} at a time) from nginx | ${fmt(httpFloorS)} | 1.00× |`);
console.log(`| dvc-pull cold, nginx | ${fmt(httpCold)} | ${ratio(httpCold, httpFloorS)} |`);
console.log(
  `| dvc-pull, nginx, everything already in the workspace | ${fmt(httpNoop)} | ${ratio(httpNoop, httpFloorS)} |`,
);
console.log('');
console.log(
  `Goals: cold with the cache filled ≤ 2× cp -r (${ratio(localCold, cpFloor)}); cold without a cache ≤ 1.3× cp -r (${ratio(localColdNoCache, cpFloor)}); nginx ≤ 1.3× the parallel GET (${ratio(httpCold, httpFloorS)}); no-op under 1 s (${fmt(localNoop)}, ${fmt(httpNoop)}).`,
);
