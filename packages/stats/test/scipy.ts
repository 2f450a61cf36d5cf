import { execFileSync } from 'node:child_process';

/** Runs a Python snippet with Debian's scipy/numpy and parses the JSON it prints. */
export function python<T>(script: string): T {
  const out = execFileSync('/usr/bin/python3', ['-c', script], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out) as T;
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

export function relClose(actual: number, expected: number, tolerance: number): boolean {
  if (actual === expected || Math.abs(actual - expected) < 1e-15) return true;
  return Math.abs(actual - expected) <= tolerance * Math.max(Math.abs(expected), 1e-300);
}

export function expectRel(actual: number, expected: number, tolerance: number, what: string): void {
  if (!relClose(actual, expected, tolerance)) {
    throw new Error(
      `${what}: got ${actual}, expected ${expected} (relative error ${Math.abs(actual - expected) / Math.abs(expected)})`,
    );
  }
}
