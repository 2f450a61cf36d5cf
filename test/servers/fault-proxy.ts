import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * How the proxy misbehaves for a request path (matched by suffix), for the first `times` requests:
 * - reset: headers with the full Content-Length, half the body, then the connection is destroyed
 * - status: answers `status` (e.g. 500) instead of forwarding
 * - retry-after: answers 429 with `Retry-After: <seconds>`
 * - truncate: a chunked body cut in half that ends cleanly (only the hash can notice)
 * - corrupt: the body with one byte flipped
 * - stall: headers and half the body, then silence with the connection held open
 */
export type Fault =
  | { kind: 'reset'; times: number }
  | { kind: 'status'; status: number; times: number }
  | { kind: 'retry-after'; seconds: number; times: number }
  | { kind: 'truncate'; times: number }
  | { kind: 'corrupt'; times: number }
  | { kind: 'stall'; times: number };

export interface FaultProxy {
  url: string;
  /** Requests seen per path. */
  hits: Map<string, number>;
  setFault(pathSuffix: string, fault: Fault | undefined): void;
  stop(): Promise<void>;
}

function forward(upstream: URL, path: string, headers: Record<string, string | string[] | undefined>) {
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: Buffer;
  }>((resolve, reject) => {
    const req = request(
      new URL(path, upstream),
      { method: 'GET', headers: { ...headers, host: upstream.host } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 502, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end();
  });
}

/** A small HTTP proxy on 127.0.0.1 in front of `upstream` that injects faults into chosen responses. */
export async function startFaultProxy(upstream: string): Promise<FaultProxy> {
  const base = new URL(upstream);
  const faults = new Map<string, Fault>();
  const used = new Map<string, number>();
  const hits = new Map<string, number>();
  const server: Server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    hits.set(path, (hits.get(path) ?? 0) + 1);
    const entry = [...faults.entries()].find(([suffix]) => path.endsWith(suffix));
    let fault: Fault | undefined;
    if (entry) {
      const count = used.get(entry[0]) ?? 0;
      if (count < entry[1].times) {
        fault = entry[1];
        used.set(entry[0], count + 1);
      }
    }
    if (fault?.kind === 'status') {
      res.writeHead(fault.status, { 'content-type': 'text/plain' }).end('injected failure');
      return;
    }
    if (fault?.kind === 'retry-after') {
      res
        .writeHead(429, { 'retry-after': String(fault.seconds), 'content-type': 'text/plain' })
        .end('slow down');
      return;
    }
    try {
      const up = await forward(
        base,
        path,
        req.headers.authorization ? { authorization: req.headers.authorization } : {},
      );
      const headers: Record<string, string | string[]> = {};
      for (const [k, v] of Object.entries(up.headers)) {
        if (
          v !== undefined &&
          !['content-length', 'transfer-encoding', 'connection', 'keep-alive'].includes(k)
        )
          headers[k] = v;
      }
      let body = up.body;
      if (fault?.kind === 'reset') {
        res.writeHead(up.status, { ...headers, 'content-length': String(body.length) });
        res.write(body.subarray(0, Math.floor(body.length / 2)));
        setTimeout(() => res.socket?.destroy(), 20);
        return;
      }
      if (fault?.kind === 'stall') {
        res.writeHead(up.status, { ...headers, 'content-length': String(body.length) });
        res.write(body.subarray(0, Math.floor(body.length / 2)));
        return;
      }
      if (fault?.kind === 'truncate') {
        res.writeHead(up.status, headers);
        res.end(body.subarray(0, Math.floor(body.length / 2)));
        return;
      }
      if (fault?.kind === 'corrupt' && body.length > 0) {
        body = Buffer.from(body);
        body[0] = body[0]! ^ 0xff;
      }
      res.writeHead(up.status, { ...headers, 'content-length': String(body.length) }).end(body);
    } catch (error) {
      res.writeHead(502).end(String(error));
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    hits,
    setFault(suffix, fault) {
      if (fault) faults.set(suffix, fault);
      else faults.delete(suffix);
      used.delete(suffix);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
