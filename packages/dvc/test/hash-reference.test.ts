import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { hashBuffer, hashFile, looksLikeText, md5Hex, ObjectHasher } from '../src/index';
import { md5sum, pythonDos2unixMd5 } from './built-repo';

/**
 * Digests against coreutils' md5sum and Python's hashlib. dvc-data's md5-dos2unix hashes a file with
 * CRLF→LF when its first 512 bytes look like text (no NUL, at most 30 % bytes outside printable ASCII and
 * \n \r \t \f \b); each case below is built to sit clearly on one side of that rule.
 */
const dir = mkdtempSync(join(tmpdir(), 'dvc-hash-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function chunked(data: Buffer, cuts: number[], name: 'md5' | 'md5-dos2unix'): string {
  const hasher = new ObjectHasher(name);
  let at = 0;
  for (const cut of [...cuts, data.length]) {
    hasher.update(data.subarray(at, cut));
    at = cut;
  }
  return hasher.digest();
}

describe('md5 and md5-dos2unix against md5sum and hashlib', () => {
  it('md5 is the raw md5 of the bytes, CRLF kept, whatever the chunking', () => {
    const data = Buffer.from('a,b\r\nc,d\r\n');
    expect(hashBuffer(data)).toBe(md5sum(data));
    expect(hashBuffer(data, 'md5')).toBe(md5sum(data));
    expect(md5Hex(data)).toBe(md5sum(data));
    expect(md5Hex('')).toBe('d41d8cd98f00b204e9800998ecf8427e');
    expect(chunked(data, [4, 5], 'md5')).toBe(md5sum(data));
  });

  it('a text file starting with CRLF and full of tabs, form feeds and backspaces is converted', () => {
    const data = Buffer.from('\r\n\t\f\b\t\f\b\r\n\t\t\b\f\r\nx');
    expect(hashBuffer(data, 'md5-dos2unix')).toBe(pythonDos2unixMd5(data));
    expect(pythonDos2unixMd5(data)).not.toBe(md5sum(data));
    expect(chunked(data, [1, 9], 'md5-dos2unix')).toBe(pythonDos2unixMd5(data));
  });

  it('bytes 0x20-0x7e are text, 0x7f (DEL) and 0x1f are not', () => {
    expect(looksLikeText(Buffer.from(' ~ ~ ~ ~ ~'))).toBe(true);
    const del = Buffer.from([0x7f, 0x7f, 0x7f, 0x7f, 97, 97, 97, 97, 97, 97]);
    expect(looksLikeText(del)).toBe(false);
    const us = Buffer.from([0x1f, 0x1f, 0x1f, 0x1f, 97, 97, 97, 97, 97, 97]);
    expect(looksLikeText(us)).toBe(false);
    const crlf = Buffer.concat([del, Buffer.from('\r\n')]);
    expect(hashBuffer(crlf, 'md5-dos2unix')).toBe(md5sum(crlf));
  });

  it('only the first 512 bytes decide: text there, binary after, is converted whole', () => {
    const head = Buffer.from('line\r\n'.repeat(85) + 'xy');
    expect(head.length).toBe(512);
    const data = Buffer.concat([head, Buffer.alloc(300, 0), Buffer.from('\r\ntail\r\n')]);
    const expected = pythonDos2unixMd5(data);
    expect(hashBuffer(data, 'md5-dos2unix')).toBe(expected);
    // The head spread over chunks of 300 bytes, the NULs all past byte 512.
    expect(chunked(data, [300, 600], 'md5-dos2unix')).toBe(expected);
    expect(chunked(data, [511, 512, 513], 'md5-dos2unix')).toBe(expected);
  });

  it('a NUL inside the first 512 bytes makes the whole file binary, in one chunk or several', () => {
    const data = Buffer.from('line\r\n'.repeat(100));
    data[500] = 0;
    expect(hashBuffer(data, 'md5-dos2unix')).toBe(md5sum(data));
    expect(chunked(data, [300], 'md5-dos2unix')).toBe(md5sum(data));
    expect(chunked(data, [100, 200, 300, 400], 'md5-dos2unix')).toBe(md5sum(data));
  });

  it('a CR at the end of one chunk and an LF at the start of the next is one line ending', () => {
    const data = Buffer.from('x\r\ny\r\nz\r');
    expect(chunked(data, [2, 5], 'md5-dos2unix')).toBe(pythonDos2unixMd5(data));
    expect(chunked(data, [1, 2, 3, 4, 5, 6, 7], 'md5-dos2unix')).toBe(pythonDos2unixMd5(data));
    // A stream may hand over an empty chunk between the CR and its LF.
    expect(chunked(data, [2, 2, 2, 5], 'md5-dos2unix')).toBe(pythonDos2unixMd5(data));
  });

  it('hashFile streams a file in 1 MiB chunks with a CRLF across the chunk boundary and reports its size', async () => {
    const text = Buffer.concat([
      Buffer.alloc((1 << 20) - 1, 0x61),
      Buffer.from('\r\n'),
      Buffer.from('end\r\n'),
    ]);
    const path = join(dir, 'big.csv');
    writeFileSync(path, text);
    expect(await hashFile(path, 'md5-dos2unix')).toEqual({ md5: pythonDos2unixMd5(text), size: text.length });
    expect(await hashFile(path)).toEqual({ md5: md5sum(text), size: text.length });
    const empty = join(dir, 'empty');
    writeFileSync(empty, '');
    expect(await hashFile(empty, 'md5-dos2unix')).toEqual({
      md5: 'd41d8cd98f00b204e9800998ecf8427e',
      size: 0,
    });
  });

  it('the hasher counts every byte it is given', () => {
    const hasher = new ObjectHasher('md5-dos2unix');
    hasher.update(Buffer.from('ab\r'));
    hasher.update(Buffer.from('\ncd'));
    expect(hasher.bytes).toBe(6);
    expect(hasher.digest()).toBe(pythonDos2unixMd5(Buffer.from('ab\r\ncd')));
  });
});
