import { execFileSync } from 'node:child_process';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bindingPackage, DUCKDB_BINDINGS, extractNpmTarball } from '@mlops-actions/experiment';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type NpmRegistryDouble,
  type PublishedTarball,
  startNpmRegistryDouble,
} from '../doubles/npm-registry';
import { repoRoot, runStep } from '../harness/index';
import { freePort } from '../servers/process';
import { writeCsv } from './data';

const NAME = '@duckdb/node-bindings-linux-x64';
const installed = join(repoRoot, 'node_modules', '@duckdb', 'node-bindings-linux-x64');

const EXPERIMENT = `
unit: user_id
variant: variant
control: a
treatment: b
split: { a: 50, b: 50 }
metrics:
  - name: value
    kind: mean
    column: value
    role: primary
`;

/** 300 users per arm with values whose per-arm means the test computes itself. */
function data(dir: string): { a: number; b: number } {
  const rows: Array<Record<string, unknown>> = [];
  const sums = { a: 0, b: 0 };
  for (let i = 0; i < 600; i++) {
    const variant = i % 2 === 0 ? 'a' : 'b';
    const value = (i % 7) + (variant === 'b' ? 1.5 : 0) + (i % 3) / 4;
    sums[variant] += value;
    rows.push({ user_id: `u${i}`, variant, value });
  }
  writeCsv(join(dir, 'data.csv'), rows);
  return { a: sums.a / 300, b: sums.b / 300 };
}

/** The action as a runner checks it out: action.yml beside the bundle, with no node_modules anywhere above. */
function installAction(): string {
  const dir = mkdtempSync(join(tmpdir(), 'ab-action-'));
  const dist = join(repoRoot, 'dist', 'ab-evaluate');
  for (const file of readdirSync(dist)) copyFileSync(join(dist, file), join(dir, file));
  const yml = readFileSync(join(repoRoot, 'actions', 'ab-evaluate', 'action.yml'), 'utf8');
  writeFileSync(join(dir, 'action.yml'), yml.replace(/main: .*/, 'main: index.js'));
  return dir;
}

interface Value {
  results: Array<{ name: string; control: { mean: number }; treatment: { mean: number } }>;
}

describe('DuckDB binding fetched from an npm registry double into the tool cache (bundled action)', () => {
  let registry: NpmRegistryDouble;
  let published: PublishedTarball;
  let action: string;
  let workspace: string;
  let means: { a: number; b: number };
  const scratch = mkdtempSync(join(tmpdir(), 'ab-binding-'));

  beforeAll(async () => {
    if (!existsSync(join(repoRoot, 'dist', 'ab-evaluate', 'index.js')))
      throw new Error('run npm run build -- ab-evaluate first');
    // The real package, packed by npm from the installed copy: the binding loaded below really works,
    // and its integrity is npm's own, not ours.
    const [packed] = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', scratch, installed], {
        encoding: 'utf8',
        cwd: scratch,
      }),
    ) as Array<{ name: string; version: string; filename: string; integrity: string }>;
    published = {
      name: packed!.name,
      version: packed!.version,
      integrity: packed!.integrity,
      tgz: readFileSync(join(scratch, packed!.filename)),
    };
    registry = await startNpmRegistryDouble([published]);
    action = installAction();
    workspace = mkdtempSync(join(scratch, 'ws-'));
    means = data(workspace);
  }, 240_000);

  afterAll(async () => {
    await registry?.stop();
    if (action) rmSync(action, { recursive: true, force: true });
    rmSync(scratch, { recursive: true, force: true });
  });

  const run = (toolCache: string, env: Record<string, string> = {}) =>
    runStep({
      action,
      workspace,
      inputs: { experiment: EXPERIMENT, data: 'data.csv', comment: 'false', 'npm-registry': registry.url },
      env: { RUNNER_TOOL_CACHE: toolCache, ...env },
      timeoutMs: 180_000,
    });

  const cacheDir = (root: string) => join(root, 'duckdb-node-bindings-linux-x64', published.version);

  it('downloads, verifies and caches the binding the bundle was built against, then a second run downloads nothing', async () => {
    expect(published.version).toBe(DUCKDB_BINDINGS[NAME]);
    const toolCache = join(scratch, 'cache-first');
    registry.requests.length = 0;
    const first = await run(toolCache);
    expect(first.error).toBeUndefined();
    expect(first.exitCode).toBe(0);
    expect(registry.requests).toEqual([
      'GET /@duckdb%2Fnode-bindings-linux-x64',
      `GET /@duckdb/node-bindings-linux-x64/-/node-bindings-linux-x64-${published.version}.tgz`,
    ]);
    expect(first.stdout).toContain(`Downloading ${NAME}@${published.version}`);
    const size = `${(published.tgz.length / 1e6).toFixed(1)} MB`;
    expect(first.stdout).toContain(`${NAME}@${published.version}: 1/1 tarball, ${size}/${size}`);
    const value = (first.json as Value).results.find((m) => m.name === 'value')!;
    expect(value.control.mean).toBeCloseTo(means.a, 10);
    expect(value.treatment.mean).toBeCloseTo(means.b, 10);
    // @actions/tool-cache's layout: <tool>/<version>/<arch> plus the <arch>.complete marker.
    expect(readdirSync(cacheDir(toolCache)).sort()).toEqual(['x64', 'x64.complete']);
    // Buffer.equals: a deep toEqual walks 70 MB element by element for minutes.
    const library = readFileSync(join(cacheDir(toolCache), 'x64', 'libduckdb.so'));
    expect(library.equals(readFileSync(join(installed, 'libduckdb.so')))).toBe(true);

    registry.requests.length = 0;
    const second = await run(toolCache);
    expect(second.exitCode).toBe(0);
    expect(registry.requests).toEqual([]);
    expect(second.stdout).toContain(`from the tool-cache: ${join(cacheDir(toolCache), 'x64')}`);
    expect((second.json as Value).results[0]!.control.mean).toBeCloseTo(means.a, 10);
  }, 400_000);

  it('refuses a tarball that does not match the registry integrity and leaves nothing in the tool cache', async () => {
    const toolCache = join(scratch, 'cache-tampered');
    const bytes = Buffer.from(published.tgz);
    bytes[bytes.length >> 1]! ^= 0xff;
    registry.tamper(bytes);
    try {
      const step = await run(toolCache);
      expect(step.exitCode).toBe(1);
      expect(step.error).toMatch(
        /^@duckdb\/node-bindings-linux-x64@.* integrity mismatch: the registry says sha512-/,
      );
      expect(step.error).not.toContain('\n');
      const tool = join(toolCache, 'duckdb-node-bindings-linux-x64', published.version);
      expect(existsSync(tool) ? readdirSync(tool) : []).toEqual([]);
    } finally {
      registry.tamper(undefined);
    }
  }, 200_000);

  it('retries a registry answering 503 and then succeeds', async () => {
    const toolCache = join(scratch, 'cache-retry');
    registry.requests.length = 0;
    registry.failNext(2);
    const step = await run(toolCache);
    expect(step.exitCode).toBe(0);
    expect(registry.requests.filter((r) => r === 'GET /@duckdb%2Fnode-bindings-linux-x64')).toHaveLength(3);
    expect(step.stdout).toMatch(/answered 503; retry 1\/4/);
    expect(step.stdout).toMatch(/answered 503; retry 2\/4/);
    expect(existsSync(join(cacheDir(toolCache), 'x64.complete'))).toBe(true);
  }, 200_000);

  it('works offline from the checkout node_modules when the tool cache is empty (the repo bundle)', async () => {
    const toolCache = join(scratch, 'cache-offline');
    const closed = `http://127.0.0.1:${await freePort()}/`;
    const step = await runStep({
      action: 'ab-evaluate',
      workspace,
      inputs: { experiment: EXPERIMENT, data: 'data.csv', comment: 'false', 'npm-registry': closed },
      env: { RUNNER_TOOL_CACHE: toolCache },
      timeoutMs: 180_000,
    });
    expect(step.error).toBeUndefined();
    expect(step.stdout).toContain(`from the node_modules: ${installed}`);
    expect((step.json as Value).results[0]!.treatment.mean).toBeCloseTo(means.b, 10);
    expect(existsSync(toolCache)).toBe(false);
  }, 200_000);
});

describe('DuckDB binding platforms', () => {
  it('names every platform @duckdb/node-bindings publishes, GitHub-hosted runners included', () => {
    for (const p of ['linux-x64', 'linux-arm64', 'darwin-arm64', 'darwin-x64', 'win32-x64', 'win32-arm64']) {
      const [platform, arch] = p.split('-') as [string, string];
      expect(bindingPackage({ platform, arch }).name).toBe(`@duckdb/node-bindings-${p}`);
    }
    expect(bindingPackage({ platform: 'linux', arch: 'arm64', musl: true }).name).toBe(
      '@duckdb/node-bindings-linux-arm64-musl',
    );
  });

  it('refuses an unsupported platform in one line naming it and what is supported', () => {
    expect(() => bindingPackage({ platform: 'freebsd', arch: 'x64' })).toThrow(
      /^DuckDB has no native binding for freebsd-x64: supported platforms are darwin-arm64, darwin-x64, linux-arm64, linux-arm64-musl, linux-x64, linux-x64-musl, win32-arm64, win32-x64; /,
    );
    expect(() => bindingPackage({ platform: 'linux', arch: 'ppc64' })).toThrow(/linux-ppc64/);
  });

  it('refuses tar entries that leave the package folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'tar-'));
    try {
      const tgz = join(dir, 'evil.tgz');
      execFileSync('/usr/bin/python3', [
        '-c',
        `import tarfile, io
with tarfile.open(${JSON.stringify(tgz)}, 'w:gz', format=tarfile.PAX_FORMAT) as t:
    data = b'x'
    info = tarfile.TarInfo('package/../../escaped'); info.size = len(data); t.addfile(info, io.BytesIO(data))`,
      ]);
      expect(() => extractNpmTarball(readFileSync(tgz), join(dir, 'out'))).toThrow(
        /points outside the package/,
      );
      expect(existsSync(join(dir, 'escaped'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
