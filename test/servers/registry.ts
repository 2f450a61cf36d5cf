import { execFileSync } from 'node:child_process';
import { createPrivateKey, randomBytes, sign } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, httpReady, type ManagedProcess, startProcess, waitFor } from './process';

export const REGISTRY_BIN = '/usr/bin/docker-registry';

export interface Registry {
  /** `127.0.0.1:<port>`, the registry part of a reference. */
  host: string;
  url: string;
  dir: string;
  /** Throwaway credentials when started with auth. */
  username?: string;
  password?: string;
  /** Token requests the token server answered (auth: 'token'). */
  tokenRequests: string[];
  output(): string;
  stop(): Promise<void>;
}

export interface RegistryOptions {
  /** `htpasswd`: basic auth; `token`: bearer tokens from a token server started here, which checks an htpasswd-style user. */
  auth?: 'htpasswd' | 'token';
  /** `storage.delete.enabled` (default true). */
  deleteEnabled?: boolean;
}

function bcrypt(password: string): string {
  // Debian's Python crypt wraps libxcrypt, which makes the $2b$ hashes distribution's htpasswd accepts.
  return execFileSync(
    '/usr/bin/python3',
    [
      '-W',
      'ignore',
      '-c',
      'import crypt,sys;print(crypt.crypt(sys.argv[1], crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16)))',
      password,
    ],
    { encoding: 'utf8' },
  ).trim();
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A token server as Docker's token spec describes it: basic auth in, an ES256 JWT with an x5c chain out. */
async function startTokenServer(
  dir: string,
  service: string,
  issuer: string,
  username: string,
  password: string,
  requests: string[],
): Promise<{ server: Server; realm: string; certFile: string }> {
  const keyFile = join(dir, 'token.key');
  const certFile = join(dir, 'token.crt');
  execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', keyFile], {
    stdio: 'ignore',
  });
  execFileSync(
    'openssl',
    [
      'req',
      '-new',
      '-x509',
      '-key',
      keyFile,
      '-out',
      certFile,
      '-days',
      '1',
      '-subj',
      '/CN=test-token-issuer',
    ],
    {
      stdio: 'ignore',
    },
  );
  const key = createPrivateKey(readFileSync(keyFile));
  const der = readFileSync(certFile, 'utf8').replace(/-----[^-]+-----|\s/g, '');
  const expected = `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    requests.push(url.search);
    if (req.headers.authorization !== expected) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Basic realm="token"' });
      res.end(JSON.stringify({ details: 'incorrect username or password' }));
      return;
    }
    const access = url.searchParams.getAll('scope').map((scope) => {
      const [type, ...rest] = scope.split(':');
      const actions = rest.pop() ?? '';
      return { type, name: rest.join(':'), actions: actions.split(',') };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', x5c: [der] }));
    const claims = base64url(
      JSON.stringify({
        iss: issuer,
        sub: username,
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomBytes(8).toString('hex'),
        access,
      }),
    );
    const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key, dsaEncoding: 'ieee-p1363' });
    const token = `${header}.${claims}.${base64url(signature)}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }),
    );
  });
  const port = await freePort();
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { server, realm: `http://127.0.0.1:${port}/token`, certFile };
}

/** Debian's distribution registry 2.8 on 127.0.0.1 with storage in a temporary folder. */
export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  const dir = mkdtempSync(join(tmpdir(), 'registry-'));
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const tokenRequests: string[] = [];
  let auth = '';
  let tokenServer: Server | undefined;
  const username = options.auth ? 'ci-user' : undefined;
  const password = options.auth ? randomBytes(12).toString('hex') : undefined;
  if (options.auth === 'htpasswd') {
    writeFileSync(join(dir, 'htpasswd'), `${username}:${bcrypt(password!)}\n`);
    auth = `auth:\n  htpasswd:\n    realm: test-registry\n    path: ${join(dir, 'htpasswd')}\n`;
  } else if (options.auth === 'token') {
    const token = await startTokenServer(
      dir,
      'test-registry',
      'test-issuer',
      username!,
      password!,
      tokenRequests,
    );
    tokenServer = token.server;
    auth = `auth:\n  token:\n    realm: ${token.realm}\n    service: test-registry\n    issuer: test-issuer\n    rootcertbundle: ${token.certFile}\n`;
  }
  const config = join(dir, 'config.yml');
  writeFileSync(
    config,
    `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: ${join(dir, 'data')}
  delete:
    enabled: ${options.deleteEnabled ?? true}
http:
  addr: ${host}
${auth}`,
  );
  const process: ManagedProcess = startProcess(REGISTRY_BIN, ['serve', config]);
  const url = `http://${host}`;
  try {
    await waitFor(() => httpReady(`${url}/v2/`), 15_000, `docker-registry on ${host}`);
  } catch (error) {
    await process.stop();
    tokenServer?.close();
    throw new Error(`${(error as Error).message}\n${process.output()}`);
  }
  return {
    host,
    url,
    dir,
    username,
    password,
    tokenRequests,
    output: process.output,
    stop: async () => {
      await process.stop();
      tokenServer?.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
