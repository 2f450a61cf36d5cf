import { execFile } from 'node:child_process';
import { relative, resolve, sep } from 'node:path';
import { promisify } from 'node:util';
import { ActionError } from '@mlops-actions/kit';
import { type BaselineRun, parseMetricsText, type TrackingStore } from '@mlops-actions/store';

const run = promisify(execFile);

export type BaselineSpec =
  | { kind: 'none' }
  | { kind: 'pr-base' }
  | { kind: 'git'; rev: string }
  | { kind: 'run'; runId: string }
  | { kind: 'alias'; name: string; alias: string };

/** `pr-base` (default), `git:<rev>`, a run id (`run:<id>` or 32 hex digits), `models:/<name>@<alias>`, `none`. */
export function parseBaseline(text: string): BaselineSpec {
  const value = text.trim();
  if (value === '' || value === 'pr-base' || value === 'auto') return { kind: 'pr-base' };
  if (value === 'none' || value === 'false') return { kind: 'none' };
  const git = /^git:(.+)$/.exec(value);
  if (git) {
    if (!/^[\w./^~@{}-]+$/.test(git[1]!) || git[1]!.startsWith('-'))
      throw new Error('git:<rev> needs a commit, branch or tag name');
    return { kind: 'git', rev: git[1]! };
  }
  const runId = /^(?:run:|runs:\/)?([0-9a-f]{32})\/?$/.exec(value);
  if (runId) return { kind: 'run', runId: runId[1]! };
  const alias = /^models:\/([^@/]+)@([\w-]+)$/.exec(value);
  if (alias) return { kind: 'alias', name: alias[1]!, alias: alias[2]! };
  throw new Error(
    "expected 'pr-base', 'git:<rev>', an MLflow run id (32 hex digits), 'models:/<name>@<alias>' or 'none'",
  );
}

async function git(cwd: string, args: string[]): Promise<string> {
  const { stdout } = await run('git', args, { cwd, maxBuffer: 64 * 1024 * 1024, encoding: 'utf8' });
  return stdout;
}

/**
 * Metrics files as they were at a commit, read with `git show <rev>:<path>` (fetching the commit once when
 * a shallow checkout lacks it). Files missing at that commit are skipped.
 */
export async function metricsAtCommit(
  workspace: string,
  workDir: string,
  files: string[],
  rev: string,
  log: (line: string) => void,
): Promise<BaselineRun> {
  let top: string;
  try {
    top = (await git(workspace, ['rev-parse', '--show-toplevel'])).trim();
  } catch {
    throw new ActionError(
      `baseline: ${workspace} is not a git checkout, so the metrics at ${rev} cannot be read`,
    );
  }
  try {
    await git(top, ['cat-file', '-e', `${rev}^{commit}`]);
  } catch {
    log(`baseline: commit ${rev} is not in this checkout; fetching it`);
    try {
      await git(top, ['fetch', '--no-tags', '--depth=1', 'origin', rev]);
    } catch {
      throw new ActionError(
        `baseline: commit ${rev} is not in this checkout and could not be fetched (use actions/checkout with fetch-depth: 0)`,
      );
    }
  }
  const metrics: Record<string, number> = {};
  let found = 0;
  for (const file of files) {
    const path = relative(top, resolve(workDir, file)).split(sep).join('/');
    let text: string;
    try {
      text = await git(top, ['show', `${rev}:${path}`]);
    } catch {
      log(`baseline: ${path} does not exist at ${rev.slice(0, 12)}`);
      continue;
    }
    found++;
    Object.assign(metrics, parseMetricsText(text, path, `${path} at ${rev.slice(0, 12)}`).result.latest);
  }
  if (found === 0) throw new ActionError(`baseline: none of the metrics files exist at ${rev.slice(0, 12)}`);
  return { runId: '', metrics, label: `${files.join(', ')} at ${rev.slice(0, 12)}` };
}

export async function loadBaseline(
  spec: BaselineSpec,
  options: {
    store: TrackingStore;
    workspace: string;
    workDir: string;
    metricsFiles: string[];
    prBaseSha?: string;
    log: (line: string) => void;
  },
): Promise<BaselineRun | undefined> {
  switch (spec.kind) {
    case 'none':
      return undefined;
    case 'pr-base':
      if (!options.prBaseSha) return undefined;
      return metricsAtCommit(
        options.workspace,
        options.workDir,
        options.metricsFiles,
        options.prBaseSha,
        options.log,
      );
    case 'git':
      return metricsAtCommit(options.workspace, options.workDir, options.metricsFiles, spec.rev, options.log);
    case 'run':
      return options.store.getRunMetrics(spec.runId);
    case 'alias':
      return options.store.getAliasedRun(spec.name, spec.alias);
  }
}
