import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { globToRegExp, writeFileAtomic } from '../src/files';
import { mapPool } from '../src/pool';

describe('globToRegExp', () => {
  it.each([
    ['*.csv', 'a.csv', true],
    ['*.csv', 'dir/a.csv', false],
    ['data/**/*.csv', 'data/a.csv', true],
    ['data/**/*.csv', 'data/x/y/a.csv', true],
    ['data/**', 'data/x/y', true],
    ['file?.txt', 'file1.txt', true],
    ['file?.txt', 'file/.txt', false],
    ['[ab].bin', 'a.bin', true],
    ['[!ab].bin', 'a.bin', false],
    ['[!ab].bin', 'c.bin', true],
    ['*.{json,yaml}', 'm.yaml', true],
    ['*.{json,yaml}', 'm.yml', false],
    ['{eval,train}/*.json', 'train/m.json', true],
    ['a+b(1).txt', 'a+b(1).txt', true],
    ['a.txt', 'aXtxt', false],
    ['with space.txt', 'with space.txt', true],
  ])('%s against %s → %s', (glob, path, expected) => {
    expect(globToRegExp(glob).test(path)).toBe(expected);
  });
});

describe('writeFileAtomic', () => {
  it('creates parent folders and leaves no temporary file behind', () => {
    const dir = mkdtempSync(join(tmpdir(), 'atomic-'));
    writeFileAtomic(join(dir, 'a', 'b.json'), '{"x":1}');
    writeFileAtomic(join(dir, 'a', 'b.json'), '{"x":2}');
    expect(readFileSync(join(dir, 'a', 'b.json'), 'utf8')).toBe('{"x":2}');
    expect(readdirSync(join(dir, 'a'))).toEqual(['b.json']);
  });
});

describe('mapPool', () => {
  it('keeps order and never exceeds the limit', async () => {
    let inFlight = 0;
    let peak = 0;
    const results = await mapPool([5, 1, 4, 2, 3], 2, async (n, i) => {
      inFlight++;
      peak = Math.max(peak, inFlight);
      await new Promise((r) => setTimeout(r, n));
      inFlight--;
      return n * 10 + i;
    });
    expect(results).toEqual([50, 11, 42, 23, 34]);
    expect(peak).toBe(2);
  });

  it('stops starting work after the first failure and throws it', async () => {
    const started: number[] = [];
    const error = await mapPool([1, 2, 3, 4, 5, 6], 1, async (n) => {
      started.push(n);
      if (n === 2) throw new Error('boom');
      return n;
    }).catch((e: unknown) => e);
    expect((error as Error).message).toBe('boom');
    expect(started).toEqual([1, 2]);
  });
});
