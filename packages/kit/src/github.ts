import { existsSync, readFileSync } from 'node:fs';

/** What the runner tells a step about the workflow run, read from its environment. */
export interface GithubContext {
  repository: string;
  owner: string;
  repo: string;
  sha: string;
  ref: string;
  eventName: string;
  event: Record<string, unknown>;
  serverUrl: string;
  apiUrl: string;
  runId: string;
  runAttempt: string;
  workflow: string;
  actor: string;
  token?: string;
  /** The pull request or issue number the event is about, if any. */
  issueNumber?: number;
  runUrl?: string;
}

export function readGithubContext(env: NodeJS.ProcessEnv = process.env): GithubContext {
  const repository = env.GITHUB_REPOSITORY ?? '';
  const [owner = '', repo = ''] = repository.split('/');
  const eventPath = env.GITHUB_EVENT_PATH;
  let event: Record<string, unknown> = {};
  if (eventPath && existsSync(eventPath)) {
    try {
      event = JSON.parse(readFileSync(eventPath, 'utf8')) as Record<string, unknown>;
    } catch {
      event = {};
    }
  }
  const serverUrl = (env.GITHUB_SERVER_URL ?? 'https://github.com').replace(/\/$/, '');
  const runId = env.GITHUB_RUN_ID ?? '';
  const pr = event.pull_request as { number?: number } | undefined;
  const issue = event.issue as { number?: number } | undefined;
  const issueNumber =
    pr?.number ?? issue?.number ?? (typeof event.number === 'number' ? event.number : undefined);
  return {
    repository,
    owner,
    repo,
    sha: env.GITHUB_SHA ?? '',
    ref: env.GITHUB_REF ?? '',
    eventName: env.GITHUB_EVENT_NAME ?? '',
    event,
    serverUrl,
    apiUrl: (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/$/, ''),
    runId,
    runAttempt: env.GITHUB_RUN_ATTEMPT ?? '1',
    workflow: env.GITHUB_WORKFLOW ?? '',
    actor: env.GITHUB_ACTOR ?? '',
    token: env.GITHUB_TOKEN || undefined,
    issueNumber,
    runUrl: repository && runId ? `${serverUrl}/${repository}/actions/runs/${runId}` : undefined,
  };
}
