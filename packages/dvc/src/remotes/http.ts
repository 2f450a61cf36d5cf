import { cpus } from 'node:os';
import { ActionError, basicAuth, HttpClient, redactUrl } from '@mlops-actions/kit';
import type { RemoteConfig } from '../config';
import type { RemoteOptions, RemoteStore } from './types';

/** Builds the auth header from DVC's http remote keys: `auth` (basic|custom), `user`, `password`, `custom_auth_header`. */
export function httpAuthHeaders(
  remote: RemoteConfig,
  options: Pick<RemoteOptions, 'httpUser' | 'httpPassword'>,
): Record<string, string> {
  const o = remote.options;
  const auth = o.auth?.toLowerCase();
  const user = options.httpUser ?? o.user;
  const password = options.httpPassword ?? o.password;
  if (!auth) {
    // Credentials given without `auth` mean basic, the only scheme that needs no server challenge.
    return user && password !== undefined ? { authorization: basicAuth(user, password) } : {};
  }
  if (auth === 'basic') {
    if (!user)
      throw new ActionError(
        `DVC remote '${remote.name}': auth = basic needs a user (remote option 'user' or input 'http-user')`,
      );
    return { authorization: basicAuth(user, password ?? '') };
  }
  if (auth === 'custom') {
    const header = o.custom_auth_header;
    if (!header)
      throw new ActionError(
        `DVC remote '${remote.name}': auth = custom needs custom_auth_header in .dvc/config`,
      );
    if (password === undefined) {
      throw new ActionError(
        `DVC remote '${remote.name}': auth = custom needs a password (remote option 'password' or input 'http-password')`,
      );
    }
    return { [header]: password };
  }
  throw new ActionError(
    `DVC remote '${remote.name}': auth = ${o.auth} is not supported natively (basic or custom are); set use-dvc-cli: true to use DVC itself`,
  );
}

/** fetch refuses URLs with credentials: move `user:password@` into the remote's options. */
function withoutUserInfo(remote: RemoteConfig): RemoteConfig {
  const url = new URL(remote.url);
  if (!url.username && !url.password) return remote;
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return {
    ...remote,
    url: url.toString(),
    options: { user, ...(password ? { password } : {}), ...remote.options },
  };
}

export function httpRemote(config: RemoteConfig, options: RemoteOptions): RemoteStore {
  const remote = withoutUserInfo(config);
  const headers = httpAuthHeaders(remote, options);
  for (const value of Object.values(headers)) options.mask?.(value);
  if (remote.options.password) options.mask?.(remote.options.password);
  const base = remote.url.endsWith('/') ? remote.url : `${remote.url}/`;
  const display = redactUrl(remote.url);
  const client = new HttpClient({
    name: `DVC remote '${remote.name}' (${display})`,
    baseUrl: base,
    headers,
    log: options.log,
    fetch: options.fetch,
    minDelayMs: options.minDelayMs,
    timeoutMs: remote.options.connect_timeout ? Number(remote.options.connect_timeout) * 1000 : 60_000,
  });
  return {
    name: remote.name,
    kind: 'http',
    display,
    defaultJobs: Math.min(32, cpus().length * 4),
    locate: (objectPath) => redactUrl(new URL(objectPath, base)),
    async open(objectPath, signal) {
      const response = await client.request('GET', objectPath, {
        accept: [401, 403, 404, 410],
        signal,
        timeoutMs: 60_000,
      });
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel().catch(() => undefined);
        return undefined;
      }
      if (response.status === 401 || response.status === 403) {
        await response.body?.cancel().catch(() => undefined);
        const given = Object.keys(headers).length > 0;
        throw new ActionError(
          `DVC remote '${remote.name}' (${display}) ${given ? 'rejected the credentials' : 'requires credentials'}: ${response.status} ${response.statusText}; ` +
            `set http-user and http-password (or auth, user and password in .dvc/config.local)`,
        );
      }
      if (!response.body) return (async function* () {})();
      return response.body as unknown as AsyncIterable<Uint8Array>;
    },
  };
}
