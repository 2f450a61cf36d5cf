import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, readBody, sendJson } from './http-server';

/**
 * Test double of four warehouse query APIs, following their published request and response shapes,
 * that runs each statement on an embedded DuckDB holding the test's tables (dialect spellings DuckDB
 * lacks are mapped first: backtick quoting, FLOAT64). Every API answers "still running" once, so the
 * clients' polling is exercised. With `pageSize`, results come back in pages of that many rows, each
 * API's own way, so the clients' paging is exercised too:
 *   Trino client protocol v1: POST /v1/statement, then GET nextUri until none is left.
 *   Databricks SQL Statement Execution API 2.0: POST/GET /api/2.0/sql/statements[/{id}], JSON_ARRAY inline.
 *   BigQuery v2: POST /bigquery/v2/projects/{p}/queries, GET …/queries/{jobId} (jobs.getQueryResults).
 *   Snowflake SQL API v2: POST /api/v2/statements (202 while running), GET /api/v2/statements/{handle}.
 */

export interface Recorded {
  api: string;
  method: string;
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
}

type Runner = (sql: string) => Promise<{ columns: string[]; rows: unknown[][] }>;

type Outcome = { ok: true; columns: string[]; rows: unknown[][] } | { ok: false; message: string };

function toDuckDb(sql: string): string {
  return sql.replace(/`([^`]*)`/g, '"$1"').replace(/\bFLOAT64\b/g, 'DOUBLE');
}

const text = (v: unknown) =>
  v === null || v === undefined ? null : typeof v === 'bigint' ? v.toString() : String(v);
const plain = (v: unknown) => (typeof v === 'bigint' ? Number(v) : v);

export class WarehouseDouble {
  readonly requests: Recorded[] = [];
  readonly token = 'warehouse-test-token';
  url = '';
  private close?: () => Promise<void>;
  private next = 1;
  private readonly pending = new Map<string, { sql: string; polled: number; outcome?: Outcome }>();

  /** `pageSize`: rows per page (Trino data pages, BigQuery pageToken pages, Snowflake partitions, Databricks chunks). */
  constructor(
    private readonly run: Runner,
    private readonly options: { pageSize?: number } = {},
  ) {}

  /** The statement's result, run once however many pages are asked for. */
  private async outcome(id: string): Promise<Outcome> {
    const query = this.pending.get(id)!;
    query.outcome ??= await this.execute(query.sql);
    return query.outcome;
  }

  /** Rows split into pages of pageSize (one page, possibly empty, without it). */
  private pages(rows: unknown[][]): unknown[][][] {
    const size = this.options.pageSize ?? Math.max(rows.length, 1);
    const pages: unknown[][][] = [];
    for (let start = 0; start < rows.length; start += size) pages.push(rows.slice(start, start + size));
    return pages.length > 0 ? pages : [[]];
  }

  async start(): Promise<string> {
    const server = await listen((req, res) => this.handle(req, res));
    this.url = server.url;
    this.close = server.close;
    return this.url;
  }

  async stop(): Promise<void> {
    await this.close?.();
  }

  private async execute(sql: string) {
    try {
      return { ok: true as const, ...(await this.run(toDuckDb(sql))) };
    } catch (error) {
      return { ok: false as const, message: (error as Error).message.split('\n')[0]! };
    }
  }

  private authorized(req: IncomingMessage): boolean {
    return req.headers.authorization === `Bearer ${this.token}`;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', this.url);
    const raw = await readBody(req);
    const isJson = String(req.headers['content-type'] ?? '').includes('json');
    const body = raw.length ? (isJson ? JSON.parse(raw.toString()) : raw.toString()) : undefined;
    const api = url.pathname.startsWith('/v1/statement')
      ? 'trino'
      : url.pathname.startsWith('/api/2.0/sql')
        ? 'databricks'
        : url.pathname.startsWith('/bigquery/')
          ? 'bigquery'
          : 'snowflake';
    this.requests.push({
      api,
      method: req.method ?? '',
      path: url.pathname + url.search,
      headers: req.headers,
      body,
    });
    if (api === 'trino') return this.trino(req, res, url, body as string);
    if (!this.authorized(req)) {
      if (api === 'bigquery')
        return sendJson(res, 401, {
          error: {
            code: 401,
            message: 'Request had invalid authentication credentials.',
            status: 'UNAUTHENTICATED',
          },
        });
      if (api === 'databricks')
        return sendJson(res, 401, { error_code: 'UNAUTHENTICATED', message: 'Invalid access token.' });
      return sendJson(res, 401, { code: '390303', message: 'Invalid OAuth access token.' });
    }
    if (api === 'databricks') return this.databricks(req, res, url, body as Record<string, unknown>);
    if (api === 'bigquery') return this.bigquery(req, res, url, body as Record<string, unknown>);
    return this.snowflake(req, res, url, body as Record<string, unknown>);
  }

  private id(): string {
    return `q${this.next++}`;
  }

  private async trino(req: IncomingMessage, res: ServerResponse, url: URL, sql: string) {
    if (!req.headers['x-trino-user']) {
      res.writeHead(400, { 'content-type': 'text/plain' });
      res.end('User must be set');
      return;
    }
    if (req.method === 'POST') {
      const id = this.id();
      this.pending.set(id, { sql, polled: 0 });
      return sendJson(res, 200, {
        id,
        infoUri: `${this.url}/ui/query.html?${id}`,
        nextUri: `${this.url}/v1/statement/queued/${id}/1`,
        stats: { state: 'QUEUED' },
      });
    }
    const id = url.pathname.split('/')[4]!;
    if (url.pathname.includes('/queued/')) {
      return sendJson(res, 200, {
        id,
        nextUri: `${this.url}/v1/statement/executing/${id}/1`,
        stats: { state: 'RUNNING' },
      });
    }
    const result = await this.outcome(id);
    if (!result.ok)
      return sendJson(res, 200, {
        id,
        error: { message: result.message, errorName: 'SYNTAX_ERROR', errorCode: 1 },
        stats: { state: 'FAILED' },
      });
    // The token in nextUri counts the pages: each GET answers one page and points at the next.
    const pages = this.pages(result.rows);
    const token = Number(url.pathname.split('/')[5]);
    const last = token >= pages.length;
    return sendJson(res, 200, {
      id,
      ...(last ? {} : { nextUri: `${this.url}/v1/statement/executing/${id}/${token + 1}` }),
      columns: result.columns.map((name) => ({ name, type: 'varchar' })),
      data: pages[token - 1]!.map((r) => r.map(plain)),
      stats: { state: last ? 'FINISHED' : 'RUNNING' },
    });
  }

  private async databricks(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Record<string, unknown>,
  ) {
    if (req.method === 'POST') {
      if (!body?.warehouse_id)
        return sendJson(res, 400, {
          error_code: 'INVALID_PARAMETER_VALUE',
          message: 'warehouse_id is required',
        });
      const id = this.id();
      this.pending.set(id, { sql: String(body.statement), polled: 0 });
      return sendJson(res, 200, { statement_id: id, status: { state: 'PENDING' } });
    }
    // GET /api/2.0/sql/statements/{id} or, for later chunks, …/{id}/result/chunks/{chunk_index}.
    const [, , , , , id, , , index] = url.pathname.split('/') as string[];
    const result = await this.outcome(id!);
    if (!result.ok)
      return sendJson(res, 200, {
        statement_id: id,
        status: { state: 'FAILED', error: { error_code: 'BAD_REQUEST', message: result.message } },
      });
    const pages = this.pages(result.rows);
    const chunk = (i: number) => {
      const rowOffset = pages.slice(0, i).reduce((n, p) => n + p.length, 0);
      return {
        chunk_index: i,
        row_offset: rowOffset,
        row_count: pages[i]!.length,
        data_array: pages[i]!.map((r) => r.map(text)),
        ...(i + 1 < pages.length
          ? {
              next_chunk_index: i + 1,
              next_chunk_internal_link: `/api/2.0/sql/statements/${id}/result/chunks/${i + 1}`,
            }
          : {}),
      };
    };
    if (index !== undefined) return sendJson(res, 200, chunk(Number(index)));
    return sendJson(res, 200, {
      statement_id: id,
      status: { state: 'SUCCEEDED' },
      manifest: {
        format: 'JSON_ARRAY',
        schema: {
          column_count: result.columns.length,
          columns: result.columns.map((name, position) => ({ name, position, type_name: 'STRING' })),
        },
        total_chunk_count: pages.length,
        chunks: pages.map((_, i) => {
          const { data_array: _data, next_chunk_index: _n, next_chunk_internal_link: _l, ...meta } = chunk(i);
          return meta;
        }),
        total_row_count: result.rows.length,
      },
      result: chunk(0),
    });
  }

  private async bigquery(req: IncomingMessage, res: ServerResponse, url: URL, body: Record<string, unknown>) {
    const project = url.pathname.split('/')[4]!;
    if (req.method === 'POST') {
      if (body?.useLegacySql !== false)
        return sendJson(res, 400, {
          error: { code: 400, message: 'legacy SQL', status: 'INVALID_ARGUMENT' },
        });
      const jobId = `job_${this.id()}`;
      this.pending.set(jobId, { sql: String(body.query), polled: 0 });
      return sendJson(res, 200, {
        kind: 'bigquery#queryResponse',
        jobReference: { projectId: project, jobId, location: 'US' },
        jobComplete: false,
      });
    }
    const jobId = url.pathname.split('/').pop()!;
    const result = await this.outcome(jobId);
    if (!result.ok)
      return sendJson(res, 400, {
        error: { code: 400, message: result.message, status: 'INVALID_ARGUMENT' },
      });
    // pageToken is opaque to the client; here it is the page number, base64-encoded.
    const pages = this.pages(result.rows);
    const token = url.searchParams.get('pageToken');
    const page = token ? Number(Buffer.from(token, 'base64url').toString()) : 0;
    if (!(page >= 0 && page < pages.length))
      return sendJson(res, 400, {
        error: { code: 400, message: `Invalid page token: ${token}`, status: 'INVALID_ARGUMENT' },
      });
    return sendJson(res, 200, {
      kind: 'bigquery#getQueryResultsResponse',
      jobReference: { projectId: project, jobId, location: 'US' },
      jobComplete: true,
      schema: { fields: result.columns.map((name) => ({ name, type: 'STRING', mode: 'NULLABLE' })) },
      rows: pages[page]!.map((r) => ({ f: r.map((v) => ({ v: text(v) })) })),
      totalRows: String(result.rows.length),
      ...(page + 1 < pages.length ? { pageToken: Buffer.from(String(page + 1)).toString('base64url') } : {}),
    });
  }

  private async snowflake(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    body: Record<string, unknown>,
  ) {
    if (req.method === 'POST') {
      const handle = `01b0-${this.id()}`;
      this.pending.set(handle, { sql: String(body.statement), polled: 0 });
      return sendJson(res, 202, {
        code: '333334',
        message:
          'Asynchronous execution in progress. Use provided query id to perform query monitoring and management.',
        statementHandle: handle,
        statementStatusUrl: `/api/v2/statements/${handle}`,
      });
    }
    const handle = url.pathname.split('/').pop()!;
    const result = await this.outcome(handle);
    if (!result.ok)
      return sendJson(res, 422, {
        code: '002003',
        message: result.message,
        sqlState: '42S02',
        statementHandle: handle,
      });
    const pages = this.pages(result.rows);
    const partition = Number(url.searchParams.get('partition') ?? 0);
    // A later partition's answer carries only its data; the metadata came with partition 0.
    if (partition > 0) return sendJson(res, 200, { data: pages[partition]!.map((r) => r.map(text)) });
    return sendJson(res, 200, {
      // Snowflake folds unquoted aliases to upper case.
      resultSetMetaData: {
        numRows: result.rows.length,
        format: 'jsonv2',
        rowType: result.columns.map((name) => ({ name: name.toUpperCase(), type: 'text' })),
        partitionInfo: pages.map((p) => ({
          rowCount: p.length,
          uncompressedSize: JSON.stringify(p.map((r) => r.map(text))).length,
        })),
      },
      data: pages[0]!.map((r) => r.map(text)),
      code: '090001',
      statementHandle: handle,
      message: 'Statement executed successfully.',
    });
  }
}
