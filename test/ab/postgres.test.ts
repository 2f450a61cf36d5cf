import { join } from 'node:path';
import { aggregationQuery, parseExperiment, planQuery, readAggregates } from '@mlops-actions/experiment';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Postgres, startPostgres } from '../servers/postgres';
import { EXPERIMENT, users, writeCsv } from './data';
import { evaluate, metric, near, type Result, workspace } from './helpers';

const rows = users({ seed: 42, control: 3000, treatment: 3000, ctrLift: 0.12, conversionLift: 0.1 });

async function load(
  client: pg.Client,
  table: string,
  data: Array<Record<string, unknown>>,
  types: string,
): Promise<void> {
  await client.query(`CREATE TABLE ${table} (${types})`);
  const names = Object.keys(data[0]!);
  for (let start = 0; start < data.length; start += 1000) {
    const chunk = data.slice(start, start + 1000);
    const values: unknown[] = [];
    const tuples = chunk.map(
      (_r, i) => `(${names.map((_n, j) => `$${i * names.length + j + 1}`).join(', ')})`,
    );
    for (const r of chunk) for (const n of names) values.push(r[n]);
    await client.query(`INSERT INTO ${table} (${names.join(', ')}) VALUES ${tuples.join(', ')}`, values);
  }
}

describe('ab-evaluate on a real PostgreSQL server', () => {
  let server: Postgres;
  let client: pg.Client;
  const dir = workspace();
  let fromCsv: Result;

  beforeAll(async () => {
    server = await startPostgres();
    const { default: pgModule } = await import('pg');
    client = new pgModule.Client({ connectionString: server.url });
    await client.connect();
    await load(
      client,
      'users',
      rows,
      'user_id text, variant text, impressions integer, clicks integer, session_seconds double precision, pre_session_seconds double precision, latency_ms numeric(10,2), converted integer',
    );
    writeCsv(join(dir, 'users.csv'), rows);
    fromCsv = (await evaluate(dir, { experiment: EXPERIMENT, data: 'users.csv' })).result;
  }, 120_000);

  afterAll(async () => {
    await client?.end();
    await server?.stop();
  });

  it('reads a table by connection string and matches the CSV results of the same rows', async () => {
    const step = await evaluate(dir, { experiment: EXPERIMENT, data: server.url, table: 'users' });
    expect(step.error).toBeUndefined();
    expect(step.result.decision).toBe(fromCsv.decision);
    for (const m of fromCsv.results) {
      const p = metric(step.result, m.name);
      near(p.control.mean, m.control.mean!, 1e-10, `${m.name} control mean`);
      near(p.effect, m.effect!, 1e-10, `${m.name} effect`);
      near(p.pValue, m.pValue!, 1e-6, `${m.name} p`);
      near(p.relativeCi![0], m.relativeCi![0], 1e-6, `${m.name} relative CI`);
    }
    // The password is masked before anything is logged, and appears nowhere else.
    expect(step.stdout).toContain(`::add-mask::${server.password}`);
    expect(step.stdout.replace(/^::add-mask::.*$/gm, '')).not.toContain(server.password);
    expect(step.outputs.json).not.toContain(server.password);
  });

  it('accepts a SELECT query as the table', async () => {
    const step = await evaluate(dir, {
      experiment: EXPERIMENT,
      data: server.url,
      table: "SELECT * FROM users WHERE variant IN ('v1', 'v2')",
    });
    expect(step.error).toBeUndefined();
    near(metric(step.result, 'ctr').effect, metric(fromCsv, 'ctr').effect!, 1e-10, 'ctr effect');
  });

  it('names the column and row of a non-numeric text value', async () => {
    const bad = rows.slice(0, 50).map((r, i) => ({ ...r, clicks: i === 12 ? 'many' : String(r.clicks) }));
    await load(
      client,
      'bad_users',
      bad,
      'user_id text, variant text, impressions integer, clicks text, session_seconds double precision, pre_session_seconds double precision, latency_ms double precision, converted integer',
    );
    const step = await evaluate(dir, { experiment: EXPERIMENT, data: server.url, table: 'bad_users' });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      /^Input 'data': column 'clicks' holds a non-numeric value "many" at row \d+, unit "u\d+"; metric columns must be numbers$/,
    );
  });

  it('the PostgreSQL dialect query returns the same sums as DuckDB on the same rows', async () => {
    const e = parseExperiment(EXPERIMENT);
    const plan = planQuery(e);
    const fromPg = readAggregates(
      (await client.query(aggregationQuery(e, 'users', 'postgres', plan))).rows,
      plan,
    );
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const source = `read_csv('${join(dir, 'users.csv')}', header = true)`;
    const fromDuck = readAggregates(
      (await c.runAndReadAll(aggregationQuery(e, source, 'duckdb', plan))).getRowObjectsJS(),
      plan,
    );
    c.closeSync();
    db.closeSync();
    const byVariant = (list: typeof fromPg) => new Map(list.map((r) => [r.variant, r]));
    const duck = byVariant(fromDuck);
    expect(fromPg).toHaveLength(fromDuck.length);
    for (const r of fromPg) {
      const d = duck.get(r.variant)!;
      expect(r.units).toBe(d.units);
      for (const [i, s] of r.sums.entries()) near(s, d.sums[i]!, 1e-12, `sum ${i} of ${r.variant}`);
      for (const [k, s] of r.products) near(s, d.products.get(k)!, 1e-12, `product ${k} of ${r.variant}`);
    }
  });
});
