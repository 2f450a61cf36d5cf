/**
 * Logging cost of train-and-log against the MLflow double: 10,000 metric points, 50 params, 20 tags and
 * 200 artifacts totalling 100 MB. Prints the requests made against the minimum the batch limits allow,
 * and wall times against baselines measured in the same run (one request per metric point; uploads one
 * at a time).
 *
 *   npx tsx bench/train-and-log.ts
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { minimumBatches, resolveConnection } from '@mlops-actions/mlflow';
import { type MetricPoint, MlflowStore, type UploadFile } from '@mlops-actions/store';
import { MlflowDouble } from '../test/doubles/mlflow';

const POINTS = 10_000;
const KEYS = 10;
const PARAMS = 50;
const TAGS = 20;
const FILES = 200;
const TOTAL_BYTES = 100 * 1024 * 1024;

const double = new MlflowDouble();
await double.start();
const store = new MlflowStore(resolveConnection(double.url, {}));
const dir = mkdtempSync(join(tmpdir(), 'bench-artifacts-'));
mkdirSync(join(dir, 'model'));
const files: UploadFile[] = [];
const size = Math.floor(TOTAL_BYTES / FILES);
for (let i = 0; i < FILES; i++) {
  const path = join(dir, 'model', `shard-${String(i).padStart(3, '0')}.bin`);
  writeFileSync(path, randomBytes(size));
  files.push({ localPath: path, artifactPath: `model/shard-${String(i).padStart(3, '0')}.bin`, size });
}
const now = Date.now();
const metrics: MetricPoint[] = Array.from({ length: POINTS }, (_, i) => ({
  key: `metric_${i % KEYS}`,
  value: Math.sin(i),
  step: Math.floor(i / KEYS),
  timestamp: now,
}));
const params = Object.fromEntries(Array.from({ length: PARAMS }, (_, i) => [`param_${i}`, String(i)]));
const tags = Object.fromEntries(Array.from({ length: TAGS }, (_, i) => [`tag_${i}`, 'x']));

async function timed<T>(work: () => Promise<T>): Promise<[T, number]> {
  const start = performance.now();
  const result = await work();
  return [result, performance.now() - start];
}

// train-and-log's way: batched logging, uploads 8 at a time.
const before = double.requests.length;
const [run, startMs] = await timed(() =>
  store.startRun({ experimentName: 'bench', runName: 'batched', startTime: now, tags: {} }),
);
const [, logMs] = await timed(() => store.log(run, { params, tags, metrics }));
const logRequests = double.requestsTo('runs/log-batch').length;
const [, uploadMs] = await timed(() => store.uploadArtifacts(run, files, { parallel: 8 }));
await store.finish(run, 'FINISHED', Date.now());
const total = double.requests.length - before;
const minimumLog = minimumBatches(POINTS, PARAMS, TAGS);
const minimumTotal = 3 /* get-by-name, create experiment, create run */ + minimumLog + FILES + 1; /* update */

// Baseline 1: one request per metric point, as a naive client logging in the training loop would.
const naiveRun = await store.startRun({
  experimentName: 'bench',
  runName: 'naive',
  startTime: now,
  tags: {},
});
const [, naiveMs] = await timed(async () => {
  for (const m of metrics) {
    const res = await fetch(`${double.url}/api/2.0/mlflow/runs/log-metric`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ run_id: naiveRun.runId, ...m }),
    });
    await res.arrayBuffer();
  }
});
// Baseline 2: the same uploads one at a time.
const seqRun = await store.startRun({
  experimentName: 'bench',
  runName: 'sequential',
  startTime: now,
  tags: {},
});
const [, seqMs] = await timed(() => store.uploadArtifacts(seqRun, files, { parallel: 1 }));
await double.stop();

// The same two upload strategies with 20 ms of added latency per request, as on a real network.
const far = new MlflowDouble({ delayMs: 20 });
await far.start();
const farStore = new MlflowStore(resolveConnection(far.url, {}));
const farRun = await farStore.startRun({ experimentName: 'bench', runName: 'far', startTime: now, tags: {} });
const [, farParallelMs] = await timed(() => farStore.uploadArtifacts(farRun, files, { parallel: 8 }));
const [, farSeqMs] = await timed(() => farStore.uploadArtifacts(farRun, files, { parallel: 1 }));
await far.stop();
rmSync(dir, { recursive: true, force: true });

const mbps = (ms: number) => (TOTAL_BYTES / 1024 / 1024 / (ms / 1000)).toFixed(0);
console.log(
  `train-and-log logging to the MLflow double: ${POINTS} metric points (${KEYS} keys), ${PARAMS} params, ${TAGS} tags, ${FILES} artifacts / ${TOTAL_BYTES / 1024 / 1024} MB`,
);
console.log(
  `requests: ${total} total (minimum ${minimumTotal}, ratio ${(total / minimumTotal).toFixed(2)}); log-batch ${logRequests} (minimum ${minimumLog})`,
);
console.log(`start run: ${startMs.toFixed(0)} ms`);
console.log(
  `metrics+params+tags: ${logMs.toFixed(0)} ms in ${logRequests} requests vs one request per point: ${naiveMs.toFixed(0)} ms in ${POINTS} requests → ${(naiveMs / logMs).toFixed(1)}x faster`,
);
console.log(
  `artifacts: ${uploadMs.toFixed(0)} ms (${mbps(uploadMs)} MB/s, 8 in flight) vs one at a time: ${seqMs.toFixed(0)} ms (${mbps(seqMs)} MB/s) → ${(seqMs / uploadMs).toFixed(2)}x`,
);
console.log(
  `artifacts with 20 ms latency per request: ${farParallelMs.toFixed(0)} ms (8 in flight) vs ${farSeqMs.toFixed(0)} ms one at a time → ${(farSeqMs / farParallelMs).toFixed(2)}x`,
);
console.log(
  `wall time for the whole log (start + log + upload + finish): ${(startMs + logMs + uploadMs).toFixed(0)} ms`,
);
