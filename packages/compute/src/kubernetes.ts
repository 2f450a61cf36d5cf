import type { IncomingMessage } from 'node:http';
import { ActionError } from '@mlops-actions/kit';
import { parse as parseYaml } from 'yaml';
import type { FollowOptions, JobOutcome, SubmittedJob, TrainingBackend, TrainingJobSpec } from './backend';
import { type KubeApiFailure, type KubeconfigOptions, kubeApiFailure, loadKubeConfig } from './kubeconfig';

export type KubernetesKind = 'job' | 'trainjob' | 'pytorchjob';

export interface Resources {
  cpu?: string;
  memory?: string;
  /** Whole `nvidia.com/gpu` per node. */
  gpu?: number;
}

export interface Toleration {
  key?: string;
  operator?: 'Exists' | 'Equal';
  value?: string;
  effect?: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
  tolerationSeconds?: number;
}

export interface KubernetesBackendOptions extends KubeconfigOptions {
  kind: KubernetesKind;
  namespace: string;
  image: string;
  resources: Resources;
  nodeSelector: Record<string, string>;
  tolerations: Toleration[];
  serviceAccount?: string;
  nodes: number;
  /** A pod template (YAML) merged over the one built from the other options. */
  podTemplate?: Record<string, unknown>;
  /** The ClusterTrainingRuntime a TrainJob refers to. */
  runtime: string;
  /** How often job and pods are read; the API is not watched so a dropped watch cannot hide an ending. */
  pollMs?: number;
}

interface KindInfo {
  group: string;
  version: string;
  plural: string;
  kind: string;
  /** The label the controller puts on the job's pods. */
  podLabel: string;
  describe: string;
}

const KINDS: Record<KubernetesKind, KindInfo> = {
  job: {
    group: 'batch',
    version: 'v1',
    plural: 'jobs',
    kind: 'Job',
    podLabel: 'batch.kubernetes.io/job-name',
    describe: 'batch/v1 Job',
  },
  pytorchjob: {
    group: 'kubeflow.org',
    version: 'v1',
    plural: 'pytorchjobs',
    kind: 'PyTorchJob',
    podLabel: 'training.kubeflow.org/job-name',
    describe: 'Kubeflow PyTorchJob (kubeflow.org/v1)',
  },
  trainjob: {
    group: 'trainer.kubeflow.org',
    version: 'v1alpha1',
    plural: 'trainjobs',
    kind: 'TrainJob',
    podLabel: 'jobset.sigs.k8s.io/jobset-name',
    describe: 'Kubeflow Trainer TrainJob (trainer.kubeflow.org/v1alpha1)',
  },
};

/** Pod waiting reasons that never resolve by waiting: report them at once rather than hang until the timeout. */
const FATAL_WAITING = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'ErrImageNeverPull',
  'CreateContainerConfigError',
  'CreateContainerError',
]);

type Json = Record<string, unknown>;

/** Checks `2`, `500m`, `16Gi`-style quantities and a whole GPU count; throws the problem in one line. */
export function parseResources(text: Record<string, string>): Resources {
  const resources: Resources = {};
  const quantity = /^[0-9]+(\.[0-9]+)?(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?$/;
  for (const [key, value] of Object.entries(text)) {
    if (key === 'cpu' || key === 'memory') {
      if (!quantity.test(value))
        throw new Error(
          `${key}: '${value}' is not a Kubernetes quantity; expected e.g. cpu: 4, cpu: 500m, memory: 16Gi`,
        );
      resources[key] = value;
    } else if (key === 'gpu' || key === 'nvidia.com/gpu') {
      if (!/^[0-9]+$/.test(value))
        throw new Error(`${key}: '${value}' is not a whole number of GPUs; expected e.g. gpu: 2`);
      resources.gpu = Number(value);
    } else {
      throw new Error(`unknown resource '${key}'; accepted: cpu, memory, gpu (nvidia.com/gpu)`);
    }
  }
  return resources;
}

function isObject(value: unknown): value is Json {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/**
 * Merges an override into a pod template as kubectl's strategic merge does for the fields one overrides
 * there: objects key by key, lists of named items (containers, env, volumes) by name, other lists replaced.
 */
export function mergeTemplate(base: unknown, override: unknown): unknown {
  if (isObject(base) && isObject(override)) {
    const result: Json = { ...base };
    for (const [key, value] of Object.entries(override)) result[key] = mergeTemplate(base[key], value);
    return result;
  }
  if (Array.isArray(base) && Array.isArray(override) && override.every((o) => isObject(o) && 'name' in o)) {
    const result = [...base];
    for (const item of override as Json[]) {
      const index = result.findIndex((b) => isObject(b) && b.name === item.name);
      if (index >= 0) result[index] = mergeTemplate(result[index], item);
      else result.push(item);
    }
    return result;
  }
  return override === undefined ? base : override;
}

export function parsePodTemplate(text: string): Json | undefined {
  if (!text.trim()) return undefined;
  let value: unknown;
  try {
    value = parseYaml(text);
  } catch (error) {
    throw new Error(`not valid YAML: ${(error as Error).message.split('\n')[0]}`);
  }
  if (!isObject(value)) throw new Error('expected a pod template object (metadata:, spec: …) as YAML');
  return value;
}

function resourceRequirements(r: Resources): Json | undefined {
  const limits: Json = {};
  const requests: Json = {};
  if (r.cpu) requests.cpu = r.cpu;
  if (r.memory) {
    requests.memory = r.memory;
    limits.memory = r.memory;
  }
  if (r.gpu) limits['nvidia.com/gpu'] = String(r.gpu);
  if (!Object.keys(limits).length && !Object.keys(requests).length) return undefined;
  return {
    ...(Object.keys(limits).length ? { limits } : {}),
    ...(Object.keys(requests).length ? { requests } : {}),
  };
}

function envList(env: Record<string, string>): Array<{ name: string; value: string }> {
  return Object.entries(env).map(([name, value]) => ({ name, value }));
}

/** The pod template every kind's replicas use: one container, never restarted (a retry would log twice into the run). */
function podTemplate(o: KubernetesBackendOptions, spec: TrainingJobSpec, container: string): Json {
  const resources = resourceRequirements(o.resources);
  const template: Json = {
    metadata: { labels: { ...spec.labels } },
    spec: {
      restartPolicy: 'Never',
      ...(o.serviceAccount ? { serviceAccountName: o.serviceAccount } : {}),
      ...(Object.keys(o.nodeSelector).length ? { nodeSelector: o.nodeSelector } : {}),
      ...(o.tolerations.length ? { tolerations: o.tolerations } : {}),
      containers: [
        {
          name: container,
          image: o.image,
          command: spec.command,
          env: envList(spec.env),
          ...(resources ? { resources } : {}),
        },
      ],
    },
  };
  return o.podTemplate ? (mergeTemplate(template, o.podTemplate) as Json) : template;
}

/** Pod-spec fields a Trainer runtime patch may carry (PodSpecPatch); containers are handled apart. */
const TRAINJOB_POD_FIELDS = [
  'serviceAccountName',
  'volumes',
  'imagePullSecrets',
  'securityContext',
  'nodeSelector',
  'affinity',
  'tolerations',
  'schedulingGates',
  'terminationGracePeriodSeconds',
];
/** ContainerPatch fields besides name and env; the `node` container's env can only go through `trainer.env`. */
const TRAINJOB_CONTAINER_FIELDS = ['volumeMounts', 'securityContext'];
const TRAINJOB_CONTAINER = 'node';
const TRAINJOB_PATCH_MANAGER = 'mlops-actions';

/** Refuses pod-template fields a TrainJob has no place for, rather than have them vanish on the way. */
function checkTrainJobOverride(override: Json): void {
  const unsupported: string[] = [];
  const metadata = (override.metadata ?? {}) as Json;
  for (const key of Object.keys(metadata))
    if (key !== 'labels' && key !== 'annotations') unsupported.push(`metadata.${key}`);
  const podSpec = (override.spec ?? {}) as Json;
  for (const key of Object.keys(podSpec))
    if (key !== 'containers' && !TRAINJOB_POD_FIELDS.includes(key)) unsupported.push(`spec.${key}`);
  for (const container of (podSpec.containers ?? []) as Json[]) {
    const allowed = new Set(['name', ...TRAINJOB_CONTAINER_FIELDS, 'env']);
    if (container.name === TRAINJOB_CONTAINER)
      for (const key of ['image', 'command', 'resources']) allowed.add(key);
    for (const key of Object.keys(container))
      if (!allowed.has(key)) unsupported.push(`spec.containers[${String(container.name)}].${key}`);
  }
  for (const key of Object.keys(override)) if (key !== 'metadata' && key !== 'spec') unsupported.push(key);
  if (unsupported.length)
    throw new Error(
      `pod-template: ${unsupported.join(', ')} cannot be set on a TrainJob; its runtime patches take pod labels and annotations, spec.${TRAINJOB_POD_FIELDS.join('/')}, and containers' env, volumeMounts and securityContext`,
    );
}

/**
 * A TrainJob as Kubeflow Trainer v2.3.0 (trainer.kubeflow.org/v1alpha1) defines it: the trainer container
 * through `spec.trainer`, everything else about the pods as a `runtimePatches` entry owned by this action,
 * patching the runtime's `node` replicated job. runtimePatches exist since v2.2.0 (which lacks only
 * terminationGracePeriodSeconds); v2.0 had `spec.labels`/`podSpecOverrides` and v2.1 `podTemplateOverrides`,
 * which current Trainers prune.
 */
function buildTrainJob(
  o: KubernetesBackendOptions,
  spec: TrainingJobSpec,
  deadline: number | undefined,
): Json {
  if (o.podTemplate) checkTrainJobOverride(o.podTemplate);
  const template = podTemplate(o, spec, TRAINJOB_CONTAINER);
  const podSpec = template.spec as Json;
  const containers = podSpec.containers as Json[];
  const node = containers.find((c) => c.name === TRAINJOB_CONTAINER)!;
  const patch: Json = {};
  for (const key of TRAINJOB_POD_FIELDS) if (podSpec[key] !== undefined) patch[key] = podSpec[key];
  const containerPatches = containers
    .map((c) => {
      const fields =
        c.name === TRAINJOB_CONTAINER ? TRAINJOB_CONTAINER_FIELDS : ['env', ...TRAINJOB_CONTAINER_FIELDS];
      const entry: Json = { name: c.name };
      for (const key of fields) if (c[key] !== undefined) entry[key] = c[key];
      return entry;
    })
    .filter((entry) => Object.keys(entry).length > 1);
  if (containerPatches.length) patch.containers = containerPatches;
  const info = KINDS.trainjob;
  return {
    apiVersion: `${info.group}/${info.version}`,
    kind: info.kind,
    metadata: { name: spec.name, namespace: o.namespace, labels: { ...spec.labels } },
    spec: {
      runtimeRef: { name: o.runtime, apiGroup: info.group, kind: 'ClusterTrainingRuntime' },
      trainer: {
        image: node.image,
        command: node.command,
        env: node.env,
        numNodes: o.nodes,
        ...(node.resources ? { resourcesPerNode: node.resources } : {}),
      },
      ...(deadline ? { activeDeadlineSeconds: deadline } : {}),
      runtimePatches: [
        {
          manager: TRAINJOB_PATCH_MANAGER,
          trainingRuntimeSpec: {
            template: {
              spec: {
                replicatedJobs: [
                  {
                    name: TRAINJOB_CONTAINER,
                    template: { spec: { template: { metadata: template.metadata, spec: patch } } },
                  },
                ],
              },
            },
          },
        },
      ],
    },
  };
}

/** The object submitted for each kind. */
export function buildJobObject(o: KubernetesBackendOptions, spec: TrainingJobSpec): Json {
  const info = KINDS[o.kind];
  const metadata = { name: spec.name, namespace: o.namespace, labels: { ...spec.labels } };
  const deadline = spec.timeoutMs > 0 ? Math.ceil(spec.timeoutMs / 1000) : undefined;
  const apiVersion = `${info.group}/${info.version}`;
  if (o.kind === 'job') {
    const indexed = o.nodes > 1;
    return {
      apiVersion,
      kind: info.kind,
      metadata,
      spec: {
        backoffLimit: 0,
        ...(indexed ? { completions: o.nodes, parallelism: o.nodes, completionMode: 'Indexed' } : {}),
        ...(deadline ? { activeDeadlineSeconds: deadline } : {}),
        template: podTemplate(o, spec, 'train'),
      },
    };
  }
  if (o.kind === 'pytorchjob') {
    const replica = (replicas: number) => ({
      replicas,
      restartPolicy: 'Never',
      template: podTemplate(o, spec, 'pytorch'),
    });
    return {
      apiVersion,
      kind: info.kind,
      metadata,
      spec: {
        runPolicy: { backoffLimit: 0, ...(deadline ? { activeDeadlineSeconds: deadline } : {}) },
        pytorchReplicaSpecs: {
          Master: replica(1),
          ...(o.nodes > 1 ? { Worker: replica(o.nodes - 1) } : {}),
        },
      },
    };
  }
  return buildTrainJob(o, spec, deadline);
}

function transient(f: KubeApiFailure): boolean {
  return f.code === undefined || f.code === 429 || f.code >= 500;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/** RFC 3339 timestamps with nanoseconds, normalised so that string order is time order. */
export function timestampKey(ts: string): string {
  const m = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?Z$/.exec(ts);
  if (!m) return ts;
  return `${m[1]}.${(m[2] ?? '').padEnd(9, '0')}`;
}

interface PodView {
  name: string;
  phase: string;
  container?: string;
  waiting?: { reason: string; message?: string };
  terminated?: { exitCode: number; reason?: string; message?: string };
}

function podView(pod: Json): PodView {
  const metadata = pod.metadata as { name: string };
  const status = (pod.status ?? {}) as {
    phase?: string;
    containerStatuses?: Array<{ name: string; state?: Json }>;
  };
  const spec = (pod.spec ?? {}) as { containers?: Array<{ name: string }> };
  const first = status.containerStatuses?.[0];
  const state = (first?.state ?? {}) as {
    waiting?: { reason?: string; message?: string };
    terminated?: { exitCode: number; reason?: string; message?: string };
  };
  return {
    name: metadata.name,
    phase: status.phase ?? 'Pending',
    container: spec.containers?.[0]?.name,
    waiting: state.waiting?.reason
      ? { reason: state.waiting.reason, message: state.waiting.message }
      : undefined,
    terminated: state.terminated,
  };
}

/** The job's own verdict from its conditions: Complete/Succeeded, or Failed with the controller's reason. */
function jobVerdict(object: Json): { done: 'succeeded' | 'failed'; reason?: string } | undefined {
  const conditions = ((object.status as Json | undefined)?.conditions ?? []) as Array<{
    type: string;
    status: string;
    reason?: string;
    message?: string;
  }>;
  for (const c of conditions) {
    if (c.status !== 'True') continue;
    if (c.type === 'Complete' || c.type === 'Succeeded') return { done: 'succeeded' };
    if (c.type === 'Failed')
      return { done: 'failed', reason: [c.reason, c.message].filter(Boolean).join(': ') || 'Failed' };
  }
  return undefined;
}

const VERBS: Record<string, string> = {
  submit: 'create',
  read: 'get',
  delete: 'delete',
  'list pods': 'list',
};

/** Kubernetes Jobs and Kubeflow training jobs through the API server, with kubectl's credentials. */
export class KubernetesBackend implements TrainingBackend {
  readonly kind = 'kubernetes';
  private readonly info: KindInfo;
  private api?: ReturnType<KubernetesBackend['connect']>;

  constructor(
    private readonly o: KubernetesBackendOptions,
    private readonly log: { info(line: string): void; warning(line: string): void } = {
      info: () => {},
      warning: () => {},
    },
  ) {
    this.info = KINDS[o.kind];
  }

  describe(): string {
    return `Kubernetes ${this.info.describe} in namespace ${this.o.namespace}${this.o.nodes > 1 ? ` on ${this.o.nodes} nodes` : ''}`;
  }

  private connect() {
    return (async () => {
      const { kc, k8s } = await loadKubeConfig(this.o);
      return {
        kc,
        custom: kc.makeApiClient(k8s.CustomObjectsApi),
        core: kc.makeApiClient(k8s.CoreV1Api),
      };
    })();
  }

  private client() {
    this.api ??= this.connect();
    return this.api;
  }

  /** One API call with retries on 429/5xx/network errors (Retry-After honoured), errors in one line. */
  private async call<T>(
    what: keyof typeof VERBS,
    resource: string,
    work: () => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const attempts = 8;
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (error instanceof ActionError) throw error;
        const f = kubeApiFailure(error);
        if (f.code === 403) {
          const who = /User "([^"]+)"/.exec(f.message)?.[1];
          throw new ActionError(
            `Kubernetes refused to ${VERBS[what]} ${resource} in namespace ${this.o.namespace} (403 Forbidden${who ? ` for ${who}` : ''}): grant '${VERBS[what]}' on ${resource} in ${this.o.namespace} to these credentials${this.o.serviceAccount ? ` (the pods run as service account ${this.o.serviceAccount})` : ''}, or choose another namespace; the API said: ${f.message}`,
          );
        }
        if (!transient(f) || attempt >= attempts || signal?.aborted) {
          throw new ActionError(
            `Kubernetes: ${what} ${resource} in namespace ${this.o.namespace} failed${f.code ? ` (${f.code})` : ''}${attempt > 1 ? ` after ${attempt} attempts` : ''}: ${f.message}`,
          );
        }
        const delay = f.retryAfterMs ?? Math.min(8000, 250 * 2 ** (attempt - 1));
        this.log.info(
          `Kubernetes: ${what} ${resource} answered ${f.code ?? 'a network error'} (${f.message}); retrying in ${(delay / 1000).toFixed(1)} s (attempt ${attempt + 1} of ${attempts}).`,
        );
        await sleep(delay, signal);
      }
    }
  }

  private get resource(): string {
    return `${this.info.plural}.${this.info.group}`;
  }

  async submit(spec: TrainingJobSpec, signal?: AbortSignal): Promise<SubmittedJob> {
    const { custom } = await this.client();
    const body = buildJobObject(this.o, spec);
    await this.call(
      'submit',
      this.resource,
      () =>
        custom.createNamespacedCustomObject({
          group: this.info.group,
          version: this.info.version,
          namespace: this.o.namespace,
          plural: this.info.plural,
          body,
          // A CRD prunes fields its schema lacks; Strict makes a Trainer of another version refuse them instead.
          fieldValidation: 'Strict',
        }),
      signal,
    );
    return {
      backend: this.kind,
      id: `${this.o.namespace}/${this.o.kind}/${spec.name}`,
      describe: `kubectl -n ${this.o.namespace} describe ${this.info.plural}.${this.info.group} ${spec.name}`,
    };
  }

  private async read(name: string, signal?: AbortSignal): Promise<Json> {
    const { custom } = await this.client();
    return this.call(
      'read',
      this.resource,
      () =>
        custom.getNamespacedCustomObject({
          group: this.info.group,
          version: this.info.version,
          namespace: this.o.namespace,
          plural: this.info.plural,
          name,
        }) as Promise<Json>,
      signal,
    );
  }

  private async pods(name: string, signal?: AbortSignal): Promise<Json[]> {
    const { core } = await this.client();
    const list = await this.call(
      'list pods',
      'pods',
      () =>
        core.listNamespacedPod({
          namespace: this.o.namespace,
          labelSelector: `${this.info.podLabel}=${name}`,
        }),
      signal,
    );
    return (list.items ?? []) as unknown as Json[];
  }

  async cancel(job: SubmittedJob, signal?: AbortSignal): Promise<void> {
    const name = job.id.split('/').pop()!;
    const { custom } = await this.client();
    try {
      await this.call(
        'delete',
        this.resource,
        () =>
          custom.deleteNamespacedCustomObject({
            group: this.info.group,
            version: this.info.version,
            namespace: this.o.namespace,
            plural: this.info.plural,
            name,
            // Foreground: the job object goes only once its pods are gone, so nothing keeps a GPU.
            propagationPolicy: 'Foreground',
          }),
        signal,
      );
    } catch (error) {
      if (/\(404\)/.test((error as Error).message)) return;
      throw error;
    }
  }

  async follow(job: SubmittedJob, spec: TrainingJobSpec, options: FollowOptions): Promise<JobOutcome> {
    const name = job.id.split('/').pop()!;
    const poll = this.o.pollMs ?? 2000;
    const deadline = spec.timeoutMs > 0 ? Date.now() + spec.timeoutMs : Number.POSITIVE_INFINITY;
    const tails = new Map<string, string[]>();
    const followers = new Map<string, Promise<void>>();
    const stop = new AbortController();
    const phases = new Map<string, string>();
    let jobPhase = '';
    const end = async (outcome: JobOutcome, cancel: boolean): Promise<JobOutcome> => {
      if (cancel)
        await this.cancel(job).catch((e) =>
          this.log.warning(`Could not delete ${job.id}: ${(e as Error).message}`),
        );
      // Let the streams deliver what the ended pods wrote last, then stop them.
      await Promise.race([Promise.all(followers.values()), sleep(cancel ? 0 : 5000)]);
      stop.abort();
      await Promise.all(followers.values());
      return outcome;
    };
    const tailOf = (pod?: string) => (pod ? tails.get(pod) : [...tails.values()].pop()) ?? [];
    for (;;) {
      if (options.signal?.aborted)
        return end({ status: 'cancelled', reason: 'cancelled', tail: tailOf() }, true);
      if (Date.now() > deadline)
        return end(
          {
            status: 'timed-out',
            reason: `no result after ${Math.round(spec.timeoutMs / 1000)} s`,
            tail: tailOf(),
          },
          true,
        );
      const object = await this.read(name, options.signal).catch((error) => {
        if (options.signal?.aborted) return undefined;
        throw error;
      });
      if (!object) continue;
      const pods = (await this.pods(name, options.signal).catch(() => [])).map(podView);
      for (const pod of pods) {
        const phase = pod.waiting ? `${pod.phase} (${pod.waiting.reason})` : pod.phase;
        if (phases.get(pod.name) !== phase) {
          options.onPhase(`pod ${pod.name}: ${phase}`);
          phases.set(pod.name, phase);
        }
        if (pod.waiting && FATAL_WAITING.has(pod.waiting.reason)) {
          return end(
            {
              status: 'failed',
              reason: `${pod.waiting.reason}: ${pod.waiting.message ?? `pod ${pod.name} cannot start its container`}`,
              tail: tailOf(pod.name),
            },
            true,
          );
        }
        if (
          (pod.phase === 'Running' || pod.phase === 'Succeeded' || pod.phase === 'Failed') &&
          pod.container &&
          !followers.has(pod.name)
        ) {
          const tail: string[] = [];
          tails.set(pod.name, tail);
          followers.set(pod.name, this.followLogs(pod.name, pod.container, tail, options, stop.signal));
        }
      }
      const verdict = jobVerdict(object);
      const nextPhase = verdict
        ? verdict.done
        : pods.some((p) => p.phase === 'Running')
          ? 'Running'
          : 'Pending';
      if (nextPhase !== jobPhase) {
        options.onPhase(`${this.info.kind} ${name}: ${nextPhase}`);
        jobPhase = nextPhase;
      }
      if (verdict?.done === 'succeeded') {
        const outcome = await end({ status: 'succeeded', tail: [] }, false);
        return { ...outcome, tail: tailOf() };
      }
      if (verdict?.done === 'failed') {
        await end({ status: 'failed', tail: [] }, false);
        const failing =
          pods.find((p) => p.terminated && p.terminated.exitCode !== 0) ??
          pods.find((p) => p.phase === 'Failed');
        const t = failing?.terminated;
        return {
          status: 'failed',
          reason: [
            verdict.reason,
            failing
              ? `pod ${failing.name}${t?.reason ? ` ${t.reason}` : ''}${t?.message ? `: ${t.message}` : ''}`
              : undefined,
          ]
            .filter(Boolean)
            .join('; '),
          exitCode: t?.exitCode,
          tail: tailOf(failing?.name).slice(-50),
        };
      }
      await sleep(poll, options.signal);
    }
  }

  /**
   * Follows one pod's log (`follow=true&timestamps=true`); when the stream drops while the pod still runs,
   * reconnects with `sinceTime` and skips the lines already shown (sinceTime has second precision).
   */
  private async followLogs(
    pod: string,
    container: string,
    tail: string[],
    options: FollowOptions,
    stop: AbortSignal,
  ): Promise<void> {
    const { kc } = await this.client();
    let last = '';
    let sinceTime: string | undefined;
    for (let attempt = 0; !stop.aborted; attempt++) {
      const ended = await this.streamOnce(kc, pod, container, sinceTime, stop, (ts, text) => {
        const key = timestampKey(ts);
        if (last && key <= last) return;
        last = key;
        sinceTime = `${ts.slice(0, 19)}Z`;
        tail.push(text);
        if (tail.length > 200) tail.shift();
        options.onLine(`[${pod}] ${text}`);
      }).catch((error: Error) => {
        this.log.info(`[${pod}] log stream: ${error.message}`);
        return false;
      });
      if (stop.aborted) return;
      const current = await this.podPhase(pod);
      if (ended && (current === 'Succeeded' || current === 'Failed' || current === undefined)) return;
      if (current === 'Succeeded' || current === 'Failed' || current === undefined) {
        // One last read for what the pod wrote before the stream dropped.
        continue;
      }
      this.log.info(`[${pod}] the log stream dropped; reconnecting${sinceTime ? ` from ${sinceTime}` : ''}.`);
      await sleep(Math.min(5000, 250 * 2 ** Math.min(attempt, 4)), stop);
    }
  }

  private async podPhase(pod: string): Promise<string | undefined> {
    const { core } = await this.client();
    try {
      const p = (await core.readNamespacedPod({ name: pod, namespace: this.o.namespace })) as unknown as Json;
      return podView(p).phase;
    } catch {
      return undefined;
    }
  }

  /** Resolves true when the server closed the stream cleanly, false when it dropped. */
  private async streamOnce(
    kc: import('@kubernetes/client-node').KubeConfig,
    pod: string,
    container: string,
    sinceTime: string | undefined,
    stop: AbortSignal,
    onLine: (timestamp: string, text: string) => void,
  ): Promise<boolean> {
    const cluster = kc.getCurrentCluster()!;
    const url = new URL(`${cluster.server}/api/v1/namespaces/${this.o.namespace}/pods/${pod}/log`);
    url.searchParams.set('container', container);
    url.searchParams.set('follow', 'true');
    url.searchParams.set('timestamps', 'true');
    if (sinceTime) url.searchParams.set('sinceTime', sinceTime);
    const options: import('node:https').RequestOptions = { method: 'GET' };
    await kc.applyToHTTPSOptions(options);
    const transport = url.protocol === 'https:' ? await import('node:https') : await import('node:http');
    return new Promise((resolve, reject) => {
      const req = transport.request(url, { ...options, signal: stop }, (res: IncomingMessage) => {
        if (res.statusCode !== 200) {
          res.resume();
          reject(new Error(`HTTP ${res.statusCode}`));
          return;
        }
        let partial = '';
        let clean = false;
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => {
          const lines = (partial + chunk).split('\n');
          partial = lines.pop() ?? '';
          for (const line of lines) {
            const space = line.indexOf(' ');
            if (space > 0) onLine(line.slice(0, space), line.slice(space + 1).replace(/\r$/, ''));
          }
        });
        res.on('end', () => {
          clean = res.complete;
        });
        res.on('close', () => resolve(clean));
        res.on('error', () => resolve(false));
      });
      req.on('error', (error) => (stop.aborted ? resolve(false) : reject(error)));
      req.end();
    });
  }
}
