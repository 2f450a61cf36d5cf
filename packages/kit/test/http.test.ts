import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../../../test/doubles/http-server';
import { HttpClient, HttpError, NetworkError, parseRetryAfter } from '../src/http';
import { redactUrl } from '../src/secrets';

type Handler = (req: IncomingMessage, res: ServerResponse, attempt: number) => void;

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

async function serve(handler: Handler) {
  let attempt = 0;
  const seen: IncomingMessage[] = [];
  const server = await listen((req, res) => {
    seen.push(req);
    handler(req, res, attempt++);
  });
  closers.push(server.close);
  return { url: server.url, seen, attempts: () => attempt };
}

function client(
  baseUrl: string,
  delays: number[] = [],
  extra: Partial<ConstructorParameters<typeof HttpClient>[0]> = {},
) {
  return new HttpClient({
    name: 'test server',
    baseUrl,
    retries: 3,
    sleep: async (ms) => {
      delays.push(ms);
    },
    random: () => 0.5,
    ...extra,
  });
}

describe('HttpClient', () => {
  it('retries 5xx with exponential backoff and then succeeds', async () => {
    const server = await serve((_req, res, attempt) => {
      res.writeHead(attempt < 2 ? 503 : 200, { 'content-type': 'application/json' });
      res.end(attempt < 2 ? 'busy' : '{"ok":true}');
    });
    const delays: number[] = [];
    expect(await client(server.url, delays).json('GET', 'thing')).toEqual({ ok: true });
    expect(server.attempts()).toBe(3);
    expect(delays).toEqual([375, 750]);
  });

  it('honours Retry-After on 429', async () => {
    const server = await serve((_req, res, attempt) => {
      res.writeHead(attempt === 0 ? 429 : 200, attempt === 0 ? { 'retry-after': '7' } : {});
      res.end('x');
    });
    const delays: number[] = [];
    await client(server.url, delays).request('GET', '/');
    expect(delays).toEqual([7000]);
  });

  it('retries the extra statuses a client names, waiting as its retryDelay reads the headers', async () => {
    const server = await serve((_req, res, attempt) => {
      res.writeHead(attempt === 0 ? 409 : attempt === 1 ? 429 : 200, { 'x-wait-ms': String(1000 + attempt) });
      res.end('x');
    });
    const delays: number[] = [];
    const response = await client(server.url, delays, {
      retryStatuses: [409],
      retryDelay: (r) => Number(r.headers.get('x-wait-ms')),
    }).request('PATCH', '/');
    expect(response.status).toBe(200);
    expect(delays).toEqual([1000, 1001]);
  });

  it('does not retry 409 unless asked', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(409);
      res.end('conflict');
    });
    await expect(client(server.url).request('PATCH', '/')).rejects.toMatchObject({ status: 409 });
    expect(server.attempts()).toBe(1);
  });

  it('retries a connection reset and a 408', async () => {
    const server = await serve((req, res, attempt) => {
      if (attempt === 0) {
        req.socket.destroy();
        return;
      }
      res.writeHead(attempt === 1 ? 408 : 204);
      res.end();
    });
    const response = await client(server.url).request('POST', '/upload', { body: 'payload' });
    expect(response.status).toBe(204);
    expect(server.attempts()).toBe(3);
  });

  it('gives up after the retries with an error naming the server and the cause', async () => {
    const server = await serve((req) => req.socket.destroy());
    const error = await client(server.url)
      .request('GET', '/x')
      .catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(
      /^test server: GET http:\/\/127\.0\.0\.1:\d+\/x failed after 4 attempt\(s\)/,
    );
    expect(server.attempts()).toBe(4);
  });

  it('does not retry a 4xx and reports the JSON error message, never the credentials', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(403, { 'content-type': 'application/json' });
      res.end('{"error_code":"PERMISSION_DENIED","message":"no write access"}');
    });
    const base = server.url.replace('http://', 'http://alice:s3cret@');
    const error = (await client(base, [], { headers: { authorization: 'Bearer tok_123' } })
      .request('PUT', 'a', { query: { token: 'tok_456', path: 'p' } })
      .catch((e: unknown) => e)) as HttpError;
    expect(error).toBeInstanceOf(HttpError);
    expect(error.status).toBe(403);
    expect(error.message).toContain('answered 403 Forbidden: PERMISSION_DENIED: no write access');
    expect(error.message).not.toMatch(/s3cret|tok_123|tok_456/);
    expect(server.attempts()).toBe(1);
  });

  it('returns statuses the caller accepts instead of throwing', async () => {
    const server = await serve((_req, res) => {
      res.writeHead(404);
      res.end();
    });
    expect((await client(server.url).request('GET', '/', { accept: [404] })).status).toBe(404);
  });

  it('times out a server that never answers, per attempt', async () => {
    const server = await serve(() => undefined);
    const error = await client(server.url, [], { retries: 1, timeoutMs: 200 })
      .request('GET', '/slow')
      .catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/failed after 2 attempt\(s\): timed out/);
    expect(server.attempts()).toBe(2);
  });

  it('sends JSON with its content type and repeated query keys', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ type: req.headers['content-type'], url: req.url }));
    });
    const answer = await client(server.url).json<{ type: string; url: string }>('POST', 'api/x', {
      json: { a: 1 },
      query: { stages: ['A', 'B'], skip: undefined },
    });
    expect(answer).toEqual({ type: 'application/json', url: '/api/x?stages=A&stages=B' });
  });
});

describe('redaction and Retry-After', () => {
  it('removes user info and signed query values', () => {
    expect(redactUrl('https://u:p@host/a?X-Amz-Signature=abc&x=1')).toBe(
      'https://host/a?X-Amz-Signature=***&x=1',
    );
  });
  it('reads seconds and HTTP dates', () => {
    expect(parseRetryAfter('3')).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:05 GMT', Date.UTC(2015, 9, 21, 7, 28, 0))).toBe(5000);
    expect(parseRetryAfter('soon')).toBeUndefined();
  });
});

describe('credentials in the URL', () => {
  it('become a basic Authorization header', async () => {
    const server = await serve((req, res) => {
      res.writeHead(200);
      res.end(req.headers.authorization);
    });
    const response = await client(server.url.replace('http://', 'http://al%40ice:p%3Ass@')).request(
      'GET',
      '/',
    );
    expect(await response.text()).toBe(`Basic ${Buffer.from('al@ice:p:ss').toString('base64')}`);
  });
});

describe('bodies that can be sent once', () => {
  it('does not retry a stream, but does retry a stream factory', async () => {
    const seenPaths = new Set<string>();
    const server = await serve((req, res) => {
      const first = !seenPaths.has(req.url!);
      seenPaths.add(req.url!);
      req.resume();
      req.on('end', () => {
        res.writeHead(first ? 503 : 200);
        res.end();
      });
    });
    const stream = () => new Blob(['payload']).stream();
    const once = await client(server.url)
      .request('PUT', '/a', { body: stream() })
      .catch((e: unknown) => e);
    expect((once as HttpError).status).toBe(503);
    expect(server.attempts()).toBe(1);
    const again = await client(server.url).request('PUT', '/b', { body: stream });
    expect(again.status).toBe(200);
    expect(server.attempts()).toBe(3);
  });
});

describe('Node stream bodies (node:http, read as the socket drains)', () => {
  it('sends the declared Content-Length and every byte, returns status, headers and body, and retries a factory', async () => {
    const received: { length?: string; encoding?: string; bytes: number }[] = [];
    const server = await serve((req, res, attempt) => {
      let bytes = 0;
      req.on('data', (d: Buffer) => (bytes += d.byteLength));
      req.on('end', () => {
        received.push({
          length: req.headers['content-length'],
          encoding: req.headers['transfer-encoding'],
          bytes,
        });
        if (attempt === 0) {
          res.writeHead(503);
          res.end();
          return;
        }
        res.writeHead(201, { location: '/v2/x/blobs/sha256:1', 'content-type': 'application/json' });
        res.end('{"ok":true}');
      });
    });
    const size = 5 * 1024 * 1024 + 3;
    const parts = async function* () {
      for (let sent = 0; sent < size; sent += 1024 * 1024)
        yield Buffer.alloc(Math.min(1024 * 1024, size - sent), 1);
    };
    const response = await client(server.url).request('PUT', '/upload', {
      headers: { 'content-length': String(size) },
      body: () => Readable.from(parts()),
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe('/v2/x/blobs/sha256:1');
    expect(await response.json()).toEqual({ ok: true });
    expect(received).toEqual([
      { length: String(size), encoding: undefined, bytes: size },
      { length: String(size), encoding: undefined, bytes: size },
    ]);
  });

  it("fails with the source's own error when the stream breaks midway", async () => {
    const server = await serve((req) => req.resume());
    const broken = async function* () {
      yield Buffer.alloc(1024);
      throw new Error('model.bin vanished');
    };
    const error = await client(server.url)
      .request('PUT', '/upload', {
        headers: { 'content-length': '4096' },
        body: () => Readable.from(broken()),
        retry: false,
      })
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(
      /PUT http:\/\/127\.0\.0\.1:\d+\/upload failed after 1 attempt\(s\): model\.bin vanished/,
    );
  });
});
