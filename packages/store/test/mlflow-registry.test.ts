import { resolveConnection } from '@mlops-actions/mlflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MlflowDouble } from '../../../test/doubles/mlflow';
import { type HistoryEntry, MlflowRegistry, previousFromHistory } from '../src';

const RUN_A = 'a'.repeat(32);
const RUN_B = 'b'.repeat(32);

describe('MlflowRegistry against the MLflow double', () => {
  const double = new MlflowDouble();
  let registry: MlflowRegistry;

  beforeAll(async () => {
    await double.start();
    registry = new MlflowRegistry(resolveConnection(double.url, {}));
  });
  afterAll(() => double.stop());

  it('creates the model once, even when two jobs race to create it', async () => {
    const results = await Promise.all([registry.ensureModel('race'), registry.ensureModel('race')]);
    expect(results.map((r) => r.created).sort()).toEqual([false, true]);
    expect(double.requestsTo('registered-models/create').length).toBeGreaterThanOrEqual(1);
    expect(await registry.modelExists('race')).toBe(true);
    expect(await registry.modelExists('nope')).toBe(false);
  });

  it('registers a run once: the second registration returns the same version', async () => {
    await registry.ensureModel('iris');
    const first = await registry.registerVersion({
      name: 'iris',
      source: `runs:/${RUN_A}/model`,
      runId: RUN_A,
      runLink: 'https://github.com/o/r/actions/runs/1',
      tags: { 'mlops.data-hash': 'abc' },
    });
    const again = await registry.registerVersion({
      name: 'iris',
      source: `runs:/${RUN_A}/model`,
      runId: RUN_A,
    });
    expect(first.created).toBe(true);
    expect(again.created).toBe(false);
    expect(again.version.version).toBe('1');
    expect(double.models.get('iris')!.versions.size).toBe(1);
    const stored = double.models.get('iris')!.versions.get(1)!;
    expect(stored.runLink).toBe('https://github.com/o/r/actions/runs/1');
    expect(stored.tags.get('mlops.data-hash')).toBe('abc');
    expect(first.version.uri).toBe('models:/iris/1');
  });

  it('sets, reads, moves and deletes aliases', async () => {
    await registry.registerVersion({ name: 'iris', source: `runs:/${RUN_B}/model`, runId: RUN_B });
    expect(await registry.getAlias('iris', 'champion')).toBeUndefined();
    await registry.setAlias('iris', 'champion', '1');
    expect((await registry.getAlias('iris', 'champion'))?.version).toBe('1');
    await registry.setAlias('iris', 'champion', '2');
    const moved = await registry.getAlias('iris', 'champion');
    expect(moved?.version).toBe('2');
    expect(moved?.runId).toBe(RUN_B);
    await registry.deleteAlias('iris', 'champion');
    await registry.deleteAlias('iris', 'champion');
    expect(await registry.getAlias('iris', 'champion')).toBeUndefined();
    expect(await registry.getAlias('no-such-model', 'champion')).toBeUndefined();
  });

  it('refuses reserved alias names before calling the server', async () => {
    const before = double.requestsTo('registered-models/alias').length;
    await expect(registry.setAlias('iris', 'v3', '1')).rejects.toThrow(/'v3' is reserved/);
    await expect(registry.setAlias('iris', 'latest', '1')).rejects.toThrow(/reserved/);
    await expect(registry.setAlias('iris', 'a/b', '1')).rejects.toThrow(/not accepted/);
    expect(double.requestsTo('registered-models/alias').length).toBe(before);
  });

  it('reads every page of a version search', async () => {
    await registry.ensureModel('paged');
    for (let i = 0; i < 5; i++) {
      await registry.registerVersion({ name: 'paged', source: `runs:/${String(i).repeat(32)}/model` });
    }
    const all = await registry.searchVersions('paged', { pageSize: 2 });
    expect(all.map((v) => v.version).sort()).toEqual(['1', '2', '3', '4', '5']);
    const pages = double
      .requestsTo('model-versions/search')
      .filter((r) => r.query.get('max_results') === '2');
    expect(pages).toHaveLength(3);
    expect(pages[1]!.query.get('page_token')).toBe(Buffer.from('{"offset": 2}').toString('base64'));
  });

  it('sets version tags and keeps a history on the model', async () => {
    await registry.setVersionTag('iris', '2', 'mlops.gate', 'passed');
    expect((await registry.getVersion('iris', '2'))?.tags['mlops.gate']).toBe('passed');
    const entries: HistoryEntry[] = [
      {
        action: 'promote',
        alias: 'prod',
        to: '1',
        actor: 'ann',
        time: '2026-01-01T00:00:00Z',
        reason: 'first',
      },
      {
        action: 'promote',
        alias: 'prod',
        from: '1',
        to: '2',
        actor: 'bob',
        time: '2026-01-02T00:00:00Z',
        reason: 'better',
      },
    ];
    for (const e of entries) await registry.appendHistory('iris', e);
    const history = await registry.readHistory('iris');
    expect(history).toEqual(entries);
    expect(previousFromHistory(history, 'prod', '2')).toBe('1');
    expect(previousFromHistory(history, 'prod', '1')).toBeUndefined();
  });

  it('cuts a reason that would exceed the tag value limit instead of failing', async () => {
    await registry.appendHistory('iris', {
      action: 'promote',
      alias: 'staging',
      to: '2',
      actor: 'ann',
      time: '2026-01-03T00:00:00Z',
      reason: 'x'.repeat(6000),
    });
    const last = (await registry.readHistory('iris')).at(-1)!;
    expect(last.alias).toBe('staging');
    expect(JSON.stringify(last).length).toBeLessThanOrEqual(5000);
  });

  it('moves legacy stages, archiving the previous Production version', async () => {
    await registry.transitionStage('iris', '1', 'Production', true);
    const moved = await registry.transitionStage('iris', '2', 'Production', true);
    expect(moved.stage).toBe('Production');
    expect((await registry.getVersion('iris', '1'))?.stage).toBe('Archived');
  });
});

describe('MlflowRegistry waiting for READY (double with pending registrations)', () => {
  const double = new MlflowDouble({ pendingReads: 2 });
  let registry: MlflowRegistry;
  beforeAll(async () => {
    await double.start();
    registry = new MlflowRegistry(resolveConnection(double.url, {}));
  });
  afterAll(() => double.stop());

  it('polls until READY', async () => {
    await registry.ensureModel('slow');
    const { version } = await registry.registerVersion({
      name: 'slow',
      source: `runs:/${RUN_A}/model`,
      runId: RUN_A,
    });
    expect(version.status).toBe('PENDING_REGISTRATION');
    const ready = await registry.waitReady('slow', version.version, { timeoutMs: 5000, intervalMs: 10 });
    expect(ready.status).toBe('READY');
    expect(double.requestsTo('model-versions/get')).toHaveLength(3);
  });

  it('gives up after the timeout with a clear message', async () => {
    const { version } = await registry.registerVersion({
      name: 'slow',
      source: `runs:/${RUN_B}/model`,
      runId: RUN_B,
    });
    await expect(
      registry.waitReady('slow', version.version, { timeoutMs: 5, intervalMs: 10 }),
    ).rejects.toThrow(/version 2 .* still PENDING_REGISTRATION after/);
  });
});

describe('MlflowRegistry with Unity Catalog names (double of the 2.1 alias endpoints)', () => {
  const double = new MlflowDouble({ unityCatalog: true });
  let registry: MlflowRegistry;
  beforeAll(async () => {
    await double.start();
    registry = new MlflowRegistry(resolveConnection(double.url, {}));
  });
  afterAll(() => double.stop());

  it('sets, reads and deletes aliases on /api/2.1/unity-catalog/models', async () => {
    await registry.ensureModel('main.ml.iris');
    await registry.registerVersion({ name: 'main.ml.iris', source: `runs:/${RUN_A}/model`, runId: RUN_A });
    await registry.setAlias('main.ml.iris', 'champion', '1');
    const found = await registry.getAlias('main.ml.iris', 'champion');
    expect(found).toMatchObject({ version: '1', runId: RUN_A, aliases: ['champion'] });
    await registry.deleteAlias('main.ml.iris', 'champion');
    await registry.deleteAlias('main.ml.iris', 'champion');
    expect(await registry.getAlias('main.ml.iris', 'champion')).toBeUndefined();
    const paths = double.requests
      .filter((r) => r.path.includes('unity-catalog'))
      .map((r) => `${r.method} ${r.path}`);
    expect(paths[0]).toBe('PUT /api/2.1/unity-catalog/models/main.ml.iris/aliases/champion');
    expect(double.requestsTo('registered-models/alias')).toHaveLength(0);
  });
});
