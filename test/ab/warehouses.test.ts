import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WarehouseDouble } from '../doubles/warehouse-apis';
import { EXPERIMENT, users, writeCsv } from './data';
import { evaluate, metric, near, type Result, workspace } from './helpers';

describe('ab-evaluate pushdown to warehouses (API doubles backed by DuckDB)', () => {
  const dir = workspace();
  let double: WarehouseDouble;
  let fromCsv: Result;
  let close: () => void;

  beforeAll(async () => {
    writeCsv(join(dir, 'users.csv'), users({ seed: 42, control: 3000, treatment: 3000, ctrLift: 0.15 }));
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    await c.run(
      `CREATE SCHEMA analytics; CREATE TABLE analytics.users AS SELECT * FROM read_csv('${join(dir, 'users.csv')}', header = true)`,
    );
    close = () => {
      c.closeSync();
      db.closeSync();
    };
    double = new WarehouseDouble(async (sql) => {
      const reader = await c.runAndReadAll(sql);
      return { columns: reader.columnNames(), rows: reader.getRows() as unknown[][] };
    });
    await double.start();
    fromCsv = (await evaluate(dir, { experiment: EXPERIMENT, data: 'users.csv' })).result;
  });

  afterAll(async () => {
    await double?.stop();
    close?.();
  });

  const cases: Array<[string, () => string, string]> = [
    [
      'Trino',
      () => `trino://analyst@warehouse.example:8080/memory/analytics?endpoint=${double.url}`,
      'analytics.users',
    ],
    [
      'Databricks SQL',
      () => `databricks://dbc-1234.cloud.databricks.com/abc123warehouse?endpoint=${double.url}`,
      'analytics.users',
    ],
    ['BigQuery', () => `bigquery://my-project?location=US&endpoint=${double.url}`, 'analytics.users'],
    [
      'Snowflake',
      () => `snowflake://xy12345/ANALYTICS/PUBLIC?warehouse=WH&endpoint=${double.url}`,
      'analytics.users',
    ],
  ];

  for (const [name, data, table] of cases) {
    it(`${name}: runs the aggregation in its dialect through its API and decides as on the CSV`, async () => {
      const before = double.requests.length;
      const step = await evaluate(dir, {
        experiment: EXPERIMENT,
        data: data(),
        table,
        'warehouse-token': double.token,
      });
      expect(step.error).toBeUndefined();
      expect(step.result.decision).toBe(fromCsv.decision);
      for (const m of fromCsv.results) {
        const w = metric(step.result, m.name);
        near(w.effect, m.effect!, 1e-10, `${name} ${m.name} effect`);
        near(w.pValue, m.pValue!, 1e-6, `${name} ${m.name} p`);
      }
      const requests = double.requests.slice(before);
      expect(requests.length).toBeGreaterThanOrEqual(2);
      if (name !== 'Trino') expect(requests[0]!.headers.authorization).toBe(`Bearer ${double.token}`);
      expect(step.stdout).toContain(`::add-mask::${double.token}`);
      expect(step.stdout.replaceAll(`::add-mask::${double.token}`, '')).not.toContain(double.token);
    });
  }

  it('an error from the warehouse fails the step with its message', async () => {
    const step = await evaluate(dir, {
      experiment: EXPERIMENT,
      data: `databricks://dbc-1234.cloud.databricks.com/abc123warehouse?endpoint=${double.url}`,
      table: 'analytics.no_such_table',
      'warehouse-token': double.token,
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      /^Input 'data': Databricks SQL: statement FAILED: BAD_REQUEST .*no_such_table/,
    );
  });

  it('a missing token is named with the variable it can come from', async () => {
    const step = await evaluate(dir, {
      experiment: EXPERIMENT,
      data: `bigquery://my-project?endpoint=${double.url}`,
      table: 'users',
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe(
      "Input 'data': bigquery needs a token: the warehouse-token input or GOOGLE_OAUTH_ACCESS_TOKEN",
    );
  });
});
