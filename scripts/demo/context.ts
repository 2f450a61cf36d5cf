/**
 * What every story shares: the example project copied into a fresh git workspace, the environment the
 * steps run in, a pull request event, and a local stand-in for GitHub's comments API (the test double,
 * which follows the published API) so each step's would-be PR comment can be shown.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { GithubApiDouble } from '../../test/doubles/github-api';
import { type EventSpec, events, type StepResult } from '../../test/harness';
import type { DemoRecord } from './record';

export const REPOSITORY = 'acme/breast-cancer-model';
export const PULL_REQUEST = 7;
const TOKEN = 'ghs_test_write_token';

export interface DemoContext {
  root: string;
  scratch: string;
  record: DemoRecord;
  /** Action ids whose bundle exists in dist/. */
  built: Set<string>;
  github: GithubApiDouble;
  env: Record<string, string>;
  event: EventSpec;
}

export async function createContext(
  root: string,
  scratch: string,
  record: DemoRecord,
  built: Set<string>,
): Promise<DemoContext> {
  const github = new GithubApiDouble();
  await github.start();
  github.addIssue(REPOSITORY, PULL_REQUEST);
  return {
    root,
    scratch,
    record,
    built,
    github,
    // Debian's python3 has scikit-learn and Jupyter; a python3 earlier on PATH may not.
    env: {
      PATH: `/usr/bin:${process.env.PATH ?? ''}`,
      GITHUB_TOKEN: TOKEN,
      GITHUB_API_URL: github.url,
      GITHUB_REPOSITORY: REPOSITORY,
    },
    event: events.pullRequest({
      repo: REPOSITORY,
      number: PULL_REQUEST,
      baseSha: '1'.repeat(40),
      headSha: '2'.repeat(40),
    }),
  };
}

/** A fresh copy of examples/ as a one-commit git repository, as actions/checkout would leave it. */
export function checkout(ctx: DemoContext, name: string): string {
  const workspace = mkdtempSync(join(ctx.scratch, `${name}-`));
  cpSync(join(ctx.root, 'examples'), workspace, { recursive: true });
  const git = (...args: string[]) =>
    execFileSync('git', ['-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', ...args], {
      cwd: workspace,
    });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-qm', 'example project');
  return workspace;
}

function commentBodies(ctx: DemoContext): Map<number, string> {
  return new Map(ctx.github.commentsOf(REPOSITORY, PULL_REQUEST).map((c) => [c.id, c.body]));
}

/**
 * Runs a step and records it: the progress line, its job summary and any PR comment it created or
 * updated on the GitHub stand-in. A failed step stops the story with its error.
 */
export async function recorded(
  ctx: DemoContext,
  story: string,
  title: string,
  run: () => Promise<StepResult>,
  line: (result: StepResult) => string,
  options: { expectFailure?: boolean } = {},
): Promise<StepResult> {
  const before = commentBodies(ctx);
  const started = Date.now();
  const result = await run();
  const seconds = ((Date.now() - started) / 1000).toFixed(1);
  const after = commentBodies(ctx);
  const comment = [...after]
    .filter(([id, body]) => before.get(id) !== body)
    .map(([, body]) => body)
    .join('\n\n');
  const ok = options.expectFailure ? result.exitCode !== 0 : result.exitCode === 0;
  ctx.record.step({
    story,
    title,
    ok,
    line: `${ok ? line(result) : `failed: ${result.error ?? `exit ${result.exitCode}`}`} (${seconds} s)`,
    summary: result.summary,
    comment: comment || undefined,
  });
  if (!ok) {
    throw new Error(`${title} failed:\n${result.stdout.slice(-4000)}\n${result.stderr.slice(-2000)}`);
  }
  return result;
}

export function bundleExists(root: string, id: string): boolean {
  return existsSync(join(root, 'dist', id, 'index.js'));
}
