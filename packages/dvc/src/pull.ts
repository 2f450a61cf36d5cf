import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  constants,
  createReadStream,
  existsSync,
  fchmodSync,
  fstatSync,
  openSync,
  readFileSync,
  type Stats,
  statSync,
} from 'node:fs';
import { copyFile, link, mkdir, open, rename, rm, symlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { ActionError, InputError, isInside, mapPool, realPathOf } from '@mlops-actions/kit';
import type { CacheType } from './config';
import { type ManifestEntry, type Out, parseManifest } from './formats';
import { type HashName, hashFdSync, ObjectHasher } from './hash';
import { openRemote, type RemoteOptions, type RemoteStore } from './remotes/index';
import type { DvcRepo } from './repo';
import { HashState } from './state';
import { resolveTargets, type Selection } from './targets';

export type LinkType = CacheType;

export interface ProgressLike {
  tick(count?: number, bytes?: number): void;
  done(): string;
}

export interface PullOptions {
  targets?: string[];
  /** Overrides core.remote for outs without their own `remote:`. */
  remote?: string;
  jobs?: number;
  /** One link type, overriding the repository's `cache.type` list. */
  linkType?: LinkType;
  /**
   * Keep downloaded objects in `.dvc/cache` (default true, as `dvc pull` does). False writes each file
   * straight into the workspace, once, unless the link type needs the cache (hardlink, symlink).
   */
  fillCache?: boolean;
  log?: { info(line: string): void; warning(line: string): void; debug?(line: string): void };
  progress?: (options: { label: string; total?: number; totalBytes?: number; unit?: string }) => ProgressLike;
  remoteOptions?: Partial<RemoteOptions>;
  signal?: AbortSignal;
  /** A download that receives nothing for this long is retried (default 60 s). */
  idleTimeoutMs?: number;
  /** Resolve and report without transferring anything (used after `dvc pull` by the CLI mode). */
  dryRun?: boolean;
}

/** One workspace file a pull delivers. */
export interface PulledFile {
  path: string;
  md5: string;
  hashName: HashName;
  size: number;
  downloaded: boolean;
}

export interface TargetReport {
  target: string;
  files: number;
  bytes: number;
  downloadedFiles: number;
  downloadedBytes: number;
}

export interface PullResult {
  files: number;
  bytes: number;
  downloadedFiles: number;
  downloadedBytes: number;
  /** sha256 hex over the sorted lines `<path>\t<md5>\n` of every file pulled. */
  dataHash: string;
  /** The top-level object ids requested (out md5s, `.dir` included), sorted: the basis of the cache key. */
  objectIds: string[];
  pulled: PulledFile[];
  targets: TargetReport[];
  skippedNoCache: string[];
}

interface Entry {
  path: string;
  md5: string;
  hashName: HashName;
  size?: number;
  remoteName: string;
  targets: Set<number>;
  importedFrom?: string;
}

/**
 * Whether a pull with `remote` (the -r option) covers an out: since DVC 3.49, an out with its own
 * `remote:` is skipped when another remote is requested.
 */
function pulledFrom(out: Out, remote: string | undefined): boolean {
  return !remote || !out.remote || out.remote === remote;
}

/** Where DVC 3 keeps an object: `files/md5/<2>/<30>`; 2.x objects (md5-dos2unix) sit at the root `<2>/<30>`. */
export function objectPath(md5: string, hashName: HashName): string {
  const rel = `${md5.slice(0, 2)}/${md5.slice(2)}`;
  return hashName === 'md5' ? `files/md5/${rel}` : rel;
}

/** The data lineage id: sha256 over `path\tmd5\n` lines sorted by the UTF-8 bytes of the path. */
export function computeDataHash(files: Array<{ path: string; md5: string }>): string {
  const sorted = [...files].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const hash = createHash('sha256');
  for (const f of sorted) hash.update(`${f.path}\t${f.md5}\n`);
  return hash.digest('hex');
}

/** Unique to this process (another pull may share the cache), then a counter: no random draw per file. */
const TEMP_PREFIX = randomBytes(6).toString('hex');
let tempCount = 0;

function tempName(path: string): string {
  return `${path}.${TEMP_PREFIX}${(tempCount++).toString(36)}.tmp`;
}

const TRANSPORT_ATTEMPTS = 4;
/** Downloaded chunks are written in gathered batches of about this size: one thread-pool round trip each. */
const WRITE_BATCH = 1 << 20;
/** Written files up to this size are verified with synchronous reads (from the page cache) on the main thread. */
const SYNC_VERIFY_LIMIT = 16 << 20;

/** A transfer that receives nothing for this long is abandoned and retried. */
const IDLE_TIMEOUT_MS = 60_000;

/**
 * Yields the chunks of `source`, failing when none arrives within `ms` (a stalled connection); `onStall`
 * should abort the underlying request, since a pending read cannot be cancelled from here.
 */
export async function* withIdleTimeout<T>(
  source: AsyncIterable<T>,
  ms: number,
  onStall: () => void,
): AsyncGenerator<T> {
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    let timer: NodeJS.Timeout | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        onStall();
        reject(Object.assign(new Error(`no data for ${ms / 1000} s`), { code: 'ESTALLED' }));
      }, ms);
    });
    let next: IteratorResult<T>;
    try {
      next = await Promise.race([iterator.next(), stalled]);
    } finally {
      clearTimeout(timer);
    }
    if (next.done) return;
    yield next.value;
  }
}

/** An object whose bytes hash to something else than its name, twice: the remote copy is bad. */
export class CorruptObjectError extends Error {
  constructor(
    readonly md5: string,
    readonly actual: string,
    readonly remoteName: string,
    readonly location: string,
  ) {
    super(`object ${md5} from DVC remote '${remoteName}' (${location}) hashes to ${actual}`);
  }
}

/** A bad object, as the final error lists it. */
interface BadObject {
  path: string;
  md5: string;
  remoteName: string;
  /** The digest of the bytes the remote served, and where; undefined when it had no such object. */
  actual?: string;
  location?: string;
  importedFrom?: string;
}

const pick = (out: Out) => ({
  path: out.path,
  md5: out.md5,
  hashName: out.hashName,
  importedFrom: out.importedFrom,
});

/** Link errors after which DVC moves on to the next type in `cache.type`. */
const LINK_UNSUPPORTED = new Set([
  'EXDEV',
  'EPERM',
  'ENOTSUP',
  'EOPNOTSUPP',
  'EINVAL',
  'ENOSYS',
  'EMLINK',
  'ENOTTY',
]);

/** DVC's cache files are read-only (0444), so a hardlinked or symlinked workspace file cannot corrupt them. */
const CACHE_MODE = 0o444;

interface Transferred {
  bytes: number;
  /** The verified bytes, when they were fetched into memory. */
  data?: Buffer;
}

interface Selected {
  dirOuts: Array<{ out: Out; remoteName: string; within?: string; target: number }>;
  skippedNoCache: Set<string>;
  objectIds: Set<string>;
}

/**
 * A committed symlink (`data -> /outside`) would make a checkout write outside the repository: every
 * destination folder is resolved through links before anything is written. Folders, not files: a file is
 * replaced by a rename, which never writes through a link at its own path, and thousands of files share
 * a few folders (one realpath each instead of one per file).
 */
function refuseWritesOutside(root: string, entries: Array<{ path: string }>): void {
  const realRoot = realPathOf(root);
  const checked = new Set<string>();
  for (const entry of entries) {
    const folder = dirname(entry.path);
    if (checked.has(folder)) continue;
    checked.add(folder);
    const real = realPathOf(join(realRoot, folder));
    if (!isInside(realRoot, real))
      throw new ActionError(
        `'${entry.path}' resolves through a symbolic link to ${join(real, basename(entry.path))}, outside the repository ${realRoot}; DVC outs are only written inside it (remove the link)`,
      );
  }
}

export class Puller {
  private readonly stores = new Map<string, Promise<RemoteStore>>();
  private readonly state: HashState;
  private readonly cacheDir: string;
  private readonly log: NonNullable<PullOptions['log']>;
  /** Objects fetched in this run, by destination, so concurrent users of one object share one transfer. */
  private readonly inflight = new Map<string, Promise<Transferred | undefined>>();
  /** The link types still worth trying, in the order of `cache.type` (one that fails is dropped, as DVC does). */
  private readonly linkTypes: LinkType[];
  /** Whether downloads go through `.dvc/cache`; otherwise they are written straight into the workspace. */
  private readonly useCache: boolean;
  private readonly madeDirs = new Set<string>();
  private readonly madeDirsPending = new Map<string, Promise<unknown>>();
  private readonly workspaceMode = 0o666 & ~process.umask();
  private readonly entries = new Map<string, Entry>();
  private readonly bad: BadObject[] = [];

  constructor(
    private readonly repo: DvcRepo,
    private readonly options: PullOptions = {},
  ) {
    this.cacheDir = repo.config.cacheDir;
    this.state = new HashState(join(repo.dvcDir, 'tmp', 'mlops-dvc-pull-state.json'));
    this.log = options.log ?? { info: () => undefined, warning: () => undefined };
    this.linkTypes = options.linkType ? [options.linkType] : [...repo.config.cacheTypes];
    const linksOnly = this.linkTypes[0] === 'hardlink' || this.linkTypes[0] === 'symlink';
    this.useCache = options.fillCache !== false || linksOnly;
  }

  cachePath(md5: string, hashName: HashName): string {
    return join(this.cacheDir, objectPath(md5, hashName));
  }

  remoteNameFor(out: Out): string {
    const config = this.repo.config;
    const name = out.remote ?? this.options.remote ?? config.defaultRemote;
    if (!name) {
      const known = [...config.remotes.keys()];
      throw new ActionError(
        `No DVC remote for '${out.path}': .dvc/config sets no core.remote and the 'remote' input is empty; ` +
          (known.length
            ? `set remote to one of: ${known.join(', ')}`
            : `add one with 'dvc remote add -d <name> <url>'`),
      );
    }
    if (!config.remotes.has(name)) {
      const known = [...config.remotes.keys()].join(', ') || 'none';
      const where = out.remote
        ? `'${out.source}' (remote: ${name})`
        : this.options.remote
          ? "input 'remote'"
          : 'core.remote in .dvc/config';
      const message = `DVC remote '${name}' (from ${where}) is not defined in .dvc/config or .dvc/config.local; known remotes: ${known}`;
      if (!out.remote && this.options.remote)
        throw new InputError(
          'remote',
          `DVC remote '${name}' is not defined in .dvc/config or .dvc/config.local; known remotes: ${known}`,
        );
      throw new ActionError(message);
    }
    return name;
  }

  store(name: string): Promise<RemoteStore> {
    let store = this.stores.get(name);
    if (!store) {
      const config = this.repo.config.remotes.get(name)!;
      const remoteOptions: RemoteOptions = {
        log: (line) => this.log.info(line),
        env: process.env,
        ...this.options.remoteOptions,
      };
      store = openRemote(config, remoteOptions);
      this.stores.set(name, store);
    }
    return store;
  }

  private async ensureDir(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    let pending = this.madeDirsPending.get(dir);
    if (!pending) {
      pending = mkdir(dir, { recursive: true });
      this.madeDirsPending.set(dir, pending);
    }
    await pending;
    this.madeDirs.add(dir);
  }

  /**
   * Downloads one object to `dest` (a cache path, a workspace path, or memory when undefined), hashing in
   * the same pass as the write, or reading a kernel copy back before it is renamed into place. From here to
   * `inCache` is the whole download-verify-retry path. Network failures are retried; a digest mismatch is retried once and then
   * throws CorruptObjectError. Returns undefined when the remote does not have the object.
   */
  fetch(
    remoteName: string,
    md5: string,
    hashName: HashName,
    forPath: string,
    dest?: string,
  ): Promise<Transferred | undefined> {
    const key = dest ?? `memory:${hashName}:${md5}`;
    const existing = this.inflight.get(key);
    if (existing) return existing;
    const task = this.transfer(remoteName, md5, hashName, forPath, dest);
    this.inflight.set(key, task);
    return task;
  }

  private isCachePath(path: string): boolean {
    return path.startsWith(`${this.cacheDir}/`);
  }

  /**
   * Hashes a file this pull just wrote (still in the page cache) and gives it its final mode before anyone can
   * see it. Up to SYNC_VERIFY_LIMIT the reads are synchronous (no round trip per chunk); a bigger file is read
   * through the thread pool so the event loop never blocks for long.
   */
  private async hashWritten(path: string, hasher: ObjectHasher, mode: number): Promise<Stats> {
    const fd = openSync(path, 'r');
    try {
      const info = fstatSync(fd);
      if (info.size <= SYNC_VERIFY_LIMIT) hashFdSync(fd, hasher);
      else
        for await (const chunk of createReadStream('', { fd, autoClose: false, highWaterMark: 1 << 20 }))
          hasher.update(chunk as Buffer);
      fchmodSync(fd, mode);
      return info;
    } finally {
      closeSync(fd);
    }
  }

  /**
   * One attempt: the object's bytes into `temp` (or memory when undefined), hashed as they pass or, when the
   * remote copied them inside the kernel, read back from the page cache. Returns the written file's identity
   * when it has it, for the hash state.
   */
  private async receive(
    store: RemoteStore,
    rel: string,
    hasher: ObjectHasher,
    temp: string | undefined,
    mode: number,
  ): Promise<{ found: boolean; data?: Buffer; written?: Stats }> {
    if (temp && store.copyTo) {
      if (!(await store.copyTo(rel, temp))) return { found: false };
      return { found: true, written: await this.hashWritten(temp, hasher, mode) };
    }
    const whole = !temp && store.read ? await store.read(rel) : null;
    if (whole === undefined) return { found: false };
    if (whole) {
      hasher.update(whole);
      return { found: true, data: whole };
    }
    const attempt = new AbortController();
    const signal = this.options.signal
      ? AbortSignal.any([this.options.signal, attempt.signal])
      : attempt.signal;
    const source = await store.open(rel, signal);
    if (!source) return { found: false };
    const file = temp ? await open(temp, 'w', mode) : undefined;
    // Chunks wait here until a batch is worth one gathered write (a network chunk is often 16 KB).
    const chunks: Uint8Array[] = [];
    let pending = 0;
    const flush = async () => {
      const { bytesWritten } = await file!.writev(chunks);
      if (bytesWritten !== pending)
        throw new Error(`short write to ${temp} (${bytesWritten} of ${pending} bytes)`);
      chunks.length = 0;
      pending = 0;
    };
    try {
      const idle = this.options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
      for await (const chunk of withIdleTimeout(source, idle, () => attempt.abort())) {
        hasher.update(chunk);
        chunks.push(chunk);
        pending += chunk.length;
        if (file && pending >= WRITE_BATCH) await flush();
      }
      if (file && pending > 0) await flush();
    } finally {
      await file?.close();
    }
    return { found: true, data: file ? undefined : Buffer.concat(chunks) };
  }

  private async transfer(
    remoteName: string,
    md5: string,
    hashName: HashName,
    forPath: string,
    dest: string | undefined,
  ): Promise<Transferred | undefined> {
    const store = await this.store(remoteName);
    const expected = md5.replace(/\.dir$/, '');
    const rel = objectPath(md5, hashName);
    const toCache = dest !== undefined && this.isCachePath(dest);
    if (dest) await this.ensureDir(dirname(dest));
    let mismatches = 0;
    let failures = 0;
    for (;;) {
      this.options.signal?.throwIfAborted();
      const temp = dest ? tempName(dest) : undefined;
      const hasher = new ObjectHasher(hashName);
      let received: { found: boolean; data?: Buffer; written?: Stats };
      try {
        received = await this.receive(store, rel, hasher, temp, toCache ? CACHE_MODE : this.workspaceMode);
      } catch (error) {
        if (temp) await rm(temp, { force: true });
        if (error instanceof ActionError || this.options.signal?.aborted) throw error;
        failures++;
        const cause = (error as { code?: string; message?: string }).code ?? (error as Error).message;
        if (failures >= TRANSPORT_ATTEMPTS) {
          throw new ActionError(
            `Could not download '${forPath}' (object ${md5}) from DVC remote '${remoteName}' (${store.locate(rel)}) after ${failures} attempts: ${cause}`,
          );
        }
        this.log.info(
          `Download of ${store.locate(rel)} broke off (${cause}); retry ${failures}/${TRANSPORT_ATTEMPTS - 1}`,
        );
        await new Promise((r) => setTimeout(r, Math.min(250 * 2 ** failures, 4000)));
        continue;
      }
      if (!received.found) return undefined;
      const actual = hasher.digest();
      if (actual !== expected) {
        if (temp) await rm(temp, { force: true });
        mismatches++;
        if (mismatches >= 2) throw new CorruptObjectError(md5, actual, remoteName, store.locate(rel));
        this.log.warning(
          `'${forPath}': object ${md5} from remote '${remoteName}' hashed to ${actual}; downloading it again`,
        );
        continue;
      }
      if (dest && temp) {
        await rename(temp, dest);
        // A rename keeps the inode and mtime the state records.
        if (received.written) this.state.record(dest, hashName, expected, received.written);
        else this.state.recordFile(dest, hashName, expected);
      }
      return { bytes: hasher.bytes, data: received.data };
    }
  }

  /** True when the cache holds the object with the right digest. */
  private async inCache(md5: string, hashName: HashName, size?: number): Promise<boolean> {
    const digest = await this.state.hash(this.cachePath(md5, hashName), hashName, size);
    return digest === md5.replace(/\.dir$/, '');
  }

  /** The `.dir` listing of a directory out; undefined (and recorded as bad) when missing or corrupt. */
  private async manifest(out: Out, remoteName: string): Promise<ManifestEntry[] | undefined> {
    const path = this.cachePath(out.md5, out.hashName);
    const where = `'${out.path}' (${out.md5})`;
    if (await this.inCache(out.md5, out.hashName)) return parseManifest(readFileSync(path, 'utf8'), where);
    if (this.options.dryRun)
      throw new ActionError(
        `'${out.path}': its .dir manifest ${out.md5} is not in .dvc/cache after 'dvc pull'`,
      );
    const fetched = await this.fetchOrRecord(
      { path: out.path, md5: out.md5, hashName: out.hashName, remoteName, importedFrom: out.importedFrom },
      this.useCache ? path : undefined,
    );
    if (!fetched) return undefined;
    const text = fetched.data ? fetched.data.toString('utf8') : readFileSync(path, 'utf8');
    return parseManifest(text, where);
  }

  /** Fetches an object, recording a missing or corrupt one in `bad` instead of stopping the pull. */
  private async fetchOrRecord(
    entry: Pick<Entry, 'path' | 'md5' | 'hashName' | 'remoteName' | 'importedFrom'>,
    dest: string | undefined,
  ): Promise<Transferred | undefined> {
    try {
      const fetched = await this.fetch(entry.remoteName, entry.md5, entry.hashName, entry.path, dest);
      if (!fetched)
        this.bad.push({
          path: entry.path,
          md5: entry.md5,
          remoteName: entry.remoteName,
          importedFrom: entry.importedFrom,
        });
      return fetched;
    } catch (error) {
      if (!(error instanceof CorruptObjectError)) throw error;
      this.bad.push({
        path: entry.path,
        md5: entry.md5,
        remoteName: entry.remoteName,
        actual: error.actual,
        location: error.location,
      });
      return undefined;
    }
  }

  /** Links or copies `source` (a cache file) to `temp` with the first link type that works here. */
  private async link(source: string, temp: string): Promise<void> {
    for (;;) {
      const type = this.linkTypes[0];
      if (!type) {
        throw new ActionError(
          `No link type in cache.type works between ${this.cacheDir} and the workspace; add 'copy' to cache.type`,
        );
      }
      try {
        if (type === 'hardlink') await link(source, temp);
        else if (type === 'symlink') await symlink(source, temp);
        else {
          // FICLONE shares the blocks when the filesystem can and copies inside the kernel otherwise (the
          // cache file was verified: its bytes never pass through user space again); FORCE never copies.
          const flag = type === 'copy' ? constants.COPYFILE_FICLONE : constants.COPYFILE_FICLONE_FORCE;
          await copyFile(source, temp, flag);
          // Copies are the user's to edit: not read-only like the cache file they came from. A metadata-only
          // call: synchronous, it saves a thread-pool round trip per file.
          chmodSync(temp, this.workspaceMode);
        }
        return;
      } catch (error) {
        await rm(temp, { force: true });
        const code = (error as NodeJS.ErrnoException).code ?? '';
        if (type === 'copy' || !LINK_UNSUPPORTED.has(code)) throw error;
        // Concurrent placements may all fail on the same type: drop it once.
        if (this.linkTypes[0] === type) {
          this.linkTypes.shift();
          this.log.info(
            `cache.type ${type} does not work here (${code}); using ${this.linkTypes[0] ?? 'nothing else'}`,
          );
        }
      }
    }
  }

  /** Places a verified cache object at `path` in the workspace, atomically (temp file + rename). */
  private async checkout(entry: Entry): Promise<void> {
    const source = this.cachePath(entry.md5, entry.hashName);
    const dest = join(this.repo.root, entry.path);
    await this.ensureDir(dirname(dest));
    const temp = tempName(dest);
    try {
      await this.link(source, temp);
      await rename(temp, dest);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    this.state.recordFile(dest, entry.hashName, entry.md5);
  }

  private add(entry: Omit<Entry, 'targets'>, target: number): void {
    const existing = this.entries.get(entry.path);
    if (existing && existing.md5 !== entry.md5) {
      throw new ActionError(
        `'${entry.path}' is tracked twice with different hashes (${existing.md5} and ${entry.md5}); fix the .dvc/dvc.lock files`,
      );
    }
    if (existing) existing.targets.add(target);
    else this.entries.set(entry.path, { ...entry, targets: new Set([target]) });
  }

  /** Step 1: the outs the targets select, minus `cache: false` ones and, with `-r`, outs of other remotes. */
  private selectOuts(selections: Selection[]): Selected {
    const selected: Selected = { dirOuts: [], skippedNoCache: new Set(), objectIds: new Set() };
    const skippedOtherRemote = new Set<string>();
    for (const [index, selection] of selections.entries()) {
      for (const { out, within } of selection.items) {
        if (!out.cache) {
          selected.skippedNoCache.add(out.path);
          continue;
        }
        if (!pulledFrom(out, this.options.remote)) {
          skippedOtherRemote.add(`${out.path} (remote: ${out.remote})`);
          continue;
        }
        const remoteName = this.remoteNameFor(out);
        selected.objectIds.add(`${out.hashName}:${out.md5}`);
        if (out.isDir) selected.dirOuts.push({ out, remoteName, within, target: index });
        else this.add({ ...pick(out), size: out.size, remoteName }, index);
      }
    }
    for (const path of selected.skippedNoCache) {
      this.log.info(`Skipping '${path}': cache: false (tracked by git, never pushed)`);
    }
    for (const what of skippedOtherRemote) {
      this.log.info(
        `Skipping ${what}: its own remote is not the requested '${this.options.remote}' (as dvc pull -r does)`,
      );
    }
    return selected;
  }

  /** Step 2: the files of each directory out, from its `.dir` manifest; empty directories are created. */
  private async expandDirectories(dirOuts: Selected['dirOuts'], reports: TargetReport[]): Promise<void> {
    const manifests = new Map<string, ManifestEntry[] | undefined>();
    await mapPool(dirOuts, 8, async ({ out, remoteName }) => {
      if (!manifests.has(out.path)) manifests.set(out.path, await this.manifest(out, remoteName));
    });
    for (const { out, remoteName, within, target } of dirOuts) {
      const manifest = manifests.get(out.path);
      if (!manifest) continue;
      // DVC checks out a directory out as a directory even when its listing is empty.
      if (!within && !this.options.dryRun) await this.ensureDir(join(this.repo.root, out.path));
      let matched = 0;
      for (const item of manifest) {
        if (within && item.relpath !== within && !item.relpath.startsWith(`${within}/`)) continue;
        matched++;
        this.add({ ...pick(out), path: `${out.path}/${item.relpath}`, md5: item.md5, remoteName }, target);
      }
      if (within && matched === 0) {
        throw new InputError(
          'targets',
          `'${reports[target]!.target}' is inside '${out.path}' but its .dir manifest has no such file or folder`,
        );
      }
    }
  }

  /** Step 3: files whose workspace copy is missing or differs (unchanged files are known from the state). */
  private async findNeeded(all: Entry[], sizes: Map<string, number>): Promise<Entry[]> {
    const needed: Entry[] = [];
    await mapPool(all, 8, async (entry) => {
      const path = join(this.repo.root, entry.path);
      const digest = await this.state.hash(path, entry.hashName, entry.size);
      if (digest === entry.md5) sizes.set(entry.path, statSync(path).size);
      else needed.push(entry);
    });
    if (needed.length > 0 && this.options.dryRun) {
      const shown = needed.slice(0, 10).map((e) => e.path);
      throw new ActionError(
        `${needed.length} file(s) are missing or differ from their recorded md5 after 'dvc pull': ${shown.join(', ')}${needed.length > 10 ? `, and ${needed.length - 10} more` : ''}`,
      );
    }
    return needed;
  }

  /** One file: from the cache when it holds the object, else downloaded (through the cache or straight in). */
  private async place(entry: Entry): Promise<{ size: number; downloaded: boolean } | undefined> {
    if (
      existsSync(this.cachePath(entry.md5, entry.hashName)) &&
      (await this.inCache(entry.md5, entry.hashName, entry.size))
    ) {
      await this.checkout(entry);
      return { size: statSync(this.cachePath(entry.md5, entry.hashName)).size, downloaded: false };
    }
    if (!this.useCache) {
      const fetched = await this.fetchOrRecord(entry, join(this.repo.root, entry.path));
      return fetched && { size: fetched.bytes, downloaded: true };
    }
    const fetched = await this.fetchOrRecord(entry, this.cachePath(entry.md5, entry.hashName));
    if (!fetched) return undefined;
    await this.checkout(entry);
    return { size: fetched.bytes, downloaded: true };
  }

  /** Step 4: every needed file, in parallel; a bad object is recorded and the others still placed. */
  private async transferAll(
    needed: Entry[],
    total: number,
    sizes: Map<string, number>,
    downloaded: Map<string, number>,
  ): Promise<void> {
    const knownBytes = needed.every((e) => e.size !== undefined)
      ? needed.reduce((s, e) => s + (e.size ?? 0), 0)
      : undefined;
    const progress = this.options.progress?.({
      label: 'dvc-pull',
      total: needed.length,
      totalBytes: knownBytes,
      unit: 'files',
    });
    let jobs = this.options.jobs;
    if (!jobs) {
      const remotes = [...new Set(needed.map((e) => e.remoteName))];
      jobs = Math.min(...(await Promise.all(remotes.map(async (n) => (await this.store(n)).defaultJobs))));
    }
    this.log.info(
      `Pulling ${needed.length} file(s) of ${total} with ${jobs} parallel transfer(s), ${
        this.useCache
          ? `cache.type ${this.linkTypes.join(',')}`
          : 'written straight into the workspace (no .dvc/cache)'
      }`,
    );
    await mapPool(needed, jobs, async (entry) => {
      const placed = await this.place(entry);
      if (placed) {
        sizes.set(entry.path, placed.size);
        if (placed.downloaded) downloaded.set(entry.path, placed.size);
      }
      progress?.tick(1, placed?.size ?? 0);
    });
    progress?.done();
  }

  /** Step 5: one error naming every object that could not be placed; everything else is in place by now. */
  private failOnBadObjects(): void {
    if (this.bad.length === 0) return;
    const sorted = [...this.bad].sort((a, b) => (a.path < b.path ? -1 : 1));
    const corrupt = sorted.filter((b) => b.actual !== undefined);
    const imported = sorted.filter((b) => b.actual === undefined && b.importedFrom);
    const missing = sorted.filter((b) => b.actual === undefined && !b.importedFrom);
    const parts: string[] = [];
    if (corrupt.length > 0) {
      const listed = corrupt.map(
        (b) =>
          `'${b.path}': object ${b.md5} from DVC remote '${b.remoteName}' (${b.location}) hashes to ${b.actual} twice`,
      );
      parts.push(
        `Verification failed for ${corrupt.length} object(s), whose remote copies are corrupt or incomplete (re-push them with 'dvc push'): ${listed.join('; ')}`,
      );
    }
    if (missing.length > 0) {
      const byRemote = [...new Set(missing.map((m) => m.remoteName))].join(', ');
      const shown = missing.slice(0, 10).map((m) => `${m.path} (${m.md5})`);
      parts.push(
        `${missing.length} file(s) missing on DVC remote ${byRemote}: ${shown.join(', ')}${missing.length > 10 ? `, and ${missing.length - 10} more` : ''}; push them with 'dvc push'`,
      );
    }
    if (imported.length > 0) {
      const listed = imported.map((b) => `${b.path} (${b.md5}, imported from ${b.importedFrom})`);
      parts.push(
        `${imported.length} imported file(s) are not on DVC remote ${imported[0]!.remoteName}: ${listed.join(', ')}; DVC pulls 'dvc import' outs from their source repository, which the native engine does not clone: set use-dvc-cli: true, or push them to the remote`,
      );
    }
    const badPaths = new Set(this.bad.map((b) => b.path));
    const placed = [...this.entries.keys()].filter((p) => !badPaths.has(p)).length;
    throw new ActionError(
      `${parts.join('. ')}${placed > 0 ? `. The other ${placed} file(s) were placed` : ''}`,
    );
  }

  async pull(): Promise<PullResult> {
    const selections = resolveTargets(this.repo, this.options.targets ?? []);
    const reports: TargetReport[] = selections.map((s) => ({
      target: s.target,
      files: 0,
      bytes: 0,
      downloadedFiles: 0,
      downloadedBytes: 0,
    }));
    const { dirOuts, skippedNoCache, objectIds } = this.selectOuts(selections);
    await this.expandDirectories(dirOuts, reports);
    const all = [...this.entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    refuseWritesOutside(this.repo.root, all);
    const sizes = new Map<string, number>();
    const downloaded = new Map<string, number>();
    const needed = await this.findNeeded(all, sizes);
    try {
      if (needed.length > 0) await this.transferAll(needed, all.length, sizes, downloaded);
    } finally {
      this.state.save();
    }
    this.failOnBadObjects();

    const pulled: PulledFile[] = all.map((e) => ({
      path: e.path,
      md5: e.md5,
      hashName: e.hashName,
      size: sizes.get(e.path) ?? e.size ?? 0,
      downloaded: downloaded.has(e.path),
    }));
    for (const [i, entry] of all.entries()) {
      const file = pulled[i]!;
      for (const t of entry.targets) {
        const report = reports[t]!;
        report.files++;
        report.bytes += file.size;
        if (file.downloaded) {
          report.downloadedFiles++;
          report.downloadedBytes += file.size;
        }
      }
    }
    return {
      files: pulled.length,
      bytes: pulled.reduce((s, f) => s + f.size, 0),
      downloadedFiles: downloaded.size,
      downloadedBytes: [...downloaded.values()].reduce((s, b) => s + b, 0),
      dataHash: computeDataHash(pulled),
      objectIds: [...objectIds].sort(),
      pulled,
      targets: reports,
      skippedNoCache: [...skippedNoCache].sort(),
    };
  }
}

/** Pulls the targets of an opened repo: resolve, fetch manifests, skip what is present, download, verify, check out. */
export function pull(repo: DvcRepo, options: PullOptions = {}): Promise<PullResult> {
  return new Puller(repo, options).pull();
}

/** The object ids (`<hash name>:<md5>`, `.dir` included) the targets request, sorted; known before any download. */
export function requestedObjectIds(repo: DvcRepo, targets: string[], remote?: string): string[] {
  const ids = new Set<string>();
  for (const selection of resolveTargets(repo, targets)) {
    for (const { out } of selection.items)
      if (out.cache && pulledFrom(out, remote)) ids.add(`${out.hashName}:${out.md5}`);
  }
  return [...ids].sort();
}
