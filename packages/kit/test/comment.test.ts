import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GithubApiDouble } from '../../../test/doubles/github-api';
import { COMMENT_LIMIT_CHARS, commentMarker, fitComment, upsertStickyComment } from '../src/comment';
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
    expect(pages.map((r) => r.query.page ?? '1')).toEqual(['1', '2']);
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
