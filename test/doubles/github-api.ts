import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, readBody, sendJson } from './http-server';

/**
 * Test double of the GitHub REST API (issue comments), following the published API: `per_page`
 * default 30 and max 100, RFC 8288 `Link` pagination, 201 on create, and GitHub's error bodies
 * `{message, documentation_url, status}` for 401/403/404/422.
 */

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
  body?: unknown;
}

interface Comment {
  id: number;
  node_id: string;
  url: string;
  html_url: string;
  issue_url: string;
  body: string;
  user: { login: string; type: string };
  created_at: string;
  updated_at: string;
  author_association: string;
}

const DOCS = 'https://docs.github.com/rest/issues/comments';

export class GithubApiDouble {
  readonly requests: RecordedRequest[] = [];
  /** Tokens that may write; `readOnlyTokens` may only read (a fork PR's GITHUB_TOKEN). */
  readonly writeTokens = new Set<string>(['ghs_test_write_token']);
  readonly readOnlyTokens = new Set<string>(['ghs_test_read_token']);
  /**
   * User tokens (PATs) and their login: `GET /user` answers for them; for installation tokens (`ghs_`,
   * as `GITHUB_TOKEN`) it answers 403, and their comments are written by `github-actions[bot]`.
   */
  readonly userTokens = new Map<string, string>();
  /** When set, creating or updating a comment answers this status (a GitHub outage). */
  failWrites?: number;
  /** Issue or PR numbers that exist, per repository `owner/name`. */
  readonly issues = new Map<string, Set<number>>();
  private readonly comments = new Map<string, Comment[]>();
  /** Deployments and their statuses as created through `POST /repos/{owner}/{repo}/deployments[/{id}/statuses]`. */
  readonly deployments: Array<Record<string, unknown> & { repository: string; id: number }> = [];
  readonly deploymentStatuses: Array<Record<string, unknown> & { deployment: number }> = [];
  private nextId = 1000;
  url = '';
  private closeServer?: () => Promise<void>;

  addIssue(repository: string, number: number): void {
    if (!this.issues.has(repository)) this.issues.set(repository, new Set());
    this.issues.get(repository)!.add(number);
  }

  /** Seeds comments written by others, e.g. to push ours beyond the first page. */
  seedComments(repository: string, number: number, bodies: string[], login = 'someone'): void {
    this.addIssue(repository, number);
    for (const body of bodies) this.store(repository, number, body, login);
  }

  commentsOf(repository: string, number: number): Comment[] {
    return [...(this.comments.get(`${repository}#${number}`) ?? [])];
  }

  async start(): Promise<string> {
    const { url, close } = await listen((req, res) => this.handle(req, res));
    this.url = url;
    this.closeServer = close;
    return url;
  }

  async stop(): Promise<void> {
    await this.closeServer?.();
  }

  private store(repository: string, number: number, body: string, login: string): Comment {
    const id = this.nextId++;
    const now = new Date(Date.UTC(2026, 0, 1, 0, 0, id % 60)).toISOString().replace('.000', '');
    const comment: Comment = {
      id,
      node_id: `IC_kwDO${id}`,
      url: `${this.url}/repos/${repository}/issues/comments/${id}`,
      html_url: `https://github.com/${repository}/pull/${number}#issuecomment-${id}`,
      issue_url: `${this.url}/repos/${repository}/issues/${number}`,
      body,
      user: { login, type: login.endsWith('[bot]') ? 'Bot' : 'User' },
      created_at: now,
      updated_at: now,
      author_association: 'NONE',
    };
    const key = `${repository}#${number}`;
    if (!this.comments.has(key)) this.comments.set(key, []);
    this.comments.get(key)!.push(comment);
    return comment;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = await readBody(req);
    let body: unknown;
    if (raw.length > 0) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        sendJson(res, 400, { message: 'Problems parsing JSON', documentation_url: DOCS, status: '400' });
        return;
      }
    }
    const authorization = req.headers.authorization;
    this.requests.push({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorization,
      body,
    });
    const token = /^(?:Bearer|token)\s+(.+)$/i.exec(authorization ?? '')?.[1];
    const canRead = token !== undefined && (this.writeTokens.has(token) || this.readOnlyTokens.has(token));
    if (!canRead) {
      sendJson(res, 401, {
        message: 'Bad credentials',
        documentation_url: 'https://docs.github.com/rest',
        status: '401',
      });
      return;
    }
    const canWrite = this.writeTokens.has(token!);
    const author = this.userTokens.get(token!) ?? 'github-actions[bot]';
    const deployments = /^\/repos\/([^/]+\/[^/]+)\/deployments(?:\/(\d+)\/statuses)?$/.exec(url.pathname);
    if (deployments && req.method === 'POST') {
      if (!canWrite)
        return this.forbidden(
          res,
          'create-a-deployment',
          'https://docs.github.com/rest/deployments/deployments',
        );
      const input = (body ?? {}) as Record<string, unknown>;
      const id = this.nextId++;
      const base = `${this.url}/repos/${deployments[1]}/deployments`;
      if (deployments[2]) {
        const status = { id, url: `${base}/${deployments[2]}/statuses/${id}`, ...input };
        this.deploymentStatuses.push({ deployment: Number(deployments[2]), ...status });
        return sendJson(res, 201, status);
      }
      if (typeof input.ref !== 'string' || input.ref === '')
        return sendJson(res, 422, {
          message: 'Invalid request.\n\n"ref" wasn\'t supplied.',
          documentation_url: 'https://docs.github.com/rest/deployments/deployments#create-a-deployment',
          status: '422',
        });
      const deployment = {
        id,
        url: `${base}/${id}`,
        sha: input.ref,
        ref: input.ref,
        task: 'deploy',
        environment: input.environment ?? 'production',
        description: input.description ?? null,
        payload: input.payload ?? {},
        creator: { login: author },
        created_at: new Date().toISOString(),
      };
      this.deployments.push({ repository: deployments[1]!, ...deployment });
      return sendJson(res, 201, deployment);
    }
    if (url.pathname === '/user' && req.method === 'GET') {
      const login = this.userTokens.get(token!);
      if (!login)
        return this.forbidden(res, 'get-the-authenticated-user', 'https://docs.github.com/rest/users/users');
      return sendJson(res, 200, { login, id: 1, type: 'User' });
    }
    if (this.failWrites && (req.method === 'POST' || req.method === 'PATCH')) {
      return sendJson(res, this.failWrites, { message: 'Server Error', status: String(this.failWrites) });
    }
    const notFound = (doc: string) =>
      sendJson(res, 404, { message: 'Not Found', documentation_url: doc, status: '404' });

    const list = /^\/repos\/([^/]+\/[^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname);
    if (list) {
      const [, repository, numberText] = list;
      const number = Number(numberText);
      if (!this.issues.get(repository!)?.has(number)) return notFound(`${DOCS}#list-issue-comments`);
      if (req.method === 'GET') return this.listComments(res, url, repository!, number);
      if (req.method === 'POST') {
        if (!canWrite) return this.forbidden(res, 'create-an-issue-comment');
        if (!this.validBody(res, body)) return;
        const comment = this.store(repository!, number, (body as { body: string }).body, author);
        sendJson(res, 201, comment, { location: comment.url });
        return;
      }
    }
    const single = /^\/repos\/([^/]+\/[^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname);
    if (single) {
      const [, repository, idText] = single;
      const comment = [...this.comments.entries()]
        .filter(([key]) => key.startsWith(`${repository}#`))
        .flatMap(([, comments]) => comments)
        .find((c) => c.id === Number(idText));
      if (!comment) return notFound(`${DOCS}#get-an-issue-comment`);
      if (req.method === 'GET') return sendJson(res, 200, comment);
      if (req.method === 'PATCH') {
        if (!canWrite) return this.forbidden(res, 'update-an-issue-comment');
        if (!this.validBody(res, body)) return;
        comment.body = (body as { body: string }).body;
        comment.updated_at = new Date(Date.UTC(2026, 0, 2)).toISOString().replace('.000', '');
        return sendJson(res, 200, comment);
      }
    }
    notFound('https://docs.github.com/rest');
  }

  private listComments(res: ServerResponse, url: URL, repository: string, number: number): void {
    const perPage = Math.min(Math.max(Number(url.searchParams.get('per_page') ?? 30) || 30, 1), 100);
    const page = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1);
    const all = this.commentsOf(repository, number);
    const last = Math.max(Math.ceil(all.length / perPage), 1);
    const link = (p: number, rel: string) => {
      const target = new URL(url.toString());
      target.searchParams.set('per_page', String(perPage));
      target.searchParams.set('page', String(p));
      return `<${target.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'));
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    sendJson(
      res,
      200,
      all.slice((page - 1) * perPage, page * perPage),
      links.length ? { link: links.join(', ') } : {},
    );
  }

  private forbidden(res: ServerResponse, anchor: string, docs = DOCS): void {
    sendJson(res, 403, {
      message: 'Resource not accessible by integration',
      documentation_url: `${docs}#${anchor}`,
      status: '403',
    });
  }

  private validBody(res: ServerResponse, body: unknown): boolean {
    const text = (body as { body?: unknown } | undefined)?.body;
    if (typeof text !== 'string') {
      sendJson(res, 422, {
        message: "Invalid request.\n\nFor 'properties/body', nil is not a string.",
        documentation_url: `${DOCS}#create-an-issue-comment`,
        status: '422',
      });
      return false;
    }
    if (text.length > 65_536) {
      sendJson(res, 422, {
        message: 'Validation Failed',
        errors: [
          {
            resource: 'IssueComment',
            code: 'custom',
            field: 'body',
            message: 'body is too long (maximum is 65536 characters)',
          },
        ],
        documentation_url: `${DOCS}#create-an-issue-comment`,
        status: '422',
      });
      return false;
    }
    return true;
  }
}
