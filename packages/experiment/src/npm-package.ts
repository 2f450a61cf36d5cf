import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, normalize, sep } from 'node:path';
import { gunzipSync } from 'node:zlib';
import {
  ActionError,
  formatBytes,
  type HttpClient,
  type Progress,
  writeFileAtomic,
} from '@mlops-actions/kit';

export const NPM_REGISTRY = 'https://registry.npmjs.org/';

/** The registry to fetch from: the input, else npm's own setting (`npm_config_registry`), else npmjs. */
export function npmRegistry(input: string | undefined, env: NodeJS.ProcessEnv): string {
  const url =
    input?.trim() || env.npm_config_registry?.trim() || env.NPM_CONFIG_REGISTRY?.trim() || NPM_REGISTRY;
  return url.endsWith('/') ? url : `${url}/`;
}

/** `@scope/name` as the registry's path segment: the slash is escaped, the `@` is not (as npm sends it). */
export function packumentPath(name: string): string {
  return name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name);
}

/**
 * Where `@actions/tool-cache` keeps a tool: `<root>/<tool>/<version>/<arch>`, complete once the sibling
 * `<arch>.complete` marker exists. The same layout lets a runner's cache (and its cleanup) see our tools.
 */
export function toolCachePath(root: string, tool: string, version: string, arch: string): string {
  return join(root, tool, version, arch);
}

export function findInToolCache(
  root: string,
  tool: string,
  version: string,
  arch: string,
): string | undefined {
  const dir = toolCachePath(root, tool, version, arch);
  return existsSync(`${dir}.complete`) && existsSync(dir) ? dir : undefined;
}

/** The runner's tool cache; outside a runner a folder under the temp directory, so a rerun still hits it. */
export function toolCacheRoot(env: NodeJS.ProcessEnv, tmp: string): string {
  return env.RUNNER_TOOL_CACHE || join(env.RUNNER_TEMP || tmp, 'tool-cache');
}

/**
 * Checks bytes against a Subresource Integrity string as npm publishes it in `dist.integrity`
 * (`sha512-<base64>`, possibly several space-separated hashes). Only sha512 is trusted: sha1 is broken.
 */
export function checkIntegrity(bytes: Uint8Array, integrity: string, what: string): void {
  const expected = integrity
    .trim()
    .split(/\s+/)
    .filter((h) => h.startsWith('sha512-'))
    .map((h) => h.slice('sha512-'.length).replace(/\?.*$/, ''));
  if (expected.length === 0)
    throw new ActionError(
      `${what}: the registry gives no sha512 integrity (got '${integrity}'), refusing to use it`,
    );
  const actual = createHash('sha512').update(bytes).digest('base64');
  if (!expected.includes(actual))
    throw new ActionError(
      `${what}: integrity mismatch: the registry says sha512-${expected[0]}, the download is sha512-${actual}`,
    );
}

interface TarEntry {
  path: string;
  type: 'file' | 'directory';
  mode: number;
  data: Uint8Array;
}

function tarString(block: Uint8Array, start: number, length: number): string {
  const raw = block.subarray(start, start + length);
  const end = raw.indexOf(0);
  return Buffer.from(end === -1 ? raw : raw.subarray(0, end)).toString('utf8');
}

function tarNumber(block: Uint8Array, start: number, length: number): number {
  // GNU base-256 for sizes past 8 GiB: high bit of the first byte set.
  if ((block[start]! & 0x80) !== 0) {
    let n = block[start]! & 0x7f;
    for (let i = 1; i < length; i++) n = n * 256 + block[start + i]!;
    return n;
  }
  const text = tarString(block, start, length).trim();
  return text ? Number.parseInt(text, 8) : 0;
}

function paxRecords(data: Uint8Array): Record<string, string> {
  const out: Record<string, string> = {};
  const text = Buffer.from(data).toString('utf8');
  let at = 0;
  while (at < text.length) {
    const space = text.indexOf(' ', at);
    const length = Number.parseInt(text.slice(at, space), 10);
    if (!(length > 0)) break;
    const record = text.slice(space + 1, at + length - 1);
    const eq = record.indexOf('=');
    out[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return out;
}

/**
 * Reads a POSIX tar archive (ustar with pax and GNU long-name extensions, as npm and node-tar write
 * them). Links and devices are refused: a package of plain files needs none, and a link could point
 * outside the extraction folder.
 */
export function readTar(tar: Uint8Array): TarEntry[] {
  const entries: TarEntry[] = [];
  let offset = 0;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) break;
    let checksum = 0;
    for (let i = 0; i < 512; i++) checksum += i >= 148 && i < 156 ? 32 : header[i]!;
    if (checksum !== tarNumber(header, 148, 8)) throw new Error(`corrupt tar header at byte ${offset}`);
    const size = tarNumber(header, 124, 12);
    const type = String.fromCharCode(header[156]!);
    const data = tar.subarray(offset + 512, offset + 512 + size);
    offset += 512 + Math.ceil(size / 512) * 512;
    if (type === 'x') {
      pax = paxRecords(data);
      continue;
    }
    if (type === 'L') {
      longName = tarString(data, 0, data.length);
      continue;
    }
    if (type === 'g') continue;
    const prefix = tarString(header, 345, 155);
    const name = tarString(header, 0, 100);
    const path = pax.path ?? longName ?? (prefix ? `${prefix}/${name}` : name);
    pax = {};
    longName = undefined;
    if (type === '0' || type === '\0' || type === '7') {
      entries.push({ path, type: 'file', mode: tarNumber(header, 100, 8), data });
    } else if (type === '5') {
      entries.push({ path, type: 'directory', mode: tarNumber(header, 100, 8), data });
    } else {
      throw new Error(
        `'${path}' is a link or special file (tar type '${type}'), which a package never needs`,
      );
    }
  }
  return entries;
}

/** Extracts an npm tarball (gzip'd tar with every path under `package/`) into `dest`, which must not exist. */
export function extractNpmTarball(tgz: Uint8Array, dest: string): number {
  const entries = readTar(gunzipSync(tgz));
  mkdirSync(dest, { recursive: true });
  let files = 0;
  for (const entry of entries) {
    // npm strips the first path segment, whatever it is called (`package/` almost always).
    const relative = normalize(entry.path.replace(/^[^/]*\/?/, ''));
    if (!relative || relative === '.') continue;
    if (relative.startsWith(`..${sep}`) || relative === '..' || relative.startsWith(sep))
      throw new Error(`'${entry.path}' points outside the package`);
    const target = join(dest, relative);
    if (entry.type === 'directory') {
      mkdirSync(target, { recursive: true });
      continue;
    }
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, entry.data, { mode: (entry.mode & 0o777) | 0o600 });
    files++;
  }
  return files;
}

interface Packument {
  versions?: Record<string, { dist?: { tarball?: string; integrity?: string } }>;
}

export interface NpmToolOptions {
  name: string;
  version: string;
  registry: string;
  cacheRoot: string;
  tool: string;
  arch: string;
  http: HttpClient;
  progress: (totalBytes: number | undefined) => Progress;
  log: (line: string) => void;
  signal?: AbortSignal;
}

async function download(url: string, options: NpmToolOptions): Promise<Uint8Array> {
  const response = await options.http.request('GET', url, { signal: options.signal, timeoutMs: 60_000 });
  const length = Number(response.headers.get('content-length')) || undefined;
  const progress = options.progress(length);
  const chunks: Uint8Array[] = [];
  if (!response.body) throw new ActionError(`${options.http.name}: GET ${url} answered without a body`);
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    chunks.push(chunk);
    progress.tick(0, chunk.length);
  }
  progress.tick(1, 0);
  progress.done();
  return Buffer.concat(chunks);
}

/**
 * Puts `name@version` from an npm registry into the tool cache and returns its folder: the packument
 * gives the tarball and its sha512 integrity, the tarball is checked before anything is extracted, and
 * the extraction lands in a sibling folder renamed into place, so a cancelled run leaves no half package.
 */
export async function fetchNpmPackageToToolCache(options: NpmToolOptions): Promise<string> {
  const { name, version } = options;
  const what = `${name}@${version} from ${options.registry}`;
  const packument = await options.http.json<Packument>('GET', `${options.registry}${packumentPath(name)}`, {
    headers: { accept: 'application/vnd.npm.install-v1+json; q=1.0, application/json; q=0.8' },
    signal: options.signal,
  });
  const dist = packument.versions?.[version]?.dist;
  if (!dist?.tarball)
    throw new ActionError(
      `${what}: the registry has no version ${version} of ${name} (or no tarball for it)`,
    );
  if (!dist.integrity) throw new ActionError(`${what}: the registry gives no integrity for the tarball`);
  options.log(`Downloading ${name}@${version} (${dist.tarball})`);
  const tgz = await download(dist.tarball, options);
  checkIntegrity(tgz, dist.integrity, what);

  const dir = toolCachePath(options.cacheRoot, options.tool, version, options.arch);
  const staging = `${dir}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const files = extractNpmTarball(tgz, staging);
    // A folder without its marker is what an interrupted @actions/tool-cache leaves: replace it.
    if (!existsSync(`${dir}.complete`)) rmSync(dir, { recursive: true, force: true });
    try {
      renameSync(staging, dir);
    } catch (error) {
      // Another job on the same runner finished first: its copy is as good as ours.
      if (!existsSync(`${dir}.complete`)) throw error;
    }
    writeFileAtomic(`${dir}.complete`, '');
    options.log(
      `Cached ${name}@${version} (${files} files, ${formatBytes(tgz.length)} compressed) in ${dir}`,
    );
  } catch (error) {
    if (error instanceof ActionError) throw error;
    throw new ActionError(`${what}: extracting into the tool cache failed: ${(error as Error).message}`);
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
  return dir;
}

/** The version field of a package.json, when the file exists and parses. */
export function packageVersion(dir: string): string | undefined {
  try {
    return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version?: string }).version;
  } catch {
    return undefined;
  }
}
