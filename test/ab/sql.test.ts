import { join } from 'node:path';
import {
  aggregationQuery,
  DIALECTS,
  type Dialect,
  duplicateQuery,
  parseExperiment,
  planQuery,
  readAggregates,
  readDuplicates,
  type VariantSums,
} from '@mlops-actions/experiment';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXPERIMENT, events, users, writeCsv } from './data';
import { evaluate, metric, near, workspace } from './helpers';

type Connection = Awaited<
  ReturnType<Awaited<ReturnType<typeof import('@duckdb/node-api')['DuckDBInstance']['create']>>['connect']>
>;

const SOURCES: Record<Dialect, string> = {
  duckdb: 'users',
  postgres: 'analytics.users',
  bigquery: '`my-project.analytics.users`',
  snowflake: 'ANALYTICS.PUBLIC.USERS',
  databricks: 'main.analytics.users',
  trino: 'hive.analytics.users',
};

/**
 * BigQuery and Databricks quote with backticks and BigQuery spells DOUBLE as FLOAT64; with those
 * spellings mapped back, their queries run on DuckDB, which checks everything else about them.
 */
function asDuckDb(sql: string): string {
  return sql.replace(/`([^`]*)`/g, '"$1"').replace(/\bFLOAT64\b/g, 'DOUBLE');
}

describe('aggregation SQL per warehouse dialect', () => {
  const dir = workspace();
  const rows = users({ seed: 3, control: 2000, treatment: 2100, ctrLift: 0.1 });
  let db: { closeSync(): void };
  let c: Connection;

  beforeAll(async () => {
    writeCsv(join(dir, 'users.csv'), rows);
    writeCsv(join(dir, 'events.csv'), events(rows));
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const instance = await DuckDBInstance.create(join(dir, 'warehouse.duckdb'));
    db = instance;
    c = await instance.connect();
    await c.run(`CREATE TABLE users AS SELECT * FROM read_csv('${join(dir, 'users.csv')}', header = true)`);
    await c.run(`CREATE TABLE events AS SELECT * FROM read_csv('${join(dir, 'events.csv')}', header = true)`);
  });

  afterAll(() => {
    c?.closeSync();
    db?.closeSync();
  });

  const experiment = parseExperiment(EXPERIMENT);
  const perEvent = parseExperiment(
    EXPERIMENT.replace('unit: user_id', 'unit: user_id\ngranularity: event')
      .replace('numerator: clicks', 'numerator: click')
      .replace('denominator: impressions', 'denominator: impression')
      .replace(/ {2}- name: latency_ms[\s\S]*$/, ''),
  );
  const cases: Array<[typeof experiment, string]> = [
    [experiment, 'users'],
    [perEvent, 'events'],
  ];

  for (const dialect of DIALECTS) {
    it(`${dialect}: the generated queries match their snapshot`, async () => {
      const sql = [
        aggregationQuery(experiment, SOURCES[dialect], dialect),
        duplicateQuery(experiment, SOURCES[dialect], dialect),
        aggregationQuery(perEvent, SOURCES[dialect], dialect),
      ].join(';\n\n');
      await expect(`${sql};\n`).toMatchFileSnapshot(`./__snapshots__/aggregation.${dialect}.sql`);
    });
  }

  async function run(
    sql: string,
    plan: ReturnType<typeof planQuery>,
  ): Promise<Map<string | null, VariantSums>> {
    const result = await c.runAndReadAll(sql);
    return new Map(readAggregates(result.getRowObjectsJS(), plan).map((r) => [r.variant, r]));
  }

  it('every dialect computes the same sums as DuckDB when run on the same tables (per user and per event)', async () => {
    for (const [e, table] of cases) {
      const plan = planQuery(e);
      const reference = await run(aggregationQuery(e, table, 'duckdb'), plan);
      expect(reference.get('v1')!.units).toBe(2000);
      for (const dialect of ['trino', 'snowflake', 'bigquery', 'databricks'] as Dialect[]) {
        const got = await run(
          asDuckDb(aggregationQuery(e, dialect === 'snowflake' ? table.toUpperCase() : table, dialect)),
          plan,
        );
        expect([...got.keys()].sort(), dialect).toEqual([...reference.keys()].sort());
        for (const [variant, r] of got) {
          const ref = reference.get(variant)!;
          expect(r.units).toBe(ref.units);
          for (const [i, v] of r.sums.entries()) near(v, ref.sums[i]!, 1e-12, `${dialect} sum ${i}`);
          for (const [k, v] of r.products) near(v, ref.products.get(k)!, 1e-12, `${dialect} product ${k}`);
        }
      }
    }
  });

  it('every dialect counts the same duplicate and repeated units', async () => {
    await c.run(
      "CREATE TABLE dupes AS SELECT * FROM users UNION ALL (SELECT * REPLACE ('v2' AS variant) FROM users WHERE variant = 'v1' LIMIT 3) UNION ALL (SELECT * FROM users WHERE variant = 'v2' LIMIT 2)",
    );
    for (const dialect of DIALECTS.filter((d) => d !== 'postgres')) {
      const result = await c.runAndReadAll(
        asDuckDb(duplicateQuery(experiment, dialect === 'snowflake' ? 'DUPES' : 'dupes', dialect)),
      );
      expect(readDuplicates(result.getRowObjectsJS()), dialect).toEqual({ multiVariant: 3, repeated: 5 });
    }
  });

  it('a DuckDB database file by path, with a table and with a SELECT query', async () => {
    c.closeSync();
    db.closeSync();
    const fromCsv = await evaluate(dir, { experiment: EXPERIMENT, data: 'users.csv' });
    const fromTable = await evaluate(dir, {
      experiment: EXPERIMENT,
      data: 'warehouse.duckdb',
      table: 'users',
    });
    const fromQuery = await evaluate(dir, {
      experiment: EXPERIMENT.replace('unit: user_id', 'unit: user_id\ngranularity: event')
        .replace('numerator: clicks', 'numerator: click')
        .replace('denominator: impressions', 'denominator: impression')
        .replace(/ {2}- name: latency_ms[\s\S]*$/, ''),
      data: `duckdb:${join(dir, 'warehouse.duckdb')}`,
      table: 'SELECT * FROM events',
    });
    for (const step of [fromTable, fromQuery]) {
      expect(step.error).toBeUndefined();
      for (const name of ['ctr', 'session_duration', 'conversion']) {
        near(metric(step.result, name).effect, metric(fromCsv.result, name).effect!, 1e-10, `${name} effect`);
        near(metric(step.result, name).pValue, metric(fromCsv.result, name).pValue!, 1e-6, `${name} p`);
      }
    }
  });
});
