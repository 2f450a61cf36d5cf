import Module from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import bindings from '@duckdb/node-bindings/package.json';
import { ActionError, type HttpClient, type Progress, redactUrl } from '@mlops-actions/kit';
import {
  fetchNpmPackageToToolCache,
  findInToolCache,
  npmRegistry,
  packageVersion,
  toolCacheRoot,
} from './npm-package';

/**
 * The platform packages of the `@duckdb/node-bindings` the bundle was built with, each at the exact
 * version that JavaScript expects (its optionalDependencies pin them): read at build time, so the
 * bundle records what it needs without carrying the 70 MB library of any platform.
 */
export const DUCKDB_BINDINGS: Readonly<Record<string, string>> = bindings.optionalDependencies;

export interface Platform {
  platform: string;
  arch: string;
  /** Linux only: musl systems (Alpine) need the musl build. */
  musl?: boolean;
}

export function currentPlatform(): Platform {
  // What detect-libc (and so @duckdb/node-bindings) checks first: glibc reports its version, musl none.
  const header =
    process.platform === 'linux'
      ? (process.report?.getReport() as { header?: Record<string, unknown> })
      : undefined;
  return {
    platform: process.platform,
    arch: process.arch,
    musl: header ? !header.header?.glibcVersionRuntime : false,
  };
}

/** The binding package `@duckdb/node-bindings` itself would load on this platform, named as it names it. */
export function bindingPackage(p: Platform): { name: string; version: string } {
  const name = `@duckdb/node-bindings-${p.platform}-${p.arch}${p.platform === 'linux' && p.musl ? '-musl' : ''}`;
  const version = DUCKDB_BINDINGS[name];
  if (!version) {
    const supported = Object.keys(DUCKDB_BINDINGS)
      .map((n) => n.replace('@duckdb/node-bindings-', ''))
      .sort()
      .join(', ');
    throw new ActionError(
      `DuckDB has no native binding for ${p.platform}-${p.arch}${p.musl ? ' (musl)' : ''}: supported platforms are ${supported}; run on one of those, or read the data from PostgreSQL or a warehouse instead`,
    );
  }
  return { name, version };
}

/** A checkout with `npm ci` (tests, the demo, a self-hosted runner) has the binding next to the code. */
export function findInNodeModules(name: string, version: string, from: string): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', ...name.split('/'));
    if (packageVersion(candidate) === version) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

type Resolve = (request: string, ...rest: unknown[]) => string;
const loader = Module as unknown as { _resolveFilename: Resolve };
const redirected = new Map<string, string>();

/**
 * Makes `require('<package>/duckdb.node')` — what `@duckdb/node-bindings` runs, left unbundled by
 * scripts/bundle.ts — load the binding from `dir`. Node's resolver is wrapped for that one request
 * only; everything else resolves as before.
 */
export function useBinding(name: string, dir: string): void {
  if (redirected.size === 0) {
    const resolve = loader._resolveFilename;
    loader._resolveFilename = function (this: unknown, request: string, ...rest: unknown[]) {
      return redirected.get(request) ?? resolve.call(this, request, ...rest);
    };
  }
  redirected.set(`${name}/duckdb.node`, join(dir, 'duckdb.node'));
}

export interface BindingOptions {
  /** A registry mirror; empty means `npm_config_registry`, else registry.npmjs.org. */
  registry?: string;
  env: NodeJS.ProcessEnv;
  http: (options: { name: string }) => HttpClient;
  progress: (label: string, totalBytes: number | undefined) => Progress;
  log: (line: string) => void;
  signal?: AbortSignal;
  platform?: Platform;
  /** Where the search for node_modules starts; the bundle's own folder by default. */
  from?: string;
}

export interface Binding {
  name: string;
  version: string;
  dir: string;
  source: 'tool-cache' | 'node_modules' | 'download';
}

/**
 * Finds DuckDB's native binding for this runner and points `@duckdb/node-bindings` at it, before the
 * first import of `@duckdb/node-api`. Order: the runner's tool cache (a previous run fetched it), then a
 * local node_modules (offline checkouts), then the npm registry into the tool cache.
 */
export async function provideDuckDbBinding(options: BindingOptions): Promise<Binding> {
  const platform = options.platform ?? currentPlatform();
  const { name, version } = bindingPackage(platform);
  const cacheRoot = toolCacheRoot(options.env, tmpdir());
  const tool = name.replace(/^@/, '').replace('/', '-');
  const found = (source: Binding['source'], dir: string): Binding => {
    useBinding(name, dir);
    options.log(
      `DuckDB binding ${name}@${version} from the ${source === 'download' ? 'npm registry' : source}: ${dir}`,
    );
    return { name, version, dir, source };
  };
  const cached = findInToolCache(cacheRoot, tool, version, platform.arch);
  if (cached) return found('tool-cache', cached);
  const local = findInNodeModules(name, version, options.from ?? dirname(fileURLToPath(import.meta.url)));
  if (local) return found('node_modules', local);
  const registry = npmRegistry(options.registry, options.env);
  const dir = await fetchNpmPackageToToolCache({
    name,
    version,
    registry,
    cacheRoot,
    tool,
    arch: platform.arch,
    http: options.http({ name: `npm registry at ${redactUrl(registry)}` }),
    progress: (totalBytes) => options.progress(`Downloading ${name}@${version}`, totalBytes),
    log: options.log,
    signal: options.signal,
  });
  return found('download', dir);
}
