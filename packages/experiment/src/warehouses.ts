import { HttpClient } from '@mlops-actions/kit';
import type { Engine } from './sources';
import { DataError, type DataSpec, openEngine as openLocal } from './sources';
import { type AggregateRow, type Dialect, tableSource } from './sql';

/**
 * Pushdown to warehouses over their published REST APIs: the aggregation query runs there, in its
 * dialect, and only the few rows per variant come back.
 *   trino://user[:password]@host:port[/catalog[/schema]]   (trino+https:// for TLS) — client protocol v1
 *   databricks://<workspace-host>/<warehouse-id>            — SQL Statement Execution API 2.0
 *   bigquery://<project>[?location=EU]                      — jobs.query / jobs.getQueryResults
 *   snowflake://<account>[/<database>[/<schema>]][?warehouse=&role=&token_type=KEYPAIR_JWT] — SQL API v2
 * `?endpoint=<url>` overrides the API's base URL (private endpoints).
 */

export type WarehouseKind = 'trino' | 'databricks' | 'bigquery' | 'snowflake';

export function warehouseKind(data: string): WarehouseKind | undefined {
  const scheme = /^([a-z+]+):\/\//i.exec(data)?.[1]?.toLowerCase();
  if (scheme === 'trino' || scheme === 'trino+https') return 'trino';
  if (scheme === 'databricks' || scheme === 'bigquery' || scheme === 'snowflake') return scheme;
  return undefined;
}

export interface WarehouseSpec {
  data: string;
  table?: string;
  token?: string;
  env?: NodeJS.ProcessEnv;
  log?: (line: string) => void;
  /** Polling pause; tests shorten it. */
  pollMs?: number;
  signal?: AbortSignal;
}

const TOKEN_VARIABLES: Record<Exclude<WarehouseKind, 'trino'>, string> = {
  databricks: 'DATABRICKS_TOKEN',
  bigquery: 'GOOGLE_OAUTH_ACCESS_TOKEN',
  snowflake: 'SNOWFLAKE_TOKEN',
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function rowsOf(columns: string[], data: unknown[][]): AggregateRow[] {
  return data.map((values) => Object.fromEntries(columns.map((c, i) => [c, values[i] ?? null])));
}

function tokenFor(kind: Exclude<WarehouseKind, 'trino'>, spec: WarehouseSpec): string {
  const token = spec.token || spec.env?.[TOKEN_VARIABLES[kind]];
  if (!token)
    throw new DataError(`${kind} needs a token: the warehouse-token input or ${TOKEN_VARIABLES[kind]}`);
  return token;
}

export function openWarehouse(spec: WarehouseSpec): Engine {
  const kind = warehouseKind(spec.data);
  if (!kind) throw new DataError(`not a warehouse connection string: ${spec.data}`);
  if (!spec.table) throw new DataError(`${kind} needs the table input (a table name or a SELECT query)`);
  const url = new URL(spec.data.replace(/^trino\+https:/i, 'https:').replace(/^[a-z]+:/i, 'https:'));
  const endpoint = url.searchParams.get('endpoint') ?? undefined;
  const pollMs = spec.pollMs ?? 1000;
  const source = tableSource(spec.table);
  const query = {
    trino: () => trinoQuery(spec, url, endpoint, pollMs),
    databricks: () => databricksQuery(spec, url, endpoint, pollMs),
    bigquery: () => bigqueryQuery(spec, url, endpoint),
    snowflake: () => snowflakeQuery(spec, url, endpoint, pollMs),
  }[kind]();
  const dialect: Dialect = kind;
  return { dialect, source, rowOffset: 0, query, close: async () => undefined };
}

type Run = (sql: string) => Promise<AggregateRow[]>;

function trinoQuery(spec: WarehouseSpec, url: URL, endpoint: string | undefined, pollMs: number): Run {
  const tls = /^trino\+https:/i.test(spec.data);
  const base = endpoint ?? `${tls ? 'https' : 'http'}://${url.host}`;
  const [catalog, schema] = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const user = decodeURIComponent(url.username) || 'mlops-actions';
  const headers: Record<string, string> = { 'x-trino-user': user, 'x-trino-source': 'mlops-actions' };
  if (catalog) headers['x-trino-catalog'] = catalog;
  if (schema) headers['x-trino-schema'] = schema;
  if (url.password)
    headers.authorization = `Basic ${Buffer.from(`${user}:${decodeURIComponent(url.password)}`).toString('base64')}`;
  const http = new HttpClient({ name: `Trino at ${base}`, baseUrl: base, headers, log: spec.log });
  interface Page {
    id?: string;
    nextUri?: string;
    columns?: Array<{ name: string }>;
    data?: unknown[][];
    error?: { message?: string; errorName?: string };
  }
  return async (sql) => {
    let page = await http.json<Page>('POST', 'v1/statement', {
      body: sql,
      headers: { 'content-type': 'text/plain' },
      signal: spec.signal,
    });
    let columns: string[] | undefined;
    const data: unknown[][] = [];
    for (;;) {
      if (page.error)
        throw new DataError(`Trino: ${page.error.errorName ?? 'error'}: ${page.error.message ?? ''}`);
      if (page.columns) columns = page.columns.map((c) => c.name);
      if (page.data) data.push(...page.data);
      if (!page.nextUri) break;
      // Trino answers at once while the query runs; pace the polling only when a page came back empty.
      if (!page.data) await sleep(Math.min(pollMs, 100));
      page = await http.json<Page>('GET', page.nextUri, { signal: spec.signal });
    }
    return rowsOf(columns ?? [], data);
  };
}

function databricksQuery(spec: WarehouseSpec, url: URL, endpoint: string | undefined, pollMs: number): Run {
  const warehouseId = url.pathname.split('/').filter(Boolean)[0];
  if (!warehouseId)
    throw new DataError('databricks://<workspace-host>/<warehouse-id>: the warehouse id is missing');
  const base = endpoint ?? `https://${url.host}`;
  const token = tokenFor('databricks', spec);
  const http = new HttpClient({
    name: `Databricks SQL at ${base}`,
    baseUrl: base,
    headers: { authorization: `Bearer ${token}` },
    log: spec.log,
  });
  interface Statement {
    statement_id: string;
    status: { state: string; error?: { message?: string; error_code?: string } };
    manifest?: { schema?: { columns?: Array<{ name: string }> }; total_chunk_count?: number };
    result?: { data_array?: unknown[][]; next_chunk_internal_link?: string };
  }
  return async (sql) => {
    let statement = await http.json<Statement>('POST', 'api/2.0/sql/statements', {
      json: {
        statement: sql,
        warehouse_id: warehouseId,
        wait_timeout: '30s',
        on_wait_timeout: 'CONTINUE',
        disposition: 'INLINE',
        format: 'JSON_ARRAY',
      },
      timeoutMs: 60_000,
      signal: spec.signal,
    });
    while (statement.status.state === 'PENDING' || statement.status.state === 'RUNNING') {
      await sleep(pollMs);
      statement = await http.json<Statement>('GET', `api/2.0/sql/statements/${statement.statement_id}`, {
        signal: spec.signal,
      });
    }
    if (statement.status.state !== 'SUCCEEDED') {
      const error = statement.status.error;
      throw new DataError(
        `Databricks SQL: statement ${statement.status.state}${error ? `: ${error.error_code ?? ''} ${error.message ?? ''}`.trimEnd() : ''}`,
      );
    }
    const columns = statement.manifest?.schema?.columns?.map((c) => c.name) ?? [];
    const data = [...(statement.result?.data_array ?? [])];
    let next = statement.result?.next_chunk_internal_link;
    while (next) {
      const chunk = await http.json<{ data_array?: unknown[][]; next_chunk_internal_link?: string }>(
        'GET',
        next,
        { signal: spec.signal },
      );
      data.push(...(chunk.data_array ?? []));
      next = chunk.next_chunk_internal_link;
    }
    return rowsOf(columns, data);
  };
}

function bigqueryQuery(spec: WarehouseSpec, url: URL, endpoint: string | undefined): Run {
  const project = url.host;
  const location = url.searchParams.get('location') ?? undefined;
  const base = endpoint ?? 'https://bigquery.googleapis.com';
  const token = tokenFor('bigquery', spec);
  const http = new HttpClient({
    name: `BigQuery (${project})`,
    baseUrl: base,
    headers: { authorization: `Bearer ${token}` },
    log: spec.log,
  });
  interface QueryResponse {
    jobComplete?: boolean;
    jobReference?: { jobId: string; location?: string };
    schema?: { fields?: Array<{ name: string }> };
    rows?: Array<{ f: Array<{ v: unknown }> }>;
    pageToken?: string;
    errors?: Array<{ message?: string }>;
  }
  const path = `bigquery/v2/projects/${encodeURIComponent(project)}`;
  return async (sql) => {
    let response = await http.json<QueryResponse>('POST', `${path}/queries`, {
      json: { query: sql, useLegacySql: false, timeoutMs: 60_000, ...(location ? { location } : {}) },
      timeoutMs: 90_000,
      signal: spec.signal,
    });
    const rows: unknown[][] = [];
    for (;;) {
      if (response.errors?.length)
        throw new DataError(`BigQuery: ${response.errors.map((e) => e.message).join('; ')}`);
      if (response.jobComplete) rows.push(...(response.rows ?? []).map((r) => r.f.map((cell) => cell.v)));
      if (response.jobComplete && !response.pageToken) break;
      const job = response.jobReference!;
      const next = await http.json<QueryResponse>('GET', `${path}/queries/${encodeURIComponent(job.jobId)}`, {
        query: {
          timeoutMs: 60_000,
          location: job.location ?? location,
          pageToken: response.jobComplete ? response.pageToken : undefined,
        },
        timeoutMs: 90_000,
        signal: spec.signal,
      });
      response = { ...next, jobReference: job, schema: next.schema ?? response.schema };
    }
    return rowsOf(response.schema?.fields?.map((f) => f.name) ?? [], rows);
  };
}

function snowflakeQuery(spec: WarehouseSpec, url: URL, endpoint: string | undefined, pollMs: number): Run {
  const account = url.host;
  const [database, schema] = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
  const base = endpoint ?? `https://${account}.snowflakecomputing.com`;
  const token = tokenFor('snowflake', spec);
  const tokenType = url.searchParams.get('token_type') ?? 'OAUTH';
  const http = new HttpClient({
    name: `Snowflake (${account})`,
    baseUrl: base,
    headers: {
      authorization: `Bearer ${token}`,
      'x-snowflake-authorization-token-type': tokenType,
      'user-agent': 'mlops-actions',
    },
    log: spec.log,
  });
  interface Result {
    statementHandle?: string;
    message?: string;
    code?: string;
    resultSetMetaData?: { rowType?: Array<{ name: string }>; partitionInfo?: unknown[] };
    data?: unknown[][];
  }
  const context = {
    ...(database ? { database } : {}),
    ...(schema ? { schema } : {}),
    ...(url.searchParams.get('warehouse') ? { warehouse: url.searchParams.get('warehouse') } : {}),
    ...(url.searchParams.get('role') ? { role: url.searchParams.get('role') } : {}),
  };
  return async (sql) => {
    let response = await http.request('POST', 'api/v2/statements', {
      json: { statement: sql, timeout: 3600, ...context },
      headers: { accept: 'application/json' },
      accept: [202, 422],
      signal: spec.signal,
    });
    let body = (await response.json()) as Result;
    while (response.status === 202) {
      await sleep(pollMs);
      response = await http.request('GET', `api/v2/statements/${body.statementHandle}`, {
        accept: [202, 422],
        headers: { accept: 'application/json' },
        signal: spec.signal,
      });
      body = (await response.json()) as Result;
    }
    if (response.status === 422)
      throw new DataError(`Snowflake: ${body.code ?? ''} ${body.message ?? 'statement failed'}`.trim());
    const data = [...(body.data ?? [])];
    const partitions = body.resultSetMetaData?.partitionInfo?.length ?? 1;
    for (let partition = 1; partition < partitions; partition++) {
      const page = await http.json<Result>('GET', `api/v2/statements/${body.statementHandle}`, {
        query: { partition },
        signal: spec.signal,
      });
      data.push(...(page.data ?? []));
    }
    return rowsOf(body.resultSetMetaData?.rowType?.map((c) => c.name) ?? [], data);
  };
}

/** Files, DuckDB or PostgreSQL locally; BigQuery, Snowflake, Databricks SQL or Trino by pushdown. */
export async function openAnyEngine(spec: WarehouseSpec & Omit<DataSpec, 'data' | 'table'>): Promise<Engine> {
  if (warehouseKind(spec.data)) return openWarehouse(spec);
  return openLocal(spec);
}
