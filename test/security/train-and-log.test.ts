import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GithubApiDouble } from '../doubles/github-api';
import { events, runStep } from '../harness';
import { emptyWorkspace } from '../train/workspace';

const REPO = 'octo-org/ml-project';
const github = new GithubApiDouble();
beforeAll(async () => {
  await github.start();
});
afterAll(async () => {
  await github.stop();
});

const train = (workspace: string, inputs: Record<string, string>, env: Record<string, string> = {}) =>
  runStep({ action: 'train-and-log', workspace, inputs, env });

/** A directory beside the workspace holding what must never leave the runner. */
function outsideDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'outside-'));
  writeFileSync(join(dir, 'secrets.yaml'), 'db_password: OutsideSecret42\n');
  writeFileSync(join(dir, 'id_rsa'), '-----BEGIN OPENSSH PRIVATE KEY-----\nOutsideKey42\n');
  writeFileSync(join(dir, 'metrics.json'), '{"OutsideMetric42": 1}');
  return dir;
}

describe('train-and-log: the workspace is the boundary (issue 17)', () => {
  it.each([
    ['params-file', (o: string) => join(o, 'secrets.yaml')],
    ['params-file', (o: string) => `../${o.split('/').pop()}/secrets.yaml`],
    ['metrics-files', (o: string) => join(o, 'metrics.json')],
    ['model-path', (o: string) => join(o, 'id_rsa')],
  ])('refuses %s outside the workspace before any run starts', async (input, path) => {
    const outside = outsideDir();
    const ws = emptyWorkspace();
    const step = await train(ws, { run: 'echo {} > metrics.json', [input]: path(outside) });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(new RegExp(`^Input '${input}': '.*' is outside the workspace`));
    expect(existsSync(join(ws, '.mlops'))).toBe(false);
    const everything = [step.stdout, step.summary, JSON.stringify(step.outputs)].join('\n');
    expect(everything).not.toMatch(/Outside(Secret|Key|Metric)42/);
  });

  it('refuses a committed model symlink pointing outside, and uploads nothing', async () => {
    const outside = outsideDir();
    const ws = emptyWorkspace();
    symlinkSync(outside, join(ws, 'model'));
    const step = await train(ws, { run: 'echo \'{"a": 1}\' > metrics.json', 'model-path': 'model' });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      /^Input 'model-path': 'model' is outside the workspace .*through a symbolic link/,
    );
  });
});

describe('train-and-log: failures that lose work (issue 17)', () => {
  it('2,500 params (a 150 KB params file) reach the command through MLOPS_PARAMS_FILE, no E2BIG', async () => {
    const ws = emptyWorkspace();
    const lines = Array.from(
      { length: 2500 },
      (_, i) => `param_${String(i).padStart(4, '0')}: ${'v'.repeat(48)}${i}`,
    );
    writeFileSync(join(ws, 'params.yaml'), `${lines.join('\n')}\n`);
    expect(readFileSync(join(ws, 'params.yaml')).length).toBeGreaterThan(140_000);
    const step = await train(ws, {
      'params-file': 'params.yaml',
      run: `python3 -c "import json,os; p=json.load(open(os.environ['MLOPS_PARAMS_FILE'])); json.dump({'params': len(p)}, open('metrics.json','w'))"`,
    });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
    expect(JSON.parse(step.outputs.metrics!)).toEqual({ params: 2501 });
  });

  it('15,000 metrics: the step succeeds, outputs stay under 1 MB, the full JSON is in a file', async () => {
    const ws = emptyWorkspace();
    const metrics = Object.fromEntries(
      Array.from({ length: 15_000 }, (_, i) => [`metric_${'m'.repeat(40)}_${i}`, i / 3]),
    );
    writeFileSync(join(ws, 'metrics.json'), JSON.stringify(metrics));
    const step = await train(ws, { run: 'true' });
    expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
    expect(step.exitCode).toBe(0);
    const bytes = Object.entries(step.outputs).reduce((s, [k, v]) => s + k.length + Buffer.byteLength(v), 0);
    expect(bytes).toBeLessThan(1024 * 1024);
    const pointer = JSON.parse(step.outputs.metrics!);
    expect(pointer.truncated).toBe(true);
    expect(step.stdout).toMatch(
      /::warning::The outputs of train-and-log exceed GitHub's 1 MB limit: 'metrics'/,
    );
    const full = JSON.parse(readFileSync(pointer.file, 'utf8'));
    expect(Object.keys(full.metrics)).toHaveLength(15_000);
    expect(step.outputs['run-id']).toMatch(/\w/);
  });

  it('GitHub answering 500 on the comment: a warning, outputs and the summary are kept (GitHub API double)', async () => {
    github.addIssue(REPO, 9);
    github.failWrites = 500;
    try {
      const ws = emptyWorkspace();
      mkdirSync(join(ws, 'out'));
      const step = await runStep({
        action: 'train-and-log',
        workspace: ws,
        inputs: { run: 'echo \'{"accuracy": 0.9}\' > metrics.json' },
        env: { GITHUB_API_URL: github.url, GITHUB_TOKEN: 'ghs_test_write_token' },
        event: events.pullRequest({
          repo: REPO,
          number: 9,
          baseSha: 'a'.repeat(40),
          headSha: 'b'.repeat(40),
        }),
      });
      expect(step.exitCode).toBe(0);
      expect(step.outputs.status).toBe('FINISHED');
      expect(step.stdout).toMatch(/::warning::Not commenting on the pull request \(commenting failed/);
      expect(step.summary.split('accuracy').length - 1).toBeGreaterThan(0);
      expect(step.summary.split('### ').length).toBe(2);
    } finally {
      github.failWrites = undefined;
    }
  });
});
