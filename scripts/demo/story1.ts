/**
 * Story 1, notebook → reproducible, versioned, deployable: the chain of steps a training workflow runs,
 * run twice on fresh checkouts to show that the second run reproduces the first, then once more with new
 * params on a pull request (the v2 the canary rolls out, with its metric diff comment).
 *
 * Each step of the chain is one function. register-model and build-model-image join as `registerModel`
 * and `buildImage` in CHAIN once their bundles exist; steps whose bundle is not in dist/ are skipped
 * and named.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { Job, type StepResult } from '../../test/harness';
import { checkout, type DemoContext, recorded } from './context';

export const STORY = 'Story 1: notebook → reproducible, versioned model';

export interface ChainRun {
  label: string;
  job: Job;
  workspace: string;
  /** Params that differ from params.yaml (KEY=value lines), for the training step. */
  params: string;
  /** What the run produced that a rerun must reproduce, e.g. data hash, metrics, model digest. */
  facts: Record<string, string>;
  /** The trained model directory (MLflow format). */
  modelDir?: string;
}

export interface ChainStep {
  /** The action id (its bundle must be in dist/). */
  action: string;
  run(ctx: DemoContext, chain: ChainRun): Promise<StepResult>;
}

/** sha256 over the sorted (path, sha256) of every file under dir: a digest of the model's content. */
export function directoryDigest(dir: string): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else files.push(path);
    }
  };
  walk(dir);
  const lines = files
    .map((f) => `${relative(dir, f)}\0${createHash('sha256').update(readFileSync(f)).digest('hex')}`)
    .sort();
  return `sha256:${createHash('sha256').update(lines.join('\n')).digest('hex')}`;
}

const pullData: ChainStep = {
  action: 'dvc-pull',
  run: (ctx, chain) =>
    recorded(
      ctx,
      STORY,
      `dvc-pull (${chain.label})`,
      () => chain.job.step('data', 'dvc-pull'),
      (r) => {
        chain.facts['data hash'] = r.outputs['data-hash'] ?? '';
        return `${r.outputs.files} file(s), ${r.outputs.bytes} bytes, data-hash ${r.outputs['data-hash']?.slice(0, 19)}…`;
      },
    ),
};

const trainAndLog: ChainStep = {
  action: 'train-and-log',
  run: (ctx, chain) =>
    recorded(
      ctx,
      STORY,
      `train-and-log (${chain.label})`,
      () =>
        chain.job.step('train', 'train-and-log', (steps) => ({
          notebook: 'train.ipynb',
          'metrics-files': 'metrics.json\nhistory.csv',
          'data-hash': steps.data?.outputs['data-hash'],
          params: chain.params,
          baseline: 'none',
          comment: 'true',
        })),
      (r) => {
        const metrics = JSON.parse(r.outputs.metrics ?? '{}') as Record<string, number>;
        chain.modelDir = resolve(chain.workspace, r.outputs['model-uri'] ?? 'model');
        chain.facts.metrics = JSON.stringify(metrics);
        chain.facts['model digest'] = directoryDigest(chain.modelDir);
        const shown = Object.entries(metrics)
          .filter(([k]) => /accuracy|roc_auc/.test(k) && !/val_/.test(k))
          .map(([k, v]) => `${k} ${v.toFixed(4)}`)
          .join(', ');
        return `run ${r.outputs['run-id']}, ${shown}, model ${chain.facts['model digest']!.slice(0, 19)}…`;
      },
    ),
};

/** The training workflow's steps in order; register-model and build-model-image plug in after training. */
export const CHAIN: ChainStep[] = [pullData, trainAndLog];

export async function runChain(ctx: DemoContext, label: string, params = ''): Promise<ChainRun> {
  const workspace = checkout(ctx, label.replace(/\W+/g, '-'));
  const chain: ChainRun = {
    label,
    workspace,
    params,
    facts: {},
    job: new Job({ workspace, env: ctx.env, event: ctx.event }),
  };
  for (const step of CHAIN) {
    if (!ctx.built.has(step.action)) continue;
    await step.run(ctx, chain);
  }
  return chain;
}

export interface Story1Result {
  v1: ChainRun;
  v2: ChainRun;
}

export async function story1(ctx: DemoContext): Promise<Story1Result> {
  const pending = ['register-model', 'build-model-image'].filter((id) => !ctx.built.has(id));
  if (pending.length > 0) {
    ctx.record.skip(
      STORY,
      `${pending.join(' and ')}: not built in this checkout yet (no dist/<id>/index.js)`,
    );
  }
  const v1 = await runChain(ctx, 'v1, first run');
  // The rerun and the v2 pull request are independent: run them side by side.
  const [rerun, v2] = await Promise.all([
    runChain(ctx, 'v1, rerun on a fresh checkout'),
    runChain(ctx, 'v2, pull request with alpha=0.001', 'alpha=0.001'),
  ]);
  const rows = Object.keys(v1.facts).map((key) => {
    const same = v1.facts[key] === rerun.facts[key];
    const shown = (v: string | undefined) =>
      `\`${(v ?? '').slice(0, 60)}${(v ?? '').length > 60 ? '…' : ''}\``;
    return `| ${key} | ${shown(v1.facts[key])} | ${shown(rerun.facts[key])} | ${same ? '✅ same' : '❌ differs'} |`;
  });
  const reproduced = Object.keys(v1.facts).every((k) => v1.facts[k] === rerun.facts[k]);
  ctx.record.note(
    STORY,
    'Reproducibility',
    ['| fact | first run | rerun | |', '| --- | --- | --- | --- |', ...rows].join('\n'),
  );
  console.log(
    `${reproduced ? '✓' : '✗'} [${STORY}] rerun reproduces ${Object.keys(v1.facts).join(', ')}: ${reproduced ? 'yes' : 'NO'}`,
  );
  if (!reproduced)
    throw new Error('the rerun did not reproduce the first run (see the Reproducibility table)');
  return { v1, v2 };
}
