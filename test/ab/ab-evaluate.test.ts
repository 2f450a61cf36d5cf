import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GithubApiDouble } from '../doubles/github-api';
import { repoRoot } from '../harness/index';
import { EXPERIMENT, events, users, writeCsv } from './data';
import { evaluate, metric, near, python, REFERENCE, type Result, workspace } from './helpers';

const EST = 1e-10;
const P = 1e-6;

beforeAll(() => {
  if (!existsSync(join(repoRoot, 'dist', 'ab-evaluate', 'index.js')))
    throw new Error('run npm run build -- ab-evaluate first');
});

interface Reference {
  srm: number;
  units: [number, number];
  [metric: string]: Record<string, number> | number | [number, number];
}

function checkAgainstReference(result: Result, ref: Reference): void {
  near(result['srm-p-value'], ref.srm, P, 'SRM p');
  for (const name of ['ctr', 'session_duration', 'conversion', 'latency_ms']) {
    const m = metric(result, name);
    const r = ref[name] as Record<string, number>;
    near(m.control.mean, r.meanA!, EST, `${name} control mean`);
    near(m.treatment.mean, r.meanB!, EST, `${name} treatment mean`);
    near(m.effect, r.effect!, EST, `${name} effect`);
    near(m.relativeEffect, r.rel!, EST, `${name} relative effect`);
    near(m.pValue, r.p!, P, `${name} p-value`);
    near(m.ci![0], r.lo!, P, `${name} CI low`);
    near(m.ci![1], r.hi!, P, `${name} CI high`);
    near(m.relativeCi![0], r.rlo!, P, `${name} relative CI low`);
    near(m.relativeCi![1], r.rhi!, P, `${name} relative CI high`);
    near(m.relativePValue, r.rp!, P, `${name} relative p-value`);
    if (r.adj !== undefined) near(m.adjustedPValue, r.adj, P, `${name} Holm-adjusted p`);
    if (r.ni_p !== undefined) {
      near(m.nonInferiority!.pValue, r.ni_p, P, `${name} non-inferiority p`);
      near(m.nonInferiority!.bound, r.ni_bound!, P, `${name} non-inferiority bound`);
    }
  }
  near(
    metric(result, 'session_duration').cuped!.theta,
    (ref.session_duration as Record<string, number>).theta!,
    EST,
    'CUPED θ',
  );
}

describe('ab-evaluate end to end (bundled action through the runner harness)', () => {
  const dir = workspace();
  const rows = users({
    seed: 42,
    control: 5000,
    treatment: 5000,
    ctrLift: 0.12,
    sessionLift: 0.002,
    conversionLift: 0.1,
  });
  let csvResult: Result;

  it('per-user CSV: every estimate, p-value and interval matches pandas + scipy on the same file, and the decision is ship', async () => {
    writeCsv(join(dir, 'users.csv'), rows);
    writeFileSync(join(dir, 'experiment.yml'), EXPERIMENT);
    const step = await evaluate(dir, { experiment: 'experiment.yml', data: 'users.csv' });
    expect(step.error).toBeUndefined();
    expect(step.exitCode).toBe(0);
    csvResult = step.result;
    checkAgainstReference(csvResult, python<Reference>([REFERENCE, join(dir, 'users.csv')]));
    expect(csvResult.decision).toBe('ship');
    expect(step.outputs.decision).toBe('ship');
    expect(Number(step.outputs['srm-p-value'])).toBe(csvResult['srm-p-value']);
    expect(metric(csvResult, 'ctr').outcome).toBe('better');
    expect(metric(csvResult, 'session_duration').nonInferiority!.status).toBe('pass');
    expect(metric(csvResult, 'latency_ms').nonInferiority!.status).toBe('pass');
    // The report groups business and technical metrics and charts the relative effects.
    expect(step.summary).toContain('### Business metrics');
    expect(step.summary).toContain('### Technical metrics');
    expect(step.summary).toContain('xychart-beta');
    expect(step.summary.indexOf('session\\_duration')).toBeLessThan(
      step.summary.indexOf('### Technical metrics'),
    );
  });

  it('Parquet, JSON lines and a JSON array of the same rows give the same results as the CSV', async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const csv = join(dir, 'users.csv').replace(/'/g, "''");
    await c.run(
      `COPY (SELECT * FROM read_csv('${csv}')) TO '${join(dir, 'users.parquet')}' (FORMAT parquet)`,
    );
    await c.run(`COPY (SELECT * FROM read_csv('${csv}')) TO '${join(dir, 'users.jsonl')}' (FORMAT json)`);
    await c.run(
      `COPY (SELECT * FROM read_csv('${csv}')) TO '${join(dir, 'users.json')}' (FORMAT json, ARRAY true)`,
    );
    c.closeSync();
    db.closeSync();
    for (const file of ['users.parquet', 'users.jsonl', 'users.json']) {
      const { result } = await evaluate(dir, { experiment: EXPERIMENT, data: file });
      expect(result.decision, file).toBe(csvResult.decision);
      for (const m of csvResult.results) {
        const other = metric(result, m.name);
        near(other.effect, m.effect!, EST, `${file} ${m.name} effect`);
        near(other.pValue, m.pValue!, P, `${file} ${m.name} p`);
      }
    }
  });

  it('per-event rows are added up per user and give the per-user results', async () => {
    writeCsv(join(dir, 'events.csv'), events(rows));
    const experiment = EXPERIMENT.replace('granularity: user', '')
      .replace('numerator: clicks', 'numerator: click')
      .replace('denominator: impressions', 'denominator: impression')
      .replace(/ {2}- name: latency_ms[\s\S]*$/, '')
      .replace('unit: user_id', 'unit: user_id\ngranularity: event');
    const { result, error } = await evaluate(dir, { experiment, data: 'events.csv' });
    expect(error).toBeUndefined();
    for (const name of ['ctr', 'session_duration', 'conversion']) {
      const m = metric(result, name);
      const u = metric(csvResult, name);
      near(m.effect, u.effect!, EST, `${name} effect`);
      near(m.pValue, u.pValue!, P, `${name} p`);
      expect(m.control.units).toBe(u.control.units);
    }
  });

  it('a significantly worse primary metric means dont-ship', async () => {
    const w = workspace();
    writeCsv(join(w, 'users.csv'), users({ seed: 7, control: 5000, treatment: 5000, ctrLift: -0.15 }));
    const { result } = await evaluate(w, { experiment: EXPERIMENT, data: 'users.csv' });
    expect(result.decision).toBe('dont-ship');
    expect(metric(result, 'ctr').outcome).toBe('worse');
  });

  it('a guardrail proven worse than its margin means dont-ship even when the primary improved', async () => {
    const w = workspace();
    writeCsv(
      join(w, 'users.csv'),
      users({ seed: 8, control: 5000, treatment: 5000, ctrLift: 0.15, latencyLift: 0.12 }),
    );
    const { result } = await evaluate(w, { experiment: EXPERIMENT, data: 'users.csv' });
    expect(metric(result, 'ctr').outcome).toBe('better');
    expect(metric(result, 'latency_ms').nonInferiority!.status).toBe('fail');
    expect(result.decision).toBe('dont-ship');
    expect(result.reasons.join(' ')).toContain("guardrail 'latency_ms'");
  });

  it('an underpowered experiment keeps running and says how many more users it needs', async () => {
    const w = workspace();
    writeCsv(join(w, 'users.csv'), users({ seed: 21, control: 300, treatment: 300, ctrLift: 0.01 }));
    const { result } = await evaluate(w, { experiment: EXPERIMENT, data: 'users.csv' });
    expect(result.decision).toBe('keep-running');
    expect(result['users-needed']).toBeGreaterThan(1000);
    expect(result.reasons.join(' ')).toMatch(/more units are needed/);
  });

  it('sample ratio mismatch makes the experiment invalid whatever the metrics say', async () => {
    const w = workspace();
    writeCsv(join(w, 'users.csv'), users({ seed: 10, control: 5000, treatment: 5400, ctrLift: 0.2 }));
    const { result } = await evaluate(w, { experiment: EXPERIMENT, data: 'users.csv' });
    expect(metric(result, 'ctr').outcome).toBe('better');
    expect(result['srm-p-value']).toBeLessThan(0.001);
    expect(result.decision).toBe('invalid');
    expect(result.reasons[0]).toMatch(/sample ratio mismatch/);
  });

  it('sequential testing gives always-valid intervals, wider than the fixed-horizon ones', async () => {
    const { result } = await evaluate(dir, {
      experiment: `${EXPERIMENT}\nsequential: true\nsequential-tuning: 10000\n`,
      data: 'users.csv',
    });
    for (const m of result.results) {
      const fixed = metric(csvResult, m.name);
      expect(m.sequential).toBe(true);
      expect(m.ci![1] - m.ci![0]).toBeGreaterThan(fixed.ci![1] - fixed.ci![0]);
      expect(m.pValue!).toBeGreaterThanOrEqual(fixed.pValue!);
    }
  });

  it('posts the report as a sticky comment on the tracking issue (GitHub API double) and updates it on the next run', async () => {
    const github = new GithubApiDouble();
    github.addIssue('octo-org/ml-project', 17);
    const url = await github.start();
    try {
      const env = { GITHUB_API_URL: url, GITHUB_TOKEN: 'ghs_test_write_token' };
      const inputs = { experiment: EXPERIMENT, data: 'users.csv', comment: 'true', 'issue-number': '17' };
      const first = await evaluate(dir, inputs, env);
      expect(first.error).toBeUndefined();
      const second = await evaluate(dir, inputs, env);
      expect(second.error).toBeUndefined();
      const comments = github.commentsOf('octo-org/ml-project', 17);
      expect(comments).toHaveLength(1);
      expect(comments[0]!.body).toContain('✅ **ship**');
      expect(comments[0]!.body).toContain('```mermaid');
    } finally {
      await github.stop();
    }
  });
});
