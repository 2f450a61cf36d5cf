import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, httpReady, waitFor } from './process';

const run = promisify(execFile);
export const NGINX = existsSync('/usr/sbin/nginx') ? '/usr/sbin/nginx' : 'nginx';

export interface Nginx {
  port: number;
  url: string;
  /** The prefix directory (`-p`); the config is `<prefix>/nginx.conf`. */
  prefix: string;
  configFile: string;
  /** Replaces the `server`/`upstream` part of the config, tests it and reloads. */
  reload(httpBlock: string): Promise<void>;
  stop(): Promise<void>;
}

function mainConfig(httpBlock: string): string {
  return `daemon on;
pid nginx.pid;
error_log logs/error.log warn;
worker_processes 1;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path tmp/body;
  proxy_temp_path tmp/proxy;
  fastcgi_temp_path tmp/fastcgi;
  uwsgi_temp_path tmp/uwsgi;
  scgi_temp_path tmp/scgi;
  default_type application/octet-stream;
${httpBlock}
}
`;
}

/**
 * Starts a real nginx (Debian's) on 127.0.0.1 in a private prefix. `httpBlock(port)` returns what goes
 * inside `http { }`, typically a `server { listen 127.0.0.1:<port>; … }`.
 */
export async function startNginx(httpBlock: (port: number, prefix: string) => string): Promise<Nginx> {
  const prefix = mkdtempSync(join(tmpdir(), 'nginx-'));
  for (const dir of ['logs', 'tmp']) mkdirSync(join(prefix, dir), { recursive: true });
  const port = await freePort();
  const configFile = join(prefix, 'nginx.conf');
  writeFileSync(configFile, mainConfig(httpBlock(port, prefix)));
  const flags = ['-p', prefix, '-c', configFile, '-e', join(prefix, 'logs', 'error.log')];
  await run(NGINX, [...flags, '-t']);
  await run(NGINX, flags);
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => httpReady(url), 10_000, `nginx on ${url}`);
  return {
    port,
    url,
    prefix,
    configFile,
    async reload(block: string) {
      writeFileSync(configFile, mainConfig(block));
      await run(NGINX, [...flags, '-t']);
      await run(NGINX, [...flags, '-s', 'reload']);
    },
    async stop() {
      const pidFile = join(prefix, 'nginx.pid');
      if (existsSync(pidFile)) {
        const pid = Number(readFileSync(pidFile, 'utf8').trim());
        try {
          process.kill(pid, 'SIGQUIT');
          await waitFor(async () => !isAlive(pid), 10_000, 'nginx to stop');
        } catch {
          try {
            process.kill(pid, 'SIGKILL');
          } catch {
            // Already gone.
          }
        }
      }
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
