import { kubeApiFailure, loadKubeConfig } from '@mlops-actions/compute';
import { ActionError } from '@mlops-actions/kit';
import type { Router } from './router';

export interface KubeOptions {
  /** A kubeconfig path; without it KUBECONFIG, ~/.kube/config, then in-cluster credentials. */
  kubeconfig?: string;
  context?: string;
  namespace: string;
  env?: NodeJS.ProcessEnv;
}

export interface ResourceRef {
  group: string;
  version: string;
  plural: string;
  kind: string;
  name: string;
}

export type JsonPatchOp =
  | { op: 'add' | 'replace' | 'test'; path: string; value: unknown }
  | { op: 'remove'; path: string };

export type KubeObject = Record<string, unknown> & {
  metadata?: {
    name?: string;
    namespace?: string;
    uid?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: Array<{ kind: string; name: string; uid: string; controller?: boolean }>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
};

/** A failed Kubernetes API call; `code` is the HTTP status (409 Conflict is worth a fresh read and a retry). */
export class KubeApiError extends ActionError {
  override name = 'KubeApiError';
  constructor(
    message: string,
    readonly code?: number,
  ) {
    super(message);
  }
}

/** The few calls the routers make, through @kubernetes/client-node (loaded only when a Kubernetes router is used). */
export class KubeClient {
  private api?: Promise<{
    custom: import('@kubernetes/client-node').CustomObjectsApi;
    core: import('@kubernetes/client-node').CoreV1Api;
    k8s: typeof import('@kubernetes/client-node');
  }>;

  constructor(readonly o: KubeOptions) {}

  private load() {
    this.api ??= (async () => {
      const { kc, k8s } = await loadKubeConfig(this.o);
      return { custom: kc.makeApiClient(k8s.CustomObjectsApi), core: kc.makeApiClient(k8s.CoreV1Api), k8s };
    })();
    return this.api;
  }

  private async call<T>(
    what: string,
    ref: { kind: string; name: string },
    work: () => Promise<T>,
  ): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ActionError) throw error;
      const { code, message } = kubeApiFailure(error);
      throw new KubeApiError(
        `Kubernetes: ${what} ${ref.kind} ${this.o.namespace}/${ref.name} failed${code ? ` (${code})` : ''}: ${message}`,
        code,
      );
    }
  }

  async get(ref: ResourceRef): Promise<KubeObject> {
    const { custom } = await this.load();
    return this.call('get', ref, () =>
      custom.getNamespacedCustomObject({
        group: ref.group,
        version: ref.version,
        namespace: this.o.namespace,
        plural: ref.plural,
        name: ref.name,
      }),
    );
  }

  /** A core (`/api/v1`) Service, such as the one in front of a stable and a canary Deployment. */
  async getService(name: string): Promise<KubeObject> {
    const { core } = await this.load();
    return this.call('get', { kind: 'Service', name }, async () => {
      const service = await core.readNamespacedService({ name, namespace: this.o.namespace });
      return service as unknown as KubeObject;
    });
  }

  /** The `scale` subresource (an autoscaling/v1 Scale). */
  async getScale(ref: ResourceRef): Promise<KubeObject> {
    const { custom } = await this.load();
    return this.call('get scale of', ref, () =>
      custom.getNamespacedCustomObjectScale({
        group: ref.group,
        version: ref.version,
        namespace: this.o.namespace,
        plural: ref.plural,
        name: ref.name,
      }),
    );
  }

  /** Replaces the Scale; with its metadata.resourceVersion the server refuses a stale write with 409. */
  async replaceScale(ref: ResourceRef, scale: KubeObject): Promise<KubeObject> {
    const { custom } = await this.load();
    return this.call('scale', ref, () =>
      custom.replaceNamespacedCustomObjectScale({
        group: ref.group,
        version: ref.version,
        namespace: this.o.namespace,
        plural: ref.plural,
        name: ref.name,
        body: scale,
      }),
    );
  }

  async list(ref: Omit<ResourceRef, 'name'>, labelSelector?: string): Promise<KubeObject[]> {
    const { custom } = await this.load();
    const result = (await this.call('list', { kind: ref.kind, name: '*' }, () =>
      custom.listNamespacedCustomObject({
        group: ref.group,
        version: ref.version,
        namespace: this.o.namespace,
        plural: ref.plural,
        labelSelector,
      }),
    )) as { items?: KubeObject[] };
    return result.items ?? [];
  }

  /** A JSON Patch (RFC 6902) or a JSON merge patch (RFC 7386); custom resources take no strategic merge. */
  async patch(
    ref: ResourceRef,
    body: JsonPatchOp[] | Record<string, unknown>,
    options: { status?: boolean } = {},
  ): Promise<KubeObject> {
    const { custom, k8s } = await this.load();
    const type = Array.isArray(body) ? k8s.PatchStrategy.JsonPatch : k8s.PatchStrategy.MergePatch;
    const params = {
      group: ref.group,
      version: ref.version,
      namespace: this.o.namespace,
      plural: ref.plural,
      name: ref.name,
      body,
    };
    const headers = k8s.setHeaderOptions('Content-Type', type);
    return this.call('patch', ref, () =>
      options.status
        ? custom.patchNamespacedCustomObjectStatus(params, headers)
        : custom.patchNamespacedCustomObject(params, headers),
    );
  }
}

export interface BackendRouterOptions {
  client: KubeClient;
  name: string;
  stableBackend: string;
  canaryBackend: string;
}

function clampShares(weight: number): { stable: number; canary: number } {
  const canary = Math.round(weight);
  return { canary, stable: 100 - canary };
}

/**
 * Gateway API HTTPRoute: the weights of the backendRefs named stable/canary, in every rule that has
 * both. A JSON Patch that tests each backend's name and sets only its weight.
 */
export class GatewayRouter implements Router {
  readonly kind = 'gateway-api';
  static readonly ref = {
    group: 'gateway.networking.k8s.io',
    version: 'v1',
    plural: 'httproutes',
    kind: 'HTTPRoute',
  };

  constructor(private readonly o: BackendRouterOptions) {}

  private get ref(): ResourceRef {
    return { ...GatewayRouter.ref, name: this.o.name };
  }

  describe(): string {
    return `HTTPRoute ${this.o.client.o.namespace}/${this.o.name} (${this.o.stableBackend} / ${this.o.canaryBackend})`;
  }

  private locate(route: KubeObject): Array<{ rule: number; stable: number; canary: number }> {
    const rules =
      (route.spec?.rules as Array<{ backendRefs?: Array<{ name?: string; weight?: number }> }>) ?? [];
    const found: Array<{ rule: number; stable: number; canary: number }> = [];
    rules.forEach((rule, index) => {
      const refs = rule.backendRefs ?? [];
      const stable = refs.findIndex((r) => r.name === this.o.stableBackend);
      const canary = refs.findIndex((r) => r.name === this.o.canaryBackend);
      if (stable >= 0 && canary >= 0) found.push({ rule: index, stable, canary });
    });
    if (found.length === 0) {
      throw new ActionError(
        `HTTPRoute ${this.o.client.o.namespace}/${this.o.name} has no rule with both backendRefs '${this.o.stableBackend}' and '${this.o.canaryBackend}'; add both to a rule (the canary with weight: 0)`,
      );
    }
    return found;
  }

  async setWeight(weight: number): Promise<void> {
    const route = await this.o.client.get(this.ref);
    const w = clampShares(weight);
    const ops: JsonPatchOp[] = [];
    for (const at of this.locate(route)) {
      const base = `/spec/rules/${at.rule}/backendRefs`;
      ops.push({ op: 'test', path: `${base}/${at.stable}/name`, value: this.o.stableBackend });
      ops.push({ op: 'test', path: `${base}/${at.canary}/name`, value: this.o.canaryBackend });
      ops.push({ op: 'add', path: `${base}/${at.stable}/weight`, value: w.stable });
      ops.push({ op: 'add', path: `${base}/${at.canary}/weight`, value: w.canary });
    }
    await this.o.client.patch(this.ref, ops);
  }

  async current(): Promise<number | undefined> {
    const route = await this.o.client.get(this.ref);
    const at = this.locate(route)[0]!;
    const refs = (route.spec!.rules as Array<{ backendRefs: Array<{ weight?: number }> }>)[at.rule]!
      .backendRefs;
    const stable = refs[at.stable]!.weight ?? 1;
    const canary = refs[at.canary]!.weight ?? 1;
    return stable + canary > 0 ? (100 * canary) / (stable + canary) : undefined;
  }

  rollback(): Promise<void> {
    return this.setWeight(0);
  }

  promote(): Promise<void> {
    return this.setWeight(100);
  }
}

/**
 * Istio VirtualService: the weights of the HTTP routes whose destination subset (or host) is the stable
 * or the canary backend, in every http route that has both. Istio wants each route's weights to add to 100.
 */
export class IstioRouter implements Router {
  readonly kind = 'istio';
  static readonly ref = {
    group: 'networking.istio.io',
    version: 'v1beta1',
    plural: 'virtualservices',
    kind: 'VirtualService',
  };

  constructor(private readonly o: BackendRouterOptions) {}

  private get ref(): ResourceRef {
    return { ...IstioRouter.ref, name: this.o.name };
  }

  describe(): string {
    return `VirtualService ${this.o.client.o.namespace}/${this.o.name} (${this.o.stableBackend} / ${this.o.canaryBackend})`;
  }

  private locate(vs: KubeObject) {
    type Dest = { destination?: { host?: string; subset?: string }; weight?: number };
    const http = (vs.spec?.http as Array<{ route?: Dest[] }>) ?? [];
    const matches = (d: Dest, name: string) => (d.destination?.subset ?? d.destination?.host) === name;
    const found: Array<{ http: number; stable: number; canary: number; stableDest: Dest; canaryDest: Dest }> =
      [];
    http.forEach((h, index) => {
      const routes = h.route ?? [];
      const stable = routes.findIndex((d) => matches(d, this.o.stableBackend));
      const canary = routes.findIndex((d) => matches(d, this.o.canaryBackend));
      if (stable >= 0 && canary >= 0)
        found.push({ http: index, stable, canary, stableDest: routes[stable]!, canaryDest: routes[canary]! });
    });
    if (found.length === 0) {
      throw new ActionError(
        `VirtualService ${this.o.client.o.namespace}/${this.o.name} has no http route with destinations '${this.o.stableBackend}' and '${this.o.canaryBackend}' (matched by subset, else host)`,
      );
    }
    return found;
  }

  async setWeight(weight: number): Promise<void> {
    const vs = await this.o.client.get(this.ref);
    const w = clampShares(weight);
    const ops: JsonPatchOp[] = [];
    for (const at of this.locate(vs)) {
      const base = `/spec/http/${at.http}/route`;
      ops.push({ op: 'test', path: `${base}/${at.stable}/destination`, value: at.stableDest.destination });
      ops.push({ op: 'test', path: `${base}/${at.canary}/destination`, value: at.canaryDest.destination });
      ops.push({ op: 'add', path: `${base}/${at.stable}/weight`, value: w.stable });
      ops.push({ op: 'add', path: `${base}/${at.canary}/weight`, value: w.canary });
    }
    await this.o.client.patch(this.ref, ops);
  }

  async current(): Promise<number | undefined> {
    const at = this.locate(await this.o.client.get(this.ref))[0]!;
    return at.canaryDest.weight ?? 0;
  }

  rollback(): Promise<void> {
    return this.setWeight(0);
  }

  promote(): Promise<void> {
    return this.setWeight(100);
  }
}

/**
 * KServe InferenceService: `spec.predictor.canaryTrafficPercent` by merge patch. 0 sends everything to
 * the previous ready revision; promotion removes the field so the latest revision takes all traffic.
 */
export class KServeRouter implements Router {
  readonly kind = 'kserve';
  static readonly ref = {
    group: 'serving.kserve.io',
    version: 'v1beta1',
    plural: 'inferenceservices',
    kind: 'InferenceService',
  };

  constructor(private readonly o: { client: KubeClient; name: string }) {}

  private get ref(): ResourceRef {
    return { ...KServeRouter.ref, name: this.o.name };
  }

  describe(): string {
    return `InferenceService ${this.o.client.o.namespace}/${this.o.name}`;
  }

  async setWeight(weight: number): Promise<void> {
    const percent = weight >= 100 ? null : Math.round(weight);
    await this.o.client.patch(this.ref, { spec: { predictor: { canaryTrafficPercent: percent } } });
  }

  async current(): Promise<number | undefined> {
    const isvc = await this.o.client.get(this.ref);
    const value = (isvc.spec?.predictor as { canaryTrafficPercent?: number } | undefined)
      ?.canaryTrafficPercent;
    return value ?? 100;
  }

  rollback(): Promise<void> {
    return this.setWeight(0);
  }

  promote(): Promise<void> {
    return this.setWeight(100);
  }
}
