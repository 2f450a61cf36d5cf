import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, type ManagedProcess, startProcess, waitFor } from './process';

export interface Postgres {
  port: number;
  /** postgres://postgres:<password>@127.0.0.1:<port>/postgres */
  url: string;
  password: string;
  stop(): Promise<void>;
}

function binDir(): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  const found = versions.map((v) => join(root, v, 'bin')).find((d) => existsSync(join(d, 'initdb')));
  if (!found)
    throw new Error(
      'PostgreSQL server binaries not found under /usr/lib/postgresql (apt-get install postgresql)',
    );
  return found;
}

function account(name: string): { uid: number; gid: number } {
  const line = execFileSync('getent', ['passwd', name], { encoding: 'utf8' }).trim().split(':');
  return { uid: Number(line[2]), gid: Number(line[3]) };
}

/**
 * A throwaway PostgreSQL server from Debian's binaries: initdb into a temp dir, listening on
 * 127.0.0.1 on a free port, password auth. PostgreSQL refuses to run as root, so as root it runs as
 * the `postgres` system user (setpriv execs it, so signals reach the server itself) in a directory chowned to it.
 */
export async function startPostgres(): Promise<Postgres> {
  const bin = binDir();
  const dir = mkdtempSync(join(tmpdir(), 'pg-'));
  chmodSync(dir, 0o700);
  const data = join(dir, 'data');
  const password = `pw${Math.random().toString(36).slice(2)}`;
  const pwfile = join(dir, 'pwfile');
  writeFileSync(pwfile, `${password}\n`);
  const root = userInfo().uid === 0;
  const asPostgres = (command: string, args: string[]): [string, string[]] =>
    root
      ? ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', command, ...args]]
      : [command, args];
  if (root) {
    const { uid, gid } = account('postgres');
    chownSync(dir, uid, gid);
    chownSync(pwfile, uid, gid);
  }
  const [initCommand, initArgs] = asPostgres(join(bin, 'initdb'), [
    '-D',
    data,
    '-U',
    'postgres',
    '--auth=scram-sha-256',
    `--pwfile=${pwfile}`,
    '--encoding=UTF8',
    '--locale=C',
  ]);
  execFileSync(initCommand, initArgs, { stdio: 'pipe', timeout: 60_000 });
  const port = await freePort();
  const [command, args] = asPostgres(join(bin, 'postgres'), [
    '-D',
    data,
    '-h',
    '127.0.0.1',
    '-p',
    String(port),
    '-k',
    dir,
    '-c',
    'fsync=off',
    '-c',
    'shared_buffers=32MB',
  ]);
  const server: ManagedProcess = startProcess(command, args);
  const { default: pg } = await import('pg');
  const url = `postgres://postgres:${password}@127.0.0.1:${port}/postgres`;
  try {
    await waitFor(
      async () => {
        const client = new pg.Client({ connectionString: url });
        await client.connect();
        await client.end();
        return true;
      },
      30_000,
      `PostgreSQL on port ${port} (${server.output().slice(-500)})`,
    );
  } catch (error) {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    url,
    password,
    stop: async () => {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
