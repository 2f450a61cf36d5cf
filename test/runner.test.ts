import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

/**
 * `npm test` (scripts/test.ts) run on small test files in a throwaway project that uses this
 * repository's vitest.config.ts: what it counts, what it refuses, and its closing line.
 */
const ROOT = join(import.meta.dirname, '..');
const scratch = mkdtempSync(join(tmpdir(), 'runner-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let projects = 0;
function project(files: Record<string, string>): string {
  const dir = join(scratch, `p${projects++}`);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(join(dir, 'test'), { recursive: true });
    writeFileSync(join(dir, 'test', name), text);
  }
  return dir;
}

/** Runs `npm test` without blocking this worker (vitest's own messages must keep flowing meanwhile). */
async function npmTest(dir: string, ...args: string[]) {
  // The runner under test must not see the variables of the vitest that runs this file.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith('VITEST') && k !== 'TEST_TALLY_FILE'),
  );
  const child = spawn(
    join(ROOT, 'node_modules/.bin/tsx'),
    [join(ROOT, 'scripts/test.ts'), '--config', join(ROOT, 'vitest.config.ts'), '--root', dir, ...args],
    { cwd: ROOT, env: { ...env, CI: '' } },
  );
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d;
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d;
  });
  const status = await new Promise<number | null>((resolve) => child.on('close', resolve));
  const output = stdout + stderr;
  const last = /tests: (\d+) passed, (\d+) failed, (\d+) skipped\n?$/.exec(stdout);
  if (!last) throw new Error(`no closing line in:\n${output}`);
  return { status, output, passed: Number(last[1]), failed: Number(last[2]), skipped: Number(last[3]) };
}

const HEADER = "import { afterAll, beforeAll, describe, expect, it } from 'vitest';\n";

describe('npm test runner (scripts/test.ts) on throwaway test files', { timeout: 240_000 }, () => {
  it('passes a healthy run and ends with the plain line CI reads; it.skip and ctx.skip() are skips', async () => {
    const r = await npmTest(
      project({
        'ok.test.ts': `${HEADER}it('one', () => expect(1).toBe(1));\nit.skip('later', () => {});\nit('skips itself', (ctx) => ctx.skip());\n`,
      }),
    );
    expect([r.passed, r.failed, r.skipped, r.status]).toEqual([1, 0, 2, 0]);
  });

  it('counts a failing beforeAll as failures: the tests it kept from running fail, not skip', async () => {
    const r = await npmTest(
      project({
        'hook.test.ts': `${HEADER}it('runs', () => expect(1).toBe(1));
describe('needs a server', () => {
  beforeAll(() => { throw new Error('server did not start'); });
  it('a', () => {});
  it('b', () => {});
  it('c', () => {});
});
`,
      }),
    );
    expect([r.passed, r.failed, r.skipped, r.status]).toEqual([1, 3, 0, 1]);
  });

  it('counts a failing afterAll as a failure even though every test passed', async () => {
    const r = await npmTest(
      project({
        'after.test.ts': `${HEADER}afterAll(() => { throw new Error('could not stop the server'); });\nit('passes', () => expect(1).toBe(1));\n`,
      }),
    );
    expect([r.passed, r.failed, r.status]).toEqual([1, 1, 1]);
    expect(r.output).toContain('failed: test/after.test.ts: could not stop the server');
  });

  it('refuses a stray .only even without CI set, so the test it hides cannot pass unseen', async () => {
    const r = await npmTest(
      project({
        'only.test.ts': `${HEADER}it.only('focused', () => expect(1).toBe(1));\nit('hidden and failing', () => expect(1).toBe(2));\n`,
      }),
    );
    expect(r.status).toBe(1);
    expect(r.failed).toBeGreaterThanOrEqual(1);
    expect(r.output).toContain('Unexpected .only modifier');
  });

  it('fails a file that registers no tests, next to a passing one', async () => {
    const r = await npmTest(
      project({
        'ok.test.ts': `${HEADER}it('one', () => expect(1).toBe(1));\n`,
        'empty.test.ts': `${HEADER}describe('examples', () => {\n  for (const example of [] as string[]) it(example, () => {});\n});\n`,
        'nothing.test.ts': 'export const nothing = 1;\n',
      }),
    );
    expect([r.passed, r.failed, r.status]).toEqual([1, 2, 1]);
    expect(r.output).toContain('failed: test/nothing.test.ts: No test suite found');
    expect(r.output).toContain('failed: test/empty.test.ts: No test found in suite');
  });

  it('counts a file that fails to import once', async () => {
    const r = await npmTest(
      project({ 'broken.test.ts': `${HEADER}import './missing-module';\nit('x', () => {});\n` }),
    );
    expect([r.passed, r.failed, r.status]).toEqual([0, 1, 1]);
  });

  it('never writes a snapshot unless -u is given: a missing one fails, then -u writes it and it passes', async () => {
    const dir = project({
      'snap.test.ts': `${HEADER}it('inline store', () => expect({ sql: 'SELECT 1' }).toMatchSnapshot());
it('file', async () => { await expect('SELECT 1;\\n').toMatchFileSnapshot('./__snapshots__/query.sql'); });
`,
    });
    const first = await npmTest(dir);
    expect([first.passed, first.failed, first.status]).toEqual([0, 2, 1]);
    expect(existsSync(join(dir, 'test/__snapshots__/snap.test.ts.snap'))).toBe(false);
    expect(existsSync(join(dir, 'test/__snapshots__/query.sql'))).toBe(false);
    const update = await npmTest(dir, '-u');
    expect([update.passed, update.failed, update.status]).toEqual([2, 0, 0]);
    expect(existsSync(join(dir, 'test/__snapshots__/query.sql'))).toBe(true);
    const again = await npmTest(dir);
    expect([again.passed, again.failed, again.status]).toEqual([2, 0, 0]);
  });
});
