import { createHash, type Hash } from 'node:crypto';
import { createReadStream, readSync } from 'node:fs';

/** `md5` for DVC 3 outs; `md5-dos2unix` for 2.x outs (no `hash:` key), whose text files hash with CRLF→LF. */
export type HashName = 'md5' | 'md5-dos2unix';

const TEXT_BYTES = new Uint8Array(256);
for (let b = 32; b < 127; b++) TEXT_BYTES[b] = 1;
for (const b of [0x0a, 0x0d, 0x09, 0x0c, 0x08]) TEXT_BYTES[b] = 1;

/** dvc-data's heuristic on the first 512 bytes: empty is text; a NUL or over 30% non-text bytes is binary. */
export function looksLikeText(block: Uint8Array): boolean {
  if (block.length === 0) return true;
  let nonText = 0;
  for (const byte of block) {
    if (byte === 0) return false;
    if (!TEXT_BYTES[byte]) nonText++;
  }
  return nonText / block.length <= 0.3;
}

export const TEXT_SNIFF_BYTES = 512;

/**
 * Hashes a stream as DVC does for a given hash name. For `md5-dos2unix` it keeps both the raw and the
 * CRLF→LF digest until the end, and picks one by sniffing the first 512 bytes, as dvc-data does.
 */
export class ObjectHasher {
  private readonly raw: Hash = createHash('md5');
  private readonly unix?: Hash;
  private head: Buffer[] = [];
  private headBytes = 0;
  private pendingCr = false;
  bytes = 0;

  constructor(readonly hashName: HashName) {
    if (hashName === 'md5-dos2unix') this.unix = createHash('md5');
  }

  update(chunk: Uint8Array): void {
    this.bytes += chunk.length;
    this.raw.update(chunk);
    // An empty chunk must not settle a CR held back from the previous one: its LF may still come.
    if (!this.unix || chunk.length === 0) return;
    if (this.headBytes < TEXT_SNIFF_BYTES) {
      const take = Buffer.from(chunk.subarray(0, TEXT_SNIFF_BYTES - this.headBytes));
      this.head.push(take);
      this.headBytes += take.length;
    }
    let buf = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    if (this.pendingCr) {
      this.pendingCr = false;
      if (buf[0] !== 0x0a) this.unix.update('\r');
    }
    if (buf.length > 0 && buf[buf.length - 1] === 0x0d) {
      this.pendingCr = true;
      buf = buf.subarray(0, buf.length - 1);
    }
    this.unix.update(dos2unix(buf));
  }

  /** The digest DVC would record for these bytes. */
  digest(): string {
    if (!this.unix) return this.raw.digest('hex');
    if (this.pendingCr) this.unix.update('\r');
    const rawHex = this.raw.digest('hex');
    const unixHex = this.unix.digest('hex');
    return looksLikeText(Buffer.concat(this.head)) ? unixHex : rawHex;
  }
}

function dos2unix(buf: Buffer): Buffer {
  let index = buf.indexOf('\r\n');
  if (index < 0) return buf;
  const parts: Buffer[] = [];
  let start = 0;
  while (index >= 0) {
    parts.push(buf.subarray(start, index));
    start = index + 1;
    index = buf.indexOf('\r\n', start);
  }
  parts.push(buf.subarray(start));
  return Buffer.concat(parts);
}

export async function hashFile(
  path: string,
  hashName: HashName = 'md5',
): Promise<{ md5: string; size: number }> {
  const hasher = new ObjectHasher(hashName);
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 }))
    hasher.update(chunk as Buffer);
  return { md5: hasher.digest(), size: hasher.bytes };
}

/** One buffer for every synchronous read: hashing thousands of small files allocates (and page-faults) nothing. */
const SYNC_CHUNK = Buffer.allocUnsafe(1 << 20);

/**
 * Feeds an open file, from its current offset to its end, through `hasher` with synchronous reads. For files
 * in the page cache (just written, or small): no thread-pool round trip per chunk and no buffer per file.
 */
export function hashFdSync(fd: number, hasher: ObjectHasher): void {
  for (let n = readSync(fd, SYNC_CHUNK); n > 0; n = readSync(fd, SYNC_CHUNK))
    hasher.update(SYNC_CHUNK.subarray(0, n));
}

export function md5Hex(data: Uint8Array | string): string {
  return createHash('md5').update(data).digest('hex');
}

export function hashBuffer(data: Uint8Array, hashName: HashName = 'md5'): string {
  const hasher = new ObjectHasher(hashName);
  hasher.update(data);
  return hasher.digest();
}
