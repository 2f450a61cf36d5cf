import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalStore, paramsDigest, parseMetricsText, readMetricsText, readParamsFile } from '../src';

describe('metrics files', () => {
  it('flattens DVC-style nested JSON with dots', () => {
    const { result } = parseMetricsText(
      '{"train": {"acc": 0.9, "loss": {"ce": 0.1}}, "n": 3}',
      'metrics.json',
    );
    expect(result.latest).toEqual({ 'train.acc': 0.9, 'train.loss.ce': 0.1, n: 3 });
  });

  it('keeps NaN and infinities written by Python json and YAML', () => {
    const json = parseMetricsText('{"a": NaN, "b": Infinity, "c": -Infinity, "d": "nan"}', 'm.json').result
      .latest;
    expect(Number.isNaN(json.a)).toBe(true);
    expect(json.b).toBe(Number.POSITIVE_INFINITY);
    expect(json.c).toBe(Number.NEGATIVE_INFINITY);
    expect(Number.isNaN(json.d)).toBe(true);
    const yaml = parseMetricsText('a: .nan\nb: -.inf\nc: 0.5\n', 'm.yaml').result.latest;
    expect(Number.isNaN(yaml.a)).toBe(true);
    expect(yaml.b).toBe(Number.NEGATIVE_INFINITY);
  });

  it('reads CSV and TSV histories by their step column', () => {
    const { result } = parseMetricsText('epoch,loss,acc\n2,0.3,0.8\n0,0.9,0.5\n1,0.5,nan\n', 'h.csv');
    expect(result.history.loss).toEqual([
      { step: 0, value: 0.9 },
      { step: 1, value: 0.5 },
      { step: 2, value: 0.3 },
    ]);
    expect(result.latest.acc).toBe(0.8);
    const tsv = parseMetricsText('step\tval\n0\t1\n1\t2\n', 'h.tsv').result;
    expect(tsv.latest.val).toBe(2);
  });

  it('names the file and the line of a parse error', () => {
    expect(() => parseMetricsText('{\n  "a": 1,\n  "b": nope\n}', 'out/metrics.json')).toThrow(
      "Metrics file 'out/metrics.json' line 3, column 8: not valid JSON",
    );
    expect(() => parseMetricsText('step,loss\n0,0.1\n1,abc\n', 'h.csv')).toThrow(
      "Metrics file 'h.csv' line 3: column 'loss' holds \"abc\", which is not a number",
    );
    expect(() => parseMetricsText('a: [1,\nb: 2', 'm.yaml')).toThrow(
      /Metrics file 'm\.yaml' line \d+, column \d+: not valid YAML/,
    );
    expect(() => readMetricsText({ path: '/nonexistent/m.json', display: 'm.json' })).toThrow(
      "Metrics file 'm.json': not found",
    );
  });
});

describe('params', () => {
  it('flattens params.yaml and digests them independently of order', () => {
    const dir = mkdtempSync(join(tmpdir(), 'params-'));
    writeFileSync(join(dir, 'params.yaml'), 'train:\n  lr: 0.01\n  layers: [1, 2]\nseed: 3\n');
    const params = readParamsFile(join(dir, 'params.yaml'), 'params.yaml');
    expect(params).toEqual({ 'train.lr': '0.01', 'train.layers': '[1,2]', seed: '3' });
    expect(paramsDigest({ a: '1', b: '2' })).toBe(paramsDigest({ b: '2', a: '1' }));
    expect(paramsDigest({ a: '1' })).not.toBe(paramsDigest({ a: '2' }));
  });
});

describe('local store', () => {
  it('records a run as JSON with NaN kept as a string, and refuses changed params', async () => {
    const root = mkdtempSync(join(tmpdir(), 'store-'));
    const store = new LocalStore(root);
    const run = await store.startRun({ experimentName: 'e', runName: 'r', startTime: 1, tags: { t: 'v' } });
    await store.log(run, {
      params: { lr: '0.1' },
      metrics: [{ key: 'f1', value: Number.NaN, step: 0, timestamp: 2 }],
    });
    await expect(store.log(run, { params: { lr: '0.2' } })).rejects.toThrow("Param 'lr' was already logged");
    await store.finish(run, 'FINISHED', 3);
    const record = JSON.parse(readFileSync(join(root, 'runs', run.runId, 'run.json'), 'utf8'));
    expect(record.metrics.f1[0].value).toBe('NaN');
    expect(record.status).toBe('FINISHED');
    const baseline = await store.getRunMetrics(run.runId);
    expect(Number.isNaN(baseline.metrics.f1)).toBe(true);
  });
});
