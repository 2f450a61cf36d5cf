import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { looksLikeText, ObjectHasher } from '../src/index';

const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

function digest(chunks: Buffer[], name: 'md5' | 'md5-dos2unix') {
  const hasher = new ObjectHasher(name);
  for (const c of chunks) hasher.update(c);
  return hasher.digest();
}

describe('DVC hashing', () => {
  it('gives the legacy fixture object its recorded dos2unix md5 and DVC 3 the raw md5', () => {
    const bytes = Buffer.from('legacy,text\r\nrow,1\r\n');
    expect(digest([bytes], 'md5-dos2unix')).toBe('fa6844d2803bb45e1017057bd270fab2');
    expect(digest([bytes], 'md5')).toBe(md5(bytes));
  });

  it('converts CRLF split across chunks, and keeps a lone CR', () => {
    const text = 'a\r\nb\r\nc\rd\r';
    const expected = md5('a\nb\nc\rd\r');
    for (let cut = 0; cut <= text.length; cut++) {
      expect(digest([Buffer.from(text.slice(0, cut)), Buffer.from(text.slice(cut))], 'md5-dos2unix')).toBe(
        expected,
      );
    }
  });

  it('leaves binary content alone, as dvc-data decides from the first 512 bytes', () => {
    const binary = Buffer.concat([Buffer.from([0, 1, 2]), Buffer.from('x\r\ny')]);
    expect(digest([binary], 'md5-dos2unix')).toBe(md5(binary));
    expect(looksLikeText(Buffer.alloc(0))).toBe(true);
    expect(looksLikeText(Buffer.from('plain\ttext\r\n'))).toBe(true);
    // 3 of 10 bytes non-text is still text (not more than 30%); 4 of 10 is binary.
    expect(looksLikeText(Buffer.from([0x80, 0x81, 0x82, 97, 97, 97, 97, 97, 97, 97]))).toBe(true);
    expect(looksLikeText(Buffer.from([0x80, 0x81, 0x82, 0x83, 97, 97, 97, 97, 97, 97]))).toBe(false);
  });
});
