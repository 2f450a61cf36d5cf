import { createHash } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Deployment } from 'kubernetes-models/apps/v1/Deployment';
import { ReplicaSet } from 'kubernetes-models/apps/v1/ReplicaSet';
import { Scale } from 'kubernetes-models/autoscaling/v1/Scale';
import { Service } from 'kubernetes-models/v1/Service';
import { type CrdSchema, kubeflowSchemas } from './crd-schema';
import { listen, readBody, sendJson } from './http-server';

/**
 * Test double of the Kubernetes API server for custom resources
 * (`/apis/<group>/<version>/namespaces/<ns>/<plural>[/<name>[/status]]`): GET, list with labelSelector,
 * and PATCH as the real server takes it for custom resources: `application/json-patch+json` (RFC 6902,
 * a failed `test` is 422), `application/merge-patch+json` (RFC 7386); strategic merge patch is refused
 * with 415 as CRDs do. Errors are `Status` objects. Patched objects are checked by a validator per kind
 * (the CRDs' published schemas) and refused with 422 Invalid when they break it; the /status subresource
 * changes only `.status`, the main resource everything but.
 *
 * Built-in kinds: core `/api/v1` objects (read only, e.g. the Service in front of two Deployments) and
 * `apps/v1` Deployments with the `scale` subresource (GET and PUT of an `autoscaling/v1` Scale, with the
 * resourceVersion precondition: a stale one is 409 Conflict). A merge patch carrying
 * `metadata.resourceVersion` is checked the same way, and may change annotations. Every Deployment change
 * runs a small controller: a changed pod template gets a ReplicaSet (revision annotation, pod-template-hash,
 * controller ownerReference; an old template's ReplicaSet is reused with the next revision, as on
 * `rollout undo`), and the status converges after `rolloutReads` reads of the Deployment, or stalls with
 * `Progressing=False, ProgressDeadlineExceeded` when the test asked for it with `stall()`.
 *
 * For training jobs it also takes POST (create, validated, 409 AlreadyExists) and DELETE (the
 * `propagationPolicy` recorded; the job's pods go with it) on any `/apis/` collection (batch/v1 Jobs,
 * Kubeflow TrainJobs and PyTorchJobs, checked against their CRD schemas after `validateKubeflow()`; with
 * `fieldValidation=Strict` a field the schema lacks is 400 BadRequest as on a real server), and core `/api/v1` Pods: list by labelSelector, get, and
 * `pods/<name>/log` with `follow`, `timestamps` and `sinceTime` (second precision, as the kubelet reads it)
 * streaming lines the test writes. Tests drive pod and job status, drop log streams mid-way, refuse calls
 * with 403 (the RBAC message) and answer 429/5xx for a while.
 */

export type Validator = (object: Record<string, unknown>) => string | undefined;

/** A validator from a @kubernetes-models class: its schema's first complaint, or undefined. */
export function schemaCheck(Model: new (data: never) => { validate(): void }): Validator {
  return (object) => {
    try {
      new Model(object as never).validate();
      return undefined;
    } catch (error) {
      return (error as Error).message;
    }
  };
}

/** A throwaway kubeconfig for the double; plain HTTP needs insecure-skip-tls-verify in client-node. */
export function writeKubeconfig(url: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'kube-')), 'config');
  writeFileSync(
    file,
    `apiVersion: v1
kind: Config
clusters:
- name: double
  cluster: {server: '${url}', insecure-skip-tls-verify: true}
users:
- name: ci
  user: {token: test-token}
contexts:
- name: double
  context: {cluster: double, user: ci}
current-context: double
`,
  );
  return file;
}

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

export interface DeleteRecord {
  path: string;
  propagationPolicy?: string;
}

interface LogLine {
  /** RFC 3339 with nanoseconds, as the kubelet writes it with timestamps=true. */
  ts: string;
  text: string;
}

interface PodLog {
  lines: LogLine[];
  ended: boolean;
  streams: Set<ServerResponse>;
}

interface Fault {
  method?: string;
  pattern: RegExp;
  status: number;
  remaining: number;
  body: Record<string, unknown>;
  headers?: Record<string, string>;
}

export class KubernetesApiDouble {
  readonly patches: PatchRecord[] = [];
  readonly created: Array<{ path: string; body: Record<string, unknown> }> = [];
  readonly deletes: DeleteRecord[] = [];
  /** Every request as `METHOD path?query`, for asserting retries and reconnects. */
  readonly requests: string[] = [];
  /** Called after an object is created, so a test can start its pods. */
  onCreate?: (plural: string, object: Record<string, unknown>) => void;
  private readonly pods = new Map<string, Record<string, unknown>>();
  private readonly logs = new Map<string, PodLog>();
  private readonly faults: Fault[] = [];
  private clock = Date.parse('2026-12-03T12:00:00Z');
  private nanos = 0;
  readonly validators = new Map<string, Validator>();
  private readonly crds = new Map<string, CrdSchema>();
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

  /** Checks the built-in kinds the deployment router writes or reads against their published schemas. */
  validateBuiltIns(): void {
    this.validate('apps/v1', 'Deployment', schemaCheck(Deployment as never));
    this.validate('apps/v1', 'ReplicaSet', schemaCheck(ReplicaSet as never));
    this.validate('autoscaling/v1', 'Scale', schemaCheck(Scale as never));
    this.validate('v1', 'Service', schemaCheck(Service as never));
  }

  /** Checks Kubeflow TrainJobs and PyTorchJobs against their CRDs' published schemas, unknown fields included. */
  validateKubeflow(): void {
    for (const [key, load] of Object.entries(kubeflowSchemas)) {
      const crd = load();
      this.crds.set(key, crd);
      this.validators.set(key, (object) => crd.check(object));
    }
  }

  put(plural: string, object: Record<string, unknown>): void {
    const apiVersion = String(object.apiVersion);
    const [group, version] = apiVersion.includes('/')
      ? (apiVersion.split('/') as [string, string])
      : ['', apiVersion];
    const metadata = object.metadata as { name: string; namespace?: string };
    const namespace = metadata.namespace ?? 'default';
    const stored = structuredClone(object);
    (stored.metadata as Record<string, unknown>).namespace = namespace;
    (stored.metadata as Record<string, unknown>).resourceVersion = String(++this.version);
    (stored.metadata as Record<string, unknown>).generation = 1;
    (stored.metadata as Record<string, unknown>).uid ??= createHash('sha256')
      .update(`${namespace}/${plural}/${metadata.name}/${this.version}`)
      .digest('hex')
      .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12}).*$/, '$1-$2-$3-$4-$5');
    const entry = { group, version, plural, kind: String(object.kind), object: stored };
    this.objects.set(this.key(group, version, namespace, plural, metadata.name), entry);
    if (this.isDeployment(entry)) this.reconcile(entry, true);
  }

  /** Reads of a Deployment before its status shows a finished rollout (0: at once). */
  rolloutReads = 1;
  /** Called after every Deployment change the controller saw (e.g. to move a real proxy's weights); its rollout finishes after the promise. */
  onDeploymentChange?: (deployment: Record<string, unknown>) => void | Promise<void>;
  private readonly pending = new Map<string, number>();
  private readonly stalled = new Set<string>();
  private readonly proxying = new Set<string>();
  private readonly interfere = new Set<string>();

  /** The next rollout of this Deployment stalls and its Progressing condition says ProgressDeadlineExceeded. */
  stall(namespace: string, name: string, on = true): void {
    if (on) this.stalled.add(`${namespace}/${name}`);
    else this.stalled.delete(`${namespace}/${name}`);
  }

  /** Right after the next read of this Deployment's scale, another writer (an autoscaler) changes it. */
  interfereAfterRead(namespace: string, name: string): void {
    this.interfere.add(`${namespace}/${name}`);
  }

  private isDeployment(s: Stored): boolean {
    return s.group === 'apps' && s.plural === 'deployments';
  }

  private check(s: Stored, object: Record<string, unknown>): string | undefined {
    const apiVersion = s.group ? `${s.group}/${s.version}` : s.version;
    return this.validators.get(`${apiVersion}/${s.kind}`)?.(object);
  }

  /** The deployment controller, reduced to what rollout status and rollout undo read. */
  private reconcile(deployment: Stored, created = false): void {
    const d = deployment.object as {
      metadata: {
        name: string;
        namespace: string;
        uid: string;
        generation: number;
        annotations?: Record<string, string>;
      };
      spec: {
        replicas?: number;
        selector: { matchLabels?: Record<string, string> };
        template: { metadata?: { labels?: Record<string, string> } };
      };
      status?: Record<string, unknown>;
    };
    const { namespace, name } = d.metadata;
    const replicas = d.spec.replicas ?? 1;
    const owned = [...this.objects.values()].filter(
      (s) =>
        s.plural === 'replicasets' &&
        (s.object.metadata as { namespace: string }).namespace === namespace &&
        ((s.object.metadata as { ownerReferences?: Array<{ uid: string }> }).ownerReferences ?? []).some(
          (o) => o.uid === d.metadata.uid,
        ),
    );
    const revisionOf = (s: Stored) =>
      Number(
        (s.object.metadata as { annotations?: Record<string, string> }).annotations?.[
          'deployment.kubernetes.io/revision'
        ] ?? 0,
      );
    const withoutHash = (template: unknown) => {
      const copy = structuredClone(template) as { metadata?: { labels?: Record<string, string> } };
      delete copy.metadata?.labels?.['pod-template-hash'];
      return JSON.stringify(sortKeys(copy));
    };
    const wanted = withoutHash(d.spec.template);
    let current = owned.find(
      (s) => withoutHash((s.object.spec as { template: unknown }).template) === wanted,
    );
    const top = Math.max(0, ...owned.map(revisionOf));
    const templateChanged = !current || revisionOf(current) !== top;
    if (!current) {
      const hash = createHash('sha256').update(wanted).digest('hex').slice(0, 10);
      const template = structuredClone(d.spec.template) as { metadata?: { labels?: Record<string, string> } };
      template.metadata = {
        ...template.metadata,
        labels: { ...template.metadata?.labels, 'pod-template-hash': hash },
      };
      this.put('replicasets', {
        apiVersion: 'apps/v1',
        kind: 'ReplicaSet',
        metadata: {
          name: `${name}-${hash}`,
          namespace,
          labels: template.metadata.labels,
          annotations: { 'deployment.kubernetes.io/revision': String(top + 1) },
          ownerReferences: [
            {
              apiVersion: 'apps/v1',
              kind: 'Deployment',
              name,
              uid: d.metadata.uid,
              controller: true,
              blockOwnerDeletion: true,
            },
          ],
        },
        spec: {
          replicas,
          selector: { matchLabels: { ...d.spec.selector.matchLabels, 'pod-template-hash': hash } },
          template,
        },
      });
      current = this.objects.get(this.key('apps', 'v1', namespace, 'replicasets', `${name}-${hash}`))!;
    } else if (templateChanged) {
      (current.object.metadata as { annotations: Record<string, string> }).annotations[
        'deployment.kubernetes.io/revision'
      ] = String(top + 1);
    }
    for (const rs of owned) if (rs !== current) (rs.object.spec as { replicas: number }).replicas = 0;
    (current.object.spec as { replicas: number }).replicas = replicas;
    for (const rs of [current, ...owned]) {
      const problem = this.check(rs, rs.object);
      if (problem) throw new Error(`the double built an invalid ReplicaSet: ${problem}`);
    }
    d.metadata.annotations = {
      ...d.metadata.annotations,
      'deployment.kubernetes.io/revision': (
        current.object.metadata as { annotations: Record<string, string> }
      ).annotations['deployment.kubernetes.io/revision']!,
    };
    const key = `${namespace}/${name}`;
    const before = (d.status ?? {}) as { availableReplicas?: number; replicas?: number };
    if (this.stalled.has(key) && replicas > 0) {
      d.status = {
        observedGeneration: d.metadata.generation,
        replicas: Math.max(replicas, before.replicas ?? 0),
        updatedReplicas: templateChanged ? 0 : replicas,
        readyReplicas: before.availableReplicas ?? 0,
        availableReplicas: before.availableReplicas ?? 0,
        conditions: [
          this.condition(
            'Available',
            'True',
            'MinimumReplicasAvailable',
            'Deployment has minimum availability.',
          ),
          this.condition(
            'Progressing',
            'False',
            'ProgressDeadlineExceeded',
            `ReplicaSet "${(current.object.metadata as { name: string }).name}" has timed out progressing.`,
          ),
        ],
      };
      return;
    }
    if (created || this.rolloutReads === 0) this.converge(deployment);
    else this.pending.set(key, this.rolloutReads);
    const hook = this.onDeploymentChange?.(structuredClone(deployment.object));
    if (hook) {
      // The rollout is not over before the proxy serves the new endpoints, as with kube-proxy.
      this.proxying.add(key);
      void hook.finally(() => this.proxying.delete(key));
    }
  }

  private condition(type: string, status: string, reason: string, message: string) {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    return { type, status, reason, message, lastUpdateTime: now, lastTransitionTime: now };
  }

  private converge(deployment: Stored): void {
    const d = deployment.object as {
      metadata: { name: string; generation: number };
      spec: { replicas?: number };
      status?: Record<string, unknown>;
    };
    const replicas = d.spec.replicas ?? 1;
    d.status = {
      observedGeneration: d.metadata.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: replicas,
      availableReplicas: replicas,
      conditions: [
        this.condition(
          'Available',
          'True',
          'MinimumReplicasAvailable',
          'Deployment has minimum availability.',
        ),
        this.condition(
          'Progressing',
          'True',
          'NewReplicaSetAvailable',
          `ReplicaSet has successfully progressed.`,
        ),
      ],
    };
  }

  /** What a read between the change and the converged status sees: the change observed, pods not ready yet. */
  private progressing(deployment: Stored): void {
    const d = deployment.object as {
      metadata: { generation: number };
      spec: { replicas?: number };
      status?: Record<string, unknown> & { availableReplicas?: number };
    };
    const replicas = d.spec.replicas ?? 1;
    d.status = {
      ...d.status,
      observedGeneration: d.metadata.generation,
      replicas,
      updatedReplicas: replicas,
      readyReplicas: Math.min(replicas, d.status?.availableReplicas ?? 0),
      availableReplicas: Math.min(replicas, d.status?.availableReplicas ?? 0),
    };
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

  /** The next `times` requests matching answer `status` (429 with Retry-After: 1, 5xx with a Status body). */
  failNext(pattern: RegExp, status: number, times: number, method?: string): void {
    const reason =
      status === 429 ? 'TooManyRequests' : status === 503 ? 'ServiceUnavailable' : 'InternalError';
    this.faults.push({
      method,
      pattern,
      status,
      remaining: times,
      body: statusBody(
        status,
        reason,
        status === 429 ? 'Too many requests, please try again later.' : 'etcdserver: request timed out',
      ),
      headers: status === 429 ? { 'retry-after': '1' } : undefined,
    });
  }

  /** Every matching request answers 403 with the message RBAC gives `user` for `verb` on `resource`. */
  forbid(
    method: string,
    pattern: RegExp,
    rbac: { user: string; verb: string; resource: string; group: string; namespace: string },
  ): void {
    const { user, verb, resource, group, namespace } = rbac;
    this.faults.push({
      method,
      pattern,
      status: 403,
      remaining: Number.POSITIVE_INFINITY,
      body: statusBody(
        403,
        'Forbidden',
        `${resource}${group ? `.${group}` : ''} is forbidden: User "${user}" cannot ${verb} resource "${resource}" in API group "${group}" in the namespace "${namespace}"`,
        { kind: resource, group },
      ),
    });
  }

  /** Creates or replaces a pod (its status included), as the job controller and kubelet would. */
  putPod(namespace: string, pod: Record<string, unknown>): void {
    const metadata = pod.metadata as { name: string };
    const stored = structuredClone(pod);
    (stored.metadata as Record<string, unknown>).namespace = namespace;
    (stored.metadata as Record<string, unknown>).resourceVersion = String(++this.version);
    this.pods.set(`${namespace}/${metadata.name}`, stored);
    if (!this.logs.has(`${namespace}/${metadata.name}`))
      this.logs.set(`${namespace}/${metadata.name}`, { lines: [], ended: false, streams: new Set() });
  }

  pod(namespace: string, name: string): Record<string, unknown> | undefined {
    return this.pods.get(`${namespace}/${name}`);
  }

  /** Sets `.status` of a stored object (a Job's conditions, a TrainJob's). */
  setStatus(
    group: string,
    version: string,
    namespace: string,
    plural: string,
    name: string,
    status: unknown,
  ): void {
    const stored = this.objects.get(this.key(group, version, namespace, plural, name));
    if (!stored) throw new Error(`no ${plural} ${namespace}/${name}`);
    stored.object.status = structuredClone(status);
    (stored.object.metadata as Record<string, unknown>).resourceVersion = String(++this.version);
  }

  /** Appends log lines, one second apart on the kubelet's clock, to open follow streams too. */
  writeLog(namespace: string, pod: string, ...texts: string[]): void {
    const log = this.logs.get(`${namespace}/${pod}`);
    if (!log) throw new Error(`no pod ${namespace}/${pod}`);
    for (const text of texts) {
      this.clock += 1000;
      this.nanos = (this.nanos + 123456789) % 1_000_000_000;
      const ts = `${new Date(this.clock).toISOString().slice(0, 19)}.${String(this.nanos).padStart(9, '0')}Z`;
      log.lines.push({ ts, text });
      for (const res of log.streams) res.write(`${ts} ${text}\n`);
    }
  }

  /** Appends a line in the same second as the previous one (sinceTime cannot tell them apart). */
  writeLogSameSecond(namespace: string, pod: string, text: string): void {
    const log = this.logs.get(`${namespace}/${pod}`)!;
    const last = log.lines[log.lines.length - 1]!;
    const ts = `${last.ts.slice(0, 20)}${String((Number(last.ts.slice(20, 29)) + 1) % 1e9).padStart(9, '0')}Z`;
    log.lines.push({ ts, text });
    for (const res of log.streams) res.write(`${ts} ${text}\n`);
  }

  /** The container exited: follow streams end cleanly. */
  endLog(namespace: string, pod: string): void {
    const log = this.logs.get(`${namespace}/${pod}`)!;
    log.ended = true;
    for (const res of log.streams) res.end();
    log.streams.clear();
  }

  /** The connection breaks mid-stream (an API server restart, a proxy timeout). */
  dropLogStreams(namespace: string, pod: string): number {
    const log = this.logs.get(`${namespace}/${pod}`)!;
    const n = log.streams.size;
    for (const res of log.streams) res.socket?.destroy();
    log.streams.clear();
    return n;
  }

  openLogStreams(namespace: string, pod: string): number {
    return this.logs.get(`${namespace}/${pod}`)?.streams.size ?? 0;
  }

  private fault(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const fault = this.faults.find(
      (f) => f.remaining > 0 && f.pattern.test(path) && (!f.method || f.method === req.method),
    );
    if (!fault) return false;
    fault.remaining--;
    for (const [k, v] of Object.entries(fault.headers ?? {})) res.setHeader(k, v);
    sendJson(res, fault.status, fault.body);
    return true;
  }

  private handleCore(req: IncomingMessage, res: ServerResponse, url: URL): void {
    const match = /^\/api\/v1\/namespaces\/([^/]+)\/pods(?:\/([^/]+))?(\/log)?$/.exec(url.pathname);
    if (!match || req.method !== 'GET') {
      sendJson(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const [, namespace, name, log] = match as unknown as [
      string,
      string,
      string | undefined,
      string | undefined,
    ];
    if (!name) {
      const items = [...this.pods.values()].filter(
        (p) =>
          (p.metadata as { namespace: string }).namespace === namespace &&
          matchesSelector(
            (p.metadata as { labels?: Record<string, string> }).labels,
            url.searchParams.get('labelSelector'),
          ),
      );
      sendJson(res, 200, {
        apiVersion: 'v1',
        kind: 'PodList',
        metadata: { resourceVersion: String(this.version) },
        items,
      });
      return;
    }
    const pod = this.pods.get(`${namespace}/${name}`);
    if (!pod) {
      sendJson(res, 404, statusBody(404, 'NotFound', `pods "${name}" not found`, { name, kind: 'pods' }));
      return;
    }
    if (!log) {
      sendJson(res, 200, pod);
      return;
    }
    const lines = this.logs.get(`${namespace}/${name}`)!;
    const since = url.searchParams.get('sinceTime');
    const sinceMs = since ? Date.parse(since) : Number.NEGATIVE_INFINITY;
    const stamps = url.searchParams.get('timestamps') === 'true';
    res.writeHead(200, { 'content-type': 'text/plain', 'transfer-encoding': 'chunked' });
    for (const line of lines.lines)
      if (Date.parse(line.ts.slice(0, 19) + 'Z') >= sinceMs)
        res.write(`${stamps ? `${line.ts} ` : ''}${line.text}\n`);
    if (url.searchParams.get('follow') !== 'true' || lines.ended) {
      res.end();
      return;
    }
    lines.streams.add(res);
    res.on('close', () => lines.streams.delete(res));
  }

  private async create(
    req: IncomingMessage,
    res: ServerResponse,
    group: string,
    version: string,
    namespace: string,
    plural: string,
  ): Promise<void> {
    const body = JSON.parse((await readBody(req)).toString('utf8')) as Record<string, unknown>;
    this.created.push({ path: new URL(req.url ?? '/', 'http://x').pathname, body });
    const metadata = (body.metadata ?? {}) as { name?: string };
    const kind = String(body.kind);
    if (body.apiVersion !== `${group}/${version}`) {
      sendJson(
        res,
        400,
        statusBody(
          400,
          'BadRequest',
          `the API version in the data (${String(body.apiVersion)}) does not match the expected API version (${group}/${version})`,
        ),
      );
      return;
    }
    const unknown = this.crds.get(`${group}/${version}/${kind}`)?.unknownFields(body) ?? [];
    if (
      unknown.length &&
      new URL(req.url ?? '/', 'http://x').searchParams.get('fieldValidation') === 'Strict'
    ) {
      const fields = unknown.map((field) => `unknown field "${field}"`).join(', ');
      sendJson(res, 400, statusBody(400, 'BadRequest', `strict decoding error: ${fields}`));
      return;
    }
    const problem = this.validators.get(`${group}/${version}/${kind}`)?.(body);
    if (problem) {
      sendJson(
        res,
        422,
        statusBody(422, 'Invalid', `${kind}.${group} "${metadata.name}" is invalid: ${problem}`, {
          name: metadata.name,
          group,
          kind,
        }),
      );
      return;
    }
    if (this.objects.has(this.key(group, version, namespace, plural, metadata.name ?? ''))) {
      sendJson(
        res,
        409,
        statusBody(409, 'AlreadyExists', `${plural}.${group} "${metadata.name}" already exists`, {
          name: metadata.name,
          group,
          kind: plural,
        }),
      );
      return;
    }
    this.put(plural, { ...body, metadata: { ...(body.metadata as object), namespace } });
    const stored = this.get(group, version, namespace, plural, metadata.name!)!;
    this.onCreate?.(plural, stored);
    sendJson(res, 201, stored);
  }

  private async remove(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
    key: string,
    stored: Stored,
  ): Promise<void> {
    const text = (await readBody(req)).toString('utf8');
    let policy = url.searchParams.get('propagationPolicy') ?? undefined;
    if (text) {
      const options = JSON.parse(text) as { propagationPolicy?: string };
      policy ??= options.propagationPolicy;
    }
    this.deletes.push({ path: url.pathname, propagationPolicy: policy });
    this.objects.delete(key);
    if (policy !== 'Orphan') {
      const uid = (stored.object.metadata as { name: string }).name;
      for (const [podKey, pod] of this.pods)
        if (Object.values((pod.metadata as { labels?: Record<string, string> }).labels ?? {}).includes(uid)) {
          this.pods.delete(podKey);
          this.endLog(...(podKey.split('/') as [string, string]));
        }
    }
    sendJson(res, 200, {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Success',
      details: {
        name: (stored.object.metadata as { name: string }).name,
        group: stored.group,
        kind: stored.plural,
      },
    });
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
    this.requests.push(`${req.method} ${url.pathname}${url.search}`);
    if (this.fault(req, res, url.pathname)) return;
    if (/^\/api\/v1\/namespaces\/[^/]+\/pods(\/|$)/.test(url.pathname)) {
      this.handleCore(req, res, url);
      return;
    }
    const match =
      /^\/(?:apis\/([^/]+)|api)\/([^/]+)\/namespaces\/([^/]+)\/([^/]+)(?:\/([^/]+))?(\/status|\/scale)?$/.exec(
        url.pathname,
      );
    if (!match) {
      sendJson(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const [, groupOrCore, version, namespace, plural, name, subresource] = match as unknown as [
      string,
      string | undefined,
      string,
      string,
      string,
      string | undefined,
      string | undefined,
    ];
    const group = groupOrCore ?? '';
    const status = subresource === '/status' ? subresource : undefined;
    if (!name && req.method === 'POST') {
      await this.create(req, res, group, version, namespace, plural);
      return;
    }
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
    if (subresource === '/scale') {
      await this.handleScale(req, res, stored);
      return;
    }
    if (req.method === 'GET') {
      const key = `${namespace}/${name}`;
      const left = this.pending.get(key);
      if (this.isDeployment(stored) && left !== undefined && !this.proxying.has(key)) {
        if (left <= 1) {
          this.pending.delete(key);
          this.converge(stored);
        } else {
          this.pending.set(key, left - 1);
          this.progressing(stored);
        }
      }
      sendJson(res, 200, stored.object);
      return;
    }
    if (req.method === 'DELETE' && !status) {
      await this.remove(req, res, url, this.key(group, version, namespace, plural, name), stored);
      return;
    }
    if (req.method !== 'PATCH' || !group) {
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
    const expected = (patched.metadata as { resourceVersion?: string } | undefined)?.resourceVersion;
    const storedMetadata = stored.object.metadata as {
      resourceVersion: string;
      annotations?: unknown;
      labels?: unknown;
    };
    if (expected !== undefined && expected !== storedMetadata.resourceVersion) {
      fail(409, 'Conflict', this.conflictMessage(stored, name));
      return;
    }
    // A subresource write keeps the rest; a main-resource write keeps the status and the server-owned metadata.
    const next = structuredClone(stored.object);
    if (status) next.status = patched.status;
    else {
      for (const key of Object.keys(next)) if (key !== 'status' && key !== 'metadata') delete next[key];
      for (const [key, value] of Object.entries(patched))
        if (key !== 'status' && key !== 'metadata') next[key] = value;
      const metadata = patched.metadata as { annotations?: unknown; labels?: unknown } | undefined;
      for (const field of ['annotations', 'labels'] as const) {
        const nextMetadata = next.metadata as Record<string, unknown>;
        if (metadata?.[field] === undefined) delete nextMetadata[field];
        else nextMetadata[field] = metadata[field];
      }
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
    const specChanged = JSON.stringify(next.spec) !== JSON.stringify(stored.object.spec);
    stored.object = next;
    if (this.isDeployment(stored) && specChanged) this.reconcile(stored);
    record.status = 200;
    sendJson(res, 200, stored.object);
  }

  private conflictMessage(stored: Stored, name: string): string {
    return `Operation cannot be fulfilled on ${stored.plural}.${stored.group} "${name}": the object has been modified; please apply your changes to the latest version and try again`;
  }

  /** GET and PUT of a Deployment's `autoscaling/v1` Scale; PUT honours the resourceVersion precondition. */
  private async handleScale(req: IncomingMessage, res: ServerResponse, stored: Stored): Promise<void> {
    const metadata = stored.object.metadata as {
      name: string;
      namespace: string;
      uid: string;
      resourceVersion: string;
      creationTimestamp?: string;
      generation: number;
    };
    const spec = stored.object.spec as {
      replicas?: number;
      selector: { matchLabels?: Record<string, string> };
    };
    const scale = () => {
      const metadata = stored.object.metadata as {
        name: string;
        namespace: string;
        uid: string;
        resourceVersion: string;
      };
      const spec = stored.object.spec as {
        replicas?: number;
        selector: { matchLabels?: Record<string, string> };
      };
      return {
        kind: 'Scale',
        apiVersion: 'autoscaling/v1',
        metadata: {
          name: metadata.name,
          namespace: metadata.namespace,
          uid: metadata.uid,
          resourceVersion: metadata.resourceVersion,
        },
        spec: { replicas: spec.replicas ?? 1 },
        status: {
          replicas: Number((stored.object.status as { replicas?: number } | undefined)?.replicas ?? 0),
          selector: Object.entries(spec.selector.matchLabels ?? {})
            .map(([k, v]) => `${k}=${v}`)
            .join(','),
        },
      };
    };
    const details = { name: metadata.name, group: stored.group, kind: stored.plural };
    if (!this.isDeployment(stored)) {
      sendJson(res, 404, statusBody(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    if (req.method === 'GET') {
      sendJson(res, 200, scale());
      const key = `${metadata.namespace}/${metadata.name}`;
      if (this.interfere.delete(key)) metadata.resourceVersion = String(++this.version);
      return;
    }
    const text = (await readBody(req)).toString('utf8');
    const record: PatchRecord = {
      path: `/apis/apps/v1/namespaces/${metadata.namespace}/deployments/${metadata.name}/scale`,
      contentType: String(req.headers['content-type'] ?? '')
        .split(';')[0]!
        .trim(),
      body: undefined,
      status: 0,
    };
    this.patches.push(record);
    const send = (code: number, body: unknown) => {
      record.status = code;
      sendJson(res, code, body);
    };
    if (req.method !== 'PUT') {
      send(
        405,
        statusBody(
          405,
          'MethodNotAllowed',
          'the server does not allow this method on the requested resource',
        ),
      );
      return;
    }
    let body: {
      apiVersion?: string;
      kind?: string;
      metadata?: { resourceVersion?: string };
      spec?: { replicas?: number };
    };
    try {
      body = JSON.parse(text) as typeof body;
    } catch (error) {
      send(400, statusBody(400, 'BadRequest', `error decoding scale: ${(error as Error).message}`, details));
      return;
    }
    record.body = body;
    const problem = this.validators.get('autoscaling/v1/Scale')?.(body as Record<string, unknown>);
    if (body.kind !== 'Scale' || body.apiVersion !== 'autoscaling/v1' || problem) {
      send(
        422,
        statusBody(
          422,
          'Invalid',
          `Scale.autoscaling "${metadata.name}" is invalid: ${problem ?? 'expected kind Scale of autoscaling/v1'}`,
          details,
        ),
      );
      return;
    }
    if (
      body.metadata?.resourceVersion !== undefined &&
      body.metadata.resourceVersion !== metadata.resourceVersion
    ) {
      send(409, statusBody(409, 'Conflict', this.conflictMessage(stored, metadata.name), details));
      return;
    }
    const replicas = body.spec?.replicas ?? 0;
    const next = structuredClone(stored.object);
    (next.spec as { replicas: number }).replicas = replicas;
    const invalid = this.check(stored, next);
    if (invalid) {
      send(
        422,
        statusBody(422, 'Invalid', `Deployment.apps "${metadata.name}" is invalid: ${invalid}`, details),
      );
      return;
    }
    if (replicas !== spec.replicas) {
      (next.metadata as { generation: number }).generation = metadata.generation + 1;
      (next.metadata as { resourceVersion: string }).resourceVersion = String(++this.version);
      stored.object = next;
      this.reconcile(stored);
    }
    send(200, scale());
  }
}
