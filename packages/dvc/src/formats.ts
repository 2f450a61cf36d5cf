import { posix } from 'node:path';
import { ActionError } from '@mlops-actions/kit';
import { parse as parseYaml } from 'yaml';
import type { HashName } from './hash';
import { expandStages, type StageSpec, type VarsFileReader } from './pipeline';

/** One tracked output, as recorded in a `.dvc` file or a `dvc.lock` stage. */
export interface Out {
  /** Workspace path relative to the repo root, with `/`. */
  path: string;
  /** The recorded hash; directories end in `.dir`. */
  md5: string;
  hashName: HashName;
  isDir: boolean;
  size?: number;
  nfiles?: number;
  /** `cache: false` outs are git-tracked and never pulled. */
  cache: boolean;
  remote?: string;
  /** Where it is recorded: `data/x.dvc` or `dvc.lock:train`. */
  source: string;
  /** The stage name for dvc.lock outs. */
  stage?: string;
  /** For `dvc import` outs: the source repository (`url@rev`), which DVC fetches them from. */
  importedFrom?: string;
}

export interface ManifestEntry {
  md5: string;
  relpath: string;
}

type RawOut = Record<string, unknown>;

const MD5 = /^[0-9a-f]{32}$/;

function parseYamlFile(text: string, file: string): unknown {
  try {
    return parseYaml(text, { uniqueKeys: false });
  } catch (error) {
    const first = String((error as Error).message).split('\n')[0];
    throw new ActionError(`${file} is not valid YAML: ${first}`);
  }
}

/** Joins a path recorded relative to its file's folder and refuses anything that leaves the repo. */
export function repoPath(baseDir: string, recorded: string, where: string): string {
  if (recorded.includes('\\') && !recorded.includes('/')) recorded = recorded.replace(/\\/g, '/');
  if (
    posix.isAbsolute(recorded) ||
    /^[a-zA-Z]:/.test(recorded) ||
    /^[a-z][a-z0-9+.-]*:\/\//i.test(recorded)
  ) {
    throw new ActionError(
      `${where}: path '${recorded}' is outside the repository; only paths inside it can be pulled`,
    );
  }
  const joined = posix.normalize(posix.join(baseDir || '.', recorded));
  if (joined === '..' || joined.startsWith('../') || joined === '.' || joined === '') {
    throw new ActionError(`${where}: path '${recorded}' escapes the repository`);
  }
  return joined.replace(/\/$/, '');
}

/** The source repository of a `dvc import` (its single dep carries `repo: {url, rev_lock}`). */
function importSource(deps: unknown): string | undefined {
  if (!Array.isArray(deps) || deps.length !== 1) return undefined;
  const repo = (deps[0] as { repo?: { url?: unknown; rev_lock?: unknown } } | null)?.repo;
  if (typeof repo?.url !== 'string') return undefined;
  return typeof repo.rev_lock === 'string' ? `${repo.url}@${repo.rev_lock}` : repo.url;
}

function repoDir(baseDir: string, wdir: string, where: string): string {
  const joined = posix.normalize(posix.join(baseDir || '.', wdir));
  if (joined === '.') return '';
  return repoPath(baseDir, wdir, where);
}

function toOut(raw: RawOut, baseDir: string, source: string, overrides: Partial<Out> = {}): Out {
  if (typeof raw !== 'object' || raw === null || typeof raw.path !== 'string') {
    throw new ActionError(`${source}: an out has no 'path' (expected a mapping with path and md5)`);
  }
  const path = repoPath(baseDir, raw.path, source);
  const hash = raw.hash;
  const md5 = typeof raw.md5 === 'string' ? raw.md5 : undefined;
  const cache = raw.cache === false ? false : (overrides.cache ?? true);
  if (md5 === undefined && cache) {
    throw new ActionError(
      `${source}: out '${raw.path}' has no md5; run 'dvc commit' or 'dvc repro' and commit the result`,
    );
  }
  const isDir = md5?.endsWith('.dir') ?? false;
  if (md5 !== undefined && !MD5.test(isDir ? md5.slice(0, -4) : md5)) {
    throw new ActionError(`${source}: out '${raw.path}' has md5 '${md5}', which is not an md5 hex digest`);
  }
  if (hash !== undefined && hash !== 'md5') {
    throw new ActionError(
      `${source}: out '${raw.path}' uses hash '${String(hash)}'; only md5 (DVC 3) and 2.x md5 are supported`,
    );
  }
  return {
    path,
    md5: md5 ?? '',
    hashName: hash === 'md5' ? 'md5' : 'md5-dos2unix',
    isDir,
    size: typeof raw.size === 'number' ? raw.size : undefined,
    nfiles: typeof raw.nfiles === 'number' ? raw.nfiles : undefined,
    cache,
    remote: typeof raw.remote === 'string' ? raw.remote : overrides.remote,
    source,
    stage: overrides.stage,
    importedFrom: overrides.importedFrom,
  };
}

/** Parses a `.dvc` file at `file` (repo-relative); outs are relative to its folder. */
export function parseDvcFile(text: string, file: string): Out[] {
  const doc = parseYamlFile(text, file);
  if (doc === null || doc === undefined) return [];
  if (typeof doc !== 'object' || Array.isArray(doc))
    throw new ActionError(`${file} is not a DVC file: expected a mapping with 'outs'`);
  const outs = (doc as Record<string, unknown>).outs;
  if (outs === undefined) return [];
  if (!Array.isArray(outs)) throw new ActionError(`${file}: 'outs' must be a list`);
  const folder = posix.dirname(file) === '.' ? '' : posix.dirname(file);
  const wdir = (doc as Record<string, unknown>).wdir;
  // A .dvc file may record a wdir (relative to its folder) that its outs are relative to.
  const dir = typeof wdir === 'string' ? repoDir(folder, wdir, file) : folder;
  const importedFrom = importSource((doc as Record<string, unknown>).deps);
  return outs.map((raw) => toOut(raw as RawOut, dir, file, { importedFrom }));
}

/** The concrete stages of a `dvc.yaml`, foreach/matrix groups expanded, with their wdir and out flags. */
export function parseDvcYaml(
  text: string,
  file: string,
  readVarsFile?: VarsFileReader,
): Map<string, StageSpec> {
  return expandStages(parseYamlFile(text, file), file, readVarsFile);
}

/** Parses `dvc.lock` (schema 2.0): every stage's outs, with `cache`/`remote` flags from `dvc.yaml`. */
export function parseDvcLock(
  text: string,
  file: string,
  yamlText?: string,
  readVarsFile?: VarsFileReader,
): Out[] {
  const yamlFile = file.replace(/dvc\.lock$/, 'dvc.yaml');
  const doc = parseYamlFile(text, file) as {
    schema?: unknown;
    stages?: Record<string, { outs?: RawOut[] }>;
  } | null;
  if (!doc || typeof doc !== 'object') return [];
  if (doc.schema !== undefined && String(doc.schema) !== '2.0') {
    throw new ActionError(`${file} has schema '${String(doc.schema)}'; only DVC's schema 2.0 is supported`);
  }
  if (doc.schema === undefined)
    throw new ActionError(
      `${file} has no 'schema: 2.0' (a DVC 1.x lock file); run 'dvc repro' with DVC 2 or later`,
    );
  const specs =
    yamlText === undefined ? new Map<string, StageSpec>() : parseDvcYaml(yamlText, yamlFile, readVarsFile);
  const dir = posix.dirname(file) === '.' ? '' : posix.dirname(file);
  const outs: Out[] = [];
  for (const [stage, body] of Object.entries(doc.stages ?? {})) {
    const spec = specs.get(stage);
    // Lock paths are relative to the stage's wdir, which only dvc.yaml records.
    const wdir = spec?.wdir ?? dir;
    for (const raw of body?.outs ?? []) {
      const path = typeof raw?.path === 'string' ? posix.normalize(posix.join(wdir, raw.path)) : '';
      outs.push(
        toOut(raw, wdir, `${file}:${stage}`, {
          stage,
          cache: spec?.cache.get(path) ?? true,
          remote: spec?.remote.get(path),
        }),
      );
    }
  }
  return outs;
}

/** Parses a `.dir` object: a JSON list of `{md5, relpath}`, refusing entries that leave the directory. */
export function parseManifest(text: string, where: string): ManifestEntry[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    throw new ActionError(`${where}: the .dir manifest is not JSON (expected a JSON list of {md5, relpath})`);
  }
  if (!Array.isArray(doc))
    throw new ActionError(`${where}: the .dir manifest is not a JSON list of {md5, relpath}`);
  return doc.map((entry, index) => {
    const e = entry as Record<string, unknown>;
    if (
      typeof e !== 'object' ||
      e === null ||
      typeof e.md5 !== 'string' ||
      typeof e.relpath !== 'string' ||
      !MD5.test(e.md5)
    ) {
      throw new ActionError(
        `${where}: .dir manifest entry ${index} is not {md5, relpath} with an md5 hex digest`,
      );
    }
    const rel = e.relpath;
    const normalized = posix.normalize(rel);
    if (
      posix.isAbsolute(rel) ||
      /^[a-zA-Z]:/.test(rel) ||
      rel.split(/[\\/]/).includes('..') ||
      normalized === '.'
    ) {
      throw new ActionError(
        `${where}: .dir manifest entry '${rel}' escapes its directory; refusing to write it`,
      );
    }
    return { md5: e.md5, relpath: normalized };
  });
}
