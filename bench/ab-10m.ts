/**
 * Time and peak memory to a decision on a generated per-user file of AB_ROWS rows (default 10 million),
 * as CSV and as Parquet, for:
 *   - ab-evaluate (the bundled action, as the runner starts it), with and without the duplicate check;
 *   - a plain pandas + scipy script doing the same analysis (test/ab/reference.py, Debian python3; CSV
 *     only, as Debian ships no Parquet engine for pandas);
 *   - the floor: one bare DuckDB GROUP BY variant query of the same sums over the same file.
 * Each is a separate process measured by GNU time (elapsed, max RSS), AB_REPEAT times (default 2) in
 * turn, keeping the fastest run. Prints the ratios to the floor. AB_DIR keeps the generated files.
 *
 *   AB_ROWS=10000000 npx tsx bench/ab-10m.ts        (needs `npm run build -- ab-evaluate` first)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const rows = Number(process.env.AB_ROWS ?? 10_000_000);
const repeat = Number(process.env.AB_REPEAT ?? 2);
// AB_DIR keeps the generated files between runs (they are reused when present).
const dir = process.env.AB_DIR ?? mkdtempSync(join(tmpdir(), 'ab-bench-'));
const keep = process.env.AB_DIR !== undefined;
mkdirSync(dir, { recursive: true });

const EXPERIMENT = `
unit: user_id
variant: variant
control: v1
treatment: v2
mde: 0.01
metrics:
  - { name: ctr, kind: ratio, numerator: clicks, denominator: impressions, role: primary }
  - { name: session_duration, kind: mean, column: session_seconds, pre: pre_session_seconds, role: guardrail, margin: 0.02 }
  - { name: conversion, kind: proportion, column: converted, role: secondary }
  - { name: latency_ms, kind: mean, column: latency_ms, role: guardrail, direction: decrease, margin: 0.05, group: technical }
`;

interface Measure {
  seconds: number;
  peakMb: number;
  output: string;
}

function measure(command: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measure {
  const timeFile = join(dir, 'time.txt');
  const run = spawnSync('/usr/bin/time', ['-f', '%e %M', '-o', timeFile, command, ...args], {
    cwd: root,
    env,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (run.status !== 0) throw new Error(`${command} ${args.join(' ')} failed:\n${run.stdout}\n${run.stderr}`);
  const [seconds, kb] = readFileSync(timeFile, 'utf8').trim().split('\n').pop()!.split(' ').map(Number);
  return { seconds: seconds!, peakMb: kb! / 1024, output: run.stdout };
}

function duckdbScript(sql: string): string[] {
  const script = join(dir, 'duck.mjs');
  writeFileSync(
    script,
    `import { DuckDBInstance } from ${JSON.stringify(join(root, 'node_modules/@duckdb/node-api/lib/index.js'))};
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const r = await c.runAndReadAll(${JSON.stringify(sql)});
console.log(JSON.stringify(r.getRowObjectsJson()));
`,
  );
  return [script];
}

const csv = join(dir, `users-${rows}.csv`);
const parquet = join(dir, `users-${rows}.parquet`);
const generate = `SELECT setseed(0.42);
CREATE TABLE users AS SELECT
  'u' || i AS user_id,
  CASE WHEN random() < 0.5 THEN 'v1' ELSE 'v2' END AS variant,
  impressions,
  CAST(floor(impressions * random() * 0.17) AS INTEGER) AS clicks,
  round(s, 1) AS session_seconds,
  round(s * (0.7 + 0.6 * random()), 1) AS pre_session_seconds,
  round(100 + 40 * random(), 2) AS latency_ms,
  CAST(random() < 0.1 AS INTEGER) AS converted
FROM (SELECT i, 1 + CAST(floor(random() * 18) AS INTEGER) AS impressions, exp(5 + random()) AS s FROM range(${rows}) t(i));
COPY users TO '${csv}' (HEADER);
COPY users TO '${parquet}' (FORMAT parquet);`;
if (!existsSync(csv) || !existsSync(parquet)) {
  console.log(`Generating ${rows.toLocaleString('en-US')} per-user rows in ${dir} …`);
  execFileSync(process.execPath, duckdbScript(generate.replace(/\n/g, ' ')), { cwd: root, stdio: 'ignore' });
}
console.log(
  `CSV ${(statSync(csv).size / 1e6).toFixed(0)} MB, Parquet ${(statSync(parquet).size / 1e6).toFixed(0)} MB\n`,
);

const floorSql = (source: string) => `SELECT variant, count(*) AS n,
  sum(clicks), sum(clicks * clicks), sum(impressions), sum(impressions * impressions), sum(clicks * impressions),
  sum(session_seconds), sum(session_seconds * session_seconds), sum(pre_session_seconds), sum(pre_session_seconds * pre_session_seconds),
  sum(session_seconds * pre_session_seconds), sum(converted), sum(latency_ms), sum(latency_ms * latency_ms)
FROM ${source} GROUP BY variant`;

function action(file: string, checkDuplicates: boolean): Measure {
  const runner = mkdtempSync(join(dir, 'runner-'));
  for (const f of ['output', 'state', 'summary']) writeFileSync(join(runner, f), '');
  return measure(process.execPath, [join(root, 'dist/ab-evaluate/index.js')], {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GITHUB_WORKSPACE: dir,
    GITHUB_OUTPUT: join(runner, 'output'),
    GITHUB_STATE: join(runner, 'state'),
    GITHUB_STEP_SUMMARY: join(runner, 'summary'),
    RUNNER_TEMP: runner,
    INPUT_EXPERIMENT: `${EXPERIMENT}\ncheck-duplicates: ${checkDuplicates}\n`,
    INPUT_DATA: file,
    INPUT_COMMENT: 'false',
    'INPUT_FAIL-ON-INVALID': 'false',
  });
}

function decisionOf(m: Measure): string {
  return /Decision: (\S+)/.exec(m.output)?.[1] ?? '?';
}

/** Runs the measurements in turn `repeat` times and keeps each one's fastest run (the machine is shared). */
function best(runs: Record<string, () => Measure>): Record<string, Measure> {
  const out: Record<string, Measure> = {};
  for (let r = 0; r < repeat; r++) {
    for (const [name, run] of Object.entries(runs)) {
      const m = run();
      const previous = out[name];
      if (!previous || m.seconds < previous.seconds)
        out[name] = { ...m, peakMb: Math.max(m.peakMb, previous?.peakMb ?? 0) };
      else previous.peakMb = Math.max(previous.peakMb, m.peakMb);
    }
  }
  return out;
}

const table: string[][] = [];
for (const [label, file, source] of [
  ['CSV', csv, `read_csv('${csv}', header = true)`],
  ['Parquet', parquet, `read_parquet('${parquet}')`],
] as const) {
  const runs: Record<string, () => Measure> = {
    floor: () => measure(process.execPath, duckdbScript(floorSql(source))),
    ours: () => action(file, true),
    oursFast: () => action(file, false),
  };
  // Debian's pandas has no Parquet engine (no pyarrow or fastparquet packages), so it reads the CSV only.
  if (label === 'CSV')
    runs.pandas = () => measure('/usr/bin/python3', [join(root, 'test/ab/reference.py'), file]);
  const measured = best(runs);
  const floor = measured.floor!;
  const ours = measured.ours!;
  const oursFast = measured.oursFast!;
  const pandas = measured.pandas;
  const row = (name: string, m: Measure, note = '') => [
    `${label}`,
    name,
    m.seconds.toFixed(2),
    (m.seconds / floor.seconds).toFixed(2),
    m.peakMb.toFixed(0),
    (m.peakMb / floor.peakMb).toFixed(2),
    note,
  ];
  table.push(row('floor: bare DuckDB GROUP BY variant', floor));
  table.push(row('ab-evaluate (check-duplicates: false)', oursFast, decisionOf(oursFast)));
  table.push(row('ab-evaluate (check-duplicates: true, default)', ours, decisionOf(ours)));
  if (pandas) table.push(row('pandas + scipy', pandas));
}
const headers = ['file', 'run', 'seconds', '× floor', 'peak MB', '× floor'];
const widths = headers.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) =>
  cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
console.log(
  `${rows.toLocaleString('en-US')} rows, 4 metrics (ratio, CUPED mean, proportion, mean), 2 arms; best of ${repeat} runs each, peak RSS the largest seen`,
);
console.log(line(headers));
for (const r of table) console.log(`${line(r.slice(0, 6))}  ${r[6]}`);
if (!keep) rmSync(dir, { recursive: true, force: true });
