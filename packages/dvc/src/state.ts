import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  type Stats,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname } from 'node:path';
import { type HashName, hashFdSync, hashFile, ObjectHasher } from './hash';

const SMALL_FILE = 4 << 20;

function hashSmallFile(path: string, hashName: HashName): string {
  const hasher = new ObjectHasher(hashName);
  const fd = openSync(path, 'r');
  try {
    hashFdSync(fd, hasher);
  } finally {
    closeSync(fd);
  }
  return hasher.digest();
}

type Record_ = [size: number, mtimeMs: number, ino: number, hash: string];

/**
 * Remembers the md5 of files already verified, keyed by path and checked against size, mtime and inode
 * (the same idea as DVC's state database), so a second pull does not re-hash unchanged data.
 */
export class HashState {
  private entries: Record<string, Record_> = {};
  private dirty = false;

  constructor(private readonly file: string) {
    if (existsSync(file)) {
      try {
        const doc = JSON.parse(readFileSync(file, 'utf8')) as {
          version?: number;
          entries?: Record<string, Record_>;
        };
        if (doc.version === 1 && doc.entries) this.entries = doc.entries;
      } catch {
        // A damaged state only costs re-hashing.
      }
    }
  }

  /** The md5 of `path` under `hashName`, from the state when the file is unchanged, else by hashing. */
  async hash(path: string, hashName: HashName, expectedSize?: number): Promise<string | undefined> {
    const info: Stats | undefined = statSync(path, { throwIfNoEntry: false });
    if (!info?.isFile()) return undefined;
    if (expectedSize !== undefined && info.size !== expectedSize) return undefined;
    const key = `${hashName}:${path}`;
    const known = this.entries[key];
    if (known && known[0] === info.size && known[1] === info.mtimeMs && known[2] === info.ino)
      return known[3];
    // Small files hash faster read synchronously than streamed through the thread pool.
    const md5 =
      info.size <= SMALL_FILE ? hashSmallFile(path, hashName) : (await hashFile(path, hashName)).md5;
    this.record(path, hashName, md5, info);
    return md5;
  }

  record(
    path: string,
    hashName: HashName,
    md5: string,
    info: { size: number; mtimeMs: number; ino: number },
  ): void {
    this.entries[`${hashName}:${path}`] = [info.size, info.mtimeMs, info.ino, md5];
    this.dirty = true;
  }

  recordFile(path: string, hashName: HashName, md5: string): void {
    this.record(path, hashName, md5, statSync(path));
  }

  save(): void {
    if (!this.dirty) return;
    mkdirSync(dirname(this.file), { recursive: true });
    const temp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(temp, JSON.stringify({ version: 1, entries: this.entries }));
    renameSync(temp, this.file);
    this.dirty = false;
  }
}
