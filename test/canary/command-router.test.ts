import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GithubApiDouble } from '../doubles/github-api';
import { events, runStep } from '../harness';

const github = new GithubApiDouble();
const repo = 'octo-org/ml-project';

beforeAll(async () => {
  await github.start();
  github.addIssue(repo, 12);
});

afterAll(async () => {
  await github.stop();
});

describe('canary-deploy with the command router', () => {
  it('promote and abort run the script with the weight, and the report goes to a sticky PR comment (GitHub API double)', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'canary-ws-'));
    const log = join(workspace, 'weights.txt');
    const run = (action: string) =>
      runStep({
        action: 'canary-deploy',
        workspace,
        inputs: {
          action,
          router: 'command',
          command: `echo "$1 $CANARY_WEIGHT $STABLE_WEIGHT" >> ${log}`,
          comment: true,
        },
        event: events.pullRequest({ repo, number: 12, baseSha: 'b'.repeat(40), headSha: 'c'.repeat(40) }),
        env: { GITHUB_API_URL: github.url, GITHUB_TOKEN: 'ghs_test_write_token' },
      });
    const promoted = await run('promote');
    expect(promoted.exitCode).toBe(0);
    expect(promoted.outputs.outcome).toBe('promoted');
    expect(promoted.outputs['final-weight']).toBe('100');
    const aborted = await run('abort');
    expect(aborted.exitCode).toBe(0);
    expect(aborted.outputs.outcome).toBe('rolled-back');
    expect(readFileSync(log, 'utf8')).toBe('100 100 0\n0 0 100\n');
    const comments = github.commentsOf(repo, 12);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toContain('<!-- mlops-actions:canary-deploy:canary -->');
    expect(comments[0]!.body).toContain('rolled back to 100% stable');
  });

  it('fails when the script fails, naming it and its exit code', async () => {
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { action: 'promote', router: 'command', command: 'echo "kubectl: forbidden" >&2; exit 3' },
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toBe(
      `command router: 'echo "kubectl: forbidden" >&2; exit 3' exited with 3 setting the canary to 100%: kubectl: forbidden`,
    );
  });
});
