import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { NGINX, type Nginx, startNginx } from '../../../test/servers/nginx';
import { NginxRouter, renderNginxInclude } from '../src/routers/nginx';

let servers: Server[] = [];
let nginx: Nginx;
let router: NginxRouter;

async function backend(name: string): Promise<string> {
  const server = createServer((_req, res) => res.end(name));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return name;
}

beforeAll(async () => {
  await backend('stable');
  await backend('canary');
  const [stablePort, canaryPort] = servers.map((s) => (s.address() as AddressInfo).port);
  const routing = { mode: 'split-clients' as const, name: 'model_track', stable: 'stable', canary: 'canary' };
  nginx = await startNginx((port, prefix) => {
    const include = join(prefix, 'split.conf');
    writeFileSync(include, renderNginxInclude(routing, 0));
    return `include ${include};
upstream stable { server 127.0.0.1:${stablePort}; }
upstream canary { server 127.0.0.1:${canaryPort}; }
server { listen 127.0.0.1:${port}; location / { proxy_pass http://$model_track; } }`;
  });
  router = new NginxRouter({
    ...routing,
    includeFile: join(nginx.prefix, 'split.conf'),
    binary: NGINX,
    prefix: nginx.prefix,
    config: nginx.configFile,
  });
});

afterAll(async () => {
  await nginx?.stop();
  for (const s of servers) s.close();
  servers = [];
});

async function sample(n: number): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const text = await (await fetch(nginx.url, { headers: { connection: 'close' } })).text();
    counts[text] = (counts[text] ?? 0) + 1;
  }
  return counts;
}

describe('nginx router (real nginx)', () => {
  it('writes an upstream with down for an idle server, never weight=0', () => {
    const o = { mode: 'upstream' as const, name: 'model', stable: '10.0.0.1:80', canary: '10.0.0.2:80' };
    expect(renderNginxInclude(o, 0)).toContain('server 10.0.0.2:80 down;');
    expect(renderNginxInclude(o, 100)).toContain('server 10.0.0.1:80 down;');
    expect(renderNginxInclude(o, 12.5)).toContain(
      'server 10.0.0.1:80 weight=875;\n    server 10.0.0.2:80 weight=125;',
    );
    for (const w of [0, 10, 100]) expect(renderNginxInclude(o, w)).not.toMatch(/server \S+ weight=0;/);
  });

  it('splits by split_clients per request, reloading after nginx -t', async () => {
    await router.setWeight(30);
    expect(await router.current()).toBe(30);
    const split = await sample(200);
    // 30% of 200 by request id: far from either extreme.
    expect(split.canary).toBeGreaterThan(30);
    expect(split.stable).toBeGreaterThan(100);
    await router.rollback();
    await new Promise((r) => setTimeout(r, 300));
    expect(await sample(30)).toEqual({ stable: 30 });
  });
});

describe('nginx upstream servers are validated (issue: config injection)', () => {
  const hostile =
    '10.0.0.1:80; } server { listen 9999; location / { root /; autoindex on; } } upstream dummy { server 10.0.0.3:80';

  it('refuses anything but host:port or a unix socket, naming the input', () => {
    const make = (stable: string, mode: 'upstream' | 'split-clients' = 'upstream') =>
      new NginxRouter({
        mode,
        name: 'model',
        stable,
        canary: '10.0.0.2:80',
        includeFile: '/nonexistent',
        binary: NGINX,
      });
    expect(() => make(hostile)).toThrow(
      /^Input 'nginx-stable': .* is not an upstream server; give host:port/,
    );
    for (const bad of [
      '10.0.0.1',
      '10.0.0.1:0',
      '10.0.0.1:70000',
      'host:80 backup',
      'unix:/run/a.sock; }',
      'a"b:80',
    ])
      expect(() => make(bad), bad).toThrow(/nginx-stable/);
    for (const good of ['10.0.0.1:80', 'model-v2.internal:8080', '[::1]:8080', 'unix:/run/model.sock'])
      expect(() => make(good), good).not.toThrow();
    expect(() => make('stable; } server {', 'split-clients')).toThrow(
      /^Input 'nginx-stable': .* is not one word/,
    );
  });

  it('what it refuses is exactly what real nginx -t would have accepted', async () => {
    const include = join(nginx.prefix, 'hostile.conf');
    writeFileSync(
      include,
      renderNginxInclude({ mode: 'upstream', name: 'hostile', stable: hostile, canary: '10.0.0.2:80' }, 0),
    );
    const { execFile } = await import('node:child_process');
    const config = join(nginx.prefix, 'hostile-nginx.conf');
    writeFileSync(
      config,
      `pid ${join(nginx.prefix, 'hostile.pid')};\nerror_log stderr;\nevents {}\nhttp { include ${include}; }\n`,
    );
    const code = await new Promise<number>((done) =>
      execFile(NGINX, ['-t', '-p', nginx.prefix, '-c', config], (error) => done(error ? 1 : 0)),
    );
    expect(code).toBe(0);
  });
});
