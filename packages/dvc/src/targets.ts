import { type Dirent, lstatSync, readdirSync, statSync } from 'node:fs';
import { join, posix } from 'node:path';
import { globToRegExp, InputError } from '@mlops-actions/kit';
import type { Out } from './formats';
import type { DvcRepo } from './repo';

/** What one target selects: whole outs, or (for a path inside a directory out) the files under a prefix. */
export interface Selection {
  target: string;
  items: Array<{ out: Out; within?: string }>;
}

// Python's glob, which DVC uses, has no {a,b} alternatives: braces in a target are literal.
function isGlob(target: string): boolean {
  return /[*?[]/.test(target);
}

export function normalizeTarget(target: string): string {
  const t = posix.normalize(target.trim().replace(/\\/g, '/')).replace(/\/+$/, '');
  return t === '' ? '.' : t;
}

function stageOf(target: string): { file: string; stage: string } | undefined {
  const match = /^(?:(.*?)(?:dvc\.yaml|dvc\.lock)):(.+)$/.exec(target);
  if (match) return { file: posix.normalize(`${match[1] ?? ''}dvc.lock`), stage: match[2]! };
  return undefined;
}

/**
 * Python's glob.iglob(pattern, recursive=True), which `dvc pull --glob` runs before collecting targets:
 * paths that exist under `root`, matched one segment at a time; `**` as a whole segment is zero or more
 * folders; wildcards never match names starting with '.'; braces are literal.
 */
export function globOnDisk(root: string, pattern: string): string[] {
  const segments = pattern.split('/').filter((s) => s !== '' && s !== '.');
  const found = new Set<string>();
  const list = (rel: string): Dirent[] => {
    try {
      return readdirSync(join(root, rel), { withFileTypes: true });
    } catch {
      return [];
    }
  };
  const isDir = (rel: string, entry: Dirent) =>
    entry.isDirectory() ||
    (entry.isSymbolicLink() && statSync(join(root, rel), { throwIfNoEntry: false })?.isDirectory());
  // Every folder below `rel` (not hidden), `rel` included: what `**` stands for.
  const descendants = (rel: string, files: boolean): string[] => {
    const out = [rel];
    for (const entry of list(rel)) {
      if (entry.name.startsWith('.')) continue;
      const child = rel ? `${rel}/${entry.name}` : entry.name;
      if (isDir(child, entry)) out.push(...descendants(child, files));
      else if (files) out.push(child);
    }
    return out;
  };
  const step = (rel: string, index: number): void => {
    if (index === segments.length) {
      if (rel) found.add(rel);
      return;
    }
    const segment = segments[index]!;
    const last = index === segments.length - 1;
    if (segment === '**') {
      for (const path of descendants(rel, last)) step(path, index + 1);
      return;
    }
    if (!/[*?[]/.test(segment)) {
      const path = rel ? `${rel}/${segment}` : segment;
      if (lstatSync(join(root, path), { throwIfNoEntry: false })) step(path, index + 1);
      return;
    }
    const re = globToRegExp(segment.replace(/[{}]/g, '[$&]'));
    for (const entry of list(rel)) {
      if (entry.name.startsWith('.') && !segment.startsWith('.')) continue;
      if (!re.test(entry.name)) continue;
      const path = rel ? `${rel}/${entry.name}` : entry.name;
      if (last || isDir(path, entry)) step(path, index + 1);
    }
  };
  step('', 0);
  return [...found].sort();
}

function noMatch(repo: DvcRepo, what: string): InputError {
  const known = [
    ...new Set([
      ...repo.outs.map((o) => o.path),
      ...repo.dvcFiles,
      ...repo.outs.flatMap((o) => (o.stage ? [o.stage] : [])),
    ]),
  ];
  return new InputError(
    'targets',
    `${what} matches no DVC-tracked output, .dvc file or dvc.lock stage; tracked: ${known.slice(0, 10).join(', ') || 'nothing'}${known.length > 10 ? `, … (${known.length} in all)` : ''}`,
  );
}

/**
 * Resolves targets as `dvc pull` does: a `.dvc` file, an out path, a folder holding outs, a path inside a
 * directory out, a `dvc.lock` stage (`train`, `dvc.yaml:train`), a `dvc.yaml`/`dvc.lock` file, or a glob.
 * A glob is expanded as `dvc pull --glob` does: over the files and folders on disk (glob_targets), each
 * match then collected as a target of its own, so a match that is not tracked fails like any such target;
 * when the globs match nothing at all, DVC's "Glob [...] has no matches." Empty means every out.
 */
export function resolveTargets(repo: DvcRepo, targets: string[]): Selection[] {
  if (targets.length === 0) return [{ target: '(all)', items: repo.outs.map((out) => ({ out })) }];
  const globs = targets.filter((raw) => isGlob(normalizeTarget(raw)));
  const matches = new Map(globs.map((raw) => [raw, globOnDisk(repo.root, normalizeTarget(raw))]));
  if (globs.length > 0 && [...matches.values()].every((m) => m.length === 0)) {
    const listed = globs.map((g) => `'${g}'`).join(', ');
    throw new InputError('targets', `Glob [${listed}] has no matches.`);
  }
  return targets.map((raw) => {
    const paths = matches.get(raw) ?? [normalizeTarget(raw)];
    const items = paths.flatMap((path) => {
      const selected = select(repo, path);
      if (selected.length === 0)
        throw noMatch(repo, matches.has(raw) ? `'${path}' (from glob '${raw}')` : `'${raw}'`);
      return selected;
    });
    return { target: raw, items };
  });
}

function select(repo: DvcRepo, target: string): Selection['items'] {
  const outs = repo.outs;
  if (target === '.') return outs.map((out) => ({ out }));
  if (target.endsWith('.dvc') && repo.dvcFiles.includes(target))
    return outs.filter((o) => o.source === target).map((out) => ({ out }));
  const exact = outs.filter((o) => o.path === target);
  if (exact.length > 0) return exact.map((out) => ({ out }));
  if (/(^|\/)dvc\.(yaml|lock)$/.test(target)) {
    const lock = target.replace(/dvc\.yaml$/, 'dvc.lock');
    return outs.filter((o) => o.source.startsWith(`${lock}:`)).map((out) => ({ out }));
  }
  const under = outs.filter((o) => o.path.startsWith(`${target}/`));
  if (under.length > 0) return under.map((out) => ({ out }));
  const container = outs.find((o) => o.isDir && target.startsWith(`${o.path}/`));
  if (container) return [{ out: container, within: target.slice(container.path.length + 1) }];
  // A bare stage name is looked up in ./dvc.yaml, as `dvc pull train` does; a foreach/matrix group name
  // selects every stage it generates (`train@1`, `train@2`, …).
  const stage = stageOf(target) ?? { file: 'dvc.lock', stage: target };
  const source = `${stage.file}:${stage.stage}`;
  return outs
    .filter((o) => o.source === source || (!stage.stage.includes('@') && o.source.startsWith(`${source}@`)))
    .map((out) => ({ out }));
}
