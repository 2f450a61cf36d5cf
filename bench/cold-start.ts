/**
 * Cold start of each bundled action up to the moment it rejects an invalid input, against a bare
 * `node -e 0` measured in the same run (the machine is shared, so only the ratio means anything).
 * Run: npx tsx bench/cold-start.ts [runs]
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeFields, inputVariable } from '@mlops-actions/kit';
import type { z } from 'zod';
import { loadDefinition } from '../scripts/action-metadata';
import { actionIds, root } from '../scripts/bundle';

const runs = Number(process.argv[2] ?? 15);
const INVALID = '¿not valid?';

/** An environment whose inputs the action rejects: one input given a value it refuses, or a required one unset. */
async function invalidInputs(id: string): Promise<Record<string, string>> {
  const definition = await loadDefinition(id);
  const shape = (definition.inputs as z.ZodObject).shape as Record<string, z.ZodType>;
  const rejecting = Object.keys(shape).find((name) => !shape[name]!.safeParse(INVALID).success);
  if (rejecting) return { [inputVariable(rejecting)]: INVALID };
  if (describeFields(definition.inputs).some((f) => f.required)) return {};
  throw new Error(`${id}: no input rejects '${INVALID}' and none is required`);
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function time(args: string[], env: NodeJS.ProcessEnv): { ms: number; status: number | null; stdout: string } {
  const started = process.hrtime.bigint();
  const result = spawnSync(process.execPath, args, { env, encoding: 'utf8' });
  return {
    ms: Number(process.hrtime.bigint() - started) / 1e6,
    status: result.status,
    stdout: result.stdout,
  };
}

const scratch = mkdtempSync(join(tmpdir(), 'cold-start-'));
const baseEnv: NodeJS.ProcessEnv = {
  PATH: process.env.PATH,
  GITHUB_OUTPUT: join(scratch, 'output'),
  GITHUB_STATE: join(scratch, 'state'),
  GITHUB_STEP_SUMMARY: join(scratch, 'summary'),
  RUNNER_TEMP: scratch,
};
for (const file of ['output', 'state', 'summary']) writeFileSync(join(scratch, file), '');

const rows: string[] = [];
const ids = actionIds().filter((id) => existsSync(join(root, 'dist', id, 'index.js')));
const bare: number[] = [];
const samples = new Map<string, number[]>(ids.map((id) => [id, []]));
const envs = new Map<string, NodeJS.ProcessEnv>();
for (const id of ids) envs.set(id, { ...baseEnv, ...(await invalidInputs(id)) });
// Interleave the runs so background load hits every command alike.
for (let i = 0; i < runs; i++) {
  bare.push(time(['-e', '0'], baseEnv).ms);
  for (const id of ids) {
    const result = time([join(root, 'dist', id, 'index.js')], envs.get(id)!);
    if (result.status !== 1 || !result.stdout.includes('::error::')) {
      throw new Error(`${id} did not reject its invalid input (exit ${result.status}):\n${result.stdout}`);
    }
    samples.get(id)!.push(result.ms);
  }
}
const baseline = median(bare);
rows.push(`node -e 0: ${baseline.toFixed(1)} ms (median of ${runs})`);
for (const id of ids) {
  const ms = median(samples.get(id)!);
  rows.push(`${id.padEnd(18)} ${ms.toFixed(1).padStart(7)} ms  ratio ${(ms / baseline).toFixed(2)}×`);
}
console.log(rows.join('\n'));
