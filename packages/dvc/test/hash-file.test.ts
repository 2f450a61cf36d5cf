import { createHash, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashFdSync, ObjectHasher } from '../src/index';

const dir = mkdtempSync(join(tmpdir(), 'dvc-hash-file-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
const MB = 1 << 20;

function hashPath(path: string, name: 'md5' | 'md5-dos2unix', skip = 0): string {
  const hasher = new ObjectHasher(name);
  const fd = openSync(path, 'r');
  try {
    if (skip) readSync(fd, Buffer.alloc(skip));
    hashFdSync(fd, hasher);
  } finally {
    closeSync(fd);
  }
  return hasher.digest();
}

describe('hashFdSync (one reused 1 MB read buffer)', () => {
  it('hashes files smaller than, equal to and spanning several buffers', () => {
    for (const size of [0, 1, MB - 1, MB, MB + 1, 3 * MB + 777]) {
      const data = randomBytes(size);
      const path = join(dir, `raw-${size}`);
      writeFileSync(path, data);
      expect(hashPath(path, 'md5'), `${size} bytes`).toBe(md5(data));
    }
  });

  it('reads from the descriptor’s current offset to the end', () => {
    const data = randomBytes(2 * MB);
    writeFileSync(join(dir, 'offset'), data);
    expect(hashPath(join(dir, 'offset'), 'md5', 1000)).toBe(md5(data.subarray(1000)));
  });

  it('gives a 2.x text object its dos2unix md5 when a CRLF straddles the buffer edge', () => {
    const line = 'x'.repeat(98);
    let text = `${line}\r\n`.repeat(Math.ceil((2 * MB) / 100));
    // Put a CR as the last byte of the first buffer and its LF as the first byte of the second.
    text = `${text.slice(0, MB - 1)}\r\n${text.slice(MB - 1)}`;
    writeFileSync(join(dir, 'text'), text);
    const expected = md5(text.replaceAll('\r\n', '\n'));
    expect(hashPath(join(dir, 'text'), 'md5-dos2unix')).toBe(expected);
    expect(hashPath(join(dir, 'text'), 'md5')).toBe(md5(text));
  });
});
