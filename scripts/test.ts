import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Tally } from './test-tally';

/**
 * Runs the suite with vitest and ends with the plain `tests: N passed, N failed, N skipped` line that
 * CI reads. Extra arguments go to vitest (a file filter, `-t name`, `-u` to write snapshots). Strict
 * whatever the environment: `.only` is refused, snapshots are only written with `-u`, and a failing hook
 * or a file without tests fails the run (counted by scripts/test-tally.ts).
 */
const dir = mkdtempSync(join(tmpdir(), 'vitest-tally-'));
const tallyFile = join(dir, 'tally.json');
const run = spawnSync(
  'npx',
  [
    'vitest',
    'run',
    '--allowOnly=false',
    '--reporter=default',
    `--reporter=${join(import.meta.dirname, 'test-tally.ts')}`,
    ...process.argv.slice(2),
  ],
  { stdio: 'inherit', env: { ...process.env, TEST_TALLY_FILE: tallyFile } },
);
let tally: Tally;
try {
  tally = JSON.parse(readFileSync(tallyFile, 'utf8')) as Tally;
} catch {
  tally = {
    passed: 0,
    failed: 1,
    skipped: 0,
    problems: [`vitest ended (exit ${run.status}) without results`],
  };
}
rmSync(dir, { recursive: true, force: true });
for (const problem of tally.problems) console.log(`failed: ${problem}`);
console.log(`\ntests: ${tally.passed} passed, ${tally.failed} failed, ${tally.skipped} skipped`);
process.exit(run.status === 0 && tally.failed === 0 && tally.passed > 0 ? 0 : 1);
