/**
 * train-and-log's metric-history logging: a CSV history of BENCH_ROWS rows (default 1,000,000) with three
 * metrics, logged to the local store and to the MLflow double, each in a child process whose peak RSS
 * GNU time measures. The same is done at a tenth of the rows in the same run: memory is flat when the
 * ratio of the two peaks stays near 1, whatever the length of the history.
 *
 *   BENCH_ROWS=1000000 npx tsx bench/metric-history.ts
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { resolveConnection } from '@mlops-actions/mlflow';
import { LocalStore, logMetricsFiles, MlflowStore, type TrackingStore } from '@mlops-actions/store';
import { MlflowDouble } from '../test/doubles/mlflow';

const ROWS = Number(process.env.BENCH_ROWS ?? 1_000_000);

if (process.argv[2] === '--child') {
  const [, , , file, target] = process.argv as [string, string, string, string, string];
  const store: TrackingStore = target.startsWith('http')
    ? new MlflowStore(resolveConnection(target, {}), { log: () => {}, warn: () => {} })
    : new LocalStore(target);
  const run = await store.startRun({
    experimentName: 'bench',
    runName: 'history',
    startTime: Date.now(),
    tags: {},
  });
  const timestamp = Date.now();
  const result = await logMetricsFiles(
    [{ path: file, display: 'history.csv' }],
    (points) => store.log(run, { metrics: points.map((p) => ({ ...p, timestamp })) }),
    { concurrency: store.kind === 'mlflow' ? 4 : 1 },
  );
  process.stdout.write(`${result.points}\n`);
  process.exit(0);
}

const root = mkdtempSync(join(tmpdir(), 'bench-history-'));
function history(rows: number): string {
  const path = join(root, `history-${rows}.csv`);
  const lines = ['step,loss,accuracy,lr'];
  for (let step = 0; step < rows; step++)
    lines.push(`${step},${(1 / (step + 1)).toPrecision(8)},${(step / rows).toPrecision(8)},0.001`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

/** Wall seconds, peak RSS (MB) and the points the child logged. */
/** Asynchronous, so that the MLflow double in this process keeps answering the child. */
async function measureWithRss(
  file: string,
  target: string,
): Promise<{ seconds: number; rssMb: number; points: number }> {
  const started = performance.now();
  const { stdout: result } = await promisify(execFile)(
    'bash',
    [
      '-c',
      '/usr/bin/time -f "rss %M" -o "$0" "$@" && cat "$0"',
      join(root, 'time.txt'),
      process.execPath,
      '--import',
      'tsx',
      import.meta.filename,
      '--child',
      file,
      target,
    ],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  const seconds = (performance.now() - started) / 1000;
  const points = Number(result.split('\n')[0]);
  const rss = Number(/rss (\d+)/.exec(result)?.[1] ?? Number.NaN) / 1024;
  return { seconds, rssMb: rss, points };
}

const mlflow = new MlflowDouble();
await mlflow.start();
try {
  const rows = [Math.round(ROWS / 10), ROWS];
  const results: Array<{ target: string; rows: number; seconds: number; rssMb: number; points: number }> = [];
  for (const n of rows) {
    const file = history(n);
    for (const target of ['local', 'mlflow']) {
      const where = target === 'local' ? join(root, `store-${n}`) : mlflow.url;
      results.push({ target, rows: n, ...(await measureWithRss(file, where)) });
    }
  }
  console.log('| store | rows | points | seconds | points/s | peak RSS MB |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results)
    console.log(
      `| ${r.target} | ${r.rows} | ${r.points} | ${r.seconds.toFixed(1)} | ${Math.round(r.points / r.seconds)} | ${r.rssMb.toFixed(0)} |`,
    );
  for (const target of ['local', 'mlflow']) {
    const [small, large] = results.filter((r) => r.target === target);
    console.log(
      `${target}: peak memory at ${large!.rows} rows is ${(large!.rssMb / small!.rssMb).toFixed(2)}× the peak at ${small!.rows} rows (flat = 1)`,
    );
  }
} finally {
  await mlflow.stop();
  rmSync(root, { recursive: true, force: true });
}
