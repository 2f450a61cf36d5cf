import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { crc32, deflateRawSync } from 'node:zlib';
import { ActionError, globToRegExp } from '@mlops-actions/kit';

/**
 * Ray's `working_dir` package, computed as `ray._private.runtime_env.packaging` does it so the URI we
 * upload under is the one Ray itself would give the same directory (and a package Ray already holds is
 * not sent again): the walk skips what the excludes (gitwildmatch, relative to the working directory)
 * and every `.gitignore` on the way match; the hash XORs, over every path visited (the root as `.`,
 * directories by name, files by name and content), the SHA-1 of that path, truncated to the 8 bytes of
 * Ray's `b"0" * 8` seed. The zip holds the files and empty directories; ours is byte-for-byte
 * reproducible (sorted entries, fixed times) so the same tree always uploads the same bytes.
 */

/** Ray's default `excludes` (`RAY_OVERRIDE_RUNTIME_ENV_DEFAULT_EXCLUDES` overrides them on the Ray side). */
export const RAY_DEFAULT_EXCLUDES = ['.git', '.venv', 'venv', '__pycache__'];

/** The GCS store behind `/api/packages` refuses a package of this size (Ray's max gRPC message). */
export const RAY_MAX_PACKAGE_BYTES = 500 * 1024 * 1024;

const SEED = Buffer.from('00000000', 'latin1');

export interface PackageEntry {
  /** POSIX path relative to the working directory; `.` is the directory itself. */
  path: string;
  directory: boolean;
  /** A directory with nothing in it (Ray packs those too). */
  empty: boolean;
  /** File contents; undefined for directories and unreadable files. */
  data?: Buffer;
  mode: number;
}

export interface RayPackage {
  /** `gcs://_ray_pkg_<hash>.zip` */
  uri: string;
  /** `_ray_pkg_<hash>.zip`, the `{package_name}` of `/api/packages/gcs/{package_name}`. */
  name: string;
  entries: PackageEntry[];
}

type Matcher = (absolute: string) => boolean;

interface Rule {
  regex: RegExp;
  negate: boolean;
}

/** One gitwildmatch pattern (the `pathspec` flavour Ray uses) as a regular expression over relative paths. */
function compileRule(line: string): Rule | undefined {
  let pattern = line.replace(/(?<!\\)\s+$/, '');
  if (!pattern || pattern.startsWith('#')) return undefined;
  const negate = pattern.startsWith('!');
  if (negate) pattern = pattern.slice(1);
  pattern = pattern.replace(/^\\([#!])/, '$1');
  const directoryOnly = pattern.endsWith('/');
  if (directoryOnly) pattern = pattern.replace(/\/+$/, '');
  if (!pattern) return undefined;
  const anchored = pattern.includes('/') && !pattern.startsWith('**/');
  pattern = pattern.replace(/^\//, '');
  const body = globToRegExp(pattern).source.slice(1, -1);
  const prefix = anchored ? '' : '(?:.+/)?';
  // A bare name also matches everything below it; `name/` matches only below it (the path strings
  // Ray matches never end in a slash, so the directory itself is still visited).
  const suffix = directoryOnly ? '/.*' : '(?:/.*)?';
  return { regex: new RegExp(`^${prefix}${body}${suffix}$`), negate };
}

function matcher(base: string, lines: string[]): Matcher {
  const rules = lines.map(compileRule).filter((rule): rule is Rule => rule !== undefined);
  return (absolute) => {
    const path = relative(base, absolute).split(sep).join('/') || '.';
    let excluded = false;
    for (const rule of rules) if (rule.regex.test(path)) excluded = !rule.negate;
    return excluded;
  };
}

function gitignoreOf(directory: string): Matcher | undefined {
  const file = join(directory, '.gitignore');
  try {
    if (!statSync(file).isFile()) return undefined;
  } catch {
    return undefined;
  }
  return matcher(directory, readFileSync(file, 'utf8').split(/\r?\n/));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

/** Every path Ray would visit, in sorted order, following Ray's `_dir_travel`. */
export function packageEntries(
  directory: string,
  excludes: string[] = RAY_DEFAULT_EXCLUDES,
  gitignore = true,
): PackageEntry[] {
  if (!existsSync(directory) || !isDirectory(directory))
    throw new ActionError(`The Ray working directory ${directory} is not a directory`);
  const entries: PackageEntry[] = [];
  const travel = (absolute: string, matchers: Matcher[]) => {
    const ignore = gitignore ? gitignoreOf(absolute) : undefined;
    const active = ignore ? [...matchers, ignore] : matchers;
    if (active.some((match) => match(absolute))) return;
    const path = relative(directory, absolute).split(sep).join('/') || '.';
    if (isDirectory(absolute)) {
      const children = readdirSync(absolute).sort();
      entries.push({ path, directory: true, empty: children.length === 0, mode: 0o755 });
      for (const child of children) travel(join(absolute, child), active);
      return;
    }
    let data: Buffer | undefined;
    let mode = 0o644;
    try {
      data = readFileSync(absolute);
      mode = statSync(absolute).mode & 0o777;
    } catch {
      // Ray hashes the name of a file it cannot open and packs nothing for it (a dangling link).
    }
    entries.push({ path, directory: false, empty: false, data, mode });
  };
  travel(directory, [matcher(directory, excludes)]);
  return entries;
}

/** Ray's `_hash_directory`: XOR of SHA-1(path [+ content]) over the entries, 8 bytes wide, as hex. */
export function hashEntries(entries: PackageEntry[]): string {
  const hash = Buffer.from(SEED);
  for (const entry of entries) {
    const sha1 = createHash('sha1').update(entry.path, 'utf8');
    if (entry.data) sha1.update(entry.data);
    const digest = sha1.digest();
    for (let i = 0; i < hash.length; i++) hash[i] = hash[i]! ^ digest[i]!;
  }
  return hash.toString('hex');
}

/** With `gitignore: false`, `.gitignore` files leave nothing out (Ray's RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1). */
export function rayPackage(
  directory: string,
  excludes: string[] = RAY_DEFAULT_EXCLUDES,
  gitignore = true,
): RayPackage {
  const entries = packageEntries(directory, excludes, gitignore);
  const name = `_ray_pkg_${hashEntries(entries)}.zip`;
  return { uri: `gcs://${name}`, name, entries };
}

// DOS date for 1980-01-01 00:00, the earliest a zip can say: a fixed time keeps the bytes reproducible.
const DOS_TIME = 0;
const DOS_DATE = (0 << 9) | (1 << 5) | 1;

/** The package as a zip, as Ray's `_zip_files` lays it out (files and empty directories), reproducibly. */
export function zipPackage(pkg: RayPackage): Buffer {
  const locals: Buffer[] = [];
  const centrals: Buffer[] = [];
  let offset = 0;
  const packed = pkg.entries.filter((entry) =>
    entry.directory ? entry.empty && entry.path !== '.' : entry.data !== undefined,
  );
  if (packed.length > 0xffff)
    throw new ActionError(
      `The Ray working directory has ${packed.length} files; a package holds at most 65535: add excludes`,
    );
  for (const entry of packed) {
    const name = Buffer.from(entry.directory ? `${entry.path}/` : entry.path, 'utf8');
    const raw = entry.data ?? Buffer.alloc(0);
    const deflate = !entry.directory && raw.length > 0;
    const stored = deflate ? deflateRawSync(raw, { level: 6 }) : raw;
    const crc = crc32(raw);
    const flags = /[^\x20-\x7e]/.test(entry.path) ? 0x0800 : 0;
    const method = deflate ? 8 : 0;

    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4);
    local.writeUInt16LE(flags, 6);
    local.writeUInt16LE(method, 8);
    local.writeUInt16LE(DOS_TIME, 10);
    local.writeUInt16LE(DOS_DATE, 12);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(raw.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    locals.push(local, name, stored);

    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE((3 << 8) | 20, 4);
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(flags, 8);
    central.writeUInt16LE(method, 10);
    central.writeUInt16LE(DOS_TIME, 12);
    central.writeUInt16LE(DOS_DATE, 14);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(stored.length, 20);
    central.writeUInt32LE(raw.length, 24);
    central.writeUInt16LE(name.length, 28);
    const unixMode = entry.directory ? 0o40000 | entry.mode : 0o100000 | entry.mode;
    central.writeUInt32LE(((unixMode << 16) | (entry.directory ? 0x10 : 0)) >>> 0, 38);
    central.writeUInt32LE(offset, 42);
    centrals.push(central, name);
    offset += local.length + name.length + stored.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(packed.length, 8);
  end.writeUInt16LE(packed.length, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}
