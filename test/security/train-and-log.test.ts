import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ArtifactServiceDouble } from '../doubles/artifact-service';
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

/** The entries of a zip archive, read by Python's zipfile (an independent reader). */
function unzip(zip: Buffer): Record<string, Buffer> {
  const listing = execFileSync(
    '/usr/bin/python3',
    [
      '-c',
      'import base64, io, json, sys, zipfile\nz = zipfile.ZipFile(io.BytesIO(sys.stdin.buffer.read()))\nprint(json.dumps({n: base64.b64encode(z.read(n)).decode() for n in z.namelist() if not n.endswith("/")}))',
    ],
    { input: zip, maxBuffer: 64 << 20 },
  ).toString('utf8');
  return Object.fromEntries(
    Object.entries(JSON.parse(listing) as Record<string, string>).map(([k, v]) => [
      k,
      Buffer.from(v, 'base64'),
    ]),
  );
}

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

  it('15,000 metrics on a GitHub runner: the full JSON and the local store are uploaded as workflow artifacts (artifact service double, Azurite)', async () => {
    const service = new ArtifactServiceDouble();
    await service.start();
    try {
      const ws = emptyWorkspace();
      const metrics = Object.fromEntries(
        Array.from({ length: 15_000 }, (_, i) => [`metric_${'m'.repeat(40)}_${i}`, i / 3]),
      );
      writeFileSync(join(ws, 'metrics.json'), JSON.stringify(metrics));
      const step = await train(ws, { run: 'true' }, { ...service.env(), GITHUB_JOB: 'train' });
      expect(step.error, step.stdout.slice(-2000)).toBeUndefined();
      const pointer = JSON.parse(step.outputs.metrics!);
      expect(pointer.artifact).toMatch(/^train-and-log-outputs-train-[0-9a-f]{6}$/);
      expect(step.stdout).toContain(`(workflow artifact '${pointer.artifact}')`);
      const outputs = unzip(await service.download(pointer.artifact));
      expect(Object.keys(outputs)).toEqual(['outputs.json']);
      expect(Object.keys(JSON.parse(outputs['outputs.json']!.toString('utf8')).metrics)).toHaveLength(15_000);
      const runId = step.outputs['run-id']!;
      const store = unzip(await service.download(`mlops-run-${runId}`));
      expect(JSON.parse(store[`runs/${runId}/run.json`]!.toString('utf8')).status).toBe('FINISHED');
      expect(service.artifacts.every((a) => a.finalized && a.hash?.startsWith('sha256:'))).toBe(true);
    } finally {
      await service.stop();
    }
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
      expect(step.summary).toContain('accuracy');
      // The report once, not once more by the comment's fallback.
      const heading = step.summary.split('\n')[0]!;
      expect(heading).toMatch(/^#/);
      expect(step.summary.split(heading).length - 1).toBe(1);
    } finally {
      github.failWrites = undefined;
    }
  });
});
