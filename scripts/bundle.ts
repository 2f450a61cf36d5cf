import { existsSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import ncc from '@vercel/ncc';

const DUCKDB_NATIVE = /^(@duckdb\/node-bindings-[a-z0-9-]+\/duckdb\.node)$/;

export const root = resolve(dirname(new URL(import.meta.url).pathname), '..');

/** Every action folder under actions/ that has an entry point. */
export function actionIds(): string[] {
  const dir = join(root, 'actions');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((id) => existsSync(join(dir, id, 'src', 'index.ts')))
    .sort();
}

/** Bundles one entry point with ncc into `outDir` (index.js plus the package.json marking it ESM). */
export async function bundle(entry: string, outDir: string): Promise<void> {
  const { code, assets } = (await ncc(entry, {
    quiet: true,
    minify: false,
    sourceMap: false,
    cache: false,
    // tsc checks the types of the whole tree once; without this ncc type-checks the project per bundle.
    transpileOnly: true,
    // DuckDB's native binding (70 MB per platform) stays out of the bundle: `@duckdb/node-bindings`
    // requires it at run time, and packages/experiment/src/duckdb-binding.ts points that require at
    // the runner's platform package, fetched into the tool cache (or found in node_modules).
    externals: { [String(DUCKDB_NATIVE)]: '$1' },
  })) as {
    code: string;
    assets: Record<string, { source: string | Buffer }>;
  };
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(join(outDir, 'index.js'), code);
  for (const [name, asset] of Object.entries(assets)) {
    mkdirSync(dirname(join(outDir, name)), { recursive: true });
    writeFileSync(join(outDir, name), asset.source);
  }
}

export async function buildAll(distDir: string, ids = actionIds()): Promise<void> {
  for (const id of ids) {
    const started = Date.now();
    await bundle(join(root, 'actions', id, 'src', 'index.ts'), join(distDir, id));
    console.log(`built dist/${id} in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
}
