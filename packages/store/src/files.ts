import { readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { globToRegExp } from '@mlops-actions/kit';
import type { UploadFile } from './store';

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
