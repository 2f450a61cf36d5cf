import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderActionYml } from '../../scripts/action-metadata';
import { bundle } from '../../scripts/bundle';
import { GithubApiDouble } from '../doubles/github-api';
import { events, Job, parseFileCommands, runStep } from './index';
import sample from './sample-action/src/main';

let actionDir: string;
const github = new GithubApiDouble();

beforeAll(async () => {
  actionDir = mkdtempSync(join(tmpdir(), 'sample-action-'));
  await bundle(join(__dirname, 'sample-action', 'src', 'index.ts'), actionDir);
  writeFileSync(join(actionDir, 'action.yml'), renderActionYml(sample, 'index.js'));
  await github.start();
}, 120_000);

afterAll(async () => {
  await github.stop();
});

describe('parseFileCommands', () => {
  it('reads name=value lines and heredoc blocks', () => {
    expect(parseFileCommands('a=1\nb<<EOF_1\nline 1\nline 2\nEOF_1\nc=x=y\n')).toEqual({
      a: '1',
      b: 'line 1\nline 2',
      c: 'x=y',
    });
    expect(() => parseFileCommands('b<<END\nnever closed')).toThrow("no closing delimiter 'END'");
  });
});

describe('the harness runs a bundled action as the runner does', () => {
  it('fills defaults from action.yml, sets outputs (multi-line too) and the json output', async () => {
    const step = await runStep({ action: actionDir, inputs: { names: ['Ada', 'Grace'] } });
    expect(step.exitCode).toBe(0);
    expect(step.outputs.message).toBe('hello, Ada!\nhello, Grace!');
    expect(step.outputs.count).toBe('2');
    expect(step.outputs.share).toBe('10');
    expect(step.json).toEqual({
      message: 'hello, Ada!\nhello, Grace!',
      count: 2,
      share: 10,
      'comment-mode': 'none',
    });
    expect(step.summary).toContain('### Greetings');
  });

  it('runs the post step with the state the main step saved', async () => {
    const step = await runStep({ action: actionDir, inputs: { names: 'x,y' } });
    expect(step.state.names).toBe('["x","y"]');
    expect(step.post?.exitCode).toBe(0);
    expect(step.post?.stdout).toContain('post saw names: ["x","y"]');
  });

  it('fails a bad input with one line, exit code 1 and no stack trace', async () => {
    const step = await runStep({ action: actionDir, inputs: { wait: 'soon' } });
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe(`Input 'wait': expected a duration such as 90s, 5m, 1h30m or 250ms (got "soon")`);
    expect(step.stdout).not.toMatch(/\n\s+at /);
    expect(step.post?.stdout).toContain('Post step skipped: the inputs were invalid');
  });

  it('shows the stack of an unexpected error only under ACTIONS_STEP_DEBUG', async () => {
    const quiet = await runStep({ action: actionDir, inputs: { fail: true } });
    expect(quiet.error).toBe('Error: asked to fail');
    expect(quiet.stdout).not.toContain('main.ts');
    const debug = await runStep({
      action: actionDir,
      inputs: { fail: true },
      env: { ACTIONS_STEP_DEBUG: 'true' },
    });
    expect(debug.stdout).toMatch(/::debug::Error: asked to fail%0A\s+at /);
  });

  it('masks a secret input before anything prints it', async () => {
    const token = 'ghp_0123456789abcdefghijklmnopqrstuvwxyz';
    const step = await runStep({ action: actionDir, inputs: { token } });
    const maskAt = step.stdout.indexOf(`::add-mask::${token}`);
    const printedAt = step.stdout.indexOf('token is ***');
    expect(maskAt).toBeGreaterThanOrEqual(0);
    expect(printedAt).toBeGreaterThan(maskAt);
    // The kit redacts masked values itself too (the runner masks only its log, not files or API bodies).
    const withoutMaskCommands = step.stdout.replace(/^::add-mask::.*$/gm, '');
    expect(withoutMaskCommands).not.toContain(token);
  });

  it('cancels with SIGINT as the runner does: the step winds down in its grace time, then the post step runs', async () => {
    const step = await runStep({ action: actionDir, inputs: { wait: '30s' }, cancelAfterMs: 1500 });
    expect(step.stdout).toContain('Received SIGINT: cancelling sample-action.');
    expect(step.stdout).toContain('cancelled: cleaned up in the main step');
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe('sample-action was cancelled (SIGINT)');
    expect(step.post?.stdout).toContain('post saw names: ["world"]');
  });

  it('stops waiting for work that ignores the cancellation after the grace time', async () => {
    const step = await runStep({
      action: actionDir,
      inputs: { wait: '60s', 'ignore-cancel': true },
      cancelAfterMs: 1000,
    });
    expect(step.signal).toBeNull();
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe('sample-action was cancelled (SIGINT)');
    expect(step.stdout).not.toContain('cleaned up in the main step');
    expect(step.post?.exitCode).toBe(0);
  });

  it('can fail a step after setting its outputs', async () => {
    const step = await runStep({ action: actionDir, inputs: { 'fail-after-outputs': true } });
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe('greeted, but asked to fail');
    expect(step.outputs.message).toBe('hello, world!');
  });

  it('chains steps: one step’s outputs become the next step’s inputs', async () => {
    const job = new Job();
    await job.step('first', actionDir, { names: 'a,b,c' });
    const second = await job.step('second', actionDir, (steps) => ({
      greeting: 'hi',
      names: steps.first!.outputs.count,
    }));
    expect(second.outputs.message).toBe('hi, 3!');
  });

  it('posts a sticky comment on the pull request of the event, through the GitHub API double', async () => {
    const repo = 'octo-org/ml-project';
    github.addIssue(repo, 7);
    const run = (names: string) =>
      runStep({
        action: actionDir,
        inputs: { comment: true, names },
        event: events.pullRequest({ repo, number: 7, baseSha: 'b'.repeat(40), headSha: 'c'.repeat(40) }),
        env: { GITHUB_API_URL: github.url, GITHUB_TOKEN: 'ghs_test_write_token' },
      });
    expect((await run('one')).outputs['comment-mode']).toBe('created');
    expect((await run('two')).outputs['comment-mode']).toBe('updated');
    expect(github.commentsOf(repo, 7).map((c) => c.body.split('\n').slice(1).join('\n'))).toEqual([
      'hello, two!',
    ]);
  });
});
