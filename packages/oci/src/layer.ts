import { createHash, randomBytes } from 'node:crypto';
import { lstatSync, readdirSync, readlinkSync, renameSync, rmSync } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import {
  ActionError,
  type ByteSource,
  type ChunkReader,
  forEachChunk,
  readableOf,
  readerOf,
} from '@mlops-actions/kit';
import { type Descriptor, MediaType } from './media';
import { SourceChangedError } from './store';

export interface LayerEntry {
  /** Path inside the layer, relative, `/`-separated, without a trailing slash. */
  path: string;
  type: 'file' | 'dir' | 'symlink';
  /** Source file on disk (files only). */
  source?: string;
  size: number;
  /** Kept only as "executable or not": 0755 or 0644 for files, 0755 for folders. */
  executable: boolean;
  linkname?: string;
  /** mtime (ms) of the source file when it was listed: a later read that finds another one fails. */
  modified?: number;
}

export interface Layer {
  descriptor: Descriptor;
  /** sha256 of the uncompressed tar, the config's `rootfs.diff_ids` entry. */
  diffId: string;
  uncompressedSize: number;
  files: number;
}

export interface LayerOptions {
  /** Seconds since the epoch for every entry: `SOURCE_DATE_EPOCH`, else 0. */
  mtime?: number;
  /** gzip level 0–9. */
  level?: number;
  /** false writes a plain tar (an oci-archive, an uncompressed layer). */
  gzip?: boolean;
  /** Uncompressed tar bytes produced so far (called again from 0 when a sink opens the stream anew). */
  onProgress?: (bytes: number) => void;
  signal?: AbortSignal;
}

export interface BuildLayerOptions extends LayerOptions {
  /** Where the layer is written. */
  output: string;
}

/** Where a layer's bytes go: it reads `open()` (again after a failed attempt) and reports what it stored. */
export type LayerSink = (open: () => ByteSource) => Promise<{ digest: string; size: number }>;

/** `SOURCE_DATE_EPOCH` as seconds when set and valid, else 0 (reproducible-builds.org). */
export function sourceDateEpoch(env: NodeJS.ProcessEnv = process.env): number {
  const value = env.SOURCE_DATE_EPOCH?.trim();
  if (!value) return 0;
  if (!/^\d+$/.test(value))
    throw new ActionError(`SOURCE_DATE_EPOCH '${value}' is not a whole number of seconds`);
  return Number(value);
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

/**
 * The entries of a layer holding `source` (a folder's contents, or one file) at `prefix` inside the
 * image, with the prefix's parent folders, sorted bytewise so the order never depends on the file system.
 */
export function listTree(source: string, prefix: string): LayerEntry[] {
  const root = prefix.replace(/^\/+|\/+$/g, '');
  const entries: LayerEntry[] = [];
  const parts = root ? root.split('/') : [];
  for (let i = 1; i <= parts.length; i++) {
    entries.push({ path: parts.slice(0, i).join('/'), type: 'dir', size: 0, executable: true });
  }
  const add = (abs: string, rel: string) => {
    const stat = lstatSync(abs);
    if (stat.isDirectory()) {
      if (rel) entries.push({ path: rel, type: 'dir', size: 0, executable: true });
      for (const name of readdirSync(abs)) add(join(abs, name), rel ? posix.join(rel, name) : name);
    } else if (stat.isFile()) {
      entries.push({
        path: rel,
        type: 'file',
        source: abs,
        size: stat.size,
        executable: (stat.mode & 0o111) !== 0,
        modified: stat.mtimeMs,
      });
    } else if (stat.isSymbolicLink()) {
      entries.push({ path: rel, type: 'symlink', size: 0, executable: true, linkname: readlinkSync(abs) });
    } else {
      throw new ActionError(`'${abs}' is neither a file, a folder nor a symlink; a layer cannot hold it`);
    }
  };
  const stat = lstatSync(source);
  if (stat.isDirectory()) {
    for (const name of readdirSync(source)) add(join(source, name), root ? `${root}/${name}` : name);
  } else {
    add(source, root ? `${root}/${posix.basename(source)}` : posix.basename(source));
  }
  return entries.sort((a, b) => compareBytes(a.path, b.path));
}

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function paxRecord(key: string, value: string): Buffer {
  // A record is "<length> key=value\n" where the length counts its own digits too.
  const body = ` ${key}=${value}\n`;
  const bodyLength = Buffer.byteLength(body);
  let length = bodyLength + String(bodyLength).length;
  if (String(length).length + bodyLength !== length) length = bodyLength + String(length).length;
  return Buffer.from(`${length}${body}`);
}

function header(
  name: string,
  mode: number,
  size: number,
  mtime: number,
  type: string,
  linkname = '',
): Buffer {
  const block = Buffer.alloc(512);
  block.write(name, 0, 100, 'utf8');
  block.write(octal(mode, 8), 100, 'ascii');
  block.write(octal(0, 8), 108, 'ascii');
  block.write(octal(0, 8), 116, 'ascii');
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(mtime, 12), 136, 'ascii');
  block.fill(' ', 148, 156);
  block.write(type, 156, 'ascii');
  block.write(linkname, 157, 100, 'utf8');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

const MAX_USTAR_SIZE = 8 ** 11 - 1;

/** The headers of one entry: a PAX header first when the name, link or size does not fit ustar. */
function entryHeaders(entry: LayerEntry, mtime: number): Buffer[] {
  const name = entry.type === 'dir' ? `${entry.path}/` : entry.path;
  const linkname = entry.linkname ?? '';
  const records: Buffer[] = [];
  if (Buffer.byteLength(name) > 100) records.push(paxRecord('path', name));
  if (Buffer.byteLength(linkname) > 100) records.push(paxRecord('linkpath', linkname));
  if (entry.size > MAX_USTAR_SIZE) records.push(paxRecord('size', String(entry.size)));
  const out: Buffer[] = [];
  if (records.length) {
    const data = Buffer.concat(records);
    out.push(
      header(`PaxHeaders/${entry.path}`.slice(0, 100), 0o644, data.byteLength, mtime, 'x'),
      data,
      padding(data.byteLength),
    );
  }
  const type = entry.type === 'dir' ? '5' : entry.type === 'symlink' ? '2' : '0';
  const mode = entry.type === 'symlink' ? 0o777 : entry.executable ? 0o755 : 0o644;
  out.push(
    header(
      name,
      mode,
      entry.type === 'file' ? Math.min(entry.size, MAX_USTAR_SIZE) : 0,
      mtime,
      type,
      linkname,
    ),
  );
  return out;
}

function padding(size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512);
}

/** The exact size of the plain tar of `entries` (the uncompressed layer), known before it is read. */
export function tarSize(entries: LayerEntry[], mtime = 0): number {
  let size = 1024;
  for (const entry of entries) {
    for (const block of entryHeaders(entry, mtime)) size += block.byteLength;
    if (entry.type === 'file') size += entry.size + padding(entry.size).byteLength;
  }
  return size;
}

/** A closed reader never answers 0 (which would read as a whole tar), it fails. */
function closedError(): Error {
  return new DOMException('the layer reader was closed while it was read', 'AbortError');
}

/**
 * The plain tar of `entries` read into the caller's buffers: headers and padding are copied in, file
 * bytes are read from disk straight into them, so packing a gigabyte allocates nothing per chunk.
 */
class TarReader implements ChunkReader {
  private next = 0;
  /** Header, padding and end-of-archive bytes still to hand out, in order. */
  private queued: Buffer[] = [];
  private file?: { entry: LayerEntry; handle: FileHandle; read: number };
  private ended = false;
  private closed = false;

  constructor(
    private readonly entries: LayerEntry[],
    private readonly mtime: number,
  ) {}

  async readInto(into: Buffer): Promise<number> {
    let filled = 0;
    while (filled < into.byteLength) {
      if (this.closed) throw closedError();
      const queued = this.queued[0];
      if (queued) {
        const n = queued.copy(into, filled);
        filled += n;
        if (n === queued.byteLength) this.queued.shift();
        else this.queued[0] = queued.subarray(n);
      } else if (this.file) {
        filled += await this.readFile(this.file, into, filled);
      } else if (this.next < this.entries.length) {
        const entry = this.entries[this.next++]!;
        this.queued.push(...entryHeaders(entry, this.mtime));
        if (entry.type === 'file' && entry.source) {
          const handle = await open(entry.source, 'r');
          // Closed while the file was being opened: nobody else will close this handle.
          if (this.closed) {
            await handle.close();
            throw closedError();
          }
          this.file = { entry, handle, read: 0 };
        }
      } else if (!this.ended) {
        this.ended = true;
        this.queued.push(Buffer.alloc(1024));
      } else {
        break;
      }
    }
    return filled;
  }

  /** Reads the current file into `into` at `at`; at its end, checks it is still the file listed. */
  private async readFile(
    file: { entry: LayerEntry; handle: FileHandle; read: number },
    into: Buffer,
    at: number,
  ): Promise<number> {
    const { entry } = file;
    const want = Math.min(into.byteLength - at, entry.size - file.read);
    const { bytesRead } = want > 0 ? await file.handle.read(into, at, want, file.read) : { bytesRead: 0 };
    // `close` has released the handle meanwhile: what was read may be cut short, so it is not handed out.
    if (this.closed) throw closedError();
    file.read += bytesRead;
    if (bytesRead > 0 && file.read < entry.size) return bytesRead;
    this.file = undefined;
    await file.handle.close();
    const now = lstatSync(entry.source!);
    if (file.read !== entry.size || now.size !== entry.size)
      throw new SourceChangedError(
        `'${entry.source}' changed size while the layer was read (${entry.size} → ${file.read < entry.size ? file.read : now.size} bytes)`,
      );
    // A layer may be read more than once (hashed, then uploaded): every read must give the listed bytes.
    if (entry.modified !== undefined && now.mtimeMs !== entry.modified)
      throw new SourceChangedError(
        `'${entry.source}' was modified while the layer was read (its mtime moved after it was listed)`,
      );
    this.queued.push(padding(entry.size));
    return bytesRead;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.file?.handle.close().catch(() => undefined);
    this.file = undefined;
  }
}

/**
 * Streams a reproducible tar layer (gzip'd unless `gzip: false`) into `sink` in one pass: fixed owner
 * (0:0), mtime and modes, no gzip name or time. The sink hashes the bytes it stores (the blob digest); the
 * tar itself is hashed here only when compressed, since an uncompressed layer's diffID is its digest.
 */
export async function streamLayer(
  entries: LayerEntry[],
  options: LayerOptions,
  sink: LayerSink,
): Promise<Layer> {
  const mtime = options.mtime ?? 0;
  const gzip = options.gzip ?? true;
  // Reads may overlap (one hashes while another is sent, and may be stopped): the figures are those of
  // the last read that reached the end.
  let tarDigest = '';
  let tarSize = 0;
  const open = (): ByteSource => {
    const tarHash = createHash('sha256');
    const tar = new TarReader(entries, mtime);
    let size = 0;
    const counted: ChunkReader = {
      readInto: async (into) => {
        options.signal?.throwIfAborted();
        const n = await tar.readInto(into);
        if (gzip) tarHash.update(into.subarray(0, n));
        size += n;
        options.onProgress?.(n);
        if (n === 0) {
          tarSize = size;
          if (gzip) tarDigest = `sha256:${tarHash.digest('hex')}`;
        }
        return n;
      },
      close: () => tar.close(),
    };
    if (!gzip) return counted;
    let blobSize = 0;
    // The gzip header's OS byte (offset 9) is where zlib was built; 255 ("unknown") keeps digests equal across platforms.
    const portable = async function* (chunks: AsyncIterable<Buffer>) {
      for await (const raw of chunks) {
        let chunk = raw;
        if (blobSize <= 9 && blobSize + chunk.byteLength > 9) {
          chunk = Buffer.from(chunk);
          chunk[9 - blobSize] = 255;
        }
        blobSize += chunk.byteLength;
        yield chunk;
      }
    };
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    pipeline(readableOf(counted), createGzip({ level: options.level ?? 1 }), portable, out, {
      signal: options.signal,
    }).catch((error: Error) => out.destroy(error));
    return out;
  };
  const stored = await sink(open);
  if (!gzip && stored.size !== tarSize)
    throw new ActionError(`The layer sink stored ${stored.size} bytes of a ${tarSize}-byte tar`);
  return {
    descriptor: {
      mediaType: gzip ? MediaType.ociLayerGzip : MediaType.ociLayer,
      digest: stored.digest,
      size: stored.size,
    },
    diffId: gzip ? tarDigest : stored.digest,
    uncompressedSize: tarSize,
    files: entries.filter((e) => e.type === 'file').length,
  };
}

/**
 * Writes `source` to `path` (atomically: a temporary file renamed at the end), hashing it on the way; the
 * next chunk is read while the last is written.
 */
export async function writeHashed(
  source: ByteSource,
  path: string,
  options: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const reader = readerOf(source);
  let size = 0;
  try {
    // Closed here too: forEachChunk closes it, but only once it has started.
    const out = await open(temp, 'w').catch((error: Error) => {
      reader.close();
      throw error;
    });
    try {
      size = await forEachChunk(
        reader,
        async (chunk) => {
          hash.update(chunk);
          for (let at = 0; at < chunk.byteLength; ) at += (await out.write(chunk, at)).bytesWritten;
          options.onProgress?.(chunk.byteLength);
        },
        { signal: options.signal },
      );
    } finally {
      await out.close();
    }
    renameSync(temp, path);
  } finally {
    rmSync(temp, { force: true });
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

/** A reproducible layer written to `options.output` (see `streamLayer`). */
export function buildLayer(entries: LayerEntry[], options: BuildLayerOptions): Promise<Layer> {
  return streamLayer(entries, options, (open) =>
    writeHashed(open(), options.output, { signal: options.signal }),
  );
}
