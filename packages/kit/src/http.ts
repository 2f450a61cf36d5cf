import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import type { ReadableStream as NodeWebStream } from 'node:stream/web';
import { ActionError, oneLine } from './errors';
import { type ChunkReader, isChunkReader } from './reader';
import { redactUrl } from './secrets';

/**
 * A Node stream or a chunk reader is sent as the socket drains (see `sendStream`, `sendChunks`); anything
 * else goes through fetch.
 */
type BodyInit = NonNullable<RequestInit['body']> | Readable | ChunkReader;

export type Query = Record<string, string | number | boolean | undefined | Array<string | number>>;

export interface RequestOptions {
  query?: Query;
  headers?: Record<string, string>;
  /** Sent as JSON with `Content-Type: application/json`. */
  json?: unknown;
  /** A raw body; give a function for a stream so a retry can open it again. */
  body?: BodyInit | (() => BodyInit);
  /** Statuses the caller handles itself instead of getting an HttpError (2xx always pass). */
  accept?: number[];
  retry?: boolean;
  signal?: AbortSignal;
  timeoutMs?: number;
}

export interface HttpClientOptions {
  /** Named in errors so the reader knows which remote or server failed, e.g. `MLflow at https://…`. */
  name?: string;
  baseUrl?: string;
  headers?: Record<string, string>;
  /** Time to wait for response headers, per attempt. */
  timeoutMs?: number;
  retries?: number;
  /** Statuses retried besides 408, 429 and 5xx, e.g. 409 from an API with optimistic locking. */
  retryStatuses?: number[];
  /** The wait a server asks for in a header of its own (a rate-limit reset time); Retry-After comes first. */
  retryDelay?: (response: Response) => number | undefined;
  minDelayMs?: number;
  maxDelayMs?: number;
  log?: (line: string) => void;
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export class HttpError extends ActionError {
  override name = 'HttpError';
  constructor(
    message: string,
    readonly status: number,
    readonly url: string,
    readonly body: string,
  ) {
    super(message);
  }

  /** The parsed JSON body, when the server sent JSON. */
  get json(): unknown {
    try {
      return JSON.parse(this.body);
    } catch {
      return undefined;
    }
  }
}

/** A network failure that persisted through every retry. */
export class NetworkError extends ActionError {
  override name = 'NetworkError';
}

const RETRYABLE_STATUS = new Set([408, 429, 500, 502, 503, 504]);

function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status) || (status >= 500 && status !== 501);
}

/** `Retry-After` as seconds or an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | null, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(date - now, 0);
}

function describeBody(text: string): string {
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const message = parsed.message ?? parsed.error ?? parsed.detail;
    const code = parsed.error_code ?? parsed.code;
    if (typeof message === 'string') return oneLine(code ? `${code}: ${message}` : message);
  } catch {
    // Not JSON: an HTML or text error page; show its text.
  }
  return oneLine(text.replace(/<[^>]*>/g, ' ')).slice(0, 300);
}

function causeOf(error: unknown): string {
  const err = error as { name?: string; message?: string; cause?: { code?: string; message?: string } };
  if (err?.name === 'TimeoutError') return 'timed out';
  return err?.cause?.code ?? err?.cause?.message ?? err?.message ?? String(error);
}

/**
 * One HTTP client for every remote: timeouts, retries with exponential backoff and jitter on network
 * errors, 408, 429 (honouring Retry-After) and 5xx, and errors that name the server without credentials.
 */
export class HttpClient {
  readonly name: string;
  private readonly options: HttpClientOptions;

  constructor(options: HttpClientOptions = {}) {
    this.options = options;
    this.name = options.name ?? (options.baseUrl ? redactUrl(options.baseUrl) : 'HTTP');
  }

  url(path: string, query?: Query): URL {
    const base = this.options.baseUrl;
    const url = base
      ? new URL(path.replace(/^\//, ''), base.endsWith('/') ? base : `${base}/`)
      : new URL(path);
    for (const [key, value] of Object.entries(query ?? {})) {
      if (value === undefined) continue;
      for (const item of Array.isArray(value) ? value : [value]) url.searchParams.append(key, String(item));
    }
    return url;
  }

  async request(method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const url = this.url(path, options.query);
    const headers: Record<string, string> = { ...this.options.headers, ...options.headers };
    // fetch refuses URLs with credentials; `https://user:pass@host` means basic auth, as curl reads it.
    if (url.username || url.password) {
      const hasAuthorization = Object.keys(headers).some((key) => key.toLowerCase() === 'authorization');
      if (!hasAuthorization)
        headers.authorization = basicAuth(decodeURIComponent(url.username), decodeURIComponent(url.password));
      url.username = '';
      url.password = '';
    }
    let makeBody: (() => BodyInit | undefined) | undefined;
    if (options.json !== undefined) {
      headers['content-type'] ??= 'application/json';
      const text = JSON.stringify(options.json);
      makeBody = () => text;
    } else if (typeof options.body === 'function') {
      makeBody = options.body;
    } else if (options.body !== undefined) {
      const body = options.body;
      makeBody = () => body;
    }
    const fetchImpl = this.options.fetch ?? fetch;
    const sleep = this.options.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
    const random = this.options.random ?? Math.random;
    // A stream handed over as such can be sent once; a factory or bytes can be sent again.
    const replayable = typeof options.body === 'function' || !isStream(options.body);
    const retries = options.retry === false || !replayable ? 0 : (this.options.retries ?? 4);
    const minDelay = this.options.minDelayMs ?? 500;
    const maxDelay = this.options.maxDelayMs ?? 30_000;
    const label = `${method} ${redactUrl(url)}`;

    for (let attempt = 0; ; attempt++) {
      const backoff = Math.min(maxDelay, minDelay * 2 ** attempt);
      const jittered = backoff / 2 + random() * (backoff / 2);
      const timeout = new AbortController();
      const timer = setTimeout(
        () => timeout.abort(new DOMException('timed out', 'TimeoutError')),
        options.timeoutMs ?? this.options.timeoutMs ?? 30_000,
      );
      const signal = options.signal ? AbortSignal.any([options.signal, timeout.signal]) : timeout.signal;
      let response: Response;
      try {
        const body = makeBody?.();
        response =
          body instanceof Readable
            ? await sendStream(url, method, headers, body, signal)
            : isChunkReader(body)
              ? await sendChunks(url, method, headers, body, signal)
              : await fetchImpl(url, {
                  method,
                  headers,
                  body,
                  signal,
                  ...(body && typeof (body as ReadableStream).getReader === 'function'
                    ? { duplex: 'half' }
                    : {}),
                } as RequestInit);
      } catch (error) {
        clearTimeout(timer);
        if (options.signal?.aborted) throw error;
        const cause = causeOf(error);
        if (attempt < retries) {
          this.options.log?.(
            `${label} failed (${cause}); retry ${attempt + 1}/${retries} in ${Math.round(jittered)} ms`,
          );
          await sleep(jittered);
          continue;
        }
        throw new NetworkError(`${this.name}: ${label} failed after ${attempt + 1} attempt(s): ${cause}`);
      }
      clearTimeout(timer);
      if (response.ok || options.accept?.includes(response.status)) return response;
      const retryable =
        isRetryableStatus(response.status) || this.options.retryStatuses?.includes(response.status);
      if (retryable && attempt < retries) {
        const retryAfter =
          parseRetryAfter(response.headers.get('retry-after')) ?? this.options.retryDelay?.(response);
        const delay = retryAfter !== undefined ? Math.min(retryAfter, 120_000) : jittered;
        await response.body?.cancel().catch(() => undefined);
        this.options.log?.(
          `${label} answered ${response.status}; retry ${attempt + 1}/${retries} in ${Math.round(delay)} ms`,
        );
        await sleep(delay);
        continue;
      }
      const text = await response.text().catch(() => '');
      throw new HttpError(
        `${this.name}: ${label} answered ${response.status} ${response.statusText}${text ? `: ${describeBody(text)}` : ''}`,
        response.status,
        redactUrl(url),
        text,
      );
    }
  }

  async json<T = unknown>(method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const response = await this.request(method, path, {
      ...options,
      headers: { accept: 'application/json', ...options.headers },
    });
    const text = await response.text();
    if (!text) return {} as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new HttpError(
        `${this.name}: ${method} ${redactUrl(this.url(path, options.query))} answered ${response.status} with a body that is not JSON: ${describeBody(text)}`,
        response.status,
        redactUrl(this.url(path, options.query)),
        text,
      );
    }
  }
}

/**
 * A request whose body is a Node stream, through node:http(s). Node 20's fetch pumps a streamed request
 * body without waiting for the socket: a 1 GB upload held 1.1 GB in memory and took 2–4 times as long as
 * the same bytes piped here, where the stream is read only as fast as the socket drains.
 */
function sendStream(
  url: URL,
  method: string,
  headers: Record<string, string>,
  body: Readable,
  signal: AbortSignal,
): Promise<Response> {
  return sendRequest(url, method, headers, signal, (request) => {
    // The source's own error (a file that vanished) is what the caller sees, not a broken pipe.
    body.on('error', (error) => request.destroy(error));
    // An answer before the whole body (413) or an abort leaves the source unread: release it (its files).
    request.once('close', () => body.destroy());
    body.pipe(request);
  });
}

/** Opens a node:http(s) request whose body `write` sends; the answer comes back as a fetch Response. */
function sendRequest(
  url: URL,
  method: string,
  headers: Record<string, string>,
  signal: AbortSignal,
  write: (request: ClientRequest) => void,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
    const request = send(url, { method, headers, signal }, (incoming) =>
      resolve(responseOf(method, incoming)),
    );
    request.on('error', reject);
    write(request);
  });
}

/** A node:http answer as a fetch Response. */
function responseOf(method: string, incoming: IncomingMessage): Response {
  const status = incoming.statusCode ?? 0;
  const headers = new Headers();
  for (const [key, value] of Object.entries(incoming.headers)) {
    for (const item of Array.isArray(value) ? value : value === undefined ? [] : [value])
      headers.append(key, item);
  }
  const empty = method === 'HEAD' || status === 204 || status === 205 || status === 304;
  if (empty) incoming.resume();
  return new Response(
    empty ? null : (Readable.toWeb(incoming) as NodeWebStream<Uint8Array> as ReadableStream),
    { status, statusText: incoming.statusMessage, headers },
  );
}

/** Buffers a chunk-reader body cycles through: a few, so reading the next overlaps sending the last. */
const SEND_BUFFERS = 4;
const SEND_CHUNK = 1024 * 1024;

/**
 * A request whose body is a chunk reader, through node:http(s): the reader fills one of a few buffers,
 * which is written to the socket and reused once the socket has taken it (the write's callback), so a
 * gigabyte goes up with no allocation per chunk and at most `SEND_BUFFERS` chunks in memory. A reader
 * that fails breaks the request with its own error.
 */
function sendChunks(
  url: URL,
  method: string,
  headers: Record<string, string>,
  reader: ChunkReader,
  signal: AbortSignal,
): Promise<Response> {
  return sendRequest(url, method, headers, signal, (request) => {
    const free: Buffer[] = [];
    for (let i = 0; i < SEND_BUFFERS; i++) free.push(Buffer.allocUnsafe(SEND_CHUNK));
    let wake: (() => void) | undefined;
    let closed = false;
    const released = () => {
      const waiting = wake;
      wake = undefined;
      waiting?.();
    };
    // An answer before the whole body (413) or an abort stops the reading and releases the reader's files.
    request.once('close', () => {
      closed = true;
      released();
      reader.close();
    });
    const pump = async () => {
      for (;;) {
        while (free.length === 0 && !closed) await new Promise<void>((r) => (wake = r));
        if (closed) return;
        const buffer = free.pop()!;
        const n = await reader.readInto(buffer);
        if (closed) return;
        if (n === 0) {
          reader.close();
          request.end();
          return;
        }
        request.write(buffer.subarray(0, n), () => {
          free.push(buffer);
          released();
        });
      }
    };
    pump().catch((error: Error) => {
      reader.close();
      request.destroy(error);
    });
  });
}

function isStream(body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false;
  if (isChunkReader(body)) return true;
  return typeof (body as ReadableStream).getReader === 'function' || Symbol.asyncIterator in body;
}

/** `Authorization` header value for basic auth. */
export function basicAuth(user: string, password: string): string {
  return `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;
}
