import { lstatSync, readlinkSync, realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, relative, resolve } from 'node:path';
import { InputError } from './errors';

/** Symbolic links followed before giving up, as Linux's ELOOP limit. */
const MAX_LINKS = 40;

/**
 * Where a path really lands: symlinks followed, also for a path that does not exist yet (its nearest
 * existing parent is resolved, and a dangling link is followed to where a write would go).
 */
export function realPathOf(path: string, depth = 0): string {
  try {
    return realpathSync(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
  }
  if (depth > MAX_LINKS) throw new Error(`too many levels of symbolic links at ${path}`);
  let isLink = false;
  try {
    isLink = lstatSync(path).isSymbolicLink();
  } catch {
    // Nothing at this path: it is resolved through its parent below.
  }
  if (isLink) return realPathOf(resolve(dirname(path), readlinkSync(path)), depth + 1);
  const parent = dirname(path);
  if (parent === path) return path;
  return resolve(realPathOf(parent, depth), basename(path));
}

export interface ConfineOptions {
  /** The input the path came from, named in the error. */
  input: string;
  /** True when the workflow author opted out of the boundary for this input. */
  allowOutside?: boolean;
  /** The input that opts out, named in the error so the author knows the way out (omit when there is none). */
  optOut?: string;
}

/** True when `path` is `root` or below it. */
export function isInside(root: string, path: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..') && !isAbsolute(rel));
}

/**
 * Resolves a path input against the workspace after following symlinks and refuses one that lands
 * outside: the workspace is the boundary between the repository's content and the runner's machine
 * (its keys, other jobs' files). Returns the absolute, real path.
 */
export function confinePath(workspace: string, value: string, options: ConfineOptions): string {
  const root = realPathOf(resolve(workspace));
  const real = realPathOf(resolve(root, value));
  if (options.allowOutside || isInside(root, real)) return real;
  const way = options.optOut
    ? `; give a path inside the workspace, or set '${options.optOut}: true' to allow paths outside it`
    : '; give a path inside the workspace';
  const shown = real === resolve(root, value) ? '' : ` (through a symbolic link, it is ${real})`;
  throw new InputError(options.input, `'${value}' is outside the workspace ${root}${shown}${way}`);
}
