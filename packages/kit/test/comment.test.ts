import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GithubApiDouble } from '../../../test/doubles/github-api';
import { COMMENT_LIMIT_CHARS, commentMarker, fitComment, upsertStickyComment } from '../src/comment';
import { HttpClient } from '../src/http';
import { Summary } from '../src/summary';

const repo = 'octo-org/ml-project';
const github = new GithubApiDouble();

beforeAll(async () => {
  await github.start();
});
afterAll(async () => {
  await github.stop();
});

function upsert(issueNumber: number, body: string, token = 'ghs_test_write_token', key = 'metrics') {
  const summary = new Summary();
  const logs: string[] = [];
  const result = upsertStickyComment({
    apiUrl: github.url,
    repository: repo,
    issueNumber,
    token,
    action: 'train-and-log',
    key,
    body,
    summary,
    log: (line) => logs.push(line),
  });
  return { result, summary, logs };
}

describe('sticky PR comment against the GitHub API double', () => {
  it('creates the comment once and then updates it in place', async () => {
    github.addIssue(repo, 1);
    expect((await upsert(1, 'first').result).mode).toBe('created');
    expect((await upsert(1, 'second').result).mode).toBe('updated');
    const comments = github.commentsOf(repo, 1);
    expect(comments).toHaveLength(1);
    expect(comments[0]!.body).toBe(`${commentMarker('train-and-log', 'metrics')}\nsecond`);
  });

  it('keeps one comment per key', async () => {
    github.addIssue(repo, 2);
    await upsert(2, 'a', undefined, 'model-a').result;
    await upsert(2, 'b', undefined, 'model-b').result;
    await upsert(2, 'a2', undefined, 'model-a').result;
    expect(github.commentsOf(repo, 2).map((c) => c.body.split('\n')[1])).toEqual(['a2', 'b']);
  });

  it('finds its comment beyond the first pages instead of posting a duplicate', async () => {
    github.seedComments(
      repo,
      3,
      Array.from({ length: 120 }, (_, i) => `chatter ${i}`),
    );
    await upsert(3, 'report v1').result;
    github.seedComments(
      repo,
      3,
      Array.from({ length: 130 }, (_, i) => `more chatter ${i}`),
    );
    const before = github.requests.length;
    expect((await upsert(3, 'report v2').result).mode).toBe('updated');
    const ours = github.commentsOf(repo, 3).filter((c) => c.body.includes('mlops-actions:train-and-log'));
    expect(ours).toHaveLength(1);
    expect(ours[0]!.body).toContain('report v2');
    const pages = github.requests.slice(before).filter((r) => r.method === 'GET');
    expect(pages.filter((r) => r.path.endsWith('/comments')).map((r) => r.query.page ?? '1')).toEqual([
      '1',
      '2',
    ]);
  });

  it('falls back to the job summary when the token may not write (fork PR)', async () => {
    github.addIssue(repo, 4);
    const { result, summary, logs } = upsert(4, '| metric | value |', 'ghs_test_read_token');
    expect(await result).toMatchObject({ mode: 'summary' });
    expect(summary.text).toBe('| metric | value |');
    expect(logs.join('\n')).toMatch(/GitHub answered 403: the token may not write comments/);
    expect(github.commentsOf(repo, 4)).toHaveLength(0);
  });

  it('falls back to the summary when the event has no pull request', async () => {
    const summary = new Summary();
    const result = await upsertStickyComment({
      apiUrl: github.url,
      repository: repo,
      token: 'ghs_test_write_token',
      action: 'x',
      key: 'k',
      body: 'hello',
      summary,
      log: () => undefined,
    });
    expect(result.mode).toBe('summary');
    expect(summary.text).toBe('hello');
  });

  it('truncates a body over the limit so GitHub accepts it', async () => {
    github.addIssue(repo, 5);
    const row = `| ${'x'.repeat(90)} |\n`;
    const body = row.repeat(1000);
    expect((await upsert(5, body).result).mode).toBe('created');
    const stored = github.commentsOf(repo, 5)[0]!.body;
    expect(stored.length).toBeLessThanOrEqual(COMMENT_LIMIT_CHARS);
    expect(stored).toMatch(/\|\n\n_Comment truncated/);
  });
});

describe('sticky comment: identity and failures (GitHub API double)', () => {
  it('never edits a comment of someone else that carries our marker', async () => {
    const marker = commentMarker('train-and-log', 'metrics');
    github.seedComments(repo, 20, [`${marker}\nspoofed by a user`]);
    github.seedComments(repo, 20, [`${marker}\nspoofed by another bot`], 'evil-app[bot]');
    expect((await upsert(20, 'ours').result).mode).toBe('created');
    const bodies = github.commentsOf(repo, 20).map((c) => [c.user.login, c.body.split('\n')[1]]);
    expect(bodies).toEqual([
      ['someone', 'spoofed by a user'],
      ['evil-app[bot]', 'spoofed by another bot'],
      ['github-actions[bot]', 'ours'],
    ]);
    expect((await upsert(20, 'ours again').result).mode).toBe('updated');
    expect(github.commentsOf(repo, 20).map((c) => c.body.split('\n')[1])).toEqual([
      'spoofed by a user',
      'spoofed by another bot',
      'ours again',
    ]);
    expect(github.requests.filter((r) => r.path === '/user').length).toBeGreaterThan(0);
  });

  it("with a user's token, edits only that user's comment (GET /user)", async () => {
    const marker = commentMarker('train-and-log', 'metrics');
    github.userTokens.set('ghp_test_user_token', 'octocat');
    github.writeTokens.add('ghp_test_user_token');
    github.seedComments(repo, 21, [`${marker}\nbot copy`], 'github-actions[bot]');
    github.seedComments(repo, 21, [`${marker}\nmine`], 'octocat');
    expect((await upsert(21, 'mine v2', 'ghp_test_user_token').result).mode).toBe('updated');
    expect(github.commentsOf(repo, 21).map((c) => c.body.split('\n')[1])).toEqual(['bot copy', 'mine v2']);
  });

  it('a GitHub outage is a warning: the report goes to the summary once, nothing throws', async () => {
    github.addIssue(repo, 22);
    github.failWrites = 500;
    const summary = new Summary();
    summary.add('the report');
    const warnings: string[] = [];
    try {
      const result = await upsertStickyComment({
        apiUrl: github.url,
        repository: repo,
        issueNumber: 22,
        token: 'ghs_test_write_token',
        action: 'train-and-log',
        key: 'metrics',
        body: 'the report',
        summary,
        log: () => undefined,
        warn: (line) => warnings.push(line),
        http: new HttpClient({
          baseUrl: github.url,
          headers: { authorization: 'Bearer ghs_test_write_token' },
          minDelayMs: 1,
          maxDelayMs: 2,
        }),
      });
      expect(result.mode).toBe('summary');
    } finally {
      github.failWrites = undefined;
    }
    expect(warnings.join('\n')).toMatch(/commenting failed: .*500/);
    expect(summary.text).toBe('the report');
  });

  it('does not add the report to the summary twice on a fork PR', async () => {
    github.addIssue(repo, 23);
    const summary = new Summary();
    summary.add('| a | b |');
    await upsertStickyComment({
      apiUrl: github.url,
      repository: repo,
      issueNumber: 23,
      token: 'ghs_test_read_token',
      action: 'x',
      key: 'k',
      body: '| a | b |',
      summary,
      log: () => undefined,
    });
    expect(summary.text).toBe('| a | b |');
  });
});

describe('fitComment', () => {
  it('never splits a surrogate pair', () => {
    const marker = commentMarker('a', 'b');
    const body = '😀'.repeat(COMMENT_LIMIT_CHARS);
    const fitted = fitComment(marker, body);
    expect(fitted.length).toBeLessThanOrEqual(COMMENT_LIMIT_CHARS);
    expect(fitted).not.toMatch(/[\uD800-\uDBFF](?![\uDC00-\uDFFF])/);
  });

  it('keeps the marker free of comment terminators from keys', () => {
    expect(commentMarker('a', 'x-->y')).toBe('<!-- mlops-actions:a:x-y -->');
  });
});
