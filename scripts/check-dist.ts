import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { buildAll, root } from './bundle';

function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else out.push(relative(dir, path));
    }
  };
  try {
    walk(dir);
  } catch {
    return [];
  }
  return out.sort();
}

const fresh = mkdtempSync(join(tmpdir(), 'check-dist-'));
try {
  await buildAll(fresh);
  const committed = join(root, 'dist');
  const expected = listFiles(fresh);
  const actual = listFiles(committed);
  const problems: string[] = [];
  for (const file of expected) {
    if (!actual.includes(file)) problems.push(`missing: dist/${file}`);
    else if (!readFileSync(join(fresh, file)).equals(readFileSync(join(committed, file)))) {
      problems.push(`differs: dist/${file}`);
    }
  }
  for (const file of actual)
    if (!expected.includes(file)) problems.push(`not built from sources: dist/${file}`);
  if (problems.length > 0) {
    console.error(
      `dist/ does not match the sources; run 'npm run build' and commit dist/:\n  ${problems.join('\n  ')}`,
    );
    process.exitCode = 1;
  } else {
    console.log(`dist/ matches the sources (${expected.length} files)`);
  }
} finally {
  rmSync(fresh, { recursive: true, force: true });
}
