import { execFile } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { promisify } from 'node:util';
import { ActionError, InputError, oneLine, writeFileAtomic } from '@mlops-actions/kit';
import type { Router } from './router';

const exec = promisify(execFile);

export interface NginxRouterOptions {
  /** The file the user's nginx.conf includes inside `http { }`; this router owns it. */
  includeFile: string;
  /** `upstream`: a weighted upstream block; `split-clients`: a split_clients block setting a variable. */
  mode: 'upstream' | 'split-clients';
  /** The upstream's name, or (split-clients) the variable's name without `$`. */
  name: string;
  /** `host:port` of each version (upstream mode), or the values the variable takes (split-clients). */
  stable: string;
  canary: string;
  /** nginx binary, and the `-p` / `-c` it runs with. */
  binary: string;
  prefix?: string;
  config?: string;
  log?: (line: string) => void;
}

const MARKER = /^# canary-weight=([\d.]+)$/m;

const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252}[A-Za-z0-9])?)$/;
// A socket path as nginx reads it in `server unix:…;`: nothing that ends the directive or opens a block.
const UNIX_SOCKET = /^unix:\/[^\s;{}'"#$\\]+$/;
// A split_clients value: one nginx word, so it cannot end the directive or open a block.
const SPLIT_VALUE = /^[A-Za-z0-9_.:/@-]+$/;

/**
 * Checks what goes into the include file verbatim: an upstream server is `host:port` or a unix socket
 * path, a split_clients value one plain word. Anything else could close the block and add a server of
 * its own (`10.0.0.1:80; } server { … }`), which `nginx -t` would accept.
 */
export function validateNginxTarget(value: string, mode: NginxRouterOptions['mode'], input: string): string {
  if (mode === 'split-clients') {
    if (SPLIT_VALUE.test(value)) return value;
    throw new InputError(
      input,
      `${JSON.stringify(value)} is not one word; give letters, digits and _ . : / @ -`,
    );
  }
  if (UNIX_SOCKET.test(value)) return value;
  const match = /^(.+):(\d{1,5})$/.exec(value);
  const port = Number(match?.[2]);
  if (match && HOST.test(match[1]!) && port >= 1 && port <= 65535) return value;
  throw new InputError(
    input,
    `${JSON.stringify(value)} is not an upstream server; give host:port (port 1-65535, e.g. 10.0.0.1:8080 or [::1]:8080) or unix:/path/to.sock`,
  );
}

/** The include file for a canary weight. nginx rejects `weight=0`, so an idle server is marked `down`. */
export function renderNginxInclude(
  o: Pick<NginxRouterOptions, 'mode' | 'name' | 'stable' | 'canary'>,
  weight: number,
): string {
  const header = `# Written by mlops-actions canary-deploy; changes here are overwritten.\n# canary-weight=${weight}\n`;
  if (o.mode === 'split-clients') {
    // split_clients takes percentages with up to two decimals; '*' takes the rest.
    const lines =
      weight <= 0
        ? [`    * ${o.stable};`]
        : weight >= 100
          ? [`    * ${o.canary};`]
          : [`    ${Number(weight.toFixed(2))}% ${o.canary};`, `    * ${o.stable};`];
    return `${header}split_clients "\${request_id}" $${o.name} {\n${lines.join('\n')}\n}\n`;
  }
  const canary = Math.round(weight * 10);
  const stable = 1000 - canary;
  const server = (address: string, w: number) =>
    w > 0 ? `    server ${address} weight=${w};` : `    server ${address} down;`;
  return `${header}upstream ${o.name} {\n${server(o.stable, stable)}\n${server(o.canary, canary)}\n}\n`;
}

/**
 * nginx: writes the include file atomically, runs `nginx -t` with the same `-p`/`-c` as the running
 * server, and reloads only when the test passes. A failed test puts the previous file back untouched.
 */
export class NginxRouter implements Router {
  readonly kind = 'nginx';

  constructor(private readonly o: NginxRouterOptions) {
    validateNginxTarget(o.stable, o.mode, 'nginx-stable');
    validateNginxTarget(o.canary, o.mode, 'nginx-canary');
  }

  describe(): string {
    return `nginx ${this.o.mode} '${this.o.name}' in ${this.o.includeFile}`;
  }

  private flags(): string[] {
    const flags: string[] = [];
    if (this.o.prefix) flags.push('-p', this.o.prefix);
    if (this.o.config) flags.push('-c', this.o.config);
    return flags;
  }

  private async nginx(args: string[]): Promise<void> {
    try {
      await exec(this.o.binary, [...this.flags(), ...args], { timeout: 30_000 });
    } catch (error) {
      const e = error as { stderr?: string; message: string; code?: string };
      if (e.code === 'ENOENT')
        throw new ActionError(`nginx-binary: '${this.o.binary}' was not found; give the path of nginx`);
      throw new ActionError(oneLine(`nginx ${args.join(' ')} failed: ${(e.stderr || e.message).trim()}`));
    }
  }

  async setWeight(weight: number): Promise<void> {
    const file = this.o.includeFile;
    const previous = existsSync(file) ? readFileSync(file, 'utf8') : undefined;
    const next = renderNginxInclude(this.o, weight);
    // Even an unchanged file is tested and reloaded: a run killed between the write and the reload left
    // nginx serving the old split.
    writeFileAtomic(file, next);
    if (readFileSync(file, 'utf8') !== next)
      throw new ActionError(`could not write ${file}: read back different content`);
    try {
      await this.nginx(['-t', '-q']);
    } catch (error) {
      if (previous === undefined) rmSync(file, { force: true });
      else writeFileAtomic(file, previous);
      throw new ActionError(
        `nginx rejected the configuration with the canary at ${weight}% (${(error as Error).message}); the previous ${file} is back and nothing was reloaded`,
      );
    }
    await this.nginx(['-s', 'reload']);
    this.o.log?.(`nginx reloaded: canary ${weight}%, stable ${100 - weight}%`);
  }

  async current(): Promise<number | undefined> {
    if (!existsSync(this.o.includeFile)) return undefined;
    const match = MARKER.exec(readFileSync(this.o.includeFile, 'utf8'));
    return match ? Number(match[1]) : undefined;
  }

  rollback(): Promise<void> {
    return this.setWeight(0);
  }

  promote(): Promise<void> {
    return this.setWeight(100);
  }
}
