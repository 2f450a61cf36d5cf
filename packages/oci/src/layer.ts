import { createHash, randomBytes } from 'node:crypto';
import {
  createReadStream,
  createWriteStream,
  lstatSync,
  readdirSync,
  readlinkSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { ActionError } from '@mlops-actions/kit';
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
export type LayerSink = (open: () => Readable) => Promise<{ digest: string; size: number }>;

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

async function* tarStream(entries: LayerEntry[], mtime: number): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield* entryHeaders(entry, mtime);
    if (entry.type !== 'file' || !entry.source) continue;
    let read = 0;
    for await (const chunk of createReadStream(entry.source, { highWaterMark: 1024 * 1024 })) {
      read += (chunk as Buffer).byteLength;
      if (read > entry.size) break;
      yield chunk as Buffer;
    }
    if (read !== entry.size)
      throw new SourceChangedError(
        `'${entry.source}' changed size while the layer was read (${entry.size} → ${read} bytes)`,
      );
    // A layer may be read more than once (hashed, then uploaded): every read must give the listed bytes.
    if (entry.modified !== undefined && lstatSync(entry.source).mtimeMs !== entry.modified)
      throw new SourceChangedError(
        `'${entry.source}' was modified while the layer was read (its mtime moved after it was listed)`,
      );
    yield padding(entry.size);
  }
  yield Buffer.alloc(1024);
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
  const open = (): Readable => {
    const tarHash = createHash('sha256');
    let size = 0;
    let blobSize = 0;
    const tar = Readable.from(tarStream(entries, mtime));
    const counted = async function* (chunks: AsyncIterable<Buffer>) {
      for await (const chunk of chunks) {
        if (gzip) tarHash.update(chunk);
        size += chunk.byteLength;
        options.onProgress?.(chunk.byteLength);
        yield chunk;
      }
      tarSize = size;
      if (gzip) tarDigest = `sha256:${tarHash.digest('hex')}`;
    };
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
    const done = gzip
      ? pipeline(tar, counted, createGzip({ level: options.level ?? 1 }), portable, out, {
          signal: options.signal,
        })
      : pipeline(tar, counted, out, { signal: options.signal });
    done.catch((error: Error) => out.destroy(error));
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

/** Writes `stream` to `path` (atomically: a temporary file renamed at the end), hashing it on the way. */
export async function writeHashed(
  stream: Readable,
  path: string,
  options: { signal?: AbortSignal; onProgress?: (bytes: number) => void } = {},
): Promise<{ digest: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await pipeline(
      stream,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk);
          size += chunk.byteLength;
          options.onProgress?.(chunk.byteLength);
          yield chunk;
        }
      },
      createWriteStream(temp),
      { signal: options.signal },
    );
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
