import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPERIMENT, users, writeCsv } from '../ab/data';
import { evaluate, workspace } from '../ab/helpers';
import { GithubApiDouble } from '../doubles/github-api';

const REPO = 'octo-org/ml-project';
const dir = workspace();
const github = new GithubApiDouble();
let env: Record<string, string>;

beforeAll(async () => {
  writeCsv(join(dir, 'users.csv'), users({ seed: 5, control: 800, treatment: 800, ctrLift: 0.3 }));
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const instance = await DuckDBInstance.create(join(dir, 'warehouse.duckdb'));
  const c = await instance.connect();
  await c.run(`CREATE TABLE users AS SELECT * FROM read_csv('${join(dir, 'users.csv')}', header = true)`);
  c.closeSync();
  instance.closeSync();
  env = {
    GITHUB_API_URL: await github.start(),
    GITHUB_TOKEN: 'ghs_test_write_token',
    GITHUB_REPOSITORY: REPO,
  };
});
afterAll(async () => {
  await github.stop();
});

describe('ab-evaluate: injection, secrets, workspace and comment failures (issue 17, GitHub API double)', () => {
  it("a 'table' query that ends the SQL fence stays inside the code block of the comment", async () => {
    github.addIssue(REPO, 5);
    const hostile =
      'SELECT * FROM users /*\n```\n<img src=x onerror=alert(1)> @octocat <!-- mlops-actions:train-and-log:metrics -->\n*/';
    const step = await evaluate(
      dir,
      {
        experiment: EXPERIMENT,
        data: 'warehouse.duckdb',
        table: hostile,
        comment: 'true',
        'issue-number': '5',
      },
      env,
    );
    expect(step.error).toBeUndefined();
    const body = github.commentsOf(REPO, 5)[0]!.body;
    const lines = body.split('\n');
    const open = lines.findIndex((l) => /^`{3,}sql$/.test(l));
    const fence = /^`+/.exec(lines[open]!)![0];
    const close = lines.findIndex((l, i) => i > open && l === fence);
    const inside = lines.slice(open + 1, close).join('\n');
    expect(inside).toContain('<img src=x');
    const outside = [...lines.slice(0, open), ...lines.slice(close + 1)].join('\n');
    expect(outside).not.toContain('<img');
    expect(outside).not.toContain('@octocat');
    expect(outside).not.toContain('mlops-actions:train-and-log');
  });

  it('a GitHub outage on the comment is a warning: outputs and one copy of the report in the summary', async () => {
    github.addIssue(REPO, 6);
    github.failWrites = 500;
    try {
      const step = await evaluate(
        dir,
        { experiment: EXPERIMENT, data: 'users.csv', comment: 'true', 'issue-number': '6' },
        env,
      );
      expect(step.exitCode).toBe(0);
      expect(step.result.decision).toBeDefined();
      expect(step.stdout).toMatch(/::warning::Not commenting on the pull request \(commenting failed/);
      expect(step.summary.split('Aggregation query').length - 1).toBe(1);
    } finally {
      github.failWrites = undefined;
    }
  });

  it('a fork PR (read-only token) puts the report in the summary once', async () => {
    github.addIssue(REPO, 7);
    const step = await evaluate(
      dir,
      { experiment: EXPERIMENT, data: 'users.csv', comment: 'true', 'issue-number': '7' },
      { ...env, GITHUB_TOKEN: 'ghs_test_read_token' },
    );
    expect(step.exitCode).toBe(0);
    expect(step.summary.split('Aggregation query').length - 1).toBe(1);
  });

  it('data=/etc/passwd is refused before it is read, and its first line is never echoed', async () => {
    const step = await evaluate(dir, { experiment: EXPERIMENT, data: '/etc/passwd', format: 'csv' });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      /^Input 'data': '\/etc\/passwd' is outside the workspace .*allow-data-outside-workspace/,
    );
    expect(step.stdout).not.toContain('root:');
    const glob = await evaluate(dir, { experiment: EXPERIMENT, data: '../*/users.csv' });
    expect(glob.error).toMatch(/^Input 'data': .* is outside the workspace/);
  });

  it('an experiment file outside the workspace is refused', async () => {
    const outside = workspace();
    writeFileSync(join(outside, 'exp.yml'), EXPERIMENT);
    mkdirSync(join(dir, 'sub'), { recursive: true });
    const step = await evaluate(dir, { experiment: join(outside, 'exp.yml'), data: 'users.csv' });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/^Input 'experiment': '.*exp\.yml' is outside the workspace/);
  });

  it('the password of a data URL with an unsupported scheme is masked and never echoed', async () => {
    const step = await evaluate(dir, {
      experiment: EXPERIMENT,
      data: 'http://user:AbCanary91@127.0.0.1:9/x.csv',
    });
    expect(step.exitCode).toBe(1);
    expect(step.stdout).toContain('::add-mask::AbCanary91');
    expect(step.stdout.replace(/::add-mask::.*/g, '')).not.toContain('AbCanary91');
    expect(step.summary).not.toContain('AbCanary91');
  });
});
