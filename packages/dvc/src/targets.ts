import { posix } from 'node:path';
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
 * Resolves targets as `dvc pull` does: a `.dvc` file, an out path, a folder holding outs, a path inside a
 * directory out, a `dvc.lock` stage (`train`, `dvc.yaml:train`), a `dvc.yaml`/`dvc.lock` file, or a glob
 * over those. Empty means every out.
 */
export function resolveTargets(repo: DvcRepo, targets: string[]): Selection[] {
  if (targets.length === 0) return [{ target: '(all)', items: repo.outs.map((out) => ({ out })) }];
  return targets.map((raw) => {
    const target = normalizeTarget(raw);
    const items = select(repo, target);
    if (items.length === 0) {
      const known = [
        ...new Set([
          ...repo.outs.map((o) => o.path),
          ...repo.dvcFiles,
          ...repo.outs.flatMap((o) => (o.stage ? [o.stage] : [])),
        ]),
      ];
      throw new InputError(
        'targets',
        `'${raw}' matches no DVC-tracked output, .dvc file or dvc.lock stage; tracked: ${known.slice(0, 10).join(', ') || 'nothing'}${known.length > 10 ? `, … (${known.length} in all)` : ''}`,
      );
    }
    return { target: raw, items };
  });
}

function select(repo: DvcRepo, target: string): Selection['items'] {
  const outs = repo.outs;
  if (isGlob(target)) {
    const re = globToRegExp(target);
    return outs
      .filter((o) => re.test(o.path) || re.test(o.source) || (o.stage !== undefined && re.test(o.stage)))
      .map((out) => ({ out }));
  }
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
