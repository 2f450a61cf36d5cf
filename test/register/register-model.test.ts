import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MlflowClient, resolveConnection } from '@mlops-actions/mlflow';
import { MlflowRegistry } from '@mlops-actions/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aliasTarget, moveTarget } from '../../actions/register-model/src/promotion';
import { GithubApiDouble } from '../doubles/github-api';
import { MlflowDouble } from '../doubles/mlflow';
import { events, runStep } from '../harness';
import { trainedRun } from './runs';

const REPO = 'octo-org/ml-project';
const TOKEN = 'ghs_test_write_token';

describe('register-model end to end (MLflow double, GitHub double)', () => {
  const mlflow = new MlflowDouble();
  const github = new GithubApiDouble();
  let client: MlflowClient;
  const workspace = mkdtempSync(join(tmpdir(), 'register-ws-'));
  const env = () => ({
    GITHUB_API_URL: github.url,
    GITHUB_REPOSITORY: REPO,
    GITHUB_ACTOR: 'ann',
    GITHUB_RUN_ID: '42',
    GITHUB_SHA: 'c'.repeat(40),
    GITHUB_TOKEN: TOKEN,
  });
  const step = (inputs: Record<string, string>, extra: Partial<Parameters<typeof runStep>[0]> = {}) =>
    runStep({
      action: 'register-model',
      workspace,
      env: env(),
      inputs: { 'tracking-uri': mlflow.url, 'model-name': 'iris', ...inputs },
      ...extra,
    });

  beforeAll(async () => {
    await mlflow.start();
    await github.start();
    client = new MlflowClient({ connection: resolveConnection(mlflow.url, {}) });
  });
  afterAll(async () => {
    await mlflow.stop();
    await github.stop();
  });

  let first: string;
  let second: string;

  it('registers the first model, passes the champion comparison with a note and promotes it', async () => {
    first = await trainedRun(client, { 'test.accuracy': 0.93, 'test.f1': 0.9 });
    const result = await step({
      'run-id': first,
      'model-uri': `runs:/${first}/model`,
      gates: 'test.accuracy >= 0.90',
      'compare-to': 'champion',
      'min-improvement': 'test.f1 +0.01',
      'promote-to': 'champion',
      reason: 'first model',
    });
    expect(result.error, result.stdout.slice(-2000)).toBeUndefined();
    expect(result.outputs).toMatchObject({
      'model-name': 'iris',
      version: '1',
      'model-uri': 'models:/iris/1',
      alias: 'champion',
      'previous-version': '',
      'gate-passed': 'true',
    });
    const version = mlflow.models.get('iris')!.versions.get(1)!;
    expect(version.runId).toBe(first);
    expect(version.runLink).toBe(`https://github.com/${REPO}/actions/runs/42`);
    expect(version.tags.get('mlops.gate')).toBe('passed');
    expect(mlflow.models.get('iris')!.aliases.get('champion')).toBe(1);
    expect(result.summary).toContain('this is the first model');
    const history = JSON.parse(result.outputs.history!);
    expect(history).toEqual([
      expect.objectContaining({ alias: 'champion', to: '1', actor: 'ann', reason: 'first model' }),
    ]);
    expect(history[0].from).toBeUndefined();
  });

  it('returns the same version when the same run is registered again', async () => {
    const result = await step({ 'run-id': first, 'model-uri': `runs:/${first}/model` });
    expect(result.outputs.version).toBe('1');
    expect(mlflow.models.get('iris')!.versions.size).toBe(1);
    expect(result.summary).toContain('already registered');
  });

  it('fails a candidate that does not beat the champion by the margin and leaves the alias untouched', async () => {
    second = await trainedRun(client, { 'test.accuracy': 0.95, 'test.f1': 0.905 });
    const result = await step({
      'run-id': second,
      gates: 'test.accuracy >= 0.90',
      'compare-to': 'champion',
      'min-improvement': 'test.f1 +0.01',
      'promote-to': 'champion',
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(/iris version 2 failed its gates \(test\.f1\); no alias was moved/);
    expect(result.outputs['gate-passed']).toBe('false');
    expect(mlflow.models.get('iris')!.aliases.get('champion')).toBe(1);
    expect(result.summary).toContain(
      '| `test.f1` | 0.905 | &gt;= 0\\.91 \\(champion \\(version 1\\)\\: 0\\.9 \\+0\\.01\\) | ❌ fail |',
    );
  });

  it('only reports in gate-mode report', async () => {
    const result = await step({
      'run-id': second,
      gates: 'test.accuracy >= 0.99',
      'gate-mode': 'report',
      'promote-to': 'champion',
    });
    expect(result.exitCode).toBe(0);
    expect(result.outputs['gate-passed']).toBe('false');
    expect(mlflow.models.get('iris')!.aliases.get('champion')).toBe(1);
  });

  it('promotes an existing version by hand, with a GitHub Deployment, then rolls it back', async () => {
    const promoted = await step({
      action: 'promote',
      version: '2',
      'promote-to': 'champion',
      reason: 'hotfix',
      environment: 'production',
    });
    expect(promoted.error, promoted.stdout.slice(-2000)).toBeUndefined();
    expect(promoted.outputs).toMatchObject({ version: '2', alias: 'champion', 'previous-version': '1' });
    expect(github.deployments).toHaveLength(1);
    expect(github.deployments[0]).toMatchObject({
      environment: 'production',
      payload: { model: 'iris', version: '2' },
    });
    expect(github.deploymentStatuses[0]).toMatchObject({
      state: 'success',
      deployment: github.deployments[0]!.id,
    });

    const rolled = await step({ action: 'rollback', 'promote-to': 'champion', reason: 'latency regression' });
    expect(rolled.error, rolled.stdout.slice(-2000)).toBeUndefined();
    expect(rolled.outputs).toMatchObject({ version: '1', alias: 'champion', 'previous-version': '2' });
    expect(mlflow.models.get('iris')!.aliases.get('champion')).toBe(1);
    const history = JSON.parse(rolled.outputs.history!) as Array<{
      action: string;
      from?: string;
      to: string;
    }>;
    expect(history.map((h) => [h.action, h.from, h.to])).toEqual([
      ['register', undefined, '1'],
      ['promote', '1', '2'],
      ['rollback', '2', '1'],
    ]);
    expect(rolled.summary).toContain('latency regression');
  });

  it('promotes the version behind another alias (staging → production)', async () => {
    await client.setModelAlias('iris', 'staging', '2');
    const result = await step({ action: 'promote', 'from-alias': 'staging', 'promote-to': 'production' });
    expect(result.outputs).toMatchObject({ version: '2', alias: 'production' });
  });

  it('comments the gate table on the pull request, once', async () => {
    github.addIssue(REPO, 7);
    const event = events.pullRequest({
      repo: REPO,
      number: 7,
      baseSha: 'a'.repeat(40),
      headSha: 'c'.repeat(40),
    });
    for (let n = 0; n < 2; n++) {
      const result = await step({ 'run-id': second, gates: 'test.accuracy >= 0.90' }, { event });
      expect(result.exitCode).toBe(0);
    }
    const comments = github.commentsOf(REPO, 7);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('| `test.accuracy` | 0.95 | &gt;= 0\\.9 | ✅ pass |');
  });

  describe('bad input', () => {
    it('a model uri that does not exist', async () => {
      const result = await step({ 'model-uri': `runs:/${first}/nope` });
      expect(result.exitCode).toBe(1);
      expect(result.error).toBe(
        `model-uri runs:/${first}/nope: run ${first} on ${mlflow.url} has no artifact 'nope'; log the model under that path or pass the right model-uri`,
      );
      const missingRun = await step({ 'run-id': 'f'.repeat(32) });
      expect(missingRun.error).toMatch(/run f{32} does not exist on/);
    });

    it('an alias name the backend rejects', async () => {
      const result = await step({ 'run-id': first, 'promote-to': 'v2' });
      expect(result.exitCode).toBe(1);
      expect(result.error).toMatch(/alias 'v2' is reserved by the MLflow registry/);
    });

    it('a gate expression that does not parse shows the expression and the grammar', async () => {
      const result = await step({ 'run-id': first, gates: 'accuracy => 0.9' });
      expect(result.error).toMatch(
        /Input 'gates': cannot parse the gate 'accuracy => 0\.9'; expected '<metric> <op> <number>'/,
      );
    });

    it('a metric named in a gate but missing from the run', async () => {
      const result = await step({ 'run-id': first, gates: 'auc >= 0.9' });
      expect(result.error).toBe(
        "gate 'auc >= 0.9': the run has no metric 'auc' (it has test.accuracy, test.f1)",
      );
    });

    it('a rollback with no earlier version', async () => {
      const result = await step({ action: 'rollback', 'promote-to': 'production' });
      expect(result.exitCode).toBe(1);
      expect(result.error).toMatch(
        /rollback: alias 'production' of iris has no earlier version in its history/,
      );
      expect(mlflow.models.get('iris')!.aliases.get('production')).toBe(2);
    });

    it('promote without a version names the inputs', async () => {
      const result = await step({ action: 'promote', 'promote-to': 'production' });
      expect(result.error).toMatch(/Input 'version'.*exactly one of version or from-alias/);
    });

    it('a 401 names the registry and the credential input, never the secret', async () => {
      const locked = new MlflowDouble({ users: { admin: { password: 'pw-right', admin: true } } });
      await locked.start();
      try {
        const result = await runStep({
          action: 'register-model',
          workspace,
          env: env(),
          inputs: {
            'tracking-uri': locked.url,
            'model-name': 'iris',
            'run-id': first,
            'registry-username': 'admin',
            'registry-password': 'pw-wrong-secret',
          },
        });
        expect(result.exitCode).toBe(1);
        expect(result.error).toMatch(
          /^MLflow registry at http:\/\/127\.0\.0\.1:\d+ refused the credentials \(401\): check the registry-username and registry-password inputs/,
        );
        const log = result.stdout
          .split('\n')
          .filter((line) => !line.startsWith('::add-mask::'))
          .join('\n');
        expect(log).not.toContain('pw-wrong-secret');
        expect(result.error).not.toContain('pw-wrong-secret');
      } finally {
        await locked.stop();
      }
    });
  });
});

describe('two promotions racing (MLflow double)', () => {
  const mlflow = new MlflowDouble();
  beforeAll(() => mlflow.start());
  afterAll(() => mlflow.stop());

  it('the loser sees the moved alias, fails clearly and changes nothing', async () => {
    const registry = new MlflowRegistry(resolveConnection(mlflow.url, {}));
    await registry.ensureModel('m');
    for (const run of ['1', '2', '3'])
      await registry.registerVersion({
        name: 'm',
        source: `runs:/${run.repeat(32)}/model`,
        runId: run.repeat(32),
      });
    await registry.setAlias('m', 'prod', '1');
    const target = aliasTarget(registry, 'm', 'prod');
    const entry = { action: 'promote' as const, actor: 'a', time: '2026-01-01T00:00:00Z', reason: '' };
    // Both runs read the alias at version 1 when they start; the winner moves it first.
    await moveTarget({ registry, name: 'm', target, to: '2', expectedFrom: '1', entry });
    await expect(
      moveTarget({ registry, name: 'm', target, to: '3', expectedFrom: '1', entry }),
    ).rejects.toThrow(
      "alias 'prod' of m was moved to version 2 by another run while this one ran (it read version 1); nothing was changed",
    );
    expect(mlflow.models.get('m')!.aliases.get('prod')).toBe(2);
    expect((await registry.readHistory('m')).map((h) => h.to)).toEqual(['2']);
  });
});
