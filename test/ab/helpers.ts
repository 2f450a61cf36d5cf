import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type InputValue, runStep, type StepResult } from '../harness/index';

export const REFERENCE = join(import.meta.dirname, 'reference.py');

export function python<T>(args: string[]): T {
  return JSON.parse(
    execFileSync('/usr/bin/python3', args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }),
  ) as T;
}

export function workspace(): string {
  return mkdtempSync(join(tmpdir(), 'ab-'));
}

export interface MetricOut {
  name: string;
  control: { mean: number | null; units: number };
  treatment: { mean: number | null; units: number };
  effect: number | null;
  ci: [number, number] | null;
  relativeEffect: number | null;
  relativeCi: [number, number] | null;
  pValue: number | null;
  relativePValue: number | null;
  adjustedPValue: number | null;
  outcome: string;
  method: string;
  sequential: boolean;
  nonInferiority?: { pValue: number | null; bound: number; status: string };
  cuped?: { theta: number };
  bayesian?: { chanceToWin: number };
  warning?: string;
  error?: string;
}

export interface Result {
  decision: string;
  reasons: string[];
  results: MetricOut[];
  'srm-p-value': number;
  'users-needed': number | null;
  'duplicate-units': number;
  query: string;
}

export async function evaluate(
  dir: string,
  inputs: Record<string, InputValue>,
  env: Record<string, string> = {},
): Promise<StepResult & { result: Result }> {
  const step = await runStep({
    action: 'ab-evaluate',
    workspace: dir,
    inputs: { comment: 'false', ...inputs },
    env,
  });
  return { ...step, result: step.json as Result };
}

export function metric(r: Result, name: string): MetricOut {
  const m = r.results.find((x) => x.name === name);
  if (!m) throw new Error(`no metric ${name} in ${JSON.stringify(r.results.map((x) => x.name))}`);
  return m;
}

/** Relative closeness: fails on null, undefined, NaN and infinities as well as on a gap beyond tolerance · |expected|. */
export function near(
  actual: number | null | undefined,
  expected: number,
  tolerance: number,
  what: string,
): void {
  if (typeof actual !== 'number' || !Number.isFinite(actual) || !Number.isFinite(expected)) {
    throw new Error(`${what}: got ${actual}, expected ${expected}`);
  }
  const diff = Math.abs(actual - expected);
  if (!(diff <= tolerance * Math.abs(expected))) {
    throw new Error(
      `${what}: got ${actual}, expected ${expected} (relative error ${(diff / Math.abs(expected)).toExponential(2)})`,
    );
  }
}
