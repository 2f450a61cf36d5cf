import { existsSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import type { Experiment } from './config';
import {
  type AggregateRow,
  aggregationQuery,
  type Dialect,
  type Duplicates,
  duplicateQuery,
  planQuery,
  type QueryPlan,
  quoteIdentifier,
  readDuplicates,
  tableSource,
} from './sql';

/** A problem with the data or the experiment's columns: the message names the column, row or variant. */
export class DataError extends Error {
  override name = 'DataError';
}

export type FileFormat = 'csv' | 'parquet' | 'json';

export interface DataSpec {
  /** A path or glob (several separated by newlines or commas), or a connection string. */
  data: string;
  /** For databases: a table name or a SELECT query. */
  table?: string;
  format?: FileFormat;
  workspace: string;
  /** DuckDB's memory_limit, e.g. 512MB; beyond it aggregations spill to tempDir. */
  memoryLimit?: string;
  tempDir?: string;
}

export type SourceKind = 'file' | 'duckdb' | 'postgres';

export function sourceKind(data: string): SourceKind {
  if (/^postgres(ql)?:\/\//i.test(data)) return 'postgres';
  if (/^duckdb:/i.test(data) || /\.(duckdb|ddb)$/i.test(data.trim())) return 'duckdb';
  return 'file';
}

export function formatOf(path: string): FileFormat {
  const name = path.toLowerCase().replace(/\.(gz|zst)$/, '');
  if (/\.(csv|tsv|txt)$/.test(name)) return 'csv';
  if (/\.parquet$/.test(name)) return 'parquet';
  if (/\.(jsonl|ndjson|json)$/.test(name)) return 'json';
  throw new DataError(
    `cannot tell the format of '${path}': name it .csv, .parquet or .jsonl, or set the format input`,
  );
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** The DuckDB table function reading the data files. */
export function fileSource(spec: DataSpec): string {
  const paths = spec.data
    .split(/[\n,]/)
    .map((p) => p.trim())
    .filter(Boolean)
    .map((p) => (isAbsolute(p) ? p : join(spec.workspace, p)));
  if (paths.length === 0) throw new DataError('no data files given');
  for (const p of paths) {
    if (/[*?[]/.test(p)) continue;
    if (!existsSync(p)) throw new DataError(`data file ${p} does not exist`);
    // DuckDB reads a 0-byte CSV as one column named column0, which would blame the experiment's columns.
    if (statSync(p).size === 0) throw new DataError(`data file ${p} is empty (0 bytes)`);
  }
  const format = spec.format ?? formatOf(paths[0]!);
  const list = `[${paths.map(literal).join(', ')}]`;
  if (format === 'csv') return `read_csv(${list}, header = true)`;
  if (format === 'parquet') return `read_parquet(${list})`;
  // .jsonl/.ndjson are one object per line; a .json file may also be one array of objects.
  const lines = /\.(jsonl|ndjson)(\.(gz|zst))?$/i.test(paths[0]!);
  return `read_json(${list}, format = '${lines ? 'newline_delimited' : 'auto'}')`;
}

export interface Column {
  name: string;
  numeric: boolean;
}

/** What the analysis needs from an engine: its columns, a first non-numeric value, and the aggregation. */
export interface Engine {
  dialect: Dialect;
  source: string;
  /** CSV files count rows from the line after the header. */
  rowOffset: number;
  /** Absent for warehouses: their own errors name unknown columns and failed casts. */
  columns?(): Promise<Column[]>;
  firstNonNumeric?(
    column: string,
    unit: string,
  ): Promise<{ row: number; value: string; unit: string } | undefined>;
  query(sql: string): Promise<AggregateRow[]>;
  close(): Promise<void>;
}

const DUCKDB_NUMERIC =
  /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT|FLOAT|DOUBLE|REAL|BOOLEAN|DECIMAL.*)$/i;

export async function openDuckDb(spec: DataSpec, kind: 'file' | 'duckdb'): Promise<Engine> {
  const { DuckDBInstance } = await import('@duckdb/node-api');
  let path = ':memory:';
  let source: string;
  if (kind === 'duckdb') {
    path = spec.data.replace(/^duckdb:(\/\/)?/i, '');
    if (!isAbsolute(path)) path = join(spec.workspace, path);
    if (!existsSync(path)) throw new DataError(`DuckDB database ${path} does not exist`);
    if (!spec.table)
      throw new DataError('a DuckDB database needs the table input (a table name or a SELECT query)');
    source = tableSource(spec.table);
  } else {
    source = fileSource(spec);
  }
  // A memory limit with a spill directory keeps the per-unit grouping of the duplicate check from
  // growing with the number of units: DuckDB's aggregation goes out of core beyond it.
  const settings: Record<string, string> = { memory_limit: spec.memoryLimit ?? '512MB' };
  if (spec.tempDir) settings.temp_directory = spec.tempDir;
  if (kind === 'duckdb') settings.access_mode = 'READ_ONLY';
  const instance = await DuckDBInstance.create(path, settings);
  const connection = await instance.connect();
  const run = async (sql: string) =>
    (await connection.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  const format = kind === 'file' ? (spec.format ?? formatOf(spec.data.split(/[\n,]/)[0]!.trim())) : undefined;
  return {
    dialect: 'duckdb',
    source,
    rowOffset: format === 'csv' ? 1 : 0,
    columns: async () => {
      const rows = await run(`DESCRIBE SELECT * FROM ${source}`);
      return rows.map((r) => ({
        name: String(r.column_name),
        numeric: DUCKDB_NUMERIC.test(String(r.column_type)),
      }));
    },
    firstNonNumeric: async (column, unit) => {
      const c = quoteIdentifier('duckdb', column);
      const rows = await run(
        `SELECT rn, CAST(val AS VARCHAR) AS val, CAST(u AS VARCHAR) AS u FROM (SELECT row_number() OVER () AS rn, ${c} AS val, ${quoteIdentifier('duckdb', unit)} AS u FROM ${source}) WHERE val IS NOT NULL AND TRY_CAST(val AS DOUBLE) IS NULL ORDER BY rn LIMIT 1`,
      );
      const r = rows[0];
      return r ? { row: Number(r.rn), value: String(r.val), unit: String(r.u) } : undefined;
    },
    query: async (sql) => {
      // Row order does not matter to sums; dropping it saves memory (row numbers above need it kept).
      await connection.run('SET preserve_insertion_order = false');
      return run(sql);
    },
    close: async () => {
      connection.closeSync();
      instance.closeSync();
    },
  };
}

const PG_NUMERIC_OIDS = new Set([16, 20, 21, 23, 700, 701, 1700]);

export async function openPostgres(spec: DataSpec): Promise<Engine> {
  if (!spec.table)
    throw new DataError('a PostgreSQL source needs the table input (a table name or a SELECT query)');
  const { default: pg } = await import('pg');
  const client = new pg.Client({
    connectionString: spec.data,
    connectionTimeoutMillis: 15_000,
    statement_timeout: 30 * 60_000,
  });
  await client.connect();
  const source = tableSource(spec.table);
  return {
    dialect: 'postgres',
    source,
    rowOffset: 0,
    columns: async () => {
      const result = await client.query(`SELECT * FROM ${source} LIMIT 0`);
      return result.fields.map((f) => ({ name: f.name, numeric: PG_NUMERIC_OIDS.has(f.dataTypeID) }));
    },
    firstNonNumeric: async (column, unit) => {
      const c = quoteIdentifier('postgres', column);
      const result = await client.query(
        `SELECT rn, val, u FROM (SELECT row_number() OVER () AS rn, ${c}::text AS val, ${quoteIdentifier('postgres', unit)}::text AS u FROM ${source}) AS t WHERE val IS NOT NULL AND val !~ '^\\s*[-+]?([0-9]+\\.?[0-9]*|\\.[0-9]+)([eE][-+]?[0-9]+)?\\s*$' ORDER BY rn LIMIT 1`,
      );
      const r = result.rows[0] as { rn: string; val: string; u: string } | undefined;
      return r ? { row: Number(r.rn), value: r.val, unit: r.u } : undefined;
    },
    query: async (sql) => (await client.query(sql)).rows as AggregateRow[],
    close: () => client.end(),
  };
}

/** Checks that every column the experiment reads exists and holds numbers, naming the first bad value. */
export async function validateColumns(
  e: Experiment,
  engine: Engine,
  plan: QueryPlan = planQuery(e),
): Promise<void> {
  if (!engine.columns || !engine.firstNonNumeric) return;
  const columns = await engine.columns();
  const byName = new Map(columns.map((c) => [c.name, c]));
  const byLower = new Map(columns.map((c) => [c.name.toLowerCase(), c]));
  const find = (name: string) => byName.get(name) ?? byLower.get(name.toLowerCase());
  const listed = columns.map((c) => c.name).join(', ');
  const uses: Array<[string, string]> = [
    [e.unit, 'unit'],
    [e.variant, 'variant'],
  ];
  for (const m of e.metrics) {
    for (const [col, what] of [
      [m.column, 'column'],
      [m.numerator, 'numerator'],
      [m.denominator, 'denominator'],
      [m.pre, 'pre'],
    ] as const) {
      if (col) uses.push([col, `metric '${m.name}' ${what}`]);
    }
  }
  for (const [name, role] of uses) {
    if (!find(name))
      throw new DataError(`column '${name}' (${role}) is not in the data; the data has: ${listed}`);
  }
  for (const v of plan.values) {
    const column = find(v.column)!;
    if (column.numeric) continue;
    const bad = await engine.firstNonNumeric(column.name, find(e.unit)!.name);
    if (bad) {
      throw new DataError(
        `column '${column.name}' holds a non-numeric value ${JSON.stringify(bad.value)} at row ${bad.row}${engine.rowOffset ? ` (line ${bad.row + engine.rowOffset})` : ''}, unit ${JSON.stringify(bad.unit)}; metric columns must be numbers`,
      );
    }
  }
}

export interface Aggregation {
  sql: string;
  plan: QueryPlan;
  rows: AggregateRow[];
  /** From the separate duplicate check of per-user data. */
  duplicates?: Duplicates;
}

/**
 * Validates the columns and runs the aggregation query on an engine, then, for per-user data, the
 * duplicate check: a second scan of two columns, measured cheaper than grouping every metric by unit
 * in the first scan (bench/ab-10m.ts; figures in the action's README).
 */
export async function aggregate(e: Experiment, engine: Engine): Promise<Aggregation> {
  const plan = planQuery(e);
  await validateColumns(e, engine, plan);
  const sql = aggregationQuery(e, engine.source, engine.dialect, plan);
  const rows = await engine.query(sql);
  if (rows.length === 0)
    throw new DataError('the data has no rows (a header or schema only); nothing to evaluate');
  if (plan.perUnit || !e['check-duplicates']) return { sql, plan, rows };
  const check = duplicateQuery(e, engine.source, engine.dialect);
  return { sql: `${sql};\n\n${check}`, plan, rows, duplicates: readDuplicates(await engine.query(check)) };
}

export async function openEngine(spec: DataSpec): Promise<Engine> {
  const kind = sourceKind(spec.data);
  return kind === 'postgres' ? openPostgres(spec) : openDuckDb(spec, kind);
}
