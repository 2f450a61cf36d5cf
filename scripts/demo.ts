/**
 * `npm run demo`: the main job on embedded defaults, run through the local runner harness exactly as
 * GitHub would run the committed bundles — DVC data from the example's local remote, a real scikit-learn
 * notebook run logged to the embedded store, then the decision of an A/B test of two recommender
 * versions on a generated per-user export (embedded DuckDB). No server is needed.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, type StepResult } from '../test/harness';
import { actionIds, root } from './bundle';

const available = new Set(actionIds().filter((id) => existsSync(join(root, 'dist', id, 'index.js'))));
const wanted = ['dvc-pull', 'train-and-log', 'ab-evaluate'];
const missing = wanted.filter((id) => !available.has(id));
if (missing.length > 0) {
  console.log(
    `The demo needs ${missing.join(' and ')}, which ${missing.length > 1 ? 'are' : 'is'} not built yet.`,
  );
  console.log(`Built actions: ${[...available].join(', ') || 'none'}.`);
  process.exit(1);
}

const workspace = mkdtempSync(join(tmpdir(), 'mlops-demo-'));
cpSync(join(root, 'examples'), workspace, { recursive: true });
const git = (...args: string[]) => execFileSync('git', args, { cwd: workspace, encoding: 'utf8' }).trim();
git('init', '-q', '-b', 'main');
git('-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', 'add', '-A');
git('-c', 'user.name=demo', '-c', 'user.email=demo@example.invalid', 'commit', '-qm', 'example project');

// Debian's python3 has scikit-learn and Jupyter; a python3 earlier on PATH may not.
const env = { PATH: `/usr/bin:${process.env.PATH ?? ''}` };
const job = new Job({ workspace, env });

function report(title: string, step: StepResult, keys: string[]): void {
  console.log(
    `\n=== ${title}: ${step.exitCode === 0 ? 'ok' : `failed: ${step.error ?? `exit ${step.exitCode}`}`}`,
  );
  for (const key of keys) console.log(`  ${key}: ${step.outputs[key]}`);
  if (step.exitCode !== 0) {
    console.log(step.stdout.slice(-4000));
    process.exit(1);
  }
}

console.log(`Workspace: ${workspace}`);
const pull = await job.step('data', 'dvc-pull');
report('dvc-pull', pull, ['files', 'bytes', 'data-hash']);

const train = await job.step('train', 'train-and-log', (steps) => ({
  notebook: 'train.ipynb',
  'metrics-files': 'metrics.json\nhistory.csv',
  'data-hash': steps.data!.outputs['data-hash'],
}));
report('train-and-log', train, ['run-id', 'model-uri', 'metrics']);

/** A seeded generator, so every demo run sees the same experiment. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

// Story 3: recommender v2 against v1 — more clicks per impression, session length unchanged.
const random = mulberry32(7);
const rows = ['user_id,variant,impressions,clicks,session_seconds,pre_session_seconds'];
for (let user = 1; user <= 20_000; user++) {
  const variant = random() < 0.5 ? 'v1' : 'v2';
  const impressions = 1 + Math.floor(random() * 20);
  const ctr = variant === 'v2' ? 0.055 : 0.05;
  let clicks = 0;
  for (let i = 0; i < impressions; i++) if (random() < ctr) clicks++;
  const habit = 120 + random() * 240;
  rows.push(
    `${user},${variant},${impressions},${clicks},${(habit + random() * 60).toFixed(1)},${habit.toFixed(1)}`,
  );
}
writeFileSync(join(workspace, 'recommender-users.csv'), `${rows.join('\n')}\n`);
const ab = await job.step('ab', 'ab-evaluate', {
  data: 'recommender-users.csv',
  experiment: [
    'name: recommender-v2',
    'unit: user_id',
    'variant: variant',
    'control: v1',
    'treatment: v2',
    'metrics:',
    '  - { name: ctr, kind: ratio, numerator: clicks, denominator: impressions, role: primary, group: business }',
    '  - { name: session_duration, kind: mean, column: session_seconds, pre: pre_session_seconds, role: guardrail, margin: 0.02, group: business }',
  ].join('\n'),
});
report('ab-evaluate', ab, ['decision', 'srm-p-value']);

console.log('\n=== Job summary (what GitHub shows on the run page)\n');
console.log([pull.summary, train.summary, ab.summary].join('\n'));
console.log(`\nThe run record is in ${join(workspace, train.outputs['tracking-uri'] ?? '.mlops')}.`);
