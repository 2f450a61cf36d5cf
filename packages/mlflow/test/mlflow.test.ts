import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowDouble } from '../../../test/doubles/mlflow';
import { LIMITS, MlflowClient, minimumBatches, planBatches, resolveConnection, validateBatch } from '../src';

describe('batch planning', () => {
  it('fills every request up to the limits and never exceeds them', () => {
    const metrics = Array.from({ length: 2500 }, (_, i) => ({ key: 'm', value: i, timestamp: 1, step: i }));
    const params = Array.from({ length: 250 }, (_, i) => ({ key: `p${i}`, value: String(i) }));
    const tags = Array.from({ length: 30 }, (_, i) => ({ key: `t${i}`, value: 'x' }));
    const batches = planBatches(validateBatch({ metrics, params, tags }));
    for (const b of batches) {
      expect(b.params.length).toBeLessThanOrEqual(LIMITS.params);
      expect(b.tags.length).toBeLessThanOrEqual(LIMITS.tags);
      expect(b.metrics.length + b.params.length + b.tags.length).toBeLessThanOrEqual(LIMITS.entities);
    }
    expect(batches.reduce((n, b) => n + b.metrics.length, 0)).toBe(2500);
    expect(batches).toHaveLength(minimumBatches(2500, 250, 30));
  });

  it('splits by size when values are large', () => {
    const params = Array.from({ length: 100 }, (_, i) => ({ key: `p${i}`, value: 'x'.repeat(5999) }));
    const tags = Array.from({ length: 100 }, (_, i) => ({ key: `t${i}`, value: 'y'.repeat(5000) }));
    const batches = planBatches(validateBatch({ params, tags }));
    for (const b of batches)
      expect(Buffer.byteLength(JSON.stringify({ run_id: 'x'.repeat(32), ...b }))).toBeLessThanOrEqual(
        LIMITS.bytes,
      );
  });

  it('validates what the server would truncate or turn into 0', () => {
    expect(() => validateBatch({ params: [{ key: 'long', value: 'x'.repeat(6001) }] })).toThrow(
      /6001 characters.*truncate/,
    );
    expect(() => validateBatch({ params: [{ key: 'bad key!', value: '1' }] })).toThrow(/not accepted/);
    const { metrics } = validateBatch({
      metrics: [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 1].map((value) => ({
        key: 'k',
        value,
        timestamp: 1,
        step: 0,
      })),
    });
    expect(metrics.map((m) => m.value)).toEqual(['NaN', 'Infinity', '-Infinity', 1]);
  });
});

describe('connection', () => {
  it('prefers basic auth when username and password are both set, as MLflow does', () => {
    const both = resolveConnection('https://m.example', {
      MLFLOW_TRACKING_USERNAME: 'u',
      MLFLOW_TRACKING_PASSWORD: 'p',
      MLFLOW_TRACKING_TOKEN: 't',
    });
    expect(both.headers.authorization).toBe(`Basic ${Buffer.from('u:p').toString('base64')}`);
    expect(resolveConnection('https://m.example', { MLFLOW_TRACKING_TOKEN: 't' }).headers.authorization).toBe(
      'Bearer t',
    );
    const db = resolveConnection('databricks', {
      DATABRICKS_HOST: 'adb-1.azuredatabricks.net',
      DATABRICKS_TOKEN: 'dapi1',
    });
    expect(db.baseUrl).toBe('https://adb-1.azuredatabricks.net/');
    expect(db.headers.authorization).toBe('Bearer dapi1');
    const inUri = resolveConnection('https://u2:p2@m.example/mlflow', {});
    expect(inUri.displayUri).toBe('https://m.example/mlflow');
    expect(inUri.secrets).toContain('p2');
  });
});

describe('MLflow client against the MLflow double', () => {
  const double = new MlflowDouble();
  let client: MlflowClient;
  beforeAll(async () => {
    await double.start();
    client = new MlflowClient({ connection: resolveConnection(double.url, {}) });
  });
  afterAll(() => double.stop());

  it('get-or-create survives a concurrent creation (400 RESOURCE_ALREADY_EXISTS → re-read)', async () => {
    const results = await Promise.all([1, 2, 3, 4].map(() => client.getOrCreateExperiment('raced')));
    expect(new Set(results.map((e) => e.experiment_id)).size).toBe(1);
    expect([...double.experiments.values()].filter((e) => e.name === 'raced')).toHaveLength(1);
  });

  it('round-trips NaN and infinities instead of storing 0', async () => {
    const exp = await client.getOrCreateExperiment('nan');
    const run = await client.createRun({ experimentId: exp.experiment_id, runName: 'r', startTime: 1 });
    await client.logBatch(run.info.run_id, {
      metrics: [
        { key: 'nan', value: Number.NaN, timestamp: 5, step: 0 },
        { key: 'inf', value: Number.POSITIVE_INFINITY, timestamp: 5, step: 0 },
        { key: 'ninf', value: Number.NEGATIVE_INFINITY, timestamp: 5, step: 0 },
      ],
    });
    const got = await client.getRun(run.info.run_id);
    const values = Object.fromEntries((got.data.metrics ?? []).map((m) => [m.key, m.value]));
    expect(Number.isNaN(values.nan)).toBe(true);
    expect(values.inf).toBe(Number.POSITIVE_INFINITY);
    expect(values.ninf).toBe(Number.NEGATIVE_INFINITY);
  });

  it('resolves a model alias to its run, and a missing alias to undefined', async () => {
    const post = (path: string, body: unknown) =>
      fetch(`${double.url}/api/2.0/mlflow/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await post('registered-models/create', { name: 'clf' });
    await post('model-versions/create', { name: 'clf', source: 'runs:/abc/model', run_id: 'f'.repeat(32) });
    await post('registered-models/alias', { name: 'clf', alias: 'champion', version: '1' });
    expect((await client.getModelVersionByAlias('clf', 'champion'))?.run_id).toBe('f'.repeat(32));
    expect(await client.getModelVersionByAlias('clf', 'nope')).toBeUndefined();
  });
});
