import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * Runs a Python snippet with Debian's scipy/numpy, `input` as JSON on stdin, and parses the JSON it
 * prints. Reference values never depend on the code under test, so when REFERENCE_CACHE names a folder
 * (mutation testing reruns the same tests hundreds of times) each answer is kept there by its script.
 */
export function python<T>(script: string, input?: unknown): T {
  const stdin = input === undefined ? '' : JSON.stringify(input);
  const cache = process.env.REFERENCE_CACHE;
  const file =
    cache &&
    join(cache, `${createHash('sha256').update(script).update('\0').update(stdin).digest('hex')}.json`);
  if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as T;
  const out = execFileSync('/usr/bin/python3', ['-c', script], {
    input: stdin,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  const value = JSON.parse(out) as T;
  if (file && cache) {
    mkdirSync(cache, { recursive: true });
    const temp = `${file}.${process.pid}.tmp`;
    writeFileSync(temp, out);
    renameSync(temp, file);
  }
  return value;
}

export function sums(values: number[]): { n: number; sum: number; sumSquares: number } {
  let sum = 0;
  let sumSquares = 0;
  for (const v of values) {
    sum += v;
    sumSquares += v * v;
  }
  return { n: values.length, sum, sumSquares };
}

/** |actual − expected| ≤ tolerance · |expected|: relative all the way down, and false for NaN or ±∞ gaps. */
export function relClose(actual: number, expected: number, tolerance: number): boolean {
  if (actual === expected) return true;
  return Math.abs(actual - expected) <= tolerance * Math.abs(expected);
}

export function expectRel(actual: number, expected: number, tolerance: number, what: string): void {
  if (!relClose(actual, expected, tolerance)) {
    throw new Error(
      `${what}: got ${actual}, expected ${expected} (relative error ${Math.abs(actual - expected) / Math.abs(expected)})`,
    );
  }
}
