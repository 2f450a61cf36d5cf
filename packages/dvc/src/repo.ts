import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { ActionError } from '@mlops-actions/kit';
import { parse as parseYaml } from 'yaml';
import { type DvcConfig, readConfig } from './config';
import { type Out, parseDvcFile, parseDvcLock } from './formats';

export interface DvcRepo {
  root: string;
  dvcDir: string;
  config: DvcConfig;
  outs: Out[];
  /** Repo-relative `.dvc` files found. */
  dvcFiles: string[];
  /** Repo-relative `dvc.lock` files found. */
  lockFiles: string[];
}

/** Folders that never hold DVC files of this repo. */
const SKIP_DIRS = new Set(['.git', '.dvc', 'node_modules', '.hg', '.svn']);

/** Finds the DVC repo containing `start` (the folder with `.dvc/`), looking upwards as DVC does. */
export function findRepoRoot(start: string): string {
  let dir = resolve(start);
  for (;;) {
    if (existsSync(join(dir, '.dvc')) && statSync(join(dir, '.dvc')).isDirectory()) return dir;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new ActionError(
        `Not a DVC repository: no .dvc directory in ${resolve(start)} or any parent; run 'dvc init' there or set working-directory to the repo`,
      );
    }
    dir = parent;
  }
}

async function walk(root: string, dir: string, found: { dvc: string[]; lock: string[] }): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  const subdirs: string[] = [];
  for (const entry of entries) {
    if (entry.isDirectory()) {
      if (SKIP_DIRS.has(entry.name)) continue;
      const path = join(dir, entry.name);
      // A nested DVC repo (its own .dvc/) is a separate project.
      if (existsSync(join(path, '.dvc'))) continue;
      subdirs.push(path);
    } else if (entry.isFile()) {
      const rel = relative(root, join(dir, entry.name)).split(sep).join('/');
      if (entry.name.endsWith('.dvc')) found.dvc.push(rel);
      else if (entry.name === 'dvc.lock') found.lock.push(rel);
    }
  }
  await Promise.all(subdirs.map((d) => walk(root, d, found)));
}

/** `params.yaml` next to a `dvc.yaml`: DVC's default interpolation context for `${…}` in it. */
function readDefaultParams(file: string): Record<string, unknown> {
  if (!existsSync(file)) return {};
  let doc: unknown;
  try {
    doc = parseYaml(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new ActionError(`${file} is not valid YAML: ${String((error as Error).message).split('\n')[0]}`);
  }
  return doc !== null && typeof doc === 'object' && !Array.isArray(doc)
    ? (doc as Record<string, unknown>)
    : {};
}

/** Reads a repo's config and every out recorded in its `.dvc` files and `dvc.lock` files. */
export async function openRepo(start: string): Promise<DvcRepo> {
  const root = findRepoRoot(start);
  const dvcDir = join(root, '.dvc');
  const config = readConfig(dvcDir);
  const found = { dvc: [] as string[], lock: [] as string[] };
  await walk(root, root, found);
  found.dvc.sort();
  found.lock.sort();
  const outs: Out[] = [];
  for (const file of found.dvc) outs.push(...parseDvcFile(readFileSync(join(root, file), 'utf8'), file));
  for (const file of found.lock) {
    const yamlFile = join(root, file.replace(/dvc\.lock$/, 'dvc.yaml'));
    const yamlText = existsSync(yamlFile) ? readFileSync(yamlFile, 'utf8') : undefined;
    const params = readDefaultParams(join(yamlFile, '..', 'params.yaml'));
    outs.push(...parseDvcLock(readFileSync(join(root, file), 'utf8'), file, yamlText, params));
  }
  return { root, dvcDir, config, outs, dvcFiles: found.dvc, lockFiles: found.lock };
}
