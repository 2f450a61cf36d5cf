/**
 * Story 1, notebook → reproducible, versioned, deployable: the chain of steps a training workflow runs,
 * run twice on fresh checkouts to show that the second run reproduces the first, then once more with new
 * params on a pull request (the v2 the canary rolls out, with its metric diff comment).
 *
 * Each step of the chain is one function recording what a rerun must reproduce (data hash, metrics, model
 * digest, registered model digest, image digest); steps whose bundle is not in dist/ are skipped and named.
 */
import { createHash } from 'node:crypto';
import { cpSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { RegistryClient } from '@mlops-actions/oci';
import { Job, type StepResult } from '../../test/harness';
import { pushBusyboxBase } from '../../test/image/base';
import { type Registry, startRegistry } from '../../test/servers/registry';
import { checkout, type DemoContext, recorded } from './context';

export const STORY = 'Story 1: notebook → reproducible, versioned, deployable model';

const MODEL = 'breast-cancer-classifier';
/** Fixed, so two builds of the same model give the same image digest. */
const SOURCE_DATE_EPOCH = '1767225600';

export interface ChainRun {
  label: string;
  job: Job;
  workspace: string;
  /** Params that differ from params.yaml (KEY=value lines), for the training step. */
  params: string;
  /** What the run produced that a rerun must reproduce, e.g. data hash, metrics, model digest. */
  facts: Record<string, string>;
  /**
   * Digests that also cover the run's lineage (run id, model uri annotations), so they differ between runs
   * by design even when every byte of the model is reproduced.
   */
  lineage: Record<string, string>;
  /** The trained model directory (MLflow format). */
  modelDir?: string;
  /** The serving base image the image step builds on (`host/repository:tag` on the demo's registry). */
  baseImage?: string;
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

/**
 * The layer digests of a ModelPack manifest in register-model's local registry (`oci:<layout>:<tag>`): the
 * model's files as registered, without the manifest's lineage annotations.
 */
function registeredLayers(modelUri: string, digest: string): string {
  const layout = modelUri.replace(/^oci:/, '').replace(/:[^:/]+$/, '');
  const blob = join(layout, 'blobs', ...digest.split(':'));
  const manifest = JSON.parse(readFileSync(blob, 'utf8')) as { layers: Array<{ digest: string }> };
  return manifest.layers.map((l) => l.digest).join(' ');
}

/**
 * register-model on the embedded local store (an OCI layout registry in the workspace's .mlops/): gates on
 * the notebook's test metrics, alias `staging`; then a promotion of the staging version to `champion`.
 */
const registerModel: ChainStep = {
  action: 'register-model',
  run: async (ctx, chain) => {
    await recorded(
      ctx,
      STORY,
      `register-model (${chain.label})`,
      () =>
        chain.job.step('register', 'register-model', (steps) => ({
          'model-name': MODEL,
          'run-id': steps.train?.outputs['run-id'],
          'model-uri': steps.train?.outputs['model-uri'],
          metrics: steps.train?.outputs.metrics,
          'tracking-uri': steps.train?.outputs['tracking-uri'],
          gates: 'test.accuracy >= 0.9\ntest.roc_auc >= 0.95',
          'promote-to': 'staging',
          reason: `trained in ${chain.label}`,
        })),
      (r) => {
        chain.lineage['registered model digest'] = r.outputs.digest ?? '';
        chain.facts['registered model layers'] = registeredLayers(
          r.outputs['model-uri'] ?? '',
          r.outputs.digest ?? '',
        );
        return `version ${r.outputs.version} → ${r.outputs.alias}, gates ${r.outputs['gate-passed'] === 'true' ? 'passed' : 'failed'}, ${r.outputs.digest?.slice(0, 19)}…`;
      },
    );
    return recorded(
      ctx,
      STORY,
      `register-model promote staging → champion (${chain.label})`,
      () =>
        chain.job.step('champion', 'register-model', (steps) => ({
          action: 'promote',
          'model-name': MODEL,
          'from-alias': 'staging',
          'promote-to': 'champion',
          'tracking-uri': steps.train?.outputs['tracking-uri'],
          reason: 'staging checks passed',
        })),
      (r) => `champion → version ${r.outputs.version} (was ${r.outputs['previous-version'] || 'unset'})`,
    );
  },
};

/**
 * build-model-image: the registered model added to the demo's busybox base, written to an OCI layout in
 * the workspace (where the action confines its output) and copied to the demo output folder.
 */
const buildImage: ChainStep = {
  action: 'build-model-image',
  run: async (ctx, chain) => {
    const result = await recorded(
      ctx,
      STORY,
      `build-model-image (${chain.label})`,
      () =>
        chain.job.step(
          'image',
          'build-model-image',
          (steps) => ({
            'model-uri': steps.register?.outputs['model-uri'],
            digest: steps.register?.outputs.digest,
            'model-name': MODEL,
            version: steps.register?.outputs.version,
            'run-id': steps.train?.outputs['run-id'],
            'data-hash': steps.data?.outputs['data-hash'],
            'base-image': chain.baseImage,
            env: `MODEL_NAME=${MODEL}`,
            port: '8080',
            push: 'false',
            output: 'image-layout',
          }),
          { env: { SOURCE_DATE_EPOCH } },
        ),
      (r) => {
        chain.lineage['image digest'] = r.outputs.digest ?? '';
        chain.facts['image model layer'] = r.outputs['model-layer'] ?? '';
        return `${JSON.parse(r.outputs.platforms ?? '[]').join(', ')}, model layer ${r.outputs.size} bytes, image ${r.outputs.digest?.slice(0, 19)}…`;
      },
    );
    cpSync(
      join(chain.workspace, 'image-layout'),
      join(ctx.record.outputDir, 'images', chain.label.replace(/\W+/g, '-')),
      { recursive: true },
    );
    return result;
  },
};

/** The training workflow's steps in order. */
export const CHAIN: ChainStep[] = [pullData, trainAndLog, registerModel, buildImage];

export async function runChain(
  ctx: DemoContext,
  label: string,
  params = '',
  baseImage?: string,
): Promise<ChainRun> {
  const workspace = checkout(ctx, label.replace(/\W+/g, '-'));
  const chain: ChainRun = {
    label,
    workspace,
    params,
    baseImage,
    facts: {},
    lineage: {},
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

/**
 * The serving base the image step builds on: Debian's busybox-static as a two-platform image on a local
 * docker-registry (build-model-image reads its base from a registry, as from Docker Hub or GHCR).
 */
async function baseRegistry(): Promise<{ registry: Registry; image: string }> {
  const registry = await startRegistry();
  try {
    await pushBusyboxBase(new RegistryClient({ registry: registry.host }), 'runtimes/busybox');
  } catch (error) {
    await registry.stop();
    throw error;
  }
  return { registry, image: `${registry.host}/runtimes/busybox:1` };
}

export async function story1(ctx: DemoContext): Promise<Story1Result> {
  const pending = ['register-model', 'build-model-image'].filter((id) => !ctx.built.has(id));
  if (pending.length > 0) {
    ctx.record.skip(
      STORY,
      `${pending.join(' and ')}: not built in this checkout yet (no dist/<id>/index.js)`,
    );
  }
  const base = ctx.built.has('build-model-image') ? await baseRegistry() : undefined;
  let v1: ChainRun;
  let rerun: ChainRun;
  let v2: ChainRun;
  try {
    v1 = await runChain(ctx, 'v1, first run', '', base?.image);
    // The rerun and the v2 pull request are independent: run them side by side.
    [rerun, v2] = await Promise.all([
      runChain(ctx, 'v1, rerun on a fresh checkout', '', base?.image),
      runChain(ctx, 'v2, pull request with alpha=0.001', 'alpha=0.001', base?.image),
    ]);
  } finally {
    await base?.registry.stop();
  }
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
  const lineage = Object.keys(v1.lineage).map(
    (key) => `| ${key} | \`${v1.lineage[key]}\` | \`${rerun.lineage[key]}\` |`,
  );
  if (lineage.length > 0)
    ctx.record.note(
      STORY,
      'Lineage',
      [
        "These digests also cover each run's lineage (its MLflow run id and the model uri it was read from,",
        'as annotations), so they differ between the two runs by design; the layers above are the same bytes.',
        '',
        '| digest | first run | rerun |',
        '| --- | --- | --- |',
        ...lineage,
      ].join('\n'),
    );
  console.log(
    `${reproduced ? '✓' : '✗'} [${STORY}] rerun reproduces ${Object.keys(v1.facts).join(', ')}: ${reproduced ? 'yes' : 'NO'}`,
  );
  if (!reproduced)
    throw new Error('the rerun did not reproduce the first run (see the Reproducibility table)');
  return { v1, v2 };
}
