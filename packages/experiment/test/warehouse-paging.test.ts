import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WarehouseDouble } from '../../../test/doubles/warehouse-apis';
import { openWarehouse } from '../src/index';

/**
 * The warehouse clients read every page of a result, each API's published way: Trino's nextUri chain
 * (client protocol v1), BigQuery's pageToken (jobs.getQueryResults), Snowflake's partitions
 * (GET …/statements/{handle}?partition=n) and Databricks' chunks (next_chunk_internal_link). The API
 * doubles run the SQL on DuckDB and answer 23 rows in pages of 5.
 */
const ROWS = 23;
const PAGE = 5;
const SQL = `SELECT i AS k, i * i AS square FROM range(0, ${ROWS}) t(i) ORDER BY i`;

describe('warehouse clients read results over several pages (API doubles backed by DuckDB)', () => {
  let double: WarehouseDouble;
  let close: () => void;

  beforeAll(async () => {
    const { DuckDBInstance } = await import('@duckdb/node-api');
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    close = () => {
      c.closeSync();
      db.closeSync();
    };
    double = new WarehouseDouble(
      async (sql) => {
        const reader = await c.runAndReadAll(sql);
        return { columns: reader.columnNames(), rows: reader.getRows() as unknown[][] };
      },
      { pageSize: PAGE },
    );
    await double.start();
  });

  afterAll(async () => {
    await double?.stop();
    close?.();
  });

  const cases: Array<[string, () => string, (path: string) => boolean]> = [
    [
      'Trino follows nextUri to the last page',
      () => `trino://analyst@trino.example:8080/memory/default?endpoint=${double.url}`,
      (path) => path.includes('/v1/statement/executing/'),
    ],
    [
      'BigQuery follows pageToken until none is returned',
      () => `bigquery://my-project?endpoint=${double.url}`,
      (path) => path.includes('/queries/job_'),
    ],
    [
      'Snowflake fetches every partition listed in partitionInfo',
      () => `snowflake://xy12345/DB/PUBLIC?endpoint=${double.url}`,
      (path) => path.includes('/api/v2/statements/'),
    ],
    [
      'Databricks SQL follows next_chunk_internal_link through every chunk',
      () => `databricks://dbc-1.cloud.databricks.com/wh1?endpoint=${double.url}`,
      (path) => path.includes('/api/2.0/sql/statements/'),
    ],
  ];

  for (const [name, data, isPageRequest] of cases) {
    it(`${name} (double): all ${ROWS} rows, in order`, async () => {
      const before = double.requests.length;
      const engine = openWarehouse({ data: data(), table: 'results', token: double.token, pollMs: 1 });
      const rows = await engine.query(SQL);
      expect(rows.map((r) => Number(Object.values(r)[0]))).toEqual(Array.from({ length: ROWS }, (_, i) => i));
      expect(rows.map((r) => Number(Object.values(r)[1]))).toEqual(
        Array.from({ length: ROWS }, (_, i) => i * i),
      );
      const pages = double.requests.slice(before).filter((r) => r.method === 'GET' && isPageRequest(r.path));
      expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(ROWS / PAGE) - 1);
    });
  }
});
