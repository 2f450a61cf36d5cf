import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type RayJobsDouble, startRayJobsDouble } from '../../../test/doubles/ray-jobs';
import { freePort } from '../../../test/servers/process';
import type { JobOutcome, TrainingJobSpec } from '../src/backend';
import { LogCursor, RayBackend, type RayOptions } from '../src/ray';
import { rayPackage, zipPackage } from '../src/ray-package';

/**
 * Ray's `get_uri_for_directory` re-done in Python from its description, with the `pathspec` library Ray
 * vendors (Debian's python3-pathspec): the walk skips what the excludes (relative to the root) or any
 * `.gitignore` on the way match, and XORs SHA-1(relative path [+ content]) into `b"0" * 8`. The
 * independent reference for the package URI.
 */
const RAY_URI = `
import hashlib, json, sys
from pathlib import Path
import pathspec
root = Path(sys.argv[1]).absolute()
def matcher(base, lines):
    spec = pathspec.PathSpec.from_lines("gitwildmatch", lines)
    return lambda p: spec.match_file(str(p.absolute().relative_to(base)))
value = b"0" * 8
def travel(path, excludes):
    global value
    ignore = path / ".gitignore"
    if ignore.is_file():
        excludes = excludes + [matcher(path, ignore.read_text().splitlines())]
    if any(match(path) for match in excludes):
        return
    sha1 = hashlib.sha1(str(path.relative_to(root)).encode())
    if not path.is_dir():
        sha1.update(path.read_bytes())
    value = bytes(a ^ b for a, b in zip(value, sha1.digest()))
    if path.is_dir():
        for child in path.iterdir():
            travel(child, excludes)
travel(root, [matcher(root, json.loads(sys.argv[2]))])
print("gcs://_ray_pkg_" + value.hex() + ".zip")
`;

function referenceUri(dir: string, excludes = ['.git', '.venv', 'venv', '__pycache__']): string {
  const result = spawnSync('/usr/bin/python3', ['-c', RAY_URI, dir, JSON.stringify(excludes)], {
    encoding: 'utf8',
  });
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim();
}

function zipNames(zip: Buffer, dir: string): string[] {
  const file = join(dir, 'pkg.zip');
  writeFileSync(file, zip);
  const result = spawnSync(
    '/usr/bin/python3',
    [
      '-c',
      'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1]); assert z.testzip() is None; print("\\n".join(sorted(z.namelist())))',
      file,
    ],
    { encoding: 'utf8' },
  );
  rmSync(file);
  if (result.status !== 0) throw new Error(result.stderr);
  return result.stdout.trim().split('\n');
}

const roots: string[] = [];
function project(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ray-wd-'));
  roots.push(dir);
  writeFileSync(join(dir, 'train.py'), 'print("training")\n');
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'model.py'), 'WEIGHTS = [1, 2, 3]\n');
  mkdirSync(join(dir, 'empty'));
  mkdirSync(join(dir, '.git', 'objects'), { recursive: true });
  writeFileSync(join(dir, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  return dir;
}

function spec(dir: string, overrides: Partial<TrainingJobSpec> = {}): TrainingJobSpec {
  return {
    name: `mlops-run-${Math.random().toString(16).slice(2, 10)}`,
    command: ['python', 'train.py', '--lr', "0.1 it's"],
    env: { MLFLOW_TRACKING_URI: 'http://mlflow:5000', MLFLOW_RUN_ID: 'abc123', MLFLOW_EXPERIMENT_ID: '7' },
    workingDirectory: dir,
    labels: { 'mlops.run-id': 'abc123', 'mlops.repository': 'acme/churn', 'mlops.commit': 'f00d' },
    timeoutMs: 0,
    ...overrides,
  };
}

afterAll(() => {
  for (const dir of roots) rmSync(dir, { recursive: true, force: true });
});

describe('Ray working_dir package', () => {
  it('has the URI Ray computes for the directory, the same each time, and leaves .git out', () => {
    const dir = project();
    const first = rayPackage(dir);
    expect(first.uri).toBe(referenceUri(dir));
    expect(first.uri).toMatch(/^gcs:\/\/_ray_pkg_[0-9a-f]{16}\.zip$/);
    expect(rayPackage(dir).uri).toBe(first.uri);
    expect(zipPackage(rayPackage(dir)).equals(zipPackage(first))).toBe(true);

    writeFileSync(join(dir, '.git', 'ORIG_HEAD'), 'deadbeef\n');
    expect(rayPackage(dir).uri).toBe(first.uri);
    expect(zipNames(zipPackage(first), mkdtempSync(join(tmpdir(), 'ray-zip-')))).toEqual([
      'empty/',
      'src/model.py',
      'train.py',
    ]);
  });

  it('gets another URI when a file changes, and honours excludes and .gitignore', () => {
    const dir = project();
    const before = rayPackage(dir).uri;
    writeFileSync(join(dir, 'src', 'model.py'), 'WEIGHTS = [1, 2, 4]\n');
    const after = rayPackage(dir).uri;
    expect(after).not.toBe(before);
    expect(after).toBe(referenceUri(dir));

    writeFileSync(join(dir, 'big.bin'), Buffer.alloc(1024, 7));
    writeFileSync(join(dir, 'train.log'), 'noise\n');
    mkdirSync(join(dir, 'data', 'raw'), { recursive: true });
    writeFileSync(join(dir, 'data', 'train.csv'), 'a,b\n1,2\n');
    writeFileSync(join(dir, 'data', 'raw', 'dump.csv'), 'x\n');
    mkdirSync(join(dir, 'src', 'build'));
    writeFileSync(join(dir, 'src', 'build', 'out.o'), 'obj');
    mkdirSync(join(dir, 'build'));
    writeFileSync(join(dir, 'build', 'out.o'), 'obj');
    writeFileSync(join(dir, 'src', '.gitignore'), '*.tmp\n!keep.tmp\n');
    writeFileSync(join(dir, 'src', 'scratch.tmp'), 'tmp');
    writeFileSync(join(dir, 'src', 'keep.tmp'), 'kept');
    const excludes = ['.git', 'big.bin', '*.log', '/build', 'data/raw/'];
    const pkg = rayPackage(dir, excludes);
    expect(pkg.uri).toBe(referenceUri(dir, excludes));
    const names = zipNames(zipPackage(pkg), mkdtempSync(join(tmpdir(), 'ray-zip-')));
    expect(names).toEqual([
      'data/train.csv',
      'empty/',
      'src/.gitignore',
      'src/build/out.o',
      'src/keep.tmp',
      'src/model.py',
      'train.py',
    ]);
    const all = zipNames(
      zipPackage(rayPackage(dir, excludes, false)),
      mkdtempSync(join(tmpdir(), 'ray-zip-')),
    );
    expect(all).toContain('src/scratch.tmp');
    expect(rayPackage(dir, excludes, false).uri).not.toBe(pkg.uri);
  });
});

describe('RayBackend against a double of the Ray Jobs REST API', () => {
  let ray: RayJobsDouble;
  const fast: Partial<RayOptions> = {
    pollIntervalMs: 20,
    http: { minDelayMs: 5, maxDelayMs: 20, retries: 4 },
  };

  beforeAll(async () => {
    ray = await startRayJobsDouble();
  });
  afterAll(async () => {
    await ray.stop();
  });
  afterEach(() => {
    ray.faults.length = 0;
    ray.onSubmit = undefined;
  });

  const logPolls = (id: string) =>
    ray.requests.filter((r) => r.method === 'GET' && r.path === `/api/jobs/${id}/logs`).length;
  async function polls(id: string, n: number) {
    const target = logPolls(id) + n;
    while (logPolls(id) < target) await new Promise((r) => setTimeout(r, 5));
  }

  function follow(
    backend: RayBackend,
    job: Awaited<ReturnType<RayBackend['submit']>>,
    s: TrainingJobSpec,
    signal?: AbortSignal,
  ) {
    const lines: string[] = [];
    const phases: string[] = [];
    const outcome = backend.follow(job, s, {
      onLine: (l) => lines.push(l),
      onPhase: (p) => phases.push(p),
      signal,
    });
    return { lines, phases, outcome };
  }

  it('uploads the package once, submits the job as Ray takes it and streams each log line once', async () => {
    const dir = project();
    const backend = new RayBackend({
      address: ray.url,
      entrypointNumGpus: 1,
      entrypointResources: { 'accelerator_type:A100': 1 },
      runtimeEnv: { pip: ['scikit-learn==1.5.2'], env_vars: { OMP_NUM_THREADS: '4' } },
      ...fast,
    });
    const s = spec(dir);
    const job = await backend.submit(s);
    expect(job.id).toBe(s.name);
    const uri = referenceUri(dir);
    expect(ray.packages.has(uri)).toBe(true);
    const submitted = ray.requests.find((r) => r.method === 'POST' && r.path === '/api/jobs/')!.body;
    expect(submitted).toEqual({
      entrypoint: `python train.py --lr '0.1 it'\\''s'`,
      submission_id: s.name,
      runtime_env: {
        pip: ['scikit-learn==1.5.2'],
        working_dir: uri,
        env_vars: { OMP_NUM_THREADS: '4', ...s.env },
      },
      metadata: s.labels,
      entrypoint_num_gpus: 1,
      entrypoint_resources: { 'accelerator_type:A100': 1 },
    });

    const { lines, phases, outcome } = follow(backend, job, s);
    await polls(job.id, 1);
    ray.setStatus(job.id, 'RUNNING');
    ray.appendLog(job.id, 'epoch 1 loss=0.9\nepoch 2 loss=0.5\nepo');
    await polls(job.id, 2);
    ray.appendLog(job.id, 'ch 3 loss=0.2\n');
    await polls(job.id, 2);
    ray.appendLog(job.id, 'saved model');
    ray.exit(job.id, 0);
    expect(await outcome).toEqual({
      status: 'succeeded',
      exitCode: 0,
      tail: ['epoch 1 loss=0.9', 'epoch 2 loss=0.5', 'epoch 3 loss=0.2', 'saved model'],
    });
    expect(lines).toEqual(['epoch 1 loss=0.9', 'epoch 2 loss=0.5', 'epoch 3 loss=0.2', 'saved model']);
    expect(phases).toEqual(['PENDING', 'RUNNING', 'SUCCEEDED']);

    const puts = () => ray.requests.filter((r) => r.method === 'PUT').length;
    const before = puts();
    await backend.submit(spec(dir));
    expect(puts()).toBe(before);
  });

  it('reports a FAILED job with the exit code, the reason in Ray words on one line and the log tail', async () => {
    const backend = new RayBackend({ address: ray.url, tailLines: 2, ...fast });
    const s = spec(project());
    ray.onSubmit = (job) =>
      setTimeout(() => {
        ray.setStatus(job.submission_id, 'RUNNING');
        ray.appendLog(
          job.submission_id,
          'loading data\nTraceback (most recent call last):\nValueError: NaN in features\n',
        );
        ray.exit(job.submission_id, 1);
      }, 30);
    const job = await backend.submit(s);
    const { lines, outcome } = follow(backend, job, s);
    const result: JobOutcome = await outcome;
    expect(result).toEqual({
      status: 'failed',
      reason: 'JOB_ENTRYPOINT_COMMAND_ERROR: Job entrypoint command failed with exit code 1',
      exitCode: 1,
      tail: ['Traceback (most recent call last):', 'ValueError: NaN in features'],
    });
    expect(lines).toEqual([
      'loading data',
      'Traceback (most recent call last):',
      'ValueError: NaN in features',
    ]);
  });

  it('stops the job when the signal aborts (STOPPED on Ray, cancelled here) and cancel stays idempotent', async () => {
    const backend = new RayBackend({ address: ray.url, ...fast });
    const s = spec(project());
    const job = await backend.submit(s);
    ray.setStatus(job.id, 'RUNNING');
    const controller = new AbortController();
    const { phases, outcome } = follow(backend, job, s, controller.signal);
    await polls(job.id, 1);
    controller.abort();
    const result = await outcome;
    expect(result.status).toBe('cancelled');
    expect(ray.jobs.get(job.id)!.status).toBe('STOPPED');
    expect(phases.at(-1)).toBe('STOPPED');
    expect(ray.requests.filter((r) => r.path === `/api/jobs/${job.id}/stop`)).toHaveLength(1);
    await backend.cancel(job);
    await backend.cancel({ ...job, id: 'never-submitted' });
    expect(ray.jobs.get(job.id)!.status).toBe('STOPPED');
  });

  it('stops a job that runs past the timeout and says so', async () => {
    const backend = new RayBackend({ address: ray.url, ...fast });
    const s = spec(project(), { timeoutMs: 150 });
    const job = await backend.submit(s);
    ray.setStatus(job.id, 'RUNNING');
    const result = await follow(backend, job, s).outcome;
    expect(result.status).toBe('timed-out');
    expect(result.reason).toMatch(/timeout.*STOPPED/);
    expect(ray.jobs.get(job.id)!.status).toBe('STOPPED');
  });

  it('retries while the API answers 5xx or 429, then carries on', async () => {
    const backend = new RayBackend({ address: ray.url, ...fast });
    const dir = project();
    writeFileSync(join(dir, 'retry.txt'), 'a package the cluster does not hold yet\n');
    const s = spec(dir);
    ray.faults.push(
      { match: /^PUT \/api\/packages\//, status: 503, times: 2 },
      { match: /^POST \/api\/jobs\/$/, status: 429, times: 1, retryAfterSeconds: 0 },
      { match: new RegExp(`^GET /api/jobs/${s.name}$`), status: 502, times: 3 },
    );
    ray.onSubmit = (job) => setTimeout(() => ray.exit(job.submission_id, 0), 30);
    const job = await backend.submit(s);
    expect((await follow(backend, job, s).outcome).status).toBe('succeeded');
    expect(ray.faults.every((f) => f.times === 0)).toBe(true);
    expect(
      ray.requests.filter(
        (r) =>
          r.method === 'POST' &&
          r.path === '/api/jobs/' &&
          (r.body as { submission_id?: string })?.submission_id === s.name,
      ),
    ).toHaveLength(2);
  });

  it("shows Ray's traceback error body as its last line, on one line", async () => {
    const backend = new RayBackend({
      address: ray.url,
      entrypointResources: { GPU: 'two' as unknown as number },
      ...fast,
    });
    const error = await backend.submit(spec(project())).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `Ray at ${ray.url}: POST /api/jobs/ answered 400: TypeError: entrypoint_resources values must be numbers, got <class 'str'>`,
    );
  });

  it('refuses a submission id that another run holds, and accepts its own after a lost response', async () => {
    const s = spec(project());
    await new RayBackend({ address: ray.url, ...fast }).submit(s);
    const again = await new RayBackend({ address: ray.url, ...fast, http: { retries: 0 } }).submit(s);
    expect(again.id).toBe(s.name);
    const other = { ...s, labels: { ...s.labels, 'mlops.run-id': 'someone-else' } };
    await expect(
      new RayBackend({ address: ray.url, ...fast, http: { retries: 0 } }).submit(other),
    ).rejects.toThrow(`already has a job with submission id ${s.name} that another run submitted`);
  });
});

describe('RayBackend: address and credentials', () => {
  it('fails with one line naming ray-address when nothing listens there', async () => {
    const port = await freePort();
    const backend = new RayBackend({
      address: `http://127.0.0.1:${port}`,
      http: { retries: 2, minDelayMs: 5 },
    });
    const error = (await backend.submit(spec(project())).catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(
      /^Input 'ray-address': the Ray dashboard at http:\/\/127\.0\.0\.1:\d+ does not answer \(.*ECONNREFUSED.*\)/,
    );
    expect(error.message).not.toContain('\n');
  });

  it('fails, not hangs, when the address accepts connections and never answers', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const silent: Server = createServer((socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as import('node:net').AddressInfo;
    try {
      const backend = new RayBackend({
        address: `http://127.0.0.1:${port}`,
        http: { retries: 1, minDelayMs: 5, timeoutMs: 200 },
      });
      await expect(backend.submit(spec(project()))).rejects.toThrow(
        /^Input 'ray-address': .* does not answer \(.*timed out/,
      );
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }
  });

  it('sends the auth header a proxy or Ray token auth needs, and says 401 otherwise', async () => {
    const guarded = await startRayJobsDouble({ token: 'throwaway-token' });
    try {
      const dir = project();
      const denied = await new RayBackend({ address: guarded.url, http: { retries: 0 } })
        .submit(spec(dir))
        .catch((e: Error) => e);
      expect((denied as Error).message).toBe(
        `Ray at ${guarded.url}: GET /api/version answered 401: Unauthorized: Missing authentication token`,
      );
      const job = await new RayBackend({
        address: guarded.url,
        headers: { authorization: 'Bearer throwaway-token' },
      }).submit(spec(dir));
      expect(guarded.jobs.get(job.id)!.status).toBe('PENDING');
    } finally {
      await guarded.stop();
    }
  });
});

describe('RayBackend with the double running the entrypoint', () => {
  let ray: RayJobsDouble;
  beforeAll(async () => {
    ray = await startRayJobsDouble({ execute: true });
  });
  afterAll(async () => {
    await ray.stop();
  });

  it('runs the command in the unpacked working directory with the run environment', async () => {
    const dir = project();
    writeFileSync(join(dir, 'hello.txt'), 'hello from the package\n');
    const backend = new RayBackend({ address: ray.url, pollIntervalMs: 20 });
    const s = spec(dir, {
      command: ['sh', '-c', 'cat hello.txt; echo "run=$MLFLOW_RUN_ID"; test ! -e .git && echo no-git'],
    });
    const job = await backend.submit(s);
    const lines: string[] = [];
    const outcome = await backend.follow(job, s, { onLine: (l) => lines.push(l), onPhase: () => undefined });
    expect(lines).toEqual(['hello from the package', 'run=abc123', 'no-git']);
    expect(outcome).toMatchObject({ status: 'succeeded', exitCode: 0 });
  });

  it('stops a running process on abort', async () => {
    const backend = new RayBackend({ address: ray.url, pollIntervalMs: 20 });
    const s = spec(project(), { command: ['sh', '-c', 'echo started; sleep 30; echo never'] });
    const job = await backend.submit(s);
    const controller = new AbortController();
    const lines: string[] = [];
    const outcome = await backend.follow(job, s, {
      onLine: (l) => {
        lines.push(l);
        if (l === 'started') controller.abort();
      },
      onPhase: () => undefined,
      signal: controller.signal,
    });
    expect(outcome.status).toBe('cancelled');
    expect(lines).toEqual(['started']);
    expect(ray.jobs.get(job.id)!.status).toBe('STOPPED');
  });
});

describe('LogCursor', () => {
  it('gives each complete line once, keeps a partial line for later and the last ones as the tail', () => {
    const cursor = new LogCursor(2);
    expect(cursor.advance('a\r\nb')).toEqual(['a']);
    expect(cursor.advance('a\r\nb')).toEqual([]);
    expect(cursor.advance('a\r\nbc\n\nd\n')).toEqual(['bc', '', 'd']);
    expect(cursor.advance('a\r\n')).toEqual([]);
    expect(cursor.advance('a\r\nbc\n\nd\ne', true)).toEqual(['e']);
    expect(cursor.tail).toEqual(['d', 'e']);
  });
});
