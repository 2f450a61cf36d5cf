import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPERIMENT, users, writeCsv } from '../ab/data';
import { workspace } from '../ab/helpers';
import { GithubApiDouble } from '../doubles/github-api';
import { events, runStep, type StepResult } from '../harness';
import { emptyWorkspace } from '../train/workspace';

/**
 * Issue 17: every secret-bearing input and URL gets a canary value of its own; each failure path is
 * forced; the canary must appear nowhere but in the runner's `::add-mask::` commands.
 */
const REPO = 'octo-org/ml-project';
const github = new GithubApiDouble();
let closedPort = 0;

beforeAll(async () => {
  await github.start();
  // A port that refuses connections: bound, then closed.
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  closedPort = (server.address() as { port: number }).port;
  await new Promise<void>((r) => server.close(() => r()));
});
afterAll(async () => {
  await github.stop();
});

/** A log without the runner's mask commands, the one place a secret must appear. */
const unmasked = (log = '') =>
  log
    .split('\n')
    .filter((l) => !l.startsWith('::add-mask::'))
    .join('\n');

function leaks(step: StepResult, canaries: string[]): string[] {
  const places: Record<string, string> = {
    log: unmasked(step.stdout),
    stderr: step.stderr,
    error: step.error ?? '',
    summary: step.summary,
    outputs: JSON.stringify(step.outputs),
    comments: JSON.stringify(github.requests.map((r) => r.body ?? null)),
    post: `${unmasked(step.post?.stdout)}${step.post?.summary ?? ''}`,
  };
  return canaries.flatMap((c) =>
    Object.entries(places)
      .filter(([, text]) => text.includes(c))
      .map(([where]) => `${c} in ${where}`),
  );
}

describe('secrets canary: no secret reaches a log, summary, output or comment (issue 17)', () => {
  it('train-and-log: tracking-uri with an invalid port, and a password in the URL', async () => {
    const step = await runStep({
      action: 'train-and-log',
      workspace: emptyWorkspace(),
      inputs: { run: 'true', 'tracking-uri': 'http://carol:CanaryTrackPw1@127.0.0.1:99999' },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/tracking-uri/);
    expect(step.stdout).toContain('::add-mask::CanaryTrackPw1');
    expect(leaks(step, ['CanaryTrackPw1'])).toEqual([]);
  });

  it('train-and-log: an unreachable tracking server, a tracking token and a failing comment', async () => {
    github.addIssue(REPO, 31);
    github.failWrites = 502;
    github.writeTokens.add('CanaryGithubTok3');
    try {
      const unreachable = await runStep({
        action: 'train-and-log',
        workspace: emptyWorkspace(),
        inputs: {
          run: 'true',
          'tracking-uri': `http://carol:CanaryTrackPw2@127.0.0.1:${closedPort}`,
          'tracking-token': 'CanaryTrackTok2',
          'tracking-required': 'true',
        },
      });
      expect(unreachable.exitCode).toBe(1);
      expect(leaks(unreachable, ['CanaryTrackPw2', 'CanaryTrackTok2'])).toEqual([]);
      const commented = await runStep({
        action: 'train-and-log',
        workspace: emptyWorkspace(),
        inputs: { run: 'echo \'{"a": 1}\' > metrics.json', 'github-token': 'CanaryGithubTok3' },
        env: { GITHUB_API_URL: github.url },
        event: events.pullRequest({
          repo: REPO,
          number: 31,
          baseSha: 'a'.repeat(40),
          headSha: 'b'.repeat(40),
        }),
      });
      expect(commented.exitCode).toBe(0);
      expect(commented.stdout).toMatch(/commenting failed/);
      expect(leaks(commented, ['CanaryGithubTok3'])).toEqual([]);
    } finally {
      github.failWrites = undefined;
    }
  });

  it('ab-evaluate: a data URL of an unsupported scheme, PostgreSQL down, a warehouse token', async () => {
    const dir = workspace();
    writeCsv(join(dir, 'users.csv'), users({ seed: 1, control: 200, treatment: 200, ctrLift: 0.1 }));
    writeFileSync(join(dir, 'exp.yml'), EXPERIMENT);
    const cases = [
      { data: 'http://user:CanaryAbPw4@127.0.0.1:9/x.csv' },
      { data: `postgres://user:CanaryAbPw5@127.0.0.1:${closedPort}/db`, table: 'users' },
      {
        data: 'users.csv',
        'warehouse-token': 'CanaryAbTok6',
        'github-token': 'CanaryAbTok7',
        comment: 'true',
      },
    ];
    for (const inputs of cases) {
      const step = await runStep({
        action: 'ab-evaluate',
        workspace: dir,
        inputs: { experiment: 'exp.yml', comment: 'false', 'issue-number': '32', ...inputs },
        env: { GITHUB_API_URL: github.url, GITHUB_REPOSITORY: REPO },
      });
      expect(
        leaks(step, ['CanaryAbPw4', 'CanaryAbPw5', 'CanaryAbTok6', 'CanaryAbTok7']),
        inputs.data,
      ).toEqual([]);
    }
  });

  it('canary-deploy: a Prometheus URL with a password, unreachable, and a Prometheus token', async () => {
    const step = await runStep({
      action: 'canary-deploy',
      inputs: {
        router: 'command',
        command: 'true',
        steps: '50%',
        interval: '1s',
        count: '1',
        'prometheus-url': `http://promuser:CanaryPromPw8@127.0.0.1:${closedPort}`,
        'prometheus-token': 'CanaryPromTok9',
      },
      timeoutMs: 120_000,
    });
    expect(step.stdout).toContain('::add-mask::CanaryPromPw8');
    expect(leaks(step, ['CanaryPromPw8', 'CanaryPromTok9'])).toEqual([]);
  });
});
