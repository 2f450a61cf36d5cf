import { execFileSync } from 'node:child_process';
import { copyFileSync, cpSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { repoRoot } from '../harness';

/**
 * A workspace copied from examples/, with the DVC-tracked CSV put in place from the committed local
 * remote (what dvc-pull does), so train-and-log can run on it.
 */
export function exampleWorkspace(): string {
  const dir = mkdtempSync(join(tmpdir(), 'train-ws-'));
  cpSync(join(repoRoot, 'examples'), dir, { recursive: true });
  const pointer = parse(readFileSync(join(dir, 'data/breast_cancer.csv.dvc'), 'utf8')) as {
    outs: Array<{ md5: string; path: string }>;
  };
  const out = pointer.outs[0]!;
  copyFileSync(
    join(dir, 'dvc-remote/files/md5', out.md5.slice(0, 2), out.md5.slice(2)),
    join(dir, 'data', out.path),
  );
  return dir;
}

export function emptyWorkspace(): string {
  return mkdtempSync(join(tmpdir(), 'train-ws-'));
}

export function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.com',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.com',
    },
  }).trim();
}

/** The env that makes /usr/bin's python and jupyter (Debian's sklearn, nbconvert) the ones found first. */
export function debianPythonEnv(): Record<string, string> {
  return { PATH: `/usr/bin:${process.env.PATH ?? ''}` };
}
