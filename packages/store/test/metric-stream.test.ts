import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { type HistoryPoint, LocalStore, logMetricsFiles, MAX_HISTORY_POINTS, parseMetricsText } from '../src';

const dir = mkdtempSync(join(tmpdir(), 'metric-stream-'));

function file(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  return { path, display: name };
}

function collector() {
  const batches: HistoryPoint[][] = [];
  return { batches, log: async (points: HistoryPoint[]) => void batches.push(points) };
}

describe('streaming metric histories', () => {
  it('gives the same latest values and history as parsing the whole text, and logs every point', async () => {
    const text = 'epoch,loss,acc\r\n2,0.3,0.8\r\n0,0.9,0.5\r\n\r\n1,0.5,nan\r\n';
    const { batches, log } = collector();
    const streamed = await logMetricsFiles([file('small.csv', text)], log);
    const whole = parseMetricsText(text, 'small.csv').result;
    expect(streamed.latest).toEqual(whole.latest);
    expect(streamed.history).toEqual(whole.history);
    expect(streamed.points).toBe(6);
    expect(batches.flat()).toContainEqual({ key: 'acc', step: 1, value: Number.NaN });
    expect(batches.flat().filter((p) => p.key === 'loss')).toEqual([
      { key: 'loss', step: 2, value: 0.3 },
      { key: 'loss', step: 0, value: 0.9 },
      { key: 'loss', step: 1, value: 0.5 },
    ]);
  });

  it('logs a long history in batches no larger than the batch size and keeps a bounded, evenly spaced sample', async () => {
    const rows = 100_000;
    const lines = ['step,loss,acc'];
    for (let step = 0; step < rows; step++) lines.push(`${step},${1 / (step + 1)},${step / rows}`);
    const { batches, log } = collector();
    const result = await logMetricsFiles([file('long.csv', `${lines.join('\n')}\n`)], log, {
      batchSize: 1000,
    });
    expect(result.points).toBe(2 * rows);
    expect(batches.every((b) => b.length <= 1000)).toBe(true);
    expect(new Set(batches.flat().map((p) => `${p.key}@${p.step}`)).size).toBe(2 * rows);
    expect(result.latest).toEqual({ loss: 1 / rows, acc: (rows - 1) / rows });
    const sample = result.history.loss!;
    expect(sample.length).toBeLessThanOrEqual(MAX_HISTORY_POINTS);
    expect(sample.length).toBeGreaterThan(MAX_HISTORY_POINTS / 2);
    const gaps = new Set(sample.slice(1).map((p, i) => p.step - sample[i]!.step));
    expect(gaps.size).toBe(1);
    expect(sample[0]).toEqual({ step: 0, value: 1 });
  });

  it('takes the value at the highest step as the latest, whatever the order of the rows', async () => {
    const { log } = collector();
    const result = await logMetricsFiles([file('order.tsv', 'step\tval\n5\t1\n9\t2\n3\t3\n9\t4\n')], log);
    expect(result.latest.val).toBe(4);
  });

  it('never has more batches in flight than asked, and stops at the first failed batch', async () => {
    const lines = ['loss'];
    for (let i = 0; i < 20_000; i++) lines.push(String(i));
    const big = file('flight.csv', lines.join('\n'));
    let inFlight = 0;
    let most = 0;
    let calls = 0;
    const slow = async () => {
      calls++;
      inFlight++;
      most = Math.max(most, inFlight);
      await new Promise((r) => setTimeout(r, 2));
      inFlight--;
    };
    await logMetricsFiles([big], slow, { batchSize: 100, concurrency: 3 });
    expect(calls).toBe(200);
    expect(most).toBe(3);

    calls = 0;
    const failing = async () => {
      calls++;
      if (calls === 5) throw new Error('HTTP 500 from the tracking server');
      await new Promise((r) => setTimeout(r, 2));
    };
    await expect(logMetricsFiles([big], failing, { batchSize: 100, concurrency: 2 })).rejects.toThrow(
      'HTTP 500 from the tracking server',
    );
    expect(calls).toBeLessThan(10);
  });

  it('names the file and line of a bad row, counting CRLF lines as one', async () => {
    const { log } = collector();
    await expect(logMetricsFiles([file('bad.csv', 'step,loss\r\n0,0.1\r\n1,oops\r\n')], log)).rejects.toThrow(
      "Metrics file 'bad.csv' line 3: column 'loss' holds \"oops\", which is not a number",
    );
    await expect(logMetricsFiles([file('empty.csv', '')], log)).rejects.toThrow(
      "Metrics file 'empty.csv': the file is empty",
    );
    await expect(
      logMetricsFiles([{ path: join(dir, 'missing.csv'), display: 'missing.csv' }], log),
    ).rejects.toThrow("Metrics file 'missing.csv': not found after the training finished");
  });

  it('reports byte progress for every byte of the files', async () => {
    const text = `step,a\n${Array.from({ length: 5000 }, (_, i) => `${i},${i}`).join('\n')}\n`;
    let bytes = 0;
    let logged = 0;
    await logMetricsFiles([file('progress.csv', text), file('m.json', '{"b": 1}')], collector().log, {
      onRead: (n) => {
        bytes += n;
      },
      onLogged: (n) => {
        logged += n;
      },
    });
    expect(bytes).toBe(Buffer.byteLength(text) + Buffer.byteLength('{"b": 1}'));
    expect(logged).toBe(5001);
  });
});

describe('local store histories', () => {
  it('appends every point to the metric history file and keeps the latest point in the record', async () => {
    const store = new LocalStore(mkdtempSync(join(tmpdir(), 'store-history-')));
    const run = await store.startRun({ experimentName: 'e', runName: 'r', startTime: 1, tags: {} });
    await store.log(run, {
      metrics: [
        { key: 'val/loss', value: 0.5, step: 2, timestamp: 10 },
        { key: 'val/loss', value: 0.9, step: 0, timestamp: 10 },
      ],
    });
    await store.log(run, { metrics: [{ key: 'val/loss', value: Number.NaN, step: 1, timestamp: 11 }] });
    const history = readFileSync(store.historyFile(run.runId), 'utf8');
    expect(history).toBe(
      [
        '{"key":"val/loss","value":0.5,"step":2,"timestamp":10}',
        '{"key":"val/loss","value":0.9,"step":0,"timestamp":10}',
        '{"key":"val/loss","value":"NaN","step":1,"timestamp":11}',
        '',
      ].join('\n'),
    );
    const record = store.read(run.runId);
    expect(record.metrics['val/loss']).toEqual([{ value: 0.5, step: 2, timestamp: 10 }]);
    expect((await store.getRunMetrics(run.runId)).metrics['val/loss']).toBe(0.5);
  });
});
