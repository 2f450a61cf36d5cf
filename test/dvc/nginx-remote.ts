import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, sep } from 'node:path';
import { type Nginx, startNginx } from '../servers/nginx';

export interface ServedRemote {
  nginx: Nginx;
  url: string;
  user?: string;
  password?: string;
}

/** Serves a DVC remote folder with a real nginx on 127.0.0.1, optionally behind basic auth (a throwaway password). */
export async function serveRemote(
  remoteDir: string,
  options: { basicAuth?: boolean; customHeader?: { name: string; value: string } } = {},
): Promise<ServedRemote> {
  // nginx workers drop root for an unprivileged user: let it read the remote and the test's own temp
  // folders above it (never the shared temp root itself).
  execFileSync('chmod', ['-R', 'a+rX', remoteDir]);
  const tempRoot = `${tmpdir()}${sep}`;
  for (
    let dir = dirname(remoteDir);
    dir.startsWith(tempRoot) && dir.length > tempRoot.length;
    dir = dirname(dir)
  ) {
    chmodSync(dir, 0o755);
  }
  const user = 'dvc-reader';
  const password = randomBytes(12).toString('hex');
  const nginx = await startNginx((port, prefix) => {
    let auth = '';
    if (options.basicAuth) {
      const hashed = execFileSync('openssl', ['passwd', '-apr1', password]).toString().trim();
      chmodSync(prefix, 0o755);
      writeFileSync(join(prefix, 'htpasswd'), `${user}:${hashed}\n`, { mode: 0o644 });
      auth = `auth_basic "dvc remote"; auth_basic_user_file ${join(prefix, 'htpasswd')};`;
    }
    if (options.customHeader) {
      const variable = `$http_${options.customHeader.name.toLowerCase().replace(/-/g, '_')}`;
      auth = `if (${variable} != "${options.customHeader.value}") { return 403; }`;
    }
    return `server {
    listen 127.0.0.1:${port};
    root ${remoteDir};
    location / { ${auth} }
  }`;
  });
  return { nginx, url: nginx.url, ...(options.basicAuth ? { user, password } : {}) };
}
