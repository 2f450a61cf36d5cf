import { existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, normalize } from 'node:path';

export interface GcsDouble {
  url: string;
  /** Request paths seen, for assertions. */
  requests: string[];
  stop(): Promise<void>;
}

function error(code: number, message: string): string {
  // The JSON API's error envelope.
  return JSON.stringify({
    error: {
      code,
      message,
      errors: [{ message, domain: 'global', reason: code === 404 ? 'notFound' : 'required' }],
    },
  });
}

/**
 * Test double of the Google Cloud Storage JSON API, only as much as a download needs: `objects.get` with
 * `alt=media` (GET /storage/v1/b/<bucket>/o/<url-encoded name>?alt=media, also under /download/), serving
 * files of `root/<bucket>/`. Missing objects answer 404 with the API's error envelope. No GCS emulator runs here.
 */
export async function startGcsDouble(root: string): Promise<GcsDouble> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    requests.push(url.pathname);
    const match = /^(?:\/download)?\/storage\/v1\/b\/([^/]+)\/o\/(.+)$/.exec(url.pathname);
    if (req.method !== 'GET' || !match || url.searchParams.get('alt') !== 'media') {
      res.writeHead(400, { 'content-type': 'application/json' }).end(error(400, 'unsupported by the double'));
      return;
    }
    const bucket = decodeURIComponent(match[1]!);
    const name = decodeURIComponent(match[2]!);
    const file = normalize(join(root, bucket, name));
    if (!file.startsWith(normalize(join(root, bucket))) || !existsSync(file) || !statSync(file).isFile()) {
      res
        .writeHead(404, { 'content-type': 'application/json' })
        .end(error(404, `No such object: ${bucket}/${name}`));
      return;
    }
    const body = readFileSync(file);
    res
      .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
      .end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
