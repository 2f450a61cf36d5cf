import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { NginxRouter, renderNginxInclude } from '@mlops-actions/rollout';
import { type Load, type ModelServer, startLoad, startModelServer } from '../servers/model-server';
import { NGINX, type Nginx, startNginx } from '../servers/nginx';
import { waitFor } from '../servers/process';
import { type Prometheus, startPrometheus } from '../servers/prometheus';

/** Real nginx in front of two real model servers, scraped by a real Prometheus: the canary's world. */
export interface CanaryWorld {
  nginx: Nginx;
  prometheus: Prometheus;
  stable: ModelServer;
  canary: ModelServer;
  include: string;
  /** Inputs that point the action at this world (router nginx). */
  inputs(track: string): Record<string, string>;
  /** Canary weight in the include file. */
  weight(): number | undefined;
  /** Fresh track labels and a stable-only include, before a scenario. */
  reset(name: string): Promise<void>;
  load(rps: number): Load;
  close(): Promise<void>;
}

export async function startWorld(options: { rules?: string } = {}): Promise<CanaryWorld> {
  const stable = await startModelServer('stable', { latencyMs: 10 });
  const canary = await startModelServer('canary', { latencyMs: 10 });
  const prometheus = await startPrometheus([stable.address, canary.address], { rules: options.rules });
  // The first scrape lands a few seconds after start: wait until both targets are up.
  await waitFor(
    async () => {
      const r = (await (await fetch(`${prometheus.url}/api/v1/query?query=sum(up)`)).json()) as {
        data: { result: Array<{ value: [number, string] }> };
      };
      return r.data.result[0]?.value[1] === '2';
    },
    30_000,
    'Prometheus to scrape both model servers',
  );
  let include = '';
  const routing = {
    mode: 'upstream' as const,
    name: 'model',
    stable: stable.address,
    canary: canary.address,
  };
  const nginx = await startNginx((port, prefix) => {
    include = join(prefix, 'canary.conf');
    writeFileSync(include, renderNginxInclude(routing, 0));
    return `include ${include};\nserver {\n  listen 127.0.0.1:${port};\n  location / { proxy_pass http://model; }\n}`;
  });
  const world: CanaryWorld = {
    nginx,
    prometheus,
    stable,
    canary,
    include,
    inputs: (track) => ({
      router: 'nginx',
      'nginx-include': include,
      'nginx-stable': stable.address,
      'nginx-canary': canary.address,
      'nginx-name': 'model',
      'nginx-prefix': nginx.prefix,
      'nginx-conf': nginx.configFile,
      'prometheus-url': prometheus.url,
      'stable-selector': `track="stable-${track}"`,
      'canary-selector': `track="canary-${track}"`,
    }),
    weight: () => {
      if (!existsSync(include)) return undefined;
      const match = /^# canary-weight=([\d.]+)$/m.exec(readFileSync(include, 'utf8'));
      return match ? Number(match[1]) : undefined;
    },
    reset: async (name) => {
      stable.reset(`stable-${name}`);
      canary.reset(`canary-${name}`);
      stable.setLatency(10);
      canary.setLatency(10);
      stable.setErrorRate(0);
      canary.setErrorRate(0);
      stable.setPositiveRate(1);
      canary.setPositiveRate(1);
      await new NginxRouter({
        ...routing,
        includeFile: include,
        binary: NGINX,
        prefix: nginx.prefix,
        config: nginx.configFile,
      }).setWeight(0);
    },
    load: (rps) => startLoad(`${nginx.url}/predict`, { rps, maxMs: 60_000 }),
    close: async () => {
      await nginx.stop();
      await prometheus.close();
      await stable.close();
      await canary.close();
    },
  };
  return world;
}

/** Resolves when `check` holds, polling every 50 ms, for at most `ms`. */
export async function until(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return check();
}
