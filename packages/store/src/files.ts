import { randomBytes } from 'node:crypto';
import { mkdirSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, sep } from 'node:path';
import type { UploadFile } from './store';

/** Writes a file atomically: a temporary sibling renamed over the target, so readers never see half a file. */
export function writeFileAtomic(path: string, data: string | Buffer): void {
  mkdirSync(dirname(path), { recursive: true });
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    writeFileSync(temp, data);
    renameSync(temp, path);
  } catch (error) {
    rmSync(temp, { force: true });
    throw error;
  }
}

/** Every regular file under `dir`, as upload entries under `prefix` (sorted, symlinks skipped). */
export function listFiles(dir: string, prefix: string): UploadFile[] {
  const out: UploadFile[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true }).sort((a, b) =>
      a.name < b.name ? -1 : 1,
    )) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const rel = relative(dir, full).split(sep).join('/');
        out.push({
          localPath: full,
          artifactPath: prefix ? `${prefix}/${rel}` : rel,
          size: statSync(full).size,
        });
      }
    }
  };
  walk(dir);
  return out;
}

/** Converts a glob (`**`, `*`, `?`, `{a,b}`) to a regular expression over forward-slash paths. */
export function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i]!;
    if (c === '*') {
      if (glob[i + 1] === '*') {
        i++;
        if (glob[i + 1] === '/') {
          i++;
          re += '(?:.*/)?';
        } else re += '.*';
      } else re += '[^/]*';
    } else if (c === '?') re += '[^/]';
    else if (c === '{') {
      const end = glob.indexOf('}', i);
      if (end < 0) re += '\\{';
      else {
        re += `(?:${glob
          .slice(i + 1, end)
          .split(',')
          .map((p) => p.replace(/[.+^$()|[\]\\]/g, '\\$&'))
          .join('|')})`;
        i = end;
      }
    } else re += c.replace(/[.+^$()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** Files under `root` matching any of the globs (relative to root), skipping .git and node_modules. */
export function findFiles(
  root: string,
  globs: string[],
  skipDirs: string[] = ['.git', 'node_modules'],
): string[] {
  const patterns = globs.map(globToRegExp);
  const out: string[] = [];
  const walk = (current: string) => {
    let entries: import('node:fs').Dirent[];
    try {
      entries = readdirSync(current, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      const full = join(current, entry.name);
      const rel = relative(root, full).split(sep).join('/');
      if (entry.isDirectory()) {
        if (!skipDirs.includes(entry.name)) walk(full);
      } else if (entry.isFile() && patterns.some((p) => p.test(rel))) out.push(rel);
    }
  };
  walk(root);
  return out.sort();
}
