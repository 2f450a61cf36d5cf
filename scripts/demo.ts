/**
 * `npm run demo`: the main job on embedded defaults, run through the local runner harness exactly as
 * GitHub would run the committed bundles — DVC data from the example's local remote, then a real
 * scikit-learn notebook run logged to the embedded store. No server is needed.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Job, type StepResult } from '../test/harness';
import { actionIds, root } from './bundle';

const available = new Set(actionIds().filter((id) => existsSync(join(root, 'dist', id, 'index.js'))));
const wanted = ['dvc-pull', 'train-and-log'];
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

console.log('\n=== Job summary (what GitHub shows on the run page)\n');
console.log([pull.summary, train.summary].join('\n'));
console.log(`\nThe run record is in ${join(workspace, train.outputs['tracking-uri'] ?? '.mlops')}.`);
