import type { IncomingMessage, ServerResponse } from 'node:http';
import { listen, readBody, sendJson } from './http-server';

/**
 * Test double of the Kubernetes API server for custom resources
 * (`/apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>[/status]]`): GET, list with labelSelector,
 * and PATCH as the real server takes it for custom resources: `application/json-patch+json` (RFC 6902,
 * a failed `test` is 422), `application/merge-patch+json` (RFC 7386); strategic merge patch is refused
 * with 415 as CRDs do. Errors are `Status` objects. Patched objects are checked by a validator per kind
 * (the CRDs' published schemas) and refused with 422 Invalid when they break it; the /status subresource
 * changes only `.status`, the main resource everything but.
 */

export type Validator = (object: Record<string, unknown>) => string | undefined;

interface Stored {
  group: string;
  version: string;
  plural: string;
  kind: string;
  object: Record<string, unknown>;
}

export interface PatchRecord {
  path: string;
  contentType: string;
  body: unknown;
  status: number;
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

function statusBody(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

/** RFC 7386 JSON merge patch. */
export function mergePatch(target: Json, patch: Json): Json {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const result: { [key: string]: Json } =
    target && typeof target === 'object' && !Array.isArray(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = mergePatch(result[key] ?? null, value);
  }
  return result;
}

function unescapeToken(token: string): string {
  return token.replace(/~1/g, '/').replace(/~0/g, '~');
}

function deepEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(sortKeys(a)) === JSON.stringify(sortKeys(b));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** RFC 6902 JSON Patch: add, remove, replace, test, move, copy. Throws a message on a failed op. */
export function jsonPatch(
  document: Json,
  ops: Array<{ op: string; path: string; value?: Json; from?: string }>,
): Json {
  let doc = structuredClone(document);
  const resolve = (path: string) => {
    const tokens = path.split('/').slice(1).map(unescapeToken);
    const last = tokens.pop();
    let parent: Json = doc;
    for (const token of tokens) {
      if (Array.isArray(parent)) parent = parent[Number(token)] as Json;
      else if (parent && typeof parent === 'object') parent = parent[token] as Json;
      else parent = undefined as unknown as Json;
      if (parent === undefined) throw new Error(`jsonpatch: path ${path} does not exist`);
    }
    return { parent, last };
  };
  const get = (path: string): Json | undefined => {
    if (path === '') return doc;
    const { parent, last } = resolve(path);
    if (Array.isArray(parent)) return parent[Number(last)];
    return parent && typeof parent === 'object' ? (parent as { [k: string]: Json })[last!] : undefined;
  };
  const add = (path: string, value: Json) => {
    if (path === '') {
      doc = value;
      return;
    }
    const { parent, last } = resolve(path);
    if (Array.isArray(parent)) {
      const index = last === '-' ? parent.length : Number(last);
      if (!(index >= 0 && index <= parent.length))
        throw new Error(`jsonpatch add: index ${last} out of range at ${path}`);
      parent.splice(index, 0, value);
    } else if (parent && typeof parent === 'object') parent[last!] = value;
    else throw new Error(`jsonpatch add: no object at ${path}`);
  };
  const remove = (path: string) => {
    const { parent, last } = resolve(path);
    if (Array.isArray(parent)) {
      const index = Number(last);
      if (!(index >= 0 && index < parent.length))
        throw new Error(`jsonpatch remove: index ${last} out of range at ${path}`);
      parent.splice(index, 1);
    } else if (parent && typeof parent === 'object' && last! in parent) delete parent[last!];
    else throw new Error(`jsonpatch remove: ${path} does not exist`);
  };
  for (const op of ops) {
    switch (op.op) {
      case 'add':
        add(op.path, op.value as Json);
        break;
      case 'remove':
        remove(op.path);
        break;
      case 'replace':
        if (get(op.path) === undefined)
          throw new Error(`jsonpatch replace operation does not apply: doc is missing key: ${op.path}`);
        remove(op.path);
        add(op.path, op.value as Json);
        break;
      case 'test':
        if (!deepEqual(get(op.path), op.value))
          throw new Error(`testing value ${op.path} failed: test failed`);
        break;
      case 'move': {
        const value = get(op.from!);
        remove(op.from!);
        add(op.path, value as Json);
        break;
      }
      case 'copy':
        add(op.path, structuredClone(get(op.from!)) as Json);
        break;
      default:
        throw new Error(`Unexpected kind: ${op.op}`);
    }
  }
  return doc;
}

function matchesSelector(labels: Record<string, string> | undefined, selector: string | null): boolean {
  if (!selector) return true;
  return selector.split(',').every((term) => {
    const [key, value] = term.split('=');
    return labels?.[key!.trim()] === value?.trim();
  });
}

export class KubernetesApiDouble {
  readonly patches: PatchRecord[] = [];
  readonly validators = new Map<string, Validator>();
  private readonly objects = new Map<string, Stored>();
  private version = 100;
  url = '';
  private closeServer?: () => Promise<void>;

  private key(group: string, version: string, namespace: string, plural: string, name: string) {
    return `${group}/${version}/${namespace}/${plural}/${name}`;
  }

  /** Validates patched objects of `apiVersion`/`kind` (e.g. with a @kubernetes-models class). */
  validate(apiVersion: string, kind: string, validator: Validator): void {
    this.validators.set(`${apiVersion}/${kind}`, validator);
  }

  put(plural: string, object: Record<string, unknown>): void {
    const [group, version] = String(object.apiVersion).split('/') as [string, string];
    const metadata = object.metadata as { name: string; namespace?: string };
    const namespace = metadata.namespace ?? 'default';
    const stored = structuredClone(object);
    (stored.metadata as Record<string, unknown>).namespace = namespace;
    (stored.metadata as Record<string, unknown>).resourceVersion = String(++this.version);
    (stored.metadata as Record<string, unknown>).generation = 1;
    this.objects.set(this.key(group, version, namespace, plural, metadata.name), {
      group,
      version,
      plural,
      kind: String(object.kind),
      object: stored,
    });
  }

  get(
    group: string,
    version: string,
    namespace: string,
    plural: string,
    name: string,
  ): Record<string, unknown> | undefined {
    return this.objects.get(this.key(group, version, namespace, plural, name))?.object;
  }

  async start(): Promise<string> {
    const server = await listen((req, res) => this.handle(req, res));
    this.url = server.url;
    this.closeServer = server.close;
    return this.url;
  }

  async close(): Promise<void> {
    await this.closeServer?.();
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const match = /^\/apis\/([^/]+)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(\/status)?$/.exec(
      url.pathname,
    );
    if (!match) {
      sendJson(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const [, group, version, namespace, plural, name, status] = match as unknown as [
      string,
      string,
      string,
      string,
      string,
      string | undefined,
      string | undefined,
    ];
    if (!name) {
      if (req.method !== 'GET') {
        sendJson(
          res,
          405,
          statusBody(
            405,
            'MethodNotAllowed',
            `the server does not allow this method on the requested resource`,
          ),
        );
        return;
      }
      const items = [...this.objects.values()]
        .filter(
          (s) =>
            s.group === group &&
            s.version === version &&
            s.plural === plural &&
            (s.object.metadata as { namespace: string }).namespace === namespace,
        )
        .map((s) => s.object)
        .filter((o) =>
          matchesSelector(
            (o.metadata as { labels?: Record<string, string> }).labels,
            url.searchParams.get('labelSelector'),
          ),
        );
      sendJson(res, 200, {
        apiVersion: `${group}/${version}`,
        kind: 'List',
        metadata: { resourceVersion: String(this.version) },
        items,
      });
      return;
    }
    const stored = this.objects.get(this.key(group, version, namespace, plural, name));
    if (!stored) {
      sendJson(
        res,
        404,
        statusBody(404, 'NotFound', `${plural}.${group} "${name}" not found`, { name, group, kind: plural }),
      );
      return;
    }
    if (req.method === 'GET') {
      sendJson(res, 200, stored.object);
      return;
    }
    if (req.method !== 'PATCH') {
      sendJson(
        res,
        405,
        statusBody(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        ),
      );
      return;
    }
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    const text = (await readBody(req)).toString('utf8');
    const record: PatchRecord = { path: url.pathname, contentType, body: undefined, status: 0 };
    this.patches.push(record);
    const fail = (code: number, reason: string, message: string) => {
      record.status = code;
      sendJson(res, code, statusBody(code, reason, message, { name, group, kind: plural }));
    };
    if (contentType !== 'application/json-patch+json' && contentType !== 'application/merge-patch+json') {
      fail(
        415,
        'UnsupportedMediaType',
        `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml`,
      );
      return;
    }
    let body: Json;
    try {
      body = JSON.parse(text) as Json;
    } catch (error) {
      fail(400, 'BadRequest', `error decoding patch: ${(error as Error).message}`);
      return;
    }
    record.body = body;
    let patched: Record<string, unknown>;
    try {
      patched =
        contentType === 'application/json-patch+json'
          ? (jsonPatch(
              stored.object as Json,
              body as Array<{ op: string; path: string; value?: Json }>,
            ) as Record<string, unknown>)
          : (mergePatch(stored.object as Json, body) as Record<string, unknown>);
    } catch (error) {
      fail(
        422,
        'Invalid',
        `the server rejected our request due to an error in our request: ${(error as Error).message}`,
      );
      return;
    }
    // A subresource write keeps the rest; a main-resource write keeps the status.
    const next = structuredClone(stored.object);
    if (status) next.status = patched.status;
    else {
      for (const key of Object.keys(next)) if (key !== 'status' && key !== 'metadata') delete next[key];
      for (const [key, value] of Object.entries(patched))
        if (key !== 'status' && key !== 'metadata') next[key] = value;
    }
    const validator = this.validators.get(`${group}/${version}/${stored.kind}`);
    const problem = validator?.(next);
    if (problem) {
      fail(422, 'Invalid', `${stored.kind}.${group} "${name}" is invalid: ${problem}`);
      return;
    }
    const metadata = next.metadata as Record<string, unknown>;
    metadata.resourceVersion = String(++this.version);
    if (!status && JSON.stringify(next.spec) !== JSON.stringify(stored.object.spec))
      metadata.generation = Number(metadata.generation ?? 1) + 1;
    stored.object = next;
    record.status = 200;
    sendJson(res, 200, next);
  }
}
