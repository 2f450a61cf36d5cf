import { createServer, request, type Server } from 'node:http';
import { freePort } from './process';

/**
 * How the proxy breaks the next matching upload request (a PATCH, or a PUT under `/blobs/uploads/`):
 * - reset: lets part of the body through, then destroys the connection (a reset mid-push)
 * - status: answers `status` (e.g. 503) with the distribution spec's error body, without forwarding
 */
export type UploadFault = { kind: 'reset'; afterBytes: number } | { kind: 'status'; status: number };

export interface UploadProxy {
  /** `127.0.0.1:<port>`: use it as the registry part of references. */
  host: string;
  /** Upload and manifest requests in order: `cut PATCH`, `503 PUT blob`, `PATCH 202`, `PUT manifest 201`, … */
  log: string[];
  /** Breaks the next matching upload request; `onFault` runs when the fault fires (e.g. to read the tag list). */
  failNext(fault: UploadFault, onFault?: () => Promise<void>): void;
  stop(): Promise<void>;
}

/** An HTTP proxy on 127.0.0.1 in front of a registry that breaks chosen uploads and logs every write. */
export async function startUploadProxy(upstream: string): Promise<UploadProxy> {
  const target = new URL(upstream);
  const log: string[] = [];
  const pending: { fault: UploadFault; onFault?: () => Promise<void> }[] = [];
  const hooks: Promise<void>[] = [];
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0]!;
    const kind = path.includes('/manifests/') ? 'manifest' : 'blob';
    const isUpload = req.method === 'PATCH' || (req.method === 'PUT' && path.includes('/blobs/uploads/'));
    const next = isUpload ? pending.shift() : undefined;
    if (next) {
      if (next.onFault) hooks.push(next.onFault());
      if (next.fault.kind === 'status') {
        log.push(`${next.fault.status} ${req.method} ${kind}`);
        req.resume();
        res.writeHead(next.fault.status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAVAILABLE', message: 'injected failure' }] }));
        return;
      }
      const afterBytes = next.fault.afterBytes;
      log.push(`cut ${req.method} ${kind}`);
      let seen = 0;
      req.on('data', (d: Buffer) => {
        seen += d.byteLength;
        if (seen > afterBytes) req.socket.destroy();
      });
      req.on('end', () => req.socket.destroy());
      return;
    }
    const forward = request(
      { host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers },
      (up) => {
        if (req.method === 'PUT' || req.method === 'PATCH' || req.method === 'DELETE')
          log.push(`${req.method} ${kind} ${up.statusCode}`);
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    // A client that gives up mid-body (an aborted upload) cuts the forwarded request too.
    req.on('close', () => {
      if (!req.complete) forward.destroy();
    });
    req.pipe(forward);
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    host: `127.0.0.1:${port}`,
    log,
    failNext: (fault, onFault) => {
      pending.push({ fault, onFault });
    },
    stop: async () => {
      await Promise.allSettled(hooks);
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
