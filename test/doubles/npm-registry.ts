import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface PublishedTarball {
  name: string;
  version: string;
  /** The .tgz exactly as `npm pack` wrote it. */
  tgz: Buffer;
  /** `dist.integrity` as npm computed it (`npm pack --json`). */
  integrity: string;
}

export interface NpmRegistryDouble {
  url: string;
  /** `METHOD path` of every request, in order. */
  requests: string[];
  /** Answer the next N requests with 503 and npm's error body. */
  failNext(count: number, status?: number): void;
  /** Serve these bytes as the tarball instead, under the same packument (a tampered mirror). */
  tamper(bytes: Buffer | undefined): void;
  stop(): Promise<void>;
}

/**
 * Double of the npm registry's read API, as much as an install needs (no npm registry can run here):
 * `GET /<name>` returns the packument (scoped names arrive as `@scope%2fname`; the abbreviated
 * `application/vnd.npm.install-v1+json` form when asked for it), `GET /<name>/-/<base>-<version>.tgz` the
 * tarball; anything else is 404 `{"error":"Not found"}`, as registry.npmjs.org answers.
 */
export async function startNpmRegistryDouble(packages: PublishedTarball[]): Promise<NpmRegistryDouble> {
  const requests: string[] = [];
  let failures = 0;
  let failStatus = 503;
  let tampered: Buffer | undefined;
  const tarballPath = (p: PublishedTarball) => `/${p.name}/-/${p.name.split('/').pop()}-${p.version}.tgz`;
  let base = '';
  const server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    requests.push(`${req.method} ${req.url}`);
    if (failures > 0) {
      failures--;
      res
        .writeHead(failStatus, { 'content-type': 'application/json' })
        .end(JSON.stringify({ error: 'Service Unavailable' }));
      return;
    }
    const notFound = () =>
      res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: 'Not found' }));
    if (req.method !== 'GET') return notFound();
    const tarball = packages.find((p) => tarballPath(p) === path);
    if (tarball) {
      const body = tampered ?? tarball.tgz;
      res
        .writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(body.length) })
        .end(body);
      return;
    }
    const versions = packages.filter((p) => `/${p.name}` === path);
    if (versions.length === 0) return notFound();
    const abbreviated = (req.headers.accept ?? '').includes('application/vnd.npm.install-v1+json');
    const name = versions[0]!.name;
    const document = {
      ...(abbreviated ? {} : { _id: name }),
      name,
      modified: '2026-01-01T00:00:00.000Z',
      'dist-tags': { latest: versions.at(-1)!.version },
      versions: Object.fromEntries(
        versions.map((p) => [
          p.version,
          {
            name,
            version: p.version,
            dist: {
              shasum: createHash('sha1').update(p.tgz).digest('hex'),
              integrity: p.integrity,
              tarball: `${base}${tarballPath(p).slice(1)}`,
            },
          },
        ]),
      ),
    };
    res
      .writeHead(200, {
        'content-type': abbreviated ? 'application/vnd.npm.install-v1+json' : 'application/json',
      })
      .end(JSON.stringify(document));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return {
    url: base,
    requests,
    failNext(count, status = 503) {
      failures = count;
      failStatus = status;
    },
    tamper(bytes) {
      tampered = bytes;
    },
    stop: () => new Promise((resolve) => server.close(() => resolve())),
  };
}
