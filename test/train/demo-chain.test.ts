import { cpSync, existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Job, repoRoot } from '../harness';

describe('demo chain on a copy of examples/', () => {
  it('dvc-pull fetches the CSV from the committed local remote, then train-and-log runs the notebook with defaults', async () => {
    const workspace = mkdtempSync(join(tmpdir(), 'demo-'));
    cpSync(join(repoRoot, 'examples'), workspace, { recursive: true });
    expect(existsSync(join(workspace, 'data/breast_cancer.csv'))).toBe(false);
    const job = new Job({ workspace });
    const pull = await job.step('data', 'dvc-pull');
    expect(pull.error, pull.stdout.slice(-2000)).toBeUndefined();
    expect(existsSync(join(workspace, 'data/breast_cancer.csv'))).toBe(true);
    const train = await job.step('train', 'train-and-log', (steps) => ({
      notebook: 'train.ipynb',
      'data-hash': steps.data!.outputs['data-hash'],
    }));
    expect(train.error, train.stdout.slice(-2000)).toBeUndefined();
    const record = JSON.parse(
      readFileSync(join(workspace, '.mlops/runs', train.outputs['run-id']!, 'run.json'), 'utf8'),
    );
    expect(record.tags['mlops.data-hash']).toBe(pull.outputs['data-hash']);
    expect(record.status).toBe('FINISHED');
    expect(JSON.parse(train.outputs.metrics!)['test.accuracy']).toBeGreaterThan(0.9);
  });
});
