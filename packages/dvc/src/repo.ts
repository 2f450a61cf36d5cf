import { existsSync, readFileSync, statSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { dirname, extname, join, relative, resolve, sep } from 'node:path';
import { ActionError } from '@mlops-actions/kit';
import { parse as parseYaml } from 'yaml';
import { type DvcConfig, readConfig } from './config';
import { type Out, parseDvcFile, parseDvcLock } from './formats';
import type { VarsFileReader } from './pipeline';

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

/**
 * Reads a `vars` file of a dvc.yaml (repo-relative path) by its extension, as DVC's `load_path` does: YAML
 * and JSON. DVC also reads TOML and Python files, for which no parser is bundled here: those are refused
 * with a clear error rather than guessed at.
 */
function varsFileReader(root: string): VarsFileReader {
  return (path) => {
    const file = join(root, path);
    if (!existsSync(file)) return undefined;
    if (statSync(file).isDirectory()) throw new ActionError(`vars: '${path}' is a directory`);
    const ext = extname(path).toLowerCase();
    let doc: unknown;
    try {
      if (ext === '.json') doc = JSON.parse(readFileSync(file, 'utf8'));
      else if (ext === '.yaml' || ext === '.yml') doc = parseYaml(readFileSync(file, 'utf8'));
      else
        throw new ActionError(
          `vars: '${path}': ${ext === '.toml' || ext === '.py' ? `${ext} vars files are not supported by dvc-pull (it bundles no TOML or Python parser); use a YAML or JSON file` : `unknown file type '${ext || '(none)'}'; DVC reads .yaml, .yml, .json, .toml and .py`}`,
        );
    } catch (error) {
      if (error instanceof ActionError) throw error;
      throw new ActionError(
        `vars: '${path}' could not be parsed: ${String((error as Error).message).split('\n')[0]}`,
      );
    }
    if (doc === null || typeof doc !== 'object' || Array.isArray(doc))
      throw new ActionError(
        `vars: expected a mapping in '${path}', got ${Array.isArray(doc) ? 'a list' : String(doc === null ? 'nothing' : typeof doc)}`,
      );
    return doc as Record<string, unknown>;
  };
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
  const readVars = varsFileReader(root);
  for (const file of found.dvc) outs.push(...parseDvcFile(readFileSync(join(root, file), 'utf8'), file));
  for (const file of found.lock) {
    const yamlFile = join(root, file.replace(/dvc\.lock$/, 'dvc.yaml'));
    const yamlText = existsSync(yamlFile) ? readFileSync(yamlFile, 'utf8') : undefined;
    outs.push(...parseDvcLock(readFileSync(join(root, file), 'utf8'), file, yamlText, readVars));
  }
  return { root, dvcDir, config, outs, dvcFiles: found.dvc, lockFiles: found.lock };
}
