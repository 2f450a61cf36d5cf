import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { MUTATION_TARGETS } from './mutation-targets';

/**
 * Mutation testing of the deciding code with StrykerJS, one package at a time on that package's unit
 * tests: `npm run mutation [-- <package>…] [--concurrency N]`. Too slow for every CI run; the last scores
 * are in CONTRIBUTING.md. Reports go to reports/mutation/<package>.{html,json}.
 */
const args = process.argv.slice(2);
const flagValue = (flag: string) => {
  const at = args.indexOf(flag);
  return at >= 0 ? args[at + 1] : undefined;
};
const concurrency = Number(flagValue('--concurrency') ?? 1);
// A subset of one package's files, so work on one file reruns only its mutants; its reports get their own names.
const only = flagValue('--mutate')?.split(',').filter(Boolean);
const names = args.filter(
  (a, i) => !a.startsWith('--') && !['--concurrency', '--mutate'].includes(args[i - 1] ?? ''),
);
const unknown = names.filter((n) => !(n in MUTATION_TARGETS));
if (unknown.length > 0 || !(concurrency >= 1) || (only && names.length !== 1)) {
  console.error(
    `usage: npm run mutation [-- <package>…] [--concurrency N] [--mutate <file>[,<file>…] with one package]; packages: ${Object.keys(MUTATION_TARGETS).join(', ')}`,
  );
  process.exit(2);
}

interface Report {
  files: Record<string, { mutants: Array<{ status: string; testsCompleted?: number }> }>;
}

/**
 * Stryker's score: detected (killed, timed out) over detected and undetected (survived, no coverage).
 * `unrun` counts survivors for which no test completed: Stryker's vitest runner reports a test file that
 * fails while it is collected (code under test called at `describe` level) as zero passing tests, so such
 * a mutant "survives" although `npm test` would fail. They stay counted as survivors; the tests that hide
 * them should call the code inside a test.
 */
function score(report: Report) {
  const count = { killed: 0, timeout: 0, survived: 0, unrun: 0, noCoverage: 0, errors: 0 };
  for (const file of Object.values(report.files)) {
    for (const m of file.mutants) {
      if (m.status === 'Killed') count.killed++;
      else if (m.status === 'Timeout') count.timeout++;
      else if (m.status === 'Survived') {
        count.survived++;
        if (m.testsCompleted === 0) count.unrun++;
      } else if (m.status === 'NoCoverage') count.noCoverage++;
      else if (m.status !== 'Ignored') count.errors++;
    }
  }
  const detected = count.killed + count.timeout;
  const valid = detected + count.survived + count.noCoverage;
  return { ...count, score: valid > 0 ? (100 * detected) / valid : Number.NaN };
}

const outDir = join('reports', 'mutation');
mkdirSync(outDir, { recursive: true });
const rows: string[] = [];
let failed = false;
for (const name of names.length > 0 ? names : Object.keys(MUTATION_TARGETS)) {
  const target = only ? { ...MUTATION_TARGETS[name]!, mutate: only } : MUTATION_TARGETS[name]!;
  const report = only ? `${name}.${only.map((f) => basename(f).replace(/\.ts.*$/, '')).join('+')}` : name;
  const config = {
    $schema: './node_modules/@stryker-mutator/core/schema/stryker-schema.json',
    testRunner: 'vitest',
    vitest: { configFile: 'vitest.mutation.config.ts' },
    coverageAnalysis: 'perTest',
    mutate: target.mutate,
    concurrency,
    timeoutMS: 60_000,
    // The first run computes every scipy reference; on a busy machine it takes longer than the default 5 min.
    dryRunTimeoutMinutes: 30,
    // The event recorder keeps each mutant's result as it comes, so an interrupted run still shows them.
    reporters: ['clear-text', 'progress', 'html', 'json', 'event-recorder'],
    eventReporter: { baseDir: join(outDir, `${report}-events`) },
    htmlReporter: { fileName: join(outDir, `${report}.html`) },
    jsonReporter: { fileName: join(outDir, `${report}.json`) },
    // Reruns test only the mutants whose code or covering tests changed since the last run.
    incremental: true,
    incrementalFile: join(outDir, `${report}-incremental.json`),
    tempDirName: join('.tmp', `stryker-${report}`),
    ignorePatterns: ['dist', 'reports', 'coverage', 'bench/.out', '.tmp'],
    cleanTempDir: true,
  };
  const configFile = join(outDir, `${report}.stryker.json`);
  writeFileSync(configFile, JSON.stringify(config, null, 2));
  console.log(`\n=== mutation testing ${name}: ${target.mutate.join(' ')}`);
  const run = spawnSync('npx', ['stryker', 'run', configFile], {
    stdio: 'inherit',
    env: {
      ...process.env,
      MUTATION_TESTS: target.tests.join(','),
      REFERENCE_CACHE: join(process.cwd(), '.tmp', 'reference-cache'),
    },
  });
  if (run.status !== 0) {
    failed = true;
    rows.push(`| ${report} | stryker failed (exit ${run.status}) | | | | |`);
    continue;
  }
  const s = score(JSON.parse(readFileSync(config.jsonReporter.fileName, 'utf8')) as Report);
  rows.push(
    `| ${report} | ${s.score.toFixed(1)} % | ${s.killed + s.timeout} | ${s.survived} | ${s.unrun} | ${s.noCoverage} |`,
  );
}
console.log(
  '\n| package | mutation score | killed | survived | of which no test ran | no coverage |\n| --- | --- | --- | --- | --- | --- |',
);
for (const row of rows) console.log(row);
process.exit(failed ? 1 : 0);
