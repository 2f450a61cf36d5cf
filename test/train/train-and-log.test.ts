import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GithubApiDouble } from '../doubles/github-api';
import { MlflowDouble } from '../doubles/mlflow';
import { events, runStep } from '../harness';
import { freePort } from '../servers/process';
import { debianPythonEnv, emptyWorkspace, exampleWorkspace, git } from './workspace';

const REPO = 'octo-org/ml-project';

/** The log as the runner shows it: `::add-mask::` commands are how secrets get masked, not leaks. */
function withoutMasks(log: string): string {
  return log
    .split('\n')
    .filter((line) => !line.startsWith('::add-mask::'))
    .join('\n');
}

function logBatchBodies(
  double: MlflowDouble,
): Array<{ run_id: string; metrics?: unknown[]; params?: unknown[]; tags?: unknown[] }> {
  return double.requestsTo('runs/log-batch').map((r) => JSON.parse(r.body.toString('utf8')));
}

describe('train-and-log end to end (MLflow double, GitHub double, real scikit-learn training)', () => {
  const mlflow = new MlflowDouble();
  const github = new GithubApiDouble();

  beforeAll(async () => {
    await mlflow.start();
    await github.start();
  });
  afterAll(async () => {
    await mlflow.stop();
    await github.stop();
  });

  it('runs the example script and logs params, metric history, model and environment to the MLflow double', async () => {
    const workspace = exampleWorkspace();
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      env: debianPythonEnv(),
      inputs: {
        run: 'python3 train.py',
        'metrics-files': 'metrics.json\nhistory.csv',
        'tracking-uri': mlflow.url,
        'experiment-name': 'breast-cancer',
        params: 'note=from-input',
        'data-hash': 'md5:0123',
      },
    });
    expect(step.error, step.stdout.slice(-3000)).toBeUndefined();
    expect(step.exitCode).toBe(0);
    const runId = step.outputs['run-id']!;
    const run = mlflow.runs.get(runId)!;
    expect(run.status).toBe('FINISHED');
    expect(run.endTime).toBeGreaterThan(0);
    expect(run.params.get('train.epochs')).toBe('20');
    expect(run.params.get('note')).toBe('from-input');
    expect(run.params.get('seed')).toBe('42');
    expect(run.tags.get('mlflow.source.git.commit')).toBe('a'.repeat(40));
    expect(run.tags.get('mlflow.source.type')).toBe('JOB');
    expect(run.tags.get('mlops.data-hash')).toBe('md5:0123');
    expect(run.tags.get('mlops.params.digest')).toBe(step.outputs['params-digest']);
    expect(run.tags.get('mlops.env.python')).toMatch(/^3\.\d+/);
    const written = JSON.parse(readFileSync(join(workspace, 'metrics.json'), 'utf8'));
    const metrics = JSON.parse(step.outputs.metrics!);
    expect(metrics['test.accuracy']).toBe(written.test.accuracy);
    expect(run.latest.get('test.roc_auc')?.value).toBe(written.test.roc_auc);
    expect(run.history.filter((p) => p.key === 'val_loss').map((p) => p.step)).toEqual([...Array(20).keys()]);
    expect(step.outputs['model-uri']).toBe(`runs:/${runId}/model`);
    const root = `1/${runId}/artifacts`;
    expect(
      mlflow.artifacts
        .get(`${root}/model/model.pkl`)
        ?.equals(readFileSync(join(workspace, 'model/model.pkl'))),
    ).toBe(true);
    const environment = JSON.parse(
      mlflow.artifacts.get(`${root}/environment/environment.json`)!.toString('utf8'),
    );
    const requirements = createHash('sha256')
      .update(readFileSync(join(workspace, 'requirements.txt')))
      .digest('hex');
    expect(environment.lockfiles).toEqual({ 'requirements.txt': `sha256:${requirements}` });
    expect(environment.seed).toBe(42);
    expect(run.tags.get('mlops.env.lockfiles')).toBe(`requirements.txt=${requirements.slice(0, 12)}`);
    expect(mlflow.artifacts.has(`${root}/metrics/history.csv`)).toBe(true);
    // Params were logged before the training started: the first log-batch holds them and no metric.
    const batches = logBatchBodies(mlflow).filter((b) => b.run_id === runId);
    expect(batches[0]!.params!.length).toBeGreaterThan(0);
    expect(batches[0]!.metrics ?? []).toEqual([]);
    for (const r of mlflow.requestsTo('/api/2.0/mlflow/')) {
      if (r.method === 'POST') expect(r.headers['content-type']).toBe('application/json');
    }
    expect(step.summary).toContain('```mermaid');
    expect(step.summary).toContain('xychart-beta');
  });

  it('runs the example notebook with default inputs on a PR: local store, git baseline, sticky comment', async () => {
    const workspace = exampleWorkspace();
    git(workspace, 'init', '-q', '-b', 'main');
    writeFileSync(
      join(workspace, 'metrics.json'),
      JSON.stringify({ test: { accuracy: 0.9, log_loss: 0.1, 'f1|<b>x</b>': 1 } }),
    );
    git(workspace, 'add', '-A');
    git(workspace, 'commit', '-qm', 'base');
    const baseSha = git(workspace, 'rev-parse', 'HEAD');
    github.addIssue(REPO, 7);
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      env: { ...debianPythonEnv(), GITHUB_API_URL: github.url, GITHUB_TOKEN: 'ghs_test_write_token' },
      event: events.pullRequest({ repo: REPO, number: 7, baseSha, headSha: 'b'.repeat(40) }),
      inputs: { notebook: 'train.ipynb', params: 'epochs=5' },
    });
    expect(step.error, step.stdout.slice(-3000)).toBeUndefined();
    const runId = step.outputs['run-id']!;
    const record = JSON.parse(readFileSync(join(workspace, '.mlops/runs', runId, 'run.json'), 'utf8'));
    expect(record.status).toBe('FINISHED');
    expect(record.params.epochs).toBe('5');
    expect(step.outputs['tracking-uri']).toBe('.mlops');
    expect(existsSync(join(step.outputs['model-uri']!, 'model.pkl'))).toBe(true);
    const executed = JSON.parse(
      readFileSync(join(workspace, '.mlops/runs', runId, 'artifacts/notebook/train.ipynb'), 'utf8'),
    );
    const tags = executed.cells.map((c: { metadata: { tags?: string[] } }) => c.metadata.tags?.[0] ?? '');
    expect(tags.indexOf('injected-parameters')).toBe(tags.indexOf('parameters') + 1);
    expect(executed.cells[tags.indexOf('injected-parameters')].source.join('')).toContain('epochs = 5');
    expect(step.stdout).toContain('not uploading it as a workflow artifact');
    const comments = github.commentsOf(REPO, 7);
    expect(comments).toHaveLength(1);
    const body = comments[0]!.body;
    expect(body).toContain('<!-- mlops-actions:train-and-log:metrics -->');
    const written = JSON.parse(readFileSync(join(workspace, 'metrics.json'), 'utf8'));
    expect(written.test.accuracy).toBeGreaterThan(0.9);
    expect(body).toMatch(/test\\\.accuracy ↑ \| 0\.9 \| 0\.9\d* \|.*✅ better/);
    expect(body).toMatch(/test\\\.log\\_loss ↓ \| 0\.1 \|.*❌ worse/);
    expect(body).not.toContain('<b>');
    expect(body).toContain('🗑️ removed');
  });

  it('diffs against an MLflow run id and against a registered model alias', async () => {
    const inputs = {
      'tracking-uri': mlflow.url,
      'experiment-name': 'baselines',
      'metrics-files': 'metrics.json',
    };
    const first = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: { ...inputs, run: `echo '{"accuracy": 0.8, "loss": 0.5}' > metrics.json` },
    });
    expect(first.error).toBeUndefined();
    const baseRun = first.outputs['run-id']!;
    const byRun = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: { ...inputs, run: `echo '{"accuracy": 0.9, "loss": 0.5}' > metrics.json`, baseline: baseRun },
    });
    expect(byRun.error).toBeUndefined();
    expect(byRun.summary).toContain(`Metrics against run ${baseRun}`);
    expect(byRun.summary).toMatch(/accuracy ↑ \| 0\.8 \| 0\.9 \| \+0\.1 \| \+12\.50% \| ✅ better/);
    expect(byRun.summary).toMatch(/loss ↓ \| 0\.5 \| 0\.5 \| 0 \| 0\.00% \| ➖ unchanged/);

    const post = (path: string, body: unknown) =>
      fetch(`${mlflow.url}/api/2.0/mlflow/${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    await post('registered-models/create', { name: 'classifier' });
    await post('model-versions/create', {
      name: 'classifier',
      source: `runs:/${baseRun}/model`,
      run_id: baseRun,
    });
    await post('registered-models/alias', { name: 'classifier', alias: 'champion', version: '1' });
    const byAlias = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: {
        ...inputs,
        run: `echo '{"accuracy": 0.7, "loss": 0.6}' > metrics.json`,
        baseline: 'models:/classifier@champion',
      },
    });
    expect(byAlias.error).toBeUndefined();
    // The label is escaped markdown; unescaped it reads as the alias, its version and its run.
    expect(byAlias.summary.replace(/\\/g, '')).toContain(
      `models:/classifier@champion (version 1, run ${baseRun})`,
    );
    expect(byAlias.summary).toMatch(/accuracy ↑ \| 0\.8 \| 0\.7 \|.*❌ worse/);
  });

  it('uses papermill when it is on PATH (a stand-in that records its arguments and runs nbconvert)', async () => {
    const workspace = emptyWorkspace();
    const bin = join(workspace, '.bin');
    mkdirSync(bin);
    writeFileSync(
      join(bin, 'papermill'),
      [
        '#!/bin/sh',
        'echo "$@" > "$PAPERMILL_ARGS"',
        'in="$1"; out="$2"; cwd="$4"',
        'cd "$cwd" && exec /usr/bin/python3 -m nbconvert --execute --to notebook --output-dir "$(dirname "$out")" --output "$(basename "$out")" "$in"',
        '',
      ].join('\n'),
      { mode: 0o755 },
    );
    const cell = (source: string, tags: string[] = []) => ({
      cell_type: 'code',
      execution_count: null,
      metadata: { tags },
      outputs: [],
      source,
    });
    writeFileSync(
      join(workspace, 'nb.ipynb'),
      JSON.stringify({
        cells: [
          cell('lr = 0.1', ['parameters']),
          cell('import json\njson.dump({"lr": float(lr)}, open("metrics.json", "w"))'),
        ],
        metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
        nbformat: 4,
        nbformat_minor: 4,
      }),
    );
    const argsFile = join(workspace, 'papermill-args.txt');
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      env: { PATH: `${bin}:/usr/bin:${process.env.PATH}`, PAPERMILL_ARGS: argsFile },
      inputs: { notebook: 'nb.ipynb', params: 'lr=0.25' },
    });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
    expect(readFileSync(argsFile, 'utf8')).toMatch(
      new RegExp(`\\.nb\\.mlops-input\\.ipynb \\S+/nb\\.ipynb --cwd ${workspace} --log-output`),
    );
    expect(JSON.parse(step.outputs.metrics!)).toEqual({ lr: 0.25 });
    expect(
      existsSync(join(workspace, '.mlops/runs', step.outputs['run-id']!, 'artifacts/notebook/nb.ipynb')),
    ).toBe(true);
    expect(existsSync(join(workspace, '.nb.mlops-input.ipynb'))).toBe(false);
  });

  it('bad input: neither notebook nor run', async () => {
    const step = await runStep({ action: 'train-and-log', workspace: emptyWorkspace(), inputs: {} });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/Input 'notebook'.*either `notebook`.*or `run`/);
  });

  it('bad input: both notebook and run', async () => {
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: { notebook: 'a.ipynb', run: 'true' },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/Input 'run'.*not both/);
  });

  it('bad input: a notebook that raises fails the step, marks the MLflow run FAILED and shows the cell', async () => {
    const workspace = emptyWorkspace();
    const cell = (source: string, tags: string[] = []) => ({
      cell_type: 'code',
      execution_count: null,
      metadata: { tags },
      outputs: [],
      source,
    });
    writeFileSync(
      join(workspace, 'broken.ipynb'),
      JSON.stringify({
        cells: [
          cell('seed = 1', ['parameters']),
          cell('x = 1\nraise ValueError("boom in cell " + str(seed))'),
        ],
        metadata: { kernelspec: { name: 'python3', display_name: 'Python 3', language: 'python' } },
        nbformat: 4,
        nbformat_minor: 4,
      }),
    );
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      env: debianPythonEnv(),
      inputs: { notebook: 'broken.ipynb', 'tracking-uri': mlflow.url, 'experiment-name': 'broken' },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toContain('marked FAILED');
    expect(step.error).toContain('ValueError');
    const failed = [...mlflow.runs.values()].find(
      (r) => r.experimentId === [...mlflow.experiments.values()].find((e) => e.name === 'broken')!.id,
    )!;
    expect(failed.status).toBe('FAILED');
    expect(step.summary).toContain('Failing notebook cell');
    expect(step.summary).toContain('boom in cell 42');
    expect(
      [...mlflow.artifacts.keys()].some((k) => k.includes(failed.runId) && k.endsWith('logs/log-tail.txt')),
    ).toBe(true);
  });

  it('bad input: a metrics file that is missing is named in the error', async () => {
    const workspace = emptyWorkspace();
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      inputs: { run: 'true', 'metrics-files': 'results/missing.json' },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toContain("Metrics file 'results/missing.json': not found");
  });

  it('bad input: a metrics file that does not parse is named with its line', async () => {
    const workspace = emptyWorkspace();
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      inputs: { run: `printf '{\\n  "acc": 0.9,\\n  "f1": oops\\n}\\n' > metrics.json` },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/Metrics file 'metrics\.json' line 3, column 9: not valid JSON/);
    const runs = join(workspace, '.mlops/runs');
    const [runId] = readdirSync(runs);
    expect(JSON.parse(readFileSync(join(runs, runId!, 'run.json'), 'utf8')).status).toBe('FAILED');
  });

  it('bad input: an unreachable tracking server is retried, then fails clearly', async () => {
    const port = await freePort();
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: { run: 'true', 'tracking-uri': `http://127.0.0.1:${port}` },
    });
    expect(step.exitCode).toBe(1);
    expect(step.stdout).toMatch(/retry 1\/4/);
    expect(step.error).toMatch(
      new RegExp(
        `MLflow at http://127\\.0\\.0\\.1:${port}.*failed after 5 attempt\\(s\\): ECONNREFUSED.*tracking-required: false`,
      ),
    );
  });

  it('a training that outlives its timeout is stopped and the run marked FAILED', async () => {
    const workspace = emptyWorkspace();
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      inputs: { run: 'sleep 30 & wait', timeout: '1s' },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/stopped after the timeout of 1 s; run [0-9a-f]{32} marked FAILED/);
  });

  it('bad input: an unknown baseline form names the input and what it accepts', async () => {
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: { run: 'true', baseline: 'champion' },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/Input 'baseline'.*models:\/<name>@<alias>.*\(got "champion"\)/);
  });

  it('reports NaN and infinite metrics as such, never as 0', async () => {
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: {
        run: `echo '{"f1": NaN, "loss": Infinity, "ok": 0.5}' > metrics.json`,
        'tracking-uri': mlflow.url,
        'experiment-name': 'non-finite',
      },
    });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
    expect(JSON.parse(step.outputs.metrics!)).toEqual({ f1: 'NaN', loss: 'Infinity', ok: 0.5 });
    const run = mlflow.runs.get(step.outputs['run-id']!)!;
    expect(Number.isNaN(run.latest.get('f1')!.value)).toBe(true);
    expect(run.latest.get('loss')!.value).toBe(Number.MAX_VALUE);
    expect(run.latest.get('loss')!.timestamp).toBeGreaterThan(0);
    expect(step.stdout).toMatch(/::warning::Metrics that are not finite numbers: f1=NaN, loss=Infinity/);
  });

  it('retries an MLflow server that answers 503 before it recovers', async () => {
    const flaky = new MlflowDouble({ failFirst: { status: 503, times: 2 } });
    await flaky.start();
    try {
      const step = await runStep({
        action: 'train-and-log',
        workspace: emptyWorkspace(),
        inputs: { run: `echo '{"loss": 0.25}' > metrics.json`, 'tracking-uri': flaky.url },
      });
      expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
      expect(step.stdout).toMatch(/answered 503; retry 2\/4/);
      expect(flaky.runs.get(step.outputs['run-id']!)?.latest.get('loss')?.value).toBe(0.25);
    } finally {
      await flaky.stop();
    }
  });

  it('bad input: tracking-required false falls back to the local store with a warning', async () => {
    const port = await freePort();
    const workspace = emptyWorkspace();
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      inputs: {
        run: `echo '{"acc": 0.5}' > metrics.json`,
        'tracking-uri': `http://127.0.0.1:${port}`,
        'tracking-required': false,
      },
    });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
    expect(step.stdout).toMatch(/::warning::The tracking server .* could not be reached.*local store/);
    expect(step.outputs['tracking-uri']).toBe('.mlops');
    expect(existsSync(join(workspace, '.mlops/runs', step.outputs['run-id']!, 'run.json'))).toBe(true);
  });

  describe('against the basic-auth MLflow double', () => {
    const secured = new MlflowDouble({
      users: { admin: { password: 'admin-pass-123', admin: true }, reader: { password: 'reader-pass-456' } },
    });
    beforeAll(async () => {
      await secured.start();
    });
    afterAll(async () => {
      await secured.stop();
    });

    it('bad input: 401 from MLflow fails without showing the secret', async () => {
      const step = await runStep({
        action: 'train-and-log',
        workspace: emptyWorkspace(),
        env: { MLFLOW_TRACKING_USERNAME: 'admin', MLFLOW_TRACKING_PASSWORD: 'wrong-secret-789' },
        inputs: { run: 'true', 'tracking-uri': secured.url },
      });
      expect(step.exitCode).toBe(1);
      expect(step.error).toMatch(/answered 401: not authenticated \(the basic credentials were refused\)/);
      expect(withoutMasks(step.stdout + step.stderr)).not.toContain('wrong-secret-789');
      expect(withoutMasks(step.stdout + step.stderr)).not.toContain(
        Buffer.from('admin:wrong-secret-789').toString('base64'),
      );
    });

    it('bad input: 403 from MLflow fails without showing the secret', async () => {
      const admin = await fetch(`${secured.url}/api/2.0/mlflow/experiments/create`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          authorization: `Basic ${Buffer.from('admin:admin-pass-123').toString('base64')}`,
        },
        body: JSON.stringify({ name: 'shared' }),
      });
      expect(admin.status).toBe(200);
      const step = await runStep({
        action: 'train-and-log',
        workspace: emptyWorkspace(),
        env: { MLFLOW_TRACKING_USERNAME: 'reader', MLFLOW_TRACKING_PASSWORD: 'reader-pass-456' },
        inputs: { run: 'true', 'tracking-uri': secured.url, 'experiment-name': 'shared' },
      });
      expect(step.exitCode).toBe(1);
      expect(step.error).toMatch(/answered 403: permission denied/);
      expect(withoutMasks(step.stdout + step.stderr)).not.toContain('reader-pass-456');
    });
  });

  it('bad input: more params than one batch holds are chunked, not rejected', async () => {
    const params = Array.from({ length: 250 }, (_, i) => `p${String(i).padStart(3, '0')}=${i}`).join('\n');
    const before = mlflow.requestsTo('runs/log-batch').length;
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: {
        run: `echo '{"acc": 0.5}' > metrics.json`,
        params,
        'tracking-uri': mlflow.url,
        'experiment-name': 'many-params',
      },
    });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
    const run = mlflow.runs.get(step.outputs['run-id']!)!;
    expect(run.params.size).toBe(251);
    const batches = logBatchBodies(mlflow)
      .slice(before)
      .filter((b) => b.run_id === run.runId);
    const paramBatches = batches.filter((b) => (b.params?.length ?? 0) > 0);
    expect(paramBatches.map((b) => b.params!.length)).toEqual([100, 100, 51]);
    expect(
      mlflow
        .requestsTo('runs/log-batch')
        .slice(before)
        .every((r) => r.status === 200),
    ).toBe(true);
  });

  it('streams a 200,000-row CSV history to the MLflow double in log-batch requests of at most 1000 metrics, with progress', async () => {
    const rows = 200_000;
    const before = mlflow.requestsTo('runs/log-batch').length;
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: {
        run: `awk 'BEGIN { print "step,loss,acc"; for (i = 0; i < ${rows}; i++) print i "," 1 / (i + 1) "," i / ${rows} }' > history.csv`,
        'metrics-files': 'history.csv',
        'tracking-uri': mlflow.url,
        'experiment-name': 'long-history',
      },
    });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
    const run = mlflow.runs.get(step.outputs['run-id']!)!;
    expect(run.history.filter((p) => p.key === 'loss')).toHaveLength(rows);
    expect(run.history.filter((p) => p.key === 'acc')).toHaveLength(rows);
    expect(run.latest.get('loss')!.step).toBe(rows - 1);
    const metricBatches = logBatchBodies(mlflow)
      .slice(before)
      .filter((b) => b.run_id === run.runId && (b.metrics?.length ?? 0) > 0);
    expect(metricBatches.every((b) => b.metrics!.length <= 1000)).toBe(true);
    expect(step.stdout).toMatch(/Logging metrics: 400000 points, [\d.]+ [KMG]i?B\/[\d.]+ [KMG]i?B/);
  });

  it('keeps a 200,000-row history in the local store as a history file, with the latest point in run.json and a bounded sample in the outputs', async () => {
    const rows = 200_000;
    const workspace = emptyWorkspace();
    const step = await runStep({
      action: 'train-and-log',
      workspace,
      inputs: {
        run: `awk 'BEGIN { print "epoch,loss"; for (i = 0; i < ${rows}; i++) print i "," 1 / (i + 1) }' > history.csv`,
        'metrics-files': 'history.csv',
      },
    });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
    const runDir = join(workspace, '.mlops/runs', step.outputs['run-id']!);
    const record = JSON.parse(readFileSync(join(runDir, 'run.json'), 'utf8'));
    expect(record.metrics.loss).toEqual([{ value: 1 / rows, step: rows - 1, timestamp: expect.any(Number) }]);
    const history = readFileSync(join(runDir, 'metrics.jsonl'), 'utf8')
      .trimEnd()
      .split('\n')
      .map((line) => JSON.parse(line));
    expect(history).toHaveLength(rows);
    // awk prints numbers with %.6g.
    expect(history[12]).toMatchObject({ key: 'loss', value: 0.0769231, step: 12 });
    expect(JSON.parse(step.outputs.metrics!)).toEqual({ loss: 1 / rows });
    expect(step.stdout).toMatch(/Logging metrics: 200000 points/);
  });
});
