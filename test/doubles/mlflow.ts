import { randomBytes } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { posix } from 'node:path';
import { listen, readBody } from './http-server';

/**
 * Test double of an MLflow 2.12 tracking server with proxied artifacts (`mlflow server
 * --serve-artifacts`), optionally behind the basic-auth app. It reproduces the exchanges recorded from a
 * real server in ../shared/fixtures/mlflow/contract.jsonl: status codes, Flask HTML error pages, proto
 * field omission, NaN handling, batch limits, param immutability, run_name rules, page tokens and the
 * plain-text 401/403 of the auth app. State lives in memory.
 */

// ---------- a JSON parser as lenient as Python's json module, keeping how numbers were written ----------

class Num {
  constructor(
    readonly raw: string,
    readonly value: number,
  ) {}
  get isFloat(): boolean {
    return /[.eE]|NaN|Infinity/.test(this.raw);
  }
}

type Json = null | boolean | string | Num | Json[] | { [key: string]: Json };

class ParseError extends Error {}

function parsePython(text: string): Json {
  let i = 0;
  const ws = () => {
    while (i < text.length && /\s/.test(text[i]!)) i++;
  };
  const value = (): Json => {
    ws();
    const c = text[i];
    if (c === '{') {
      i++;
      const obj: Record<string, Json> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        const key = value();
        if (typeof key !== 'string') throw new ParseError('key');
        ws();
        if (text[i++] !== ':') throw new ParseError(':');
        obj[key] = value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i++] === '}') return obj;
        throw new ParseError('}');
      }
    }
    if (c === '[') {
      i++;
      const arr: Json[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i++] === ']') return arr;
        throw new ParseError(']');
      }
    }
    if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
      if (i >= text.length) throw new ParseError('string');
      i++;
      return JSON.parse(text.slice(start, i)) as string;
    }
    for (const [word, result] of [
      ['true', true],
      ['false', false],
      ['null', null],
      ['NaN', new Num('NaN', Number.NaN)],
      ['Infinity', new Num('Infinity', Number.POSITIVE_INFINITY)],
      ['-Infinity', new Num('-Infinity', Number.NEGATIVE_INFINITY)],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return result;
      }
    }
    const m = /^-?\d+(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i));
    if (!m) throw new ParseError(`unexpected ${c}`);
    i += m[0].length;
    return new Num(m[0], Number(m[0]));
  };
  const result = value();
  ws();
  if (i !== text.length) throw new ParseError('trailing');
  return result;
}

function plain(value: Json): unknown {
  if (value instanceof Num) return value.value;
  if (Array.isArray(value)) return value.map(plain);
  if (value && typeof value === 'object')
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plain(v)]));
  return value;
}

function pyStr(text: string): string {
  const quote = text.includes("'") && !text.includes('"') ? '"' : "'";
  return `${quote}${text.replace(/\\/g, '\\\\').replace(new RegExp(quote, 'g'), `\\${quote}`).replace(/\n/g, '\\n')}${quote}`;
}

function pyRepr(value: Json | undefined): string {
  if (value === null || value === undefined) return 'None';
  if (value === true) return 'True';
  if (value === false) return 'False';
  if (typeof value === 'string') return pyStr(value);
  if (value instanceof Num) {
    if (!value.isFloat) return value.raw;
    const n = value.value;
    if (Number.isNaN(n)) return 'nan';
    if (!Number.isFinite(n)) return n > 0 ? 'inf' : '-inf';
    return Number.isInteger(n) && Math.abs(n) < 1e16 ? `${n}.0` : String(n);
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  return `{${Object.entries(value)
    .map(([k, v]) => `${pyStr(k)}: ${pyRepr(v)}`)
    .join(', ')}}`;
}

// ---------- state ----------

interface KV {
  key: string;
  value: string;
}
interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}
interface Experiment {
  id: string;
  name: string;
  artifactLocation: string;
  created: number;
  updated: number;
  tags: Map<string, string>;
}
interface RunRecord {
  runId: string;
  experimentId: string;
  runName: string;
  userId: string;
  status: string;
  startTime: number;
  endTime?: number;
  artifactUri: string;
  history: MetricPoint[];
  latest: Map<string, MetricPoint>;
  params: Map<string, string>;
  tags: Map<string, string>;
}
interface Version {
  name: string;
  version: number;
  created: number;
  updated: number;
  stage: string;
  description: string;
  source: string;
  runId: string;
  runLink: string;
  /** `model-versions/get` reads left before the version leaves PENDING_REGISTRATION. */
  pendingReads: number;
  tags: Map<string, string>;
}
interface RegisteredModel {
  name: string;
  created: number;
  updated: number;
  description?: string;
  tags: Map<string, string>;
  versions: Map<number, Version>;
  aliases: Map<string, number>;
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const invalid = (message: string) => new ApiError(400, 'INVALID_PARAMETER_VALUE', message);
const notFound = (message: string) => new ApiError(404, 'RESOURCE_DOES_NOT_EXIST', message);
const missing = (name: string) =>
  invalid(
    `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`,
  );

const HTML_404 =
  '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n';
const HTML_405 =
  '<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n';
const HTML_500 =
  '<!doctype html>\n<html lang=en>\n<title>500 Internal Server Error</title>\n<h1>Internal Server Error</h1>\n<p>The server encountered an internal error and was unable to complete your request. Either the server is overloaded or there is an error in the application.</p>\n';
const NOT_AUTHENTICATED =
  'You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html#authenticating-to-mlflow on how to authenticate.';
const STAGES = ['None', 'Staging', 'Production', 'Archived'];
const RUN_STATUSES = new Set(['RUNNING', 'SCHEDULED', 'FINISHED', 'FAILED', 'KILLED']);
const KEY_RE = /^[/\w.\- ]*$/;
const ADJECTIVES = [
  'able',
  'bold',
  'calm',
  'eager',
  'fancy',
  'gentle',
  'happy',
  'jolly',
  'keen',
  'lucky',
  'merry',
  'nimble',
];
const ANIMALS = [
  'ant',
  'bat',
  'cat',
  'doe',
  'eel',
  'fox',
  'gnu',
  'hen',
  'ibis',
  'jay',
  'koi',
  'lynx',
  'mole',
  'pug',
];
const DATA_DIR = '/srv/mlflow-double';

export interface MlflowDoubleOptions {
  /** Run the basic-auth app: users by name, `admin` is an admin. */
  users?: Record<string, { password: string; admin?: boolean }>;
  /** Answer every request with this status first, N times (to test retries): `{ status, times }`. */
  failFirst?: { status: number; times: number };
  /** Delay every answer by this long, to stand in for network latency in benchmarks. */
  delayMs?: number;
  /**
   * New versions stay PENDING_REGISTRATION for this many `model-versions/get` reads, as on servers that
   * copy the artifacts asynchronously (Databricks); MLflow 2.12 OSS answers READY at once (the default, 0).
   */
  pendingReads?: number;
  /**
   * Also serve Databricks' Unity Catalog alias endpoints, `/api/2.1/unity-catalog/models/{full_name}/aliases/{alias}`
   * (PUT `{version_num}`, GET, DELETE), for models named `catalog.schema.model`.
   */
  unityCatalog?: boolean;
  /**
   * Page `artifacts/list` this many entries at a time with `next_page_token`, as the proto allows and
   * Databricks does; MLflow 2.12 OSS answers every entry at once (the default).
   */
  artifactPageSize?: number;
  /**
   * Cut the body of this many artifact downloads in half, with a Content-Length that matches the cut body,
   * as a misbehaving proxy or object store would: only the listed `file_size` shows the loss.
   */
  truncateDownloads?: number;
}

export interface RecordedMlflowRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Buffer;
  status: number;
}

type Handler = (ctx: {
  query: URLSearchParams;
  body: Record<string, unknown>;
  raw: Json;
  method: string;
}) => unknown;

interface Route {
  methods: string[];
  handler: Handler;
  /** A body that is not JSON makes this endpoint crash (HTML 500) instead of being read as `{}`. */
  strictJson?: boolean;
  readOnly?: boolean;
}

export class MlflowDouble {
  readonly requests: RecordedMlflowRequest[] = [];
  readonly experiments = new Map<string, Experiment>();
  readonly runs = new Map<string, RunRecord>();
  readonly artifacts = new Map<string, Buffer>();
  readonly models = new Map<string, RegisteredModel>();
  readonly users = new Map<string, { id: number; password: string; admin: boolean }>();
  url = '';
  private nextExperiment = 1;
  private nextUser = 1;
  private lastTs = 0;
  private failuresLeft = 0;
  private truncationsLeft = 0;
  private closeServer?: () => Promise<void>;
  private readonly routes: Record<string, Route>;

  constructor(private readonly options: MlflowDoubleOptions = {}) {
    const now = this.now();
    this.experiments.set('0', {
      id: '0',
      name: 'Default',
      artifactLocation: 'mlflow-artifacts:/0',
      created: now,
      updated: now,
      tags: new Map(),
    });
    for (const [name, user] of Object.entries(options.users ?? {})) {
      this.users.set(name, { id: this.nextUser++, password: user.password, admin: user.admin ?? false });
    }
    this.failuresLeft = options.failFirst?.times ?? 0;
    this.truncationsLeft = options.truncateDownloads ?? 0;
    this.routes = this.buildRoutes();
  }

  get authEnabled(): boolean {
    return this.options.users !== undefined;
  }

  async start(): Promise<string> {
    const { url, close } = await listen((req, res) => this.handle(req, res));
    this.url = url;
    this.closeServer = close;
    return url;
  }

  async stop(): Promise<void> {
    await this.closeServer?.();
  }

  /** Requests to one endpoint, e.g. `runs/log-batch` or `mlflow-artifacts`. */
  requestsTo(fragment: string): RecordedMlflowRequest[] {
    return this.requests.filter((r) => r.path.includes(fragment));
  }

  private now(): number {
    this.lastTs = Math.max(Date.now(), this.lastTs + 1);
    return this.lastTs;
  }

  // ---------- HTTP ----------

  private send(
    res: ServerResponse,
    status: number,
    contentType: string,
    body: string | Buffer,
    headers: Record<string, string> = {},
  ) {
    res.writeHead(status, { 'content-type': contentType, ...headers });
    res.end(body);
    return status;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://double');
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    if (this.options.delayMs) await new Promise((r) => setTimeout(r, this.options.delayMs));
    const record: RecordedMlflowRequest = {
      method,
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: raw,
      status: 0,
    };
    this.requests.push(record);
    record.status = this.dispatch(req, res, url, method, raw);
  }

  private dispatch(req: IncomingMessage, res: ServerResponse, url: URL, method: string, raw: Buffer): number {
    const html = 'text/html; charset=utf-8';
    if (this.failuresLeft > 0 && url.pathname !== '/health') {
      this.failuresLeft--;
      return this.send(res, this.options.failFirst!.status, html, HTML_500);
    }
    const path = url.pathname;
    if (path === '/health' && method === 'GET') return this.send(res, 200, html, 'OK');
    let user: { admin: boolean } | undefined;
    if (this.authEnabled) {
      const match = /^Basic\s+(.+)$/i.exec(req.headers.authorization ?? '');
      const [name, ...rest] = match ? Buffer.from(match[1]!, 'base64').toString('utf8').split(':') : [];
      const found = name !== undefined ? this.users.get(name) : undefined;
      if (!found || found.password !== rest.join(':')) {
        return this.send(res, 401, html, NOT_AUTHENTICATED, { 'www-authenticate': 'Basic realm="mlflow"' });
      }
      user = found;
    }
    if (path === '/version' && method === 'GET') return this.send(res, 200, html, '2.12.2.dev0');

    const artifactPrefix = '/api/2.0/mlflow-artifacts/artifacts';
    if (path === artifactPrefix || path.startsWith(`${artifactPrefix}/`)) {
      const rel = decodeURIComponent(path.slice(artifactPrefix.length + 1));
      if (path === artifactPrefix) {
        if (method !== 'GET') return this.send(res, 405, html, HTML_405, { allow: 'GET, HEAD, OPTIONS' });
        return this.json(res, 200, this.listProxy(url.searchParams.get('path') ?? ''));
      }
      if (method === 'PUT') {
        if (user && !user.admin) return this.send(res, 403, html, 'Permission denied');
        this.artifacts.set(posix.normalize(rel), raw);
        return this.json(res, 200, {});
      }
      if (method === 'GET') return this.download(res, rel);
      return this.send(res, 405, html, HTML_405, { allow: 'DELETE, GET, HEAD, OPTIONS, PUT' });
    }

    const unity = /^\/api\/2\.1\/unity-catalog\/models\/([^/]+)\/aliases\/([^/]+)$/.exec(path);
    if (unity && this.options.unityCatalog) return this.unityAlias(res, req, method, unity, raw);

    const prefix = '/api/2.0/mlflow/';
    const route = path.startsWith(prefix) ? this.routes[path.slice(prefix.length)] : undefined;
    if (!route || (path.endsWith('users/create') && !this.authEnabled))
      return this.send(res, 404, html, HTML_404);
    if (!route.methods.includes(method)) {
      const allow = new Set([...route.methods, 'OPTIONS']);
      if (allow.has('GET')) allow.add('HEAD');
      return this.send(res, 405, html, HTML_405, { allow: [...allow].sort().join(', ') });
    }
    if (user && !user.admin && method !== 'GET' && !route.readOnly)
      return this.send(res, 403, html, 'Permission denied');

    let body: Record<string, unknown> = {};
    let parsedRaw: Json = {};
    if (method === 'POST' || method === 'PATCH') {
      const type = req.headers['content-type'];
      if (!type)
        return this.json(res, 400, {
          error_code: 'INVALID_PARAMETER_VALUE',
          message: 'Bad Request. Content-Type header is missing.',
        });
      if (type.split(';')[0]!.trim().toLowerCase() !== 'application/json') {
        return this.json(res, 400, {
          error_code: 'INVALID_PARAMETER_VALUE',
          message: "Bad Request. Content-Type must be one of ['application/json'].",
        });
      }
    }
    if (method !== 'GET') {
      const text = raw.toString('utf8');
      try {
        parsedRaw = text.trim() === '' ? {} : parsePython(text);
        if (typeof parsedRaw === 'string') parsedRaw = parsePython(parsedRaw);
      } catch {
        if (route.strictJson) return this.send(res, 500, html, HTML_500);
        parsedRaw = {};
      }
      if (Array.isArray(parsedRaw)) return this.send(res, 500, html, HTML_500);
      if (parsedRaw === null || typeof parsedRaw !== 'object' || parsedRaw instanceof Num) parsedRaw = {};
      body = plain(parsedRaw) as Record<string, unknown>;
    }
    try {
      const result = route.handler({ query: url.searchParams, body, raw: parsedRaw, method });
      return this.json(res, 200, result ?? {});
    } catch (error) {
      if (error instanceof ApiError)
        return this.json(res, error.status, { error_code: error.code, message: error.message });
      return this.send(res, 500, html, HTML_500);
    }
  }

  private json(res: ServerResponse, status: number, body: unknown): number {
    return this.send(
      res,
      status,
      'application/json',
      JSON.stringify(body, null, status === 200 ? 2 : undefined),
    );
  }

  // ---------- helpers ----------

  private param(
    ctx: { query: URLSearchParams; body: Record<string, unknown>; method: string },
    name: string,
  ): string | undefined {
    const value = ctx.method === 'GET' ? ctx.query.get(name) : ctx.body[name];
    if (value === undefined || value === null || value === '') return undefined;
    return String(value);
  }

  private required(ctx: Parameters<Handler>[0], name: string): string {
    const value = this.param(ctx, name);
    if (value === undefined) throw missing(name);
    return value;
  }

  private experimentJson(e: Experiment) {
    return {
      experiment_id: e.id,
      name: e.name,
      artifact_location: e.artifactLocation,
      lifecycle_stage: 'active',
      last_update_time: e.updated,
      creation_time: e.created,
      ...(e.tags.size ? { tags: kvs(e.tags) } : {}),
    };
  }

  private run(runId: string | undefined): RunRecord {
    const run = runId ? this.runs.get(runId) : undefined;
    if (!run) throw notFound(`Run with id=${runId} not found`);
    return run;
  }

  private runInfo(r: RunRecord) {
    return {
      run_uuid: r.runId,
      experiment_id: r.experimentId,
      run_name: r.runName,
      user_id: r.userId,
      status: r.status,
      start_time: r.startTime,
      ...(r.endTime !== undefined ? { end_time: r.endTime } : {}),
      artifact_uri: r.artifactUri,
      lifecycle_stage: 'active',
      run_id: r.runId,
    };
  }

  private runJson(r: RunRecord, withInputs: boolean) {
    const data: Record<string, unknown> = {};
    if (r.latest.size) data.metrics = [...r.latest.values()].map(metricJson);
    if (r.params.size) data.params = kvs(r.params);
    if (r.tags.size) data.tags = kvs(r.tags);
    return { info: this.runInfo(r), data, ...(withInputs ? { inputs: {} } : {}) };
  }

  private model(name: string | undefined): RegisteredModel {
    const model = name ? this.models.get(name) : undefined;
    if (!model) throw notFound(`Registered Model with name=${name} not found`);
    return model;
  }

  private version(name: string, versionText: string): Version {
    if (!/^-?\d+$/.test(versionText)) throw invalid(`Model version must be an integer, got '${versionText}'`);
    const version = this.models.get(name)?.versions.get(Number(versionText));
    if (!version) throw notFound(`Model Version (name=${name}, version=${versionText}) not found`);
    return version;
  }

  /**
   * The SQL store's `storage_location`: the source, except that a `models:/<name>/<version>` source is
   * resolved to that version's own location when the version is created.
   */
  private storageLocation(v: Version, depth = 0): string {
    const model = /^models:\/([^/]+)\/(\d+)$/.exec(v.source);
    if (!model || depth > 5) return v.source;
    return this.storageLocation(this.version(model[1]!, model[2]!), depth + 1);
  }

  private versionJson(v: Version, withAliases: boolean) {
    const aliases = withAliases
      ? [...(this.models.get(v.name)?.aliases.entries() ?? [])]
          .filter(([, n]) => n === v.version)
          .map(([a]) => a)
          .sort()
      : [];
    return {
      name: v.name,
      version: String(v.version),
      creation_timestamp: v.created,
      last_updated_timestamp: v.updated,
      current_stage: v.stage,
      description: v.description,
      source: v.source,
      run_id: v.runId,
      status: v.pendingReads > 0 ? 'PENDING_REGISTRATION' : 'READY',
      ...(v.tags.size ? { tags: kvs(v.tags) } : {}),
      run_link: v.runLink,
      ...(aliases.length ? { aliases } : {}),
    };
  }

  private latestVersions(m: RegisteredModel, stages?: string[]): Version[] {
    const wanted = stages?.length ? new Set(stages.map((s) => s.toLowerCase())) : undefined;
    const latest = new Map<string, Version>();
    for (const v of m.versions.values()) {
      if (wanted && !wanted.has(v.stage.toLowerCase())) continue;
      const current = latest.get(v.stage);
      if (!current || v.version > current.version) latest.set(v.stage, v);
    }
    return [...latest.values()].sort((a, b) => a.version - b.version);
  }

  private modelJson(m: RegisteredModel) {
    const latest = this.latestVersions(m);
    const aliases = [...m.aliases.entries()].sort(([a], [b]) => a.localeCompare(b));
    return {
      name: m.name,
      creation_timestamp: m.created,
      last_updated_timestamp: m.updated,
      ...(m.description !== undefined ? { description: m.description } : {}),
      ...(latest.length ? { latest_versions: latest.map((v) => this.versionJson(v, false)) } : {}),
      ...(m.tags.size ? { tags: kvs(m.tags) } : {}),
      ...(aliases.length
        ? { aliases: aliases.map(([alias, version]) => ({ alias, version: String(version) })) }
        : {}),
    };
  }

  private page<T>(items: T[], maxResults: number, token: string | undefined): { items: T[]; next?: string } {
    let offset = 0;
    if (token) {
      const clean = token.replace(/[^A-Za-z0-9+/=_-]/g, '');
      if (clean.length % 4 !== 0) throw invalid('Invalid page token, could not base64-decode');
      const decoded = Buffer.from(clean, 'base64').toString('utf8');
      try {
        offset = Number((JSON.parse(decoded) as { offset: number }).offset);
      } catch {
        throw invalid(`Invalid page token, decoded value=${decoded}`);
      }
      if (!Number.isInteger(offset) || offset < 0)
        throw invalid(`Invalid page token, parsed value=${decoded}`);
    }
    const slice = items.slice(offset, offset + maxResults);
    const end = offset + maxResults;
    return {
      items: slice,
      next: end < items.length ? Buffer.from(`{"offset": ${end}}`).toString('base64') : undefined,
    };
  }

  // ---------- endpoints ----------

  private buildRoutes(): Record<string, Route> {
    return {
      'experiments/create': { methods: ['POST'], handler: (c) => this.createExperiment(c) },
      'experiments/get': {
        methods: ['GET'],
        handler: (c) => {
          const id = this.required(c, 'experiment_id');
          const e = this.experiments.get(id);
          if (!e) throw notFound(`No Experiment with id=${id} exists`);
          return { experiment: this.experimentJson(e) };
        },
      },
      'experiments/get-by-name': {
        methods: ['GET'],
        handler: (c) => {
          const name = this.required(c, 'experiment_name');
          const e = [...this.experiments.values()].find((x) => x.name === name);
          if (!e) throw notFound(`Could not find experiment with name '${name}'`);
          return { experiment: this.experimentJson(e) };
        },
      },
      'runs/create': { methods: ['POST'], handler: (c) => this.createRun(c) },
      'runs/get': {
        methods: ['GET'],
        handler: (c) => ({ run: this.runJson(this.run(this.required(c, 'run_id')), true) }),
      },
      'runs/update': { methods: ['POST'], handler: (c) => this.updateRun(c) },
      'runs/log-batch': { methods: ['POST'], strictJson: true, handler: (c) => this.logBatch(c) },
      'runs/log-metric': {
        methods: ['POST'],
        handler: (c) => {
          const raw = c.raw as Record<string, Json>;
          const { run_id: _r, run_uuid: _u, ...metric } = raw;
          return this.logBatch({
            ...c,
            body: { run_id: c.body.run_id ?? c.body.run_uuid },
            raw: { run_id: raw.run_id ?? null, metrics: [metric] },
          });
        },
      },
      'runs/log-parameter': {
        methods: ['POST'],
        handler: (c) =>
          this.logBatch({
            ...c,
            raw: {
              run_id: c.raw && (c.raw as Record<string, Json>).run_id,
              params: [{ key: String(c.body.key), value: String(c.body.value) }],
            } as Json,
          }),
      },
      'runs/set-tag': {
        methods: ['POST'],
        handler: (c) =>
          this.logBatch({
            ...c,
            raw: {
              run_id: (c.raw as Record<string, Json>).run_id ?? null,
              tags: [{ key: String(c.body.key), value: String(c.body.value) }],
            } as Json,
          }),
      },
      'runs/search': { methods: ['POST'], readOnly: true, handler: (c) => this.searchRuns(c) },
      'metrics/get-history': {
        methods: ['GET'],
        handler: (c) => {
          const run = this.run(this.required(c, 'run_id'));
          const key = this.required(c, 'metric_key');
          const points = run.history.filter((p) => p.key === key).map(metricJson);
          return points.length ? { metrics: points } : {};
        },
      },
      'artifacts/list': {
        methods: ['GET'],
        handler: (c) => {
          const run = this.run(this.required(c, 'run_id'));
          const rel = (c.query.get('path') ?? '').replace(/^\/+|\/+$/g, '');
          const root = run.artifactUri.replace(/^mlflow-artifacts:\//, '');
          const entries = this.children(rel ? `${root}/${rel}` : root);
          const files = entries?.map((e) => ({ ...e, path: rel ? `${rel}/${e.path}` : e.path })) ?? [];
          const size = this.options.artifactPageSize;
          const { items, next } = size
            ? this.page(files, size, c.query.get('page_token') ?? undefined)
            : { items: files, next: undefined };
          return {
            root_uri: run.artifactUri,
            ...(items.length ? { files: items } : {}),
            ...(next ? { next_page_token: next } : {}),
          };
        },
      },
      'registered-models/create': { methods: ['POST'], handler: (c) => this.createModel(c) },
      'registered-models/get': {
        methods: ['GET'],
        handler: (c) => ({ registered_model: this.modelJson(this.model(this.required(c, 'name'))) }),
      },
      'registered-models/update': {
        methods: ['PATCH'],
        handler: (c) => {
          const m = this.model(this.required(c, 'name'));
          if (c.body.description !== undefined) m.description = String(c.body.description);
          m.updated = this.now();
          return { registered_model: this.modelJson(m) };
        },
      },
      'registered-models/delete': {
        methods: ['DELETE'],
        handler: (c) => {
          this.model(this.required(c, 'name'));
          this.models.delete(this.required(c, 'name'));
          return {};
        },
      },
      'registered-models/set-tag': {
        methods: ['POST'],
        handler: (c) => {
          const m = this.model(this.required(c, 'name'));
          m.tags.set(this.required(c, 'key'), String(c.body.value ?? ''));
          return {};
        },
      },
      'registered-models/search': { methods: ['GET'], handler: (c) => this.searchModels(c) },
      'registered-models/get-latest-versions': {
        methods: ['GET', 'POST'],
        readOnly: true,
        handler: (c) => {
          const m = this.model(this.required(c, 'name'));
          const stages =
            c.method === 'GET' ? c.query.getAll('stages') : ((c.body.stages as string[] | undefined) ?? []);
          const versions = this.latestVersions(m, stages).map((v) => this.versionJson(v, false));
          return versions.length ? { model_versions: versions } : {};
        },
      },
      'registered-models/alias': { methods: ['DELETE', 'GET', 'POST'], handler: (c) => this.alias(c) },
      'model-versions/create': { methods: ['POST'], handler: (c) => this.createVersion(c) },
      'model-versions/get': {
        methods: ['GET'],
        handler: (c) => {
          const v = this.version(this.required(c, 'name'), this.required(c, 'version'));
          const json = this.versionJson(v, true);
          if (v.pendingReads > 0) v.pendingReads--;
          return { model_version: json };
        },
      },
      'model-versions/update': {
        methods: ['PATCH'],
        handler: (c) => {
          const v = this.version(this.required(c, 'name'), this.required(c, 'version'));
          if (c.body.description !== undefined) v.description = String(c.body.description);
          v.updated = this.now();
          return { model_version: this.versionJson(v, false) };
        },
      },
      'model-versions/set-tag': {
        methods: ['POST'],
        handler: (c) => {
          const v = this.version(this.required(c, 'name'), this.required(c, 'version'));
          v.tags.set(this.required(c, 'key'), String(c.body.value ?? ''));
          v.updated = this.now();
          return {};
        },
      },
      'model-versions/search': { methods: ['GET'], handler: (c) => this.searchVersions(c) },
      'model-versions/get-download-uri': {
        methods: ['GET'],
        handler: (c) => ({
          artifact_uri: this.storageLocation(
            this.version(this.required(c, 'name'), this.required(c, 'version')),
          ),
        }),
      },
      'model-versions/transition-stage': { methods: ['POST'], handler: (c) => this.transition(c) },
      'users/create': {
        methods: ['POST'],
        handler: (c) => {
          const username = this.required(c, 'username');
          const password = this.required(c, 'password');
          if (this.users.has(username))
            throw new ApiError(400, 'RESOURCE_ALREADY_EXISTS', `User '${username}' already exists.`);
          const id = this.nextUser++;
          this.users.set(username, { id, password, admin: false });
          return {
            user: {
              experiment_permissions: [],
              id,
              is_admin: false,
              registered_model_permissions: [],
              username,
            },
          };
        },
      },
    };
  }

  private createExperiment(c: Parameters<Handler>[0]) {
    const name = this.required(c, 'name');
    if ([...this.experiments.values()].some((e) => e.name === name)) {
      const ts = this.now();
      throw new ApiError(
        400,
        'RESOURCE_ALREADY_EXISTS',
        `Experiment(name=${name}) already exists. Error: (raised as a result of Query-invoked autoflush; consider using a session.no_autoflush block if this flush is occurring prematurely)\n(sqlite3.IntegrityError) UNIQUE constraint failed: experiments.name\n[SQL: INSERT INTO experiments (name, artifact_location, lifecycle_stage, creation_time, last_update_time) VALUES (?, ?, ?, ?, ?)]\n[parameters: (${pyStr(name)}, '', 'active', ${ts}, ${ts})]\n(Background on this error at: https://sqlalche.me/e/14/gkpj)`,
      );
    }
    const id = String(this.nextExperiment++);
    const now = this.now();
    const tags = new Map<string, string>();
    for (const t of (c.body.tags as KV[] | undefined) ?? []) tags.set(t.key, String(t.value));
    this.experiments.set(id, {
      id,
      name,
      artifactLocation: `mlflow-artifacts:/${id}`,
      created: now,
      updated: now,
      tags,
    });
    return { experiment_id: id };
  }

  private createRun(c: Parameters<Handler>[0]) {
    const experimentId = this.param(c, 'experiment_id') ?? '0';
    const experiment = this.experiments.get(experimentId);
    if (!experiment) throw notFound(`No Experiment with id=${experimentId} exists`);
    const tags = new Map<string, string>();
    for (const t of (c.body.tags as KV[] | undefined) ?? []) tags.set(String(t.key), String(t.value ?? ''));
    const fieldName = this.param(c, 'run_name');
    const tagName = tags.get('mlflow.runName');
    if (fieldName && tagName !== undefined && fieldName !== tagName) {
      throw invalid(
        `Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='${fieldName}', mlflow.runName='${tagName}').`,
      );
    }
    const runName =
      fieldName ??
      tagName ??
      `${ADJECTIVES[randomBytes(1)[0]! % ADJECTIVES.length]}-${ANIMALS[randomBytes(1)[0]! % ANIMALS.length]}-${100 + (randomBytes(2).readUInt16BE() % 900)}`;
    if (tagName === undefined) tags.set('mlflow.runName', runName);
    const runId = randomBytes(16).toString('hex');
    const start = c.body.start_time;
    const run: RunRecord = {
      runId,
      experimentId,
      runName,
      userId: String(c.body.user_id ?? ''),
      status: 'RUNNING',
      startTime: start === undefined || start === null ? 0 : Number(start),
      artifactUri: `${experiment.artifactLocation}/${runId}/artifacts`,
      history: [],
      latest: new Map(),
      params: new Map(),
      tags,
    };
    this.runs.set(runId, run);
    const json = this.runJson(run, false);
    return { run: { info: json.info, data: json.data } };
  }

  private updateRun(c: Parameters<Handler>[0]) {
    const run = this.run(
      this.param(c, 'run_id') ??
        this.param(c, 'run_uuid') ??
        (() => {
          throw missing('run_id');
        })(),
    );
    const status = this.param(c, 'status');
    if (status && RUN_STATUSES.has(status)) run.status = status;
    if (c.body.end_time !== undefined && c.body.end_time !== null) run.endTime = Number(c.body.end_time);
    const name = this.param(c, 'run_name');
    if (name) {
      run.runName = name;
      run.tags.set('mlflow.runName', name);
    }
    return { run_info: this.runInfo(run) };
  }

  private logBatch(c: Parameters<Handler>[0]) {
    const raw = (c.raw ?? {}) as Record<string, Json>;
    const runId = typeof raw.run_id === 'string' && raw.run_id ? raw.run_id : undefined;
    if (!runId) throw missing('run_id');
    const metricsRaw = (Array.isArray(raw.metrics) ? raw.metrics : []) as Array<Record<string, Json>>;
    const params = ((Array.isArray(raw.params) ? raw.params : []) as Array<Record<string, Json>>).map(
      (p) => ({
        key: String(p.key ?? ''),
        value:
          p.value === null || p.value === undefined
            ? ''
            : String(p.value instanceof Num ? p.value.raw : p.value),
      }),
    );
    const tags = ((Array.isArray(raw.tags) ? raw.tags : []) as Array<Record<string, Json>>).map((t) => ({
      key: String(t.key ?? ''),
      value:
        t.value === null || t.value === undefined
          ? ''
          : String(t.value instanceof Num ? t.value.raw : t.value),
    }));
    if (
      metricsRaw.some(
        (m) =>
          m.key === undefined ||
          m.key === null ||
          m.value === null ||
          m.value === undefined ||
          m.timestamp === undefined ||
          m.timestamp === null,
      )
    ) {
      throw invalid(
        `Invalid value ${pyRepr(metricsRaw as Json)} for parameter 'metrics' supplied. Hint: Value was of type 'list'. See the API docs for more information about request parameters.`,
      );
    }
    const limit = (count: number, max: number, what: string) => {
      if (count > max) {
        throw invalid(
          `A batch logging request can contain at most ${max} ${what}. Got ${count} ${what}. Please split up ${what} across multiple requests and try again.`,
        );
      }
    };
    limit(metricsRaw.length, 1000, 'metrics');
    limit(params.length, 100, 'params');
    limit(tags.length, 100, 'tags');
    limit(metricsRaw.length + params.length + tags.length, 1000, 'metrics, params, and tags');
    const run = this.run(runId);
    const checkKey = (kind: 'Param' | 'Tag' | 'Metric', noun: string, key: string) => {
      if (!KEY_RE.test(key) || key.split('/').includes('..')) {
        throw invalid(
          `Invalid ${noun} name: '${key}'. Names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), and slashes (/).`,
        );
      }
      if (key.length > 250)
        throw invalid(
          `${kind} key '${key.slice(0, 250)}' had length ${key.length}, which exceeded length limit of 250`,
        );
    };
    for (const m of metricsRaw) checkKey('Metric', 'metric', String(m.key));
    for (const p of params) checkKey('Param', 'parameter', p.key);
    for (const t of tags) checkKey('Tag', 'tag', t.key);
    const keys = params.map((p) => p.key);
    const dups = [...new Set(keys.filter((k, i) => keys.indexOf(k) !== i))];
    if (dups.length) {
      throw invalid(
        `Duplicate parameter keys have been submitted: [${dups.map(pyStr).join(', ')}]. Please ensure the request contains only one param value per param key.`,
      );
    }
    const changed = params
      .map((p) => ({ key: p.key, old: run.params.get(p.key), value: p.value.slice(0, 6000) }))
      .filter((p) => p.old !== undefined && p.old !== p.value);
    if (changed.length) {
      const list = changed
        .map((p) => `{'key': ${pyStr(p.key)}, 'old_value': ${pyStr(p.old!)}, 'new_value': ${pyStr(p.value)}}`)
        .join(', ');
      throw invalid(
        `Changing param values is not allowed. Params were already logged='[${list}]' for run ID='${run.runId}'.`,
      );
    }
    for (const m of metricsRaw) {
      const point = toMetric(m);
      run.history.push(point);
      const current = run.latest.get(point.key);
      if (
        !current ||
        point.step > current.step ||
        (point.step === current.step && point.timestamp >= current.timestamp)
      ) {
        run.latest.set(point.key, point);
      }
    }
    for (const p of params) run.params.set(p.key, p.value.slice(0, 6000));
    for (const t of tags) run.tags.set(t.key, t.value.slice(0, 5000));
    return {};
  }

  private searchRuns(c: Parameters<Handler>[0]) {
    const ids = ((c.body.experiment_ids as unknown[]) ?? []).map(String);
    let runs = [...this.runs.values()].filter((r) => ids.includes(r.experimentId));
    const filter = typeof c.body.filter === 'string' ? c.body.filter.trim() : '';
    if (filter) {
      const clauses = filter.split(/\s+and\s+/i).map(parseRunClause);
      runs = runs.filter((r) => clauses.every((clause) => clause(r)));
    }
    const orderBy = ((c.body.order_by as string[] | undefined) ?? []).map((o) => {
      const m = /^\s*(metrics|params|tags|attributes|attribute)?\.?`?([\w.\- ]+?)`?\s*(ASC|DESC)?\s*$/i.exec(
        o,
      );
      if (!m) throw invalid(`Invalid order_by clause '${o}'.`);
      return {
        entity: (m[1] ?? 'attributes').toLowerCase(),
        key: m[2]!,
        desc: (m[3] ?? 'ASC').toUpperCase() === 'DESC',
      };
    });
    runs.sort((a, b) => {
      for (const o of orderBy) {
        const va = runValue(a, o.entity, o.key);
        const vb = runValue(b, o.entity, o.key);
        if (va === vb) continue;
        if (va === undefined) return 1;
        if (vb === undefined) return -1;
        return (va < vb ? -1 : 1) * (o.desc ? -1 : 1);
      }
      return b.startTime - a.startTime || a.runId.localeCompare(b.runId);
    });
    const max = Number(c.body.max_results ?? 1000);
    const { items, next } = this.page(runs, max, c.body.page_token as string | undefined);
    return {
      ...(items.length ? { runs: items.map((r) => this.runJson(r, true)) } : {}),
      ...(next ? { next_page_token: next } : {}),
    };
  }

  private createModel(c: Parameters<Handler>[0]) {
    const name = this.required(c, 'name');
    const ts = this.now();
    if (this.models.has(name)) {
      throw new ApiError(
        400,
        'RESOURCE_ALREADY_EXISTS',
        `Registered Model (name=${name}) already exists. Error: (sqlite3.IntegrityError) UNIQUE constraint failed: registered_models.name\n[SQL: INSERT INTO registered_models (name, creation_time, last_updated_time, description) VALUES (?, ?, ?, ?)]\n[parameters: (${pyStr(name)}, ${ts}, ${ts}, ${pyStr(String(c.body.description ?? ''))})]\n(Background on this error at: https://sqlalche.me/e/14/gkpj)`,
      );
    }
    const tags = new Map<string, string>();
    for (const t of (c.body.tags as KV[] | undefined) ?? []) tags.set(t.key, String(t.value));
    const model: RegisteredModel = {
      name,
      created: ts,
      updated: ts,
      description: c.body.description === undefined ? undefined : String(c.body.description),
      tags,
      versions: new Map(),
      aliases: new Map(),
    };
    this.models.set(name, model);
    return { registered_model: this.modelJson(model) };
  }

  private createVersion(c: Parameters<Handler>[0]) {
    const model = this.model(this.required(c, 'name'));
    const number = Math.max(0, ...model.versions.keys()) + 1;
    const ts = this.now();
    const tags = new Map<string, string>();
    for (const t of (c.body.tags as KV[] | undefined) ?? []) tags.set(t.key, String(t.value));
    const version: Version = {
      name: model.name,
      version: number,
      created: ts,
      updated: ts,
      stage: 'None',
      description: String(c.body.description ?? ''),
      source: String(c.body.source ?? ''),
      runId: String(c.body.run_id ?? ''),
      runLink: String(c.body.run_link ?? ''),
      pendingReads: this.options.pendingReads ?? 0,
      tags,
    };
    model.versions.set(number, version);
    model.updated = ts;
    return { model_version: this.versionJson(version, false) };
  }

  private alias(c: Parameters<Handler>[0]) {
    const name = this.required(c, 'name');
    const alias = this.required(c, 'alias');
    if (c.method === 'GET') {
      const number = this.models.get(name)?.aliases.get(alias);
      if (number === undefined) throw invalid(`Registered model alias ${alias} not found.`);
      return { model_version: this.versionJson(this.version(name, String(number)), true) };
    }
    if (c.method === 'DELETE') {
      this.models.get(name)?.aliases.delete(alias);
      return {};
    }
    if (alias.toLowerCase() === 'latest')
      throw invalid("'latest' alias name (case insensitive) is reserved.");
    if (/^v\d+$/i.test(alias)) throw invalid(`Version alias name '${alias}' is reserved.`);
    const version = this.version(name, this.required(c, 'version'));
    this.model(name).aliases.set(alias, version.version);
    return {};
  }

  /** Databricks answers errors as `{error_code, message}` JSON too; a missing alias is 404 there. */
  private unityAlias(
    res: ServerResponse,
    req: IncomingMessage,
    method: string,
    match: RegExpExecArray,
    raw: Buffer,
  ): number {
    const name = decodeURIComponent(match[1]!);
    const alias = decodeURIComponent(match[2]!);
    const model = this.models.get(name);
    const fail = (status: number, code: string, message: string) =>
      this.json(res, status, { error_code: code, message });
    if (!model) return fail(404, 'RESOURCE_DOES_NOT_EXIST', `Registered model '${name}' does not exist.`);
    const aliasesOf = (n: number) =>
      [...model.aliases.entries()]
        .filter(([, v]) => v === n)
        .map(([a]) => ({ alias_name: a, version_num: n }));
    if (method === 'GET') {
      const number = model.aliases.get(alias);
      const v = number === undefined ? undefined : model.versions.get(number);
      if (!v) return fail(404, 'RESOURCE_DOES_NOT_EXIST', `Alias '${alias}' does not exist.`);
      return this.json(res, 200, {
        model_name: name,
        version: v.version,
        source: v.source,
        run_id: v.runId,
        status: 'READY',
        aliases: aliasesOf(v.version),
      });
    }
    if (method === 'DELETE') {
      if (!model.aliases.delete(alias))
        return fail(404, 'RESOURCE_DOES_NOT_EXIST', `Alias '${alias}' does not exist.`);
      return this.json(res, 200, {});
    }
    if (method === 'PUT') {
      if (!/^application\/json/i.test(req.headers['content-type'] ?? ''))
        return fail(400, 'INVALID_PARAMETER_VALUE', 'Request body must be JSON.');
      let body: { version_num?: unknown };
      try {
        body = JSON.parse(raw.toString('utf8')) as { version_num?: unknown };
      } catch {
        return fail(400, 'MALFORMED_REQUEST', 'Could not parse request body.');
      }
      const number = Number(body.version_num);
      if (!Number.isInteger(number) || !model.versions.has(number))
        return fail(
          404,
          'RESOURCE_DOES_NOT_EXIST',
          `Model version ${String(body.version_num)} does not exist.`,
        );
      model.aliases.set(alias, number);
      return this.json(res, 200, { alias_name: alias, version_num: number });
    }
    return fail(405, 'BAD_REQUEST', `Method ${method} is not allowed.`);
  }

  private transition(c: Parameters<Handler>[0]) {
    const version = this.version(this.required(c, 'name'), this.required(c, 'version'));
    const requested = this.required(c, 'stage');
    const stage = STAGES.find((s) => s.toLowerCase() === requested.toLowerCase());
    if (!stage)
      throw invalid(
        `Invalid Model Version stage: ${requested}. Value must be one of None, Staging, Production, Archived.`,
      );
    const ts = this.now();
    if (c.body.archive_existing_versions === true && (stage === 'Staging' || stage === 'Production')) {
      for (const other of this.model(version.name).versions.values()) {
        if (other !== version && other.stage === stage) {
          other.stage = 'Archived';
          other.updated = ts;
        }
      }
    }
    version.stage = stage;
    version.updated = ts;
    return { model_version: this.versionJson(version, true) };
  }

  private searchVersions(c: Parameters<Handler>[0]) {
    const filter = (c.query.get('filter') ?? '').trim();
    const predicates: Array<(v: Version) => boolean> = [];
    if (filter) {
      for (const clause of filter.split(/\s+AND\s+/i)) {
        const m = /^(name|run_id|tags\.(?:`([^`]+)`|([\w.]+)))\s*(=|!=)\s*(?:'([^']*)'|"([^"]*)")$/.exec(
          clause.trim(),
        );
        if (!m) {
          const tokens = clause.match(/`[^`]*`|'[^']*'|"[^"]*"|[\w.]+|[<>=!]+/g) ?? [clause];
          throw invalid(`Invalid clause(s) in filter string: ${tokens.join(', ')}`);
        }
        const value = m[5] ?? m[6] ?? '';
        const negate = m[4] === '!=';
        const tag = m[2] ?? m[3];
        const get = (v: Version) =>
          m[1] === 'name' ? v.name : m[1] === 'run_id' ? v.runId : v.tags.get(tag!);
        predicates.push((v) => (get(v) === value) !== negate);
      }
    }
    let versions = [...this.models.values()]
      .flatMap((m) => [...m.versions.values()])
      .filter((v) => predicates.every((p) => p(v)));
    const order = c.query.getAll('order_by');
    if (order.some((o) => /^version_number\s+ASC$/i.test(o.trim())))
      versions.sort((a, b) => a.version - b.version);
    else if (order.some((o) => /^version_number(\s+DESC)?$/i.test(o.trim())))
      versions.sort((a, b) => b.version - a.version);
    else
      versions = versions.sort(
        (a, b) => b.updated - a.updated || a.name.localeCompare(b.name) || b.version - a.version,
      );
    const { items, next } = this.page(
      versions,
      Number(c.query.get('max_results') ?? 10000),
      c.query.get('page_token') ?? undefined,
    );
    return {
      ...(items.length ? { model_versions: items.map((v) => this.versionJson(v, false)) } : {}),
      ...(next ? { next_page_token: next } : {}),
    };
  }

  private searchModels(c: Parameters<Handler>[0]) {
    const filter = (c.query.get('filter') ?? '').trim();
    let models = [...this.models.values()];
    if (filter) {
      const m = /^name\s*(=|!=|LIKE|ILIKE)\s*(?:'([^']*)'|"([^"]*)")$/i.exec(filter);
      if (!m) throw invalid(`Invalid filter string: ${filter}`);
      const value = m[2] ?? m[3] ?? '';
      const op = m[1]!.toUpperCase();
      const like = new RegExp(
        `^${value
          .split('%')
          .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/_/g, '.'))
          .join('.*')}$`,
        op === 'ILIKE' ? 'i' : '',
      );
      models = models.filter((x) =>
        op === '=' ? x.name === value : op === '!=' ? x.name !== value : like.test(x.name),
      );
    }
    models.sort((a, b) => a.name.localeCompare(b.name));
    const { items, next } = this.page(
      models,
      Number(c.query.get('max_results') ?? 100),
      c.query.get('page_token') ?? undefined,
    );
    return {
      ...(items.length ? { registered_models: items.map((x) => this.modelJson(x)) } : {}),
      ...(next ? { next_page_token: next } : {}),
    };
  }

  // ---------- artifacts ----------

  /** Entries directly under `dir` (relative to the artifact store root), or undefined if it is not a directory. */
  private children(dir: string): Array<{ path: string; is_dir: boolean; file_size?: number }> | undefined {
    const prefix = dir ? `${dir.replace(/\/+$/, '')}/` : '';
    const entries = new Map<string, { path: string; is_dir: boolean; file_size?: number }>();
    for (const [path, data] of this.artifacts) {
      if (!path.startsWith(prefix)) continue;
      const rest = path.slice(prefix.length);
      const [first, ...more] = rest.split('/');
      if (!first) continue;
      if (more.length) entries.set(first, { path: first, is_dir: true });
      else
        entries.set(first, {
          path: first,
          is_dir: false,
          ...(data.length ? { file_size: data.length } : {}),
        });
    }
    if (entries.size === 0) return undefined;
    return [...entries.values()].sort((a, b) => (a.path < b.path ? -1 : 1));
  }

  private listProxy(path: string) {
    const files = this.children(path.replace(/^\/+|\/+$/g, ''));
    return files ? { files } : {};
  }

  private download(res: ServerResponse, rel: string): number {
    const data = this.artifacts.get(posix.normalize(rel));
    if (!data) {
      return this.json(res, 500, {
        error_code: 'INTERNAL_ERROR',
        message: `The following failures occurred while downloading one or more artifacts from ${DATA_DIR}/artifacts:\n##### File ${rel} #####\n[Errno 2] No such file or directory: '${DATA_DIR}/artifacts/${rel}'`,
      });
    }
    const base = posix.basename(rel);
    const ext = posix.extname(base).toLowerCase();
    const binary: Record<string, string> = {
      '.bin': 'application/octet-stream',
      '.pkl': 'application/octet-stream',
      '.png': 'image/png',
      '.jpg': 'image/jpeg',
      '.gif': 'image/gif',
      '.gz': 'application/gzip',
      '.zip': 'application/zip',
      '.html': 'text/html',
      '.svg': 'image/svg+xml',
    };
    let body = data;
    if (this.truncationsLeft > 0 && data.length > 1) {
      this.truncationsLeft--;
      body = data.subarray(0, Math.floor(data.length / 2));
    }
    return this.send(res, 200, binary[ext] ?? 'text/plain', body, {
      'content-disposition': `attachment; filename=${base}`,
    });
  }
}

// ---------- module helpers ----------

function kvs(map: Map<string, string>): KV[] {
  return [...map.entries()].map(([key, value]) => ({ key, value }));
}

function metricJson(m: MetricPoint) {
  let value: number | string = m.value;
  if (Number.isNaN(m.value)) value = 'NaN';
  return { key: m.key, value, timestamp: m.timestamp, step: m.step };
}

/** How the server stores one metric: protobuf-JSON strings decoded, anything else it cannot read as 0/0/0. */
function toMetric(m: Record<string, Json>): MetricPoint {
  const key = String(m.key);
  const garbage = { key, value: 0, timestamp: 0, step: 0 };
  const v = m.value;
  let value: number;
  if (v instanceof Num) {
    if (!Number.isFinite(v.value)) return garbage;
    value = v.value;
  } else if (typeof v === 'string') {
    if (v === 'NaN') value = Number.NaN;
    else if (v === 'Infinity') value = Number.MAX_VALUE;
    else if (v === '-Infinity') value = -Number.MAX_VALUE;
    else if (/^\s*-?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$/.test(v) && Number.isFinite(Number(v)))
      value = Number(v);
    else return garbage;
  } else return garbage;
  const ts = m.timestamp instanceof Num ? m.timestamp.value : Number(m.timestamp);
  const step =
    m.step === undefined || m.step === null ? 0 : m.step instanceof Num ? m.step.value : Number(m.step);
  return { key, value, timestamp: ts, step };
}

function runValue(r: RunRecord, entity: string, key: string): string | number | undefined {
  if (entity === 'metrics') return r.latest.get(key)?.value;
  if (entity === 'params') return r.params.get(key);
  if (entity === 'tags') return r.tags.get(key);
  const attrs: Record<string, string | number | undefined> = {
    run_name: r.runName,
    status: r.status,
    start_time: r.startTime,
    end_time: r.endTime,
    run_id: r.runId,
    user_id: r.userId,
  };
  return attrs[key];
}

function parseRunClause(clause: string): (r: RunRecord) => boolean {
  const m =
    /^(?:(metrics|metric|params|param|parameters|tags|tag|attributes|attribute|attr|run)\.)?(`[^`]+`|"[^"]+"|[\w.]+)\s*([<>=!~]+|(?:NOT\s+)?I?LIKE|IN)\s*(.+)$/i.exec(
      clause.trim(),
    );
  if (!m) throw invalid(`Invalid filter '${clause}'. Could not be parsed.`);
  const entityRaw = (m[1] ?? 'attributes').toLowerCase();
  const entity = entityRaw.startsWith('metric')
    ? 'metrics'
    : entityRaw.startsWith('param')
      ? 'params'
      : entityRaw.startsWith('tag')
        ? 'tags'
        : 'attributes';
  const key = m[2]!.replace(/^[`"]|[`"]$/g, '');
  const op = m[3]!.toUpperCase();
  const rawValue = m[4]!.trim();
  const numeric = entity === 'metrics' || (entity === 'attributes' && /_time$/.test(key));
  const allowed = numeric ? ['!=', '<', '<=', '=', '>', '>='] : ['!=', '=', 'ILIKE', 'LIKE'];
  if (!allowed.includes(op)) {
    throw invalid(`Invalid comparator '${m[3]}' not one of '{${allowed.map((a) => `'${a}'`).join(', ')}}`);
  }
  const value: string | number = numeric ? Number(rawValue) : rawValue.replace(/^'(.*)'$|^"(.*)"$/, '$1$2');
  return (r) => {
    const actual = runValue(r, entity, key);
    if (actual === undefined) return false;
    switch (op) {
      case '=':
        return actual === value;
      case '!=':
        return actual !== value;
      case '<':
        return actual < value;
      case '<=':
        return actual <= value;
      case '>':
        return actual > value;
      case '>=':
        return actual >= value;
      default: {
        const re = new RegExp(
          `^${String(value)
            .split('%')
            .map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
            .join('.*')}$`,
          op === 'ILIKE' ? 'i' : '',
        );
        return re.test(String(actual));
      }
    }
  };
}
