import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { findFiles } from '@mlops-actions/store';
import { capture } from './execute';

export const LOCKFILE_GLOBS = [
  '**/requirements*.txt',
  '**/requirements*.in',
  '**/poetry.lock',
  '**/uv.lock',
  '**/Pipfile.lock',
  '**/pdm.lock',
  '**/environment.yml',
  '**/environment.yaml',
  '**/conda.yaml',
  '**/conda-lock.yml',
  '**/pyproject.toml',
];

export interface EnvironmentCapture {
  python?: string;
  pythonExecutable?: string;
  pipFreeze?: string;
  /** sha256 of each lockfile, by path relative to the working directory. */
  lockfiles: Record<string, string>;
  platform: string;
  node: string;
}

/** What the training ran with: Python and its packages when Python is there, and digests of lockfiles. */
export async function captureEnvironment(
  workDir: string,
  env: NodeJS.ProcessEnv,
  python: string,
): Promise<EnvironmentCapture> {
  const lockfiles: Record<string, string> = {};
  for (const rel of findFiles(workDir, LOCKFILE_GLOBS, [
    '.git',
    'node_modules',
    '.mlops',
    '.venv',
    'venv',
    '.dvc',
  ])) {
    lockfiles[rel] = `sha256:${createHash('sha256')
      .update(readFileSync(join(workDir, rel)))
      .digest('hex')}`;
  }
  const version = await capture(python, ['--version'], { cwd: workDir, env, timeoutMs: 15_000 });
  const result: EnvironmentCapture = {
    lockfiles,
    platform: `${process.platform}-${process.arch}`,
    node: process.version,
  };
  if (version) {
    result.python = version.trim().replace(/^Python\s+/, '');
    result.pythonExecutable = python;
    result.pipFreeze = await capture(python, ['-m', 'pip', 'freeze', '--all'], {
      cwd: workDir,
      env: { ...env, PIP_DISABLE_PIP_VERSION_CHECK: '1' },
      timeoutMs: 60_000,
    });
  }
  return result;
}
