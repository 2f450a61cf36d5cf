import { createHash, randomBytes } from 'node:crypto';
import { constants, readFileSync, statSync } from 'node:fs';
import { copyFile, link, mkdir, open, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ActionError, InputError, isInside, mapPool, realPathOf } from '@mlops-actions/kit';
import { type Out, parseManifest } from './formats';
import { type HashName, ObjectHasher } from './hash';
import { openRemote, type RemoteOptions, type RemoteStore } from './remotes/index';
import type { DvcRepo } from './repo';
import { HashState } from './state';
import { resolveTargets } from './targets';

export type LinkType = 'copy' | 'reflink' | 'hardlink' | 'symlink';

export interface ProgressLike {
  tick(count?: number, bytes?: number): void;
  done(): string;
}

export interface PullOptions {
  targets?: string[];
  /** Overrides core.remote for outs without their own `remote:`. */
  remote?: string;
  jobs?: number;
  linkType?: LinkType;
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

function tempName(path: string): string {
  return `${path}.${randomBytes(6).toString('hex')}.tmp`;
}

const TRANSPORT_ATTEMPTS = 4;
/** Objects up to this size stay in memory between download and checkout. */
const KEEP_IN_MEMORY = 4 << 20;

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

// Creating files is the slow part on a busy disk: async calls let the thread pool create several at once.
const writeWhole = (path: string, data: Uint8Array) => writeFile(path, data);

/**
 * A committed symlink (`data -> /outside`) would make a checkout write outside the repository: every
 * destination is resolved through links before anything is written.
 */
function refuseWritesOutside(root: string, entries: Array<{ path: string }>): void {
  const realRoot = realPathOf(root);
  for (const entry of entries) {
    const real = realPathOf(join(realRoot, entry.path));
    if (!isInside(realRoot, real))
      throw new ActionError(
        `'${entry.path}' resolves through a symbolic link to ${real}, outside the repository ${realRoot}; DVC outs are only written inside it (remove the link)`,
      );
  }
}

export class Puller {
  private readonly stores = new Map<string, Promise<RemoteStore>>();
  private readonly state: HashState;
  private readonly cacheDir: string;
  private readonly log: NonNullable<PullOptions['log']>;
  /** Objects fetched in this run, by cache path, so concurrent users of one object share one transfer. */
  private readonly inflight = new Map<string, Promise<number | undefined>>();

  constructor(
    private readonly repo: DvcRepo,
    private readonly options: PullOptions = {},
  ) {
    this.cacheDir = repo.config.cacheDir;
    this.state = new HashState(join(repo.dvcDir, 'tmp', 'mlops-dvc-pull-state.json'));
    this.log = options.log ?? { info: () => undefined, warning: () => undefined };
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

  /**
   * Downloads one object into the cache, hashing while streaming. Network failures are retried; a digest
   * mismatch is retried once and then fails naming the workspace path. Returns bytes, or undefined when
   * the remote does not have the object.
   */
  async fetch(
    remoteName: string,
    md5: string,
    hashName: HashName,
    forPath: string,
  ): Promise<number | undefined> {
    const dest = this.cachePath(md5, hashName);
    const existing = this.inflight.get(dest);
    if (existing) return existing;
    const task = this.transfer(remoteName, md5, hashName, forPath, dest);
    this.inflight.set(dest, task);
    return task;
  }

  private async transfer(
    remoteName: string,
    md5: string,
    hashName: HashName,
    forPath: string,
    dest: string,
  ): Promise<number | undefined> {
    const store = await this.store(remoteName);
    const expected = md5.replace(/\.dir$/, '');
    const rel = objectPath(md5, hashName);
    await this.ensureDir(dirname(dest));
    let mismatches = 0;
    let failures = 0;
    for (;;) {
      this.options.signal?.throwIfAborted();
      const temp = tempName(dest);
      const hasher = new ObjectHasher(hashName);
      let kept: Buffer | undefined;
      try {
        // Small local objects are read whole: far fewer round trips through the I/O thread pool.
        const whole = store.read ? store.read(rel) : null;
        if (whole === undefined) return undefined;
        if (whole) {
          hasher.update(whole);
          await writeWhole(temp, whole);
          kept = whole;
        } else {
          const attempt = new AbortController();
          const signal = this.options.signal
            ? AbortSignal.any([this.options.signal, attempt.signal])
            : attempt.signal;
          const source = await store.open(rel, signal);
          if (!source) return undefined;
          const file = await open(temp, 'w');
          const chunks: Uint8Array[] = [];
          let keep = true;
          try {
            const idle = this.options.idleTimeoutMs ?? IDLE_TIMEOUT_MS;
            for await (const chunk of withIdleTimeout(source, idle, () => attempt.abort())) {
              hasher.update(chunk);
              await file.write(chunk);
              keep &&= hasher.bytes <= KEEP_IN_MEMORY;
              if (keep) chunks.push(chunk);
            }
          } finally {
            await file.close();
          }
          if (keep) kept = Buffer.concat(chunks);
        }
      } catch (error) {
        await rm(temp, { force: true });
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
      const actual = hasher.digest();
      if (actual !== expected) {
        await rm(temp, { force: true });
        mismatches++;
        if (mismatches >= 2) {
          throw new ActionError(
            `Verification failed for '${forPath}': object ${md5} from DVC remote '${remoteName}' (${store.locate(rel)}) hashes to ${actual} twice; the remote copy is corrupt or incomplete (re-push it with 'dvc push')`,
          );
        }
        this.log.warning(
          `'${forPath}': object ${md5} from remote '${remoteName}' hashed to ${actual}; downloading it again`,
        );
        continue;
      }
      await rename(temp, dest);
      this.state.recordFile(dest, hashName, expected);
      // The checkout that follows writes these bytes instead of reading the cache file back.
      if (kept && !md5.endsWith('.dir')) this.fresh.set(dest, kept);
      return hasher.bytes;
    }
  }

  private readonly madeDirs = new Set<string>();
  /** Verified bytes of objects just written to the cache, by cache path, until their checkout. */
  private readonly fresh = new Map<string, Buffer>();

  private readonly madeDirsPending = new Map<string, Promise<unknown>>();

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

  /** True when the cache holds the object with the right digest. */
  private async inCache(md5: string, hashName: HashName, size?: number): Promise<boolean> {
    const digest = await this.state.hash(this.cachePath(md5, hashName), hashName, size);
    return digest === md5.replace(/\.dir$/, '');
  }

  private async manifest(out: Out, remoteName: string): Promise<Array<{ md5: string; relpath: string }>> {
    const path = this.cachePath(out.md5, out.hashName);
    if (!(await this.inCache(out.md5, out.hashName))) {
      if (this.options.dryRun)
        throw new ActionError(
          `'${out.path}': its .dir manifest ${out.md5} is not in .dvc/cache after 'dvc pull'`,
        );
      const bytes = await this.fetch(remoteName, out.md5, out.hashName, out.path);
      if (bytes === undefined) {
        const store = await this.store(remoteName);
        throw new ActionError(
          `Missing on DVC remote '${remoteName}': the .dir manifest of '${out.path}' (${store.locate(objectPath(out.md5, out.hashName))}); push it with 'dvc push'`,
        );
      }
    }
    return parseManifest(readFileSync(path, 'utf8'), `'${out.path}' (${out.md5})`);
  }

  /** Places a verified cache object at `path` in the workspace, atomically (temp file + rename). */
  private async checkout(entry: Entry, linkType: LinkType): Promise<void> {
    const source = this.cachePath(entry.md5, entry.hashName);
    const dest = join(this.repo.root, entry.path);
    await this.ensureDir(dirname(dest));
    const temp = tempName(dest);
    const bytes = this.fresh.get(source);
    this.fresh.delete(source);
    try {
      if (linkType === 'copy' && bytes) await writeWhole(temp, bytes);
      else if (linkType === 'copy') await copyFile(source, temp);
      else if (linkType === 'reflink') await copyFile(source, temp, constants.COPYFILE_FICLONE);
      else if (linkType === 'hardlink') await link(source, temp);
      else await symlink(source, temp);
      await rename(temp, dest);
    } catch (error) {
      await rm(temp, { force: true });
      throw error;
    }
    this.state.recordFile(dest, entry.hashName, entry.md5);
  }

  async pull(): Promise<PullResult> {
    const options = this.options;
    const selections = resolveTargets(this.repo, options.targets ?? []);
    const entries = new Map<string, Entry>();
    const skippedNoCache = new Set<string>();
    const skippedOtherRemote = new Set<string>();
    const objectIds = new Set<string>();
    const reports: TargetReport[] = selections.map((s) => ({
      target: s.target,
      files: 0,
      bytes: 0,
      downloadedFiles: 0,
      downloadedBytes: 0,
    }));

    const add = (entry: Omit<Entry, 'targets'>, target: number) => {
      const existing = entries.get(entry.path);
      if (existing && existing.md5 !== entry.md5) {
        throw new ActionError(
          `'${entry.path}' is tracked twice with different hashes (${existing.md5} and ${entry.md5}); fix the .dvc/dvc.lock files`,
        );
      }
      if (existing) existing.targets.add(target);
      else entries.set(entry.path, { ...entry, targets: new Set([target]) });
    };

    const dirOuts: Array<{ out: Out; remoteName: string; within?: string; target: number }> = [];
    for (const [index, selection] of selections.entries()) {
      for (const { out, within } of selection.items) {
        if (!out.cache) {
          skippedNoCache.add(out.path);
          continue;
        }
        if (!pulledFrom(out, options.remote)) {
          skippedOtherRemote.add(`${out.path} (remote: ${out.remote})`);
          continue;
        }
        const remoteName = this.remoteNameFor(out);
        objectIds.add(`${out.hashName}:${out.md5}`);
        if (out.isDir) dirOuts.push({ out, remoteName, within, target: index });
        else add({ path: out.path, md5: out.md5, hashName: out.hashName, size: out.size, remoteName }, index);
      }
    }
    for (const path of skippedNoCache) {
      this.log.info(`Skipping '${path}': cache: false (tracked by git, never pushed)`);
    }
    for (const what of skippedOtherRemote) {
      this.log.info(
        `Skipping ${what}: its own remote is not the requested '${options.remote}' (as dvc pull -r does)`,
      );
    }

    const manifests = new Map<string, Array<{ md5: string; relpath: string }>>();
    await mapPool(dirOuts, 8, async ({ out, remoteName }) => {
      if (!manifests.has(out.path)) manifests.set(out.path, await this.manifest(out, remoteName));
    });
    for (const { out, remoteName, within, target } of dirOuts) {
      const manifest = manifests.get(out.path)!;
      let matched = 0;
      for (const item of manifest) {
        if (within && item.relpath !== within && !item.relpath.startsWith(`${within}/`)) continue;
        matched++;
        add(
          { path: `${out.path}/${item.relpath}`, md5: item.md5, hashName: out.hashName, remoteName },
          target,
        );
      }
      if (within && matched === 0) {
        throw new InputError(
          'targets',
          `'${reports[target]!.target}' is inside '${out.path}' but its .dir manifest has no such file or folder`,
        );
      }
    }

    const all = [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
    const linkType = options.linkType ?? 'copy';
    refuseWritesOutside(this.repo.root, all);

    // What the workspace already has, verified (through the hash state when unchanged).
    const needed: Entry[] = [];
    const sizes = new Map<string, number>();
    await mapPool(all, 8, async (entry) => {
      const path = join(this.repo.root, entry.path);
      const digest = await this.state.hash(path, entry.hashName, entry.size);
      if (digest === entry.md5) sizes.set(entry.path, statSync(path).size);
      else needed.push(entry);
    });

    const downloaded = new Map<string, number>();
    const missing: Entry[] = [];
    if (needed.length > 0 && options.dryRun) {
      const shown = needed.slice(0, 10).map((e) => e.path);
      throw new ActionError(
        `${needed.length} file(s) are missing or differ from their recorded md5 after 'dvc pull': ${shown.join(', ')}${needed.length > 10 ? `, and ${needed.length - 10} more` : ''}`,
      );
    }
    if (needed.length > 0) {
      const knownBytes = needed.every((e) => e.size !== undefined)
        ? needed.reduce((s, e) => s + (e.size ?? 0), 0)
        : undefined;
      const progress = options.progress?.({
        label: 'dvc-pull',
        total: needed.length,
        totalBytes: knownBytes,
        unit: 'files',
      });
      const remoteJobs = new Set(needed.map((e) => e.remoteName));
      let jobs = options.jobs;
      if (!jobs)
        jobs = Math.min(
          ...(await Promise.all([...remoteJobs].map(async (n) => (await this.store(n)).defaultJobs))),
        );
      this.log.info(
        `Pulling ${needed.length} file(s) of ${all.length} with ${jobs} parallel transfer(s), link type ${linkType}`,
      );
      await mapPool(needed, jobs, async (entry) => {
        let bytes: number | undefined;
        let fetched = false;
        if (!(await this.inCache(entry.md5, entry.hashName, entry.size))) {
          bytes = await this.fetch(entry.remoteName, entry.md5, entry.hashName, entry.path);
          if (bytes === undefined) {
            missing.push(entry);
            progress?.tick(1, 0);
            return;
          }
          fetched = true;
        }
        await this.checkout(entry, linkType);
        const size = bytes ?? statSync(this.cachePath(entry.md5, entry.hashName)).size;
        sizes.set(entry.path, size);
        if (fetched) downloaded.set(entry.path, size);
        progress?.tick(1, size);
      });
      progress?.done();
    }
    this.state.save();

    if (missing.length > 0) {
      missing.sort((a, b) => (a.path < b.path ? -1 : 1));
      const byRemote = [...new Set(missing.map((m) => m.remoteName))].join(', ');
      const shown = missing.slice(0, 10).map((m) => `${m.path} (${m.md5})`);
      throw new ActionError(
        `${missing.length} file(s) missing on DVC remote ${byRemote}: ${shown.join(', ')}${missing.length > 10 ? `, and ${missing.length - 10} more` : ''}; push them with 'dvc push'`,
      );
    }

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
