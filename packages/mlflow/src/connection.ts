import { ActionError, basicAuth } from '@mlops-actions/kit';

export interface MlflowConnection {
  /** Server root, e.g. `https://mlflow.example.com/` (the REST API lives under `api/2.0/mlflow/`). */
  baseUrl: string;
  /** What is shown in logs and outputs: the URI without credentials. */
  displayUri: string;
  headers: Record<string, string>;
  /** Values to mask in the log. */
  secrets: string[];
  auth: 'basic' | 'bearer' | 'none';
}

export function isMlflowUri(uri: string): boolean {
  return /^https?:\/\//i.test(uri) || /^databricks(:\/\/.*)?$/i.test(uri);
}

/**
 * Resolves a tracking URI and credentials the way MLflow's Python client does: basic auth when both
 * MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD are set, otherwise a bearer MLFLOW_TRACKING_TOKEN;
 * `databricks` uses DATABRICKS_HOST and DATABRICKS_TOKEN. Credentials in the URI's user-info count as basic.
 */
export function resolveConnection(uri: string, env: NodeJS.ProcessEnv, token?: string): MlflowConnection {
  let base: URL;
  let username = env.MLFLOW_TRACKING_USERNAME || undefined;
  let password = env.MLFLOW_TRACKING_PASSWORD || undefined;
  let bearer = token || env.MLFLOW_TRACKING_TOKEN || undefined;
  if (/^databricks(:\/\/.*)?$/i.test(uri)) {
    const host = env.DATABRICKS_HOST;
    if (!host)
      throw new ActionError(
        "tracking-uri 'databricks' needs the DATABRICKS_HOST environment variable (and DATABRICKS_TOKEN)",
      );
    base = new URL(/^https?:\/\//.test(host) ? host : `https://${host}`);
    bearer = token || env.DATABRICKS_TOKEN || undefined;
    username = undefined;
    password = undefined;
    if (!bearer)
      throw new ActionError("tracking-uri 'databricks' needs the DATABRICKS_TOKEN environment variable");
  } else {
    try {
      base = new URL(uri);
    } catch {
      throw new ActionError(
        `tracking-uri '${uri}' is not a URL; use http(s)://host[:port][/path], 'databricks' or a local path`,
      );
    }
    if (base.username || base.password) {
      username = decodeURIComponent(base.username);
      password = decodeURIComponent(base.password);
      base.username = '';
      base.password = '';
    }
  }
  base.search = '';
  base.hash = '';
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  const headers: Record<string, string> = { 'user-agent': 'mlops-actions' };
  const secrets: string[] = [];
  let auth: MlflowConnection['auth'] = 'none';
  if (username && password) {
    headers.authorization = basicAuth(username, password);
    secrets.push(password, headers.authorization.slice('Basic '.length));
    auth = 'basic';
  } else if (bearer) {
    headers.authorization = `Bearer ${bearer}`;
    secrets.push(bearer);
    auth = 'bearer';
  }
  const displayUri = /^databricks/i.test(uri) ? 'databricks' : base.toString().replace(/\/$/, '');
  return { baseUrl: base.toString(), displayUri, headers, secrets, auth };
}
