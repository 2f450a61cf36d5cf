import type { Experiment, Metric } from './config';

export type Dialect = 'duckdb' | 'postgres' | 'bigquery' | 'snowflake' | 'databricks' | 'trino';
export const DIALECTS: Dialect[] = ['duckdb', 'postgres', 'bigquery', 'snowflake', 'databricks', 'trino'];

/** The variant label of units seen in more than one variant (GrowthBook's convention). */
export const MULTIPLE = '__multiple__';

interface DialectSpec {
  quote(name: string): string;
  double: string;
  text: string;
}

const doubleQuoted = (name: string) => `"${name.replace(/"/g, '""')}"`;
const backticked = (name: string) => `\`${name.replace(/`/g, '\\`')}\``;

const SPECS: Record<Dialect, DialectSpec> = {
  duckdb: { quote: doubleQuoted, double: 'DOUBLE', text: 'VARCHAR' },
  postgres: { quote: doubleQuoted, double: 'DOUBLE PRECISION', text: 'TEXT' },
  bigquery: { quote: backticked, double: 'FLOAT64', text: 'STRING' },
  // Snowflake folds unquoted names to upper case, so simple names stay bare and match either way.
  snowflake: {
    quote: (n) => (/^[A-Za-z_][A-Za-z0-9_$]*$/.test(n) ? n : doubleQuoted(n)),
    double: 'DOUBLE',
    text: 'VARCHAR',
  },
  databricks: { quote: backticked, double: 'DOUBLE', text: 'STRING' },
  trino: { quote: doubleQuoted, double: 'DOUBLE', text: 'VARCHAR' },
};

export function quoteIdentifier(dialect: Dialect, name: string): string {
  return SPECS[dialect].quote(name);
}

/** One value aggregated per unit: a column, added up (or, for proportions, its maximum) over a unit's rows. */
export interface ValueColumn {
  column: string;
  perUnit: 'sum' | 'max';
}

/** Which value columns a metric reads, by index into `QueryPlan.values`. */
export interface MetricColumns {
  value?: number;
  pre?: number;
  numerator?: number;
  denominator?: number;
  preNumerator?: number;
  preDenominator?: number;
}

export interface QueryPlan {
  values: ValueColumn[];
  /** Pairs (i ≤ j) whose product sums the query returns. */
  products: Array<[number, number]>;
  metrics: Record<string, MetricColumns>;
  /** Whether the query adds up each unit's rows first (per-event data); it then finds duplicates itself. */
  perUnit: boolean;
}

export function planQuery(e: Experiment): QueryPlan {
  const values: ValueColumn[] = [];
  const products = new Map<string, [number, number]>();
  const index = (column: string, perUnit: 'sum' | 'max') => {
    let i = values.findIndex((v) => v.column === column && v.perUnit === perUnit);
    if (i < 0) i = values.push({ column, perUnit }) - 1;
    return i;
  };
  const product = (i: number, j: number) => {
    const pair: [number, number] = i <= j ? [i, j] : [j, i];
    products.set(pair.join(','), pair);
  };
  const metrics: Record<string, MetricColumns> = {};
  for (const m of e.metrics) metrics[m.name] = planMetric(m, index, product);
  return {
    values,
    products: [...products.values()],
    metrics,
    perUnit: e.granularity === 'event',
  };
}

function planMetric(
  m: Metric,
  index: (column: string, perUnit: 'sum' | 'max') => number,
  product: (i: number, j: number) => void,
): MetricColumns {
  if (m.kind === 'ratio') {
    const numerator = index(m.numerator!, 'sum');
    const denominator = index(m.denominator!, 'sum');
    product(numerator, numerator);
    product(denominator, denominator);
    product(numerator, denominator);
    if (!m['pre-numerator'] || !m['pre-denominator']) return { numerator, denominator };
    const preNumerator = index(m['pre-numerator'], 'sum');
    const preDenominator = index(m['pre-denominator'], 'sum');
    for (const i of [numerator, denominator, preNumerator, preDenominator]) {
      product(i, preNumerator);
      product(i, preDenominator);
    }
    return { numerator, denominator, preNumerator, preDenominator };
  }
  const value = index(m.column!, m.kind === 'proportion' ? 'max' : 'sum');
  product(value, value);
  if (!m.pre) return { value };
  const pre = index(m.pre, m.kind === 'proportion' ? 'max' : 'sum');
  product(pre, pre);
  product(value, pre);
  return { value, pre };
}

/** `FROM` text for a table name as the user wrote it, or a query wrapped as a subquery. */
export function tableSource(table: string): string {
  const text = table.trim().replace(/;\s*$/, '');
  return /^(select|with)\b/i.test(text) ? `(${text}) AS src` : text;
}

/**
 * The one aggregation query: per variant, the number of units and rows, the sum of every value
 * column and the sums of the products the metrics need (squares, numerator·denominator, value·pre).
 * Per-event data (or the duplicate check) first adds up each unit's rows; units seen in more than
 * one variant land in the `__multiple__` row.
 */
export function aggregationQuery(
  e: Experiment,
  source: string,
  dialect: Dialect,
  plan = planQuery(e),
): string {
  const { quote, double, text } = SPECS[dialect];
  const x = (i: number) => `x${i}`;
  const casts = plan.values.map((v, i) => `COALESCE(CAST(${quote(v.column)} AS ${double}), 0) AS ${x(i)}`);
  const variant = `CAST(${quote(e.variant)} AS ${text})`;
  const sums = [
    ...plan.values.map((_, i) => `SUM(${x(i)}) AS s${i}`),
    ...plan.products.map(([i, j]) => `SUM(${x(i)} * ${x(j)}) AS p${i}_${j}`),
  ];
  if (!plan.perUnit) {
    return [
      'SELECT v AS variant, COUNT(*) AS units, COUNT(*) AS n_rows,',
      `  ${sums.join(',\n  ')}`,
      `FROM (SELECT ${variant} AS v, ${casts.join(', ')} FROM ${source}) AS r`,
      'GROUP BY v',
    ].join('\n');
  }
  const perUnit = plan.values.map((v, i) => `${v.perUnit === 'max' ? 'MAX' : 'SUM'}(${x(i)}) AS ${x(i)}`);
  return [
    'SELECT variant, COUNT(*) AS units, SUM(n_rows) AS n_rows,',
    `  ${sums.join(',\n  ')}`,
    'FROM (',
    `  SELECT CASE WHEN MIN(v) = MAX(v) THEN MIN(v) WHEN MIN(v) IS NULL THEN NULL ELSE '${MULTIPLE}' END AS variant,`,
    `    COUNT(*) AS n_rows, ${perUnit.join(', ')}`,
    `  FROM (SELECT ${quote(e.unit)} AS u, ${variant} AS v, ${casts.join(', ')} FROM ${source}) AS r`,
    '  GROUP BY u',
    ') AS units',
    'GROUP BY variant',
  ].join('\n');
}

/** A row of the aggregation query, with numbers as the driver returned them (number, bigint or string). */
export type AggregateRow = Record<string, unknown>;

export interface VariantSums {
  variant: string | null;
  units: number;
  rows: number;
  sums: number[];
  products: Map<string, number>;
}

function numberOf(value: unknown, what: string): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'bigint' ? Number(value) : Number(value);
  if (!Number.isFinite(n))
    throw new Error(`the aggregation query returned a non-numeric ${what}: ${String(value)}`);
  return n;
}

/** Reads the aggregation rows whatever the engine did to the case of the column names. */
export function readAggregates(rows: AggregateRow[], plan: QueryPlan): VariantSums[] {
  return readRows(rows, plan).sort((a, b) => (a.variant ?? '\uffff').localeCompare(b.variant ?? '\uffff'));
}

function readRows(rows: AggregateRow[], plan: QueryPlan): VariantSums[] {
  return rows.map((raw) => {
    const row: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(raw)) row[k.toLowerCase()] = v;
    const variant = row.variant === null || row.variant === undefined ? null : String(row.variant);
    const products = new Map<string, number>();
    for (const [i, j] of plan.products) products.set(`${i},${j}`, numberOf(row[`p${i}_${j}`], `p${i}_${j}`));
    return {
      variant,
      units: numberOf(row.units, 'units'),
      rows: numberOf(row.n_rows, 'n_rows'),
      sums: plan.values.map((_, i) => numberOf(row[`s${i}`], `s${i}`)),
      products,
    };
  });
}

/**
 * The duplicate check of per-user data, a second and lighter query (two columns; on DuckDB a 64-bit
 * hash of the unit as the key): how many units appear in more than one variant, and how many have
 * more than one row at all.
 */
export function duplicateQuery(e: Experiment, source: string, dialect: Dialect): string {
  const { quote, text } = SPECS[dialect];
  const unit = dialect === 'duckdb' ? `hash(${quote(e.unit)})` : quote(e.unit);
  return [
    'SELECT COALESCE(SUM(CASE WHEN lo <> hi THEN 1 ELSE 0 END), 0) AS multi_variant,',
    '  COALESCE(SUM(CASE WHEN n_rows > 1 THEN 1 ELSE 0 END), 0) AS repeated',
    'FROM (',
    '  SELECT u, MIN(v) AS lo, MAX(v) AS hi, COUNT(*) AS n_rows',
    `  FROM (SELECT ${unit} AS u, CAST(${quote(e.variant)} AS ${text}) AS v FROM ${source}) AS r`,
    '  GROUP BY u',
    ') AS t',
  ].join('\n');
}

export interface Duplicates {
  /** Units seen in more than one variant. */
  multiVariant: number;
  /** Units with more than one row (in one variant or several). */
  repeated: number;
}

export function readDuplicates(rows: AggregateRow[]): Duplicates {
  const row: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(rows[0] ?? {})) row[k.toLowerCase()] = v;
  return {
    multiVariant: numberOf(row.multi_variant, 'multi_variant'),
    repeated: numberOf(row.repeated, 'repeated'),
  };
}
