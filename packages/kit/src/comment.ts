import { errorMessage, oneLine } from './errors';
import { HttpClient, HttpError } from './http';
import { redactUrls } from './secrets';
import type { Summary } from './summary';

/** GitHub rejects issue comments longer than this many characters. */
export const COMMENT_LIMIT_CHARS = 65_536;

export interface StickyCommentOptions {
  apiUrl: string;
  repository: string;
  issueNumber?: number;
  token?: string;
  /** The action and a key of its choosing: one comment per pair on a PR or issue. */
  action: string;
  key: string;
  body: string;
  summary: Summary;
  log: (line: string) => void;
  /** Where a failed comment is reported; commenting never fails the step. Defaults to `log`. */
  warn?: (line: string) => void;
  http?: HttpClient;
}

/**
 * The login GitHub shows as the author of comments made with `GITHUB_TOKEN` (and other installation
 * tokens of the GitHub Actions app), for which `GET /user` answers 403 "Resource not accessible by
 * integration".
 */
export const ACTIONS_BOT_LOGIN = 'github-actions[bot]';

export interface StickyCommentResult {
  mode: 'created' | 'updated' | 'summary';
  url?: string;
  reason?: string;
}

export function commentMarker(action: string, key: string): string {
  const safe = (s: string) => s.replace(/--+/g, '-').replace(/[<>]/g, '');
  return `<!-- mlops-actions:${safe(action)}:${safe(key)} -->`;
}

/** Cuts a comment body to GitHub's limit, keeping the marker and saying that it was cut. */
export function fitComment(marker: string, body: string): string {
  const full = `${marker}\n${body}`;
  if (full.length <= COMMENT_LIMIT_CHARS) return full;
  const note = '\n\n_Comment truncated: see the job summary for everything._';
  let cut = full.slice(0, COMMENT_LIMIT_CHARS - note.length);
  // Do not leave half a surrogate pair or half a table row behind.
  if (/[\uD800-\uDBFF]$/.test(cut)) cut = cut.slice(0, -1);
  const lastNewline = cut.lastIndexOf('\n');
  if (lastNewline > marker.length) cut = cut.slice(0, lastNewline);
  return cut + note;
}

function nextLink(link: string | null): string | undefined {
  if (!link) return undefined;
  for (const part of link.split(',')) {
    const match = /<([^>]+)>\s*;\s*rel="?next"?/.exec(part);
    if (match) return match[1];
  }
  return undefined;
}

interface IssueComment {
  id: number;
  body?: string;
  html_url?: string;
  user?: { login?: string } | null;
}

/**
 * Whose comments we may edit: the token's own identity. A user token (PAT) answers `GET /user`; an
 * installation token such as `GITHUB_TOKEN` is refused there (403) and comments as the Actions bot.
 */
export async function tokenIdentity(http: HttpClient): Promise<string> {
  const response = await http.request('GET', 'user', { accept: [403] });
  if (response.status === 403) {
    await response.body?.cancel();
    return ACTIONS_BOT_LOGIN;
  }
  const user = (await response.json()) as { login?: string };
  if (!user.login) throw new Error('GET /user answered without a login');
  return user.login;
}

/**
 * Creates or updates the one comment of (action, key) on a PR or issue, found by a hidden marker over
 * every page of comments. Where the token may not comment, the body goes to the job summary instead.
 */
export async function upsertStickyComment(options: StickyCommentOptions): Promise<StickyCommentResult> {
  const marker = commentMarker(options.action, options.key);
  const report = redactUrls(options.body);
  const body = fitComment(marker, report);
  const fallback = (reason: string, warn = false): StickyCommentResult => {
    const line = `Not commenting on the pull request (${reason}); the report is in the job summary instead.`;
    (warn ? (options.warn ?? options.log) : options.log)(line);
    // The action may have put the same report in the summary already.
    if (!options.summary.has(report)) options.summary.add(report);
    return { mode: 'summary', reason };
  };
  if (!options.issueNumber) return fallback('this run is not about a pull request or issue');
  if (!options.token) return fallback('no GitHub token was given');

  const http =
    options.http ??
    new HttpClient({
      name: 'GitHub API',
      baseUrl: options.apiUrl,
      headers: {
        authorization: `Bearer ${options.token}`,
        accept: 'application/vnd.github+json',
        'x-github-api-version': '2022-11-28',
        'user-agent': 'mlops-actions',
      },
      log: options.log,
    });
  const base = `repos/${options.repository}/issues`;
  try {
    const identity = await tokenIdentity(http);
    let existing: IssueComment | undefined;
    let pageUrl: string | undefined = http
      .url(`${base}/${options.issueNumber}/comments`, { per_page: 100 })
      .toString();
    while (pageUrl && !existing) {
      const response = await http.request('GET', pageUrl, {
        headers: { accept: 'application/vnd.github+json' },
      });
      const comments = (await response.json()) as IssueComment[];
      // Anyone can paste our marker into a comment of theirs: only our own comment is ours to edit.
      existing = comments.find((c) => c.user?.login === identity && c.body?.includes(marker));
      pageUrl = nextLink(response.headers.get('link'));
    }
    if (existing) {
      const updated = await http.json<IssueComment>('PATCH', `${base}/comments/${existing.id}`, {
        json: { body },
      });
      return { mode: 'updated', url: updated.html_url };
    }
    const created = await http.json<IssueComment>('POST', `${base}/${options.issueNumber}/comments`, {
      json: { body },
    });
    return { mode: 'created', url: created.html_url };
  } catch (error) {
    if (error instanceof HttpError && [401, 403, 404].includes(error.status)) {
      return fallback(
        `GitHub answered ${error.status}: the token may not write comments here (fork pull requests, or a workflow without 'pull-requests: write')`,
      );
    }
    // A comment is a side effect of a run that already happened: it must not fail the step.
    return fallback(`commenting failed: ${oneLine(redactUrls(errorMessage(error)))}`, true);
  }
}
