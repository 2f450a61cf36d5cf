import { ActionError, InputError } from '@mlops-actions/kit';
import { abortableSleep } from '../phases';
import {
  type JsonPatchOp,
  KubeApiError,
  type KubeClient,
  type KubeObject,
  type ResourceRef,
} from './kubernetes';
import type { Router } from './router';

export interface DeploymentRouterOptions {
  client: KubeClient;
  /**
   * replicas: a stable and a canary Deployment behind one Service, traffic split by pod counts.
   * in-place: one Deployment whose image is updated by its own rolling update; weights are only
   * observation phases, and a rollback is `kubectl rollout undo`.
   */
  mode: 'replicas' | 'in-place';
  /** The stable Deployment (in-place: the Deployment that is updated). */
  stable: string;
  canary?: string;
  /** The Service whose selector picks the pods of both Deployments. */
  service?: string;
  /** Pods of both tracks together; default: the stable Deployment's replicas before the rollout. */
  replicas?: number;
  /** in-place: the new image; replicas mode with promote-by image: unused (the canary's image is copied). */
  image?: string;
  container?: string;
  /**
   * image (default): stable takes the canary's image and its full count, then the canary goes to 0, so the
   * stable Deployment (its name, HPA, PodDisruptionBudget, dashboards) stays the long-lived one and the
   * canary Deployment is free for the next candidate. scale: the canary takes the full count and stable
   * goes to 0, leaving the two Deployments' roles swapped for the next rollout.
   */
  promoteBy?: 'image' | 'scale';
  /** Bound of each wait for `rollout status`. */
  timeoutMs?: number;
  pollMs?: number;
  log?: (line: string) => void;
  warn?: (line: string) => void;
}

/** The stable Deployment's replicas before the first change, kept on it so a later job (post, abort) restores them. */
export const STABLE_REPLICAS_ANNOTATION = 'canary-deploy.mlops-actions/stable-replicas';
/** in-place: the observation phase the rollout reached, read back on resume. */
export const PHASE_ANNOTATION = 'canary-deploy.mlops-actions/weight';
const REVISION = 'deployment.kubernetes.io/revision';

const DEPLOYMENTS = { group: 'apps', version: 'v1', plural: 'deployments', kind: 'Deployment' };
const REPLICASETS = { group: 'apps', version: 'v1', plural: 'replicasets', kind: 'ReplicaSet' };

type Labels = Record<string, string>;
interface Container {
  name: string;
  image?: string;
}
interface PodTemplate {
  metadata?: { labels?: Labels; annotations?: Labels };
  spec?: { containers?: Container[] };
}
interface DeploymentSpec {
  replicas?: number;
  paused?: boolean;
  selector?: { matchLabels?: Labels; matchExpressions?: unknown[] };
  template?: PodTemplate;
}
interface DeploymentStatus {
  observedGeneration?: number;
  replicas?: number;
  updatedReplicas?: number;
  availableReplicas?: number;
  conditions?: Array<{ type: string; status: string; reason?: string; message?: string }>;
}

/**
 * Stable and canary pod counts for a canary share of `weight`% when stable normally runs `total` pods.
 * Stable keeps the pods its own share needs (ceil of (100 − weight)% of total) so it is never starved;
 * the canary gets the count, at least 1, whose share of all pods is closest to the weight.
 */
export function replicaSplit(
  weight: number,
  total: number,
): { stable: number; canary: number; share: number } {
  if (weight <= 0) return { stable: total, canary: 0, share: 0 };
  if (weight >= 100) return { stable: 0, canary: total, share: 100 };
  const stable = Math.max(1, Math.ceil(((100 - weight) * total) / 100 - 1e-9));
  const ideal = (weight * stable) / (100 - weight);
  const error = (c: number) => Math.abs((100 * c) / (stable + c) - weight);
  const low = Math.max(1, Math.floor(ideal));
  const canary = error(low + 1) < error(low) ? low + 1 : low;
  return { stable, canary, share: (100 * canary) / (stable + canary) };
}

/** What `kubectl rollout status` says of a Deployment: done, still waiting (and why), or failed. */
export function rolloutStatus(deployment: KubeObject): { done: boolean; message: string; failed?: boolean } {
  const name = `${deployment.metadata?.namespace}/${deployment.metadata?.name}`;
  const spec = (deployment.spec ?? {}) as DeploymentSpec;
  const status = (deployment.status ?? {}) as DeploymentStatus;
  if ((deployment.metadata?.generation ?? 0) > (status.observedGeneration ?? 0))
    return { done: false, message: 'waiting for the deployment spec update to be observed' };
  const progressing = status.conditions?.find((c) => c.type === 'Progressing');
  if (progressing?.reason === 'ProgressDeadlineExceeded')
    return {
      done: false,
      failed: true,
      message: `Deployment ${name} exceeded its progress deadline (ProgressDeadlineExceeded)${progressing.message ? `: ${progressing.message.replace(/\.$/, '')}` : ''}; its new pods did not become available (kubectl -n ${deployment.metadata?.namespace} describe deployment ${deployment.metadata?.name})`,
    };
  const want = spec.replicas ?? 1;
  const updated = status.updatedReplicas ?? 0;
  if (updated < want) return { done: false, message: `${updated} of ${want} new replicas updated` };
  if ((status.replicas ?? 0) > updated)
    return { done: false, message: `${(status.replicas ?? 0) - updated} old replicas pending termination` };
  const available = status.availableReplicas ?? 0;
  if (available < updated)
    return { done: false, message: `${available} of ${updated} updated replicas available` };
  return { done: true, message: 'successfully rolled out' };
}

const matches = (selector: Labels, labels: Labels | undefined) =>
  Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels?.[k] === v);
const labelText = (labels: Labels | undefined) =>
  Object.entries(labels ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(',');

/**
 * Plain Kubernetes Deployments, no mesh: in replicas mode a Service selects the pods of a stable and a
 * canary Deployment, so each gets traffic in proportion to its ready pods; a weight becomes pod counts
 * through the `scale` subresource. In in-place mode one Deployment takes the new image and rolls back
 * as `kubectl rollout undo` does.
 */
export class DeploymentRouter implements Router {
  readonly kind = 'deployment';
  private checked = false;

  constructor(private readonly o: DeploymentRouterOptions) {}

  private ref(name: string): ResourceRef {
    return { ...DEPLOYMENTS, name };
  }

  private get ns(): string {
    return this.o.client.o.namespace;
  }

  describe(): string {
    return this.o.mode === 'in-place'
      ? `Deployment ${this.ns}/${this.o.stable} (in place)`
      : `Deployments ${this.ns}/${this.o.stable} / ${this.o.canary} behind Service ${this.o.service}`;
  }

  private async read(name: string, input: string): Promise<KubeObject> {
    try {
      return await this.o.client.get(this.ref(name));
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 404)
        throw new InputError(
          input,
          `Deployment ${this.ns}/${name} not found; give the name of an existing Deployment in namespace ${this.ns}`,
        );
      throw error;
    }
  }

  /** Once per run: both Deployments exist, the Service selects both and neither Deployment adopts the other's pods. */
  private async inspect(): Promise<{ stable: KubeObject; canary: KubeObject }> {
    const stable = await this.read(this.o.stable, 'resource');
    const canary = await this.read(this.o.canary!, 'canary-deployment');
    if (this.checked) return { stable, canary };
    let service: KubeObject;
    try {
      service = await this.o.client.getService(this.o.service!);
    } catch (error) {
      if (error instanceof KubeApiError && error.code === 404)
        throw new InputError(
          'service',
          `Service ${this.ns}/${this.o.service} not found; give the Service in front of both Deployments`,
        );
      throw error;
    }
    const selector = ((service.spec as { selector?: Labels } | undefined)?.selector ?? {}) as Labels;
    const labels = (d: KubeObject) => (d.spec as DeploymentSpec).template?.metadata?.labels;
    const missed = [stable, canary].filter((d) => !matches(selector, labels(d)));
    if (missed.length > 0) {
      throw new InputError(
        'service',
        `Service ${this.ns}/${this.o.service} selects ${labelText(selector) || 'nothing'}, which does not match the pods of ${missed
          .map((d) => `Deployment ${d.metadata?.name} (${labelText(labels(d))})`)
          .join(
            ' and ',
          )}; give both pod templates the Service's labels (e.g. app=…) and keep what differs (e.g. track=stable|canary) out of the Service selector`,
      );
    }
    for (const [owner, other] of [
      [stable, canary],
      [canary, stable],
    ] as const) {
      const own = (owner.spec as DeploymentSpec).selector?.matchLabels ?? {};
      if (matches(own, labels(other)))
        throw new InputError(
          'canary-deployment',
          `the selector of Deployment ${owner.metadata?.name} (${labelText(own)}) also matches the pods of ${other.metadata?.name}; give each Deployment a label the other lacks (e.g. track=stable|canary)`,
        );
    }
    this.checked = true;
    return { stable, canary };
  }

  /** Pods of both tracks together: the replicas input, else what stable had before this rollout began. */
  private total(stable: KubeObject): number {
    const recorded = stable.metadata?.annotations?.[STABLE_REPLICAS_ANNOTATION];
    const total =
      this.o.replicas ??
      (recorded !== undefined ? Number(recorded) : ((stable.spec as DeploymentSpec).replicas ?? 1));
    if (!(total > 0))
      throw new InputError(
        'resource',
        `Deployment ${this.ns}/${this.o.stable} has 0 replicas, so no pod count gives the canary a share; scale it up or give replicas (the pods of both tracks together)`,
      );
    return total;
  }

  /** A merge patch of the Deployment's annotations with its resourceVersion, so a concurrent writer causes 409, not a lost update. */
  private async annotate(name: string, annotations: Record<string, string | null>): Promise<void> {
    await this.retryConflicts(name, async () => {
      const current = await this.o.client.get(this.ref(name));
      await this.o.client.patch(this.ref(name), {
        metadata: { resourceVersion: current.metadata?.resourceVersion, annotations },
      });
    });
  }

  private async retryConflicts(name: string, work: () => Promise<void>): Promise<void> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await work();
      } catch (error) {
        if (!(error instanceof KubeApiError && error.code === 409) || attempt >= 5) throw error;
        this.o.log?.(
          `Deployment ${this.ns}/${name} changed under us (409 Conflict): reading it again (attempt ${attempt + 1} of 5)`,
        );
        await abortableSleep(100 * 2 ** attempt);
      }
    }
  }

  /** Sets spec.replicas through the scale subresource, guarded by the Scale's resourceVersion. */
  private async scale(name: string, replicas: number): Promise<void> {
    await this.retryConflicts(name, async () => {
      const scale = await this.o.client.getScale(this.ref(name));
      if ((scale.spec as { replicas?: number } | undefined)?.replicas === replicas) return;
      await this.o.client.replaceScale(this.ref(name), {
        apiVersion: 'autoscaling/v1',
        kind: 'Scale',
        metadata: { name, namespace: this.ns, resourceVersion: scale.metadata?.resourceVersion },
        spec: { replicas },
      });
    });
  }

  /** Polls like `kubectl rollout status` until done, failed (ProgressDeadlineExceeded) or timeout. */
  private async waitRollout(name: string, signal?: AbortSignal): Promise<void> {
    const timeoutMs = this.o.timeoutMs ?? 300_000;
    const deadline = Date.now() + timeoutMs;
    let last = '';
    for (;;) {
      const status = rolloutStatus(await this.o.client.get(this.ref(name)));
      if (status.done) return;
      if (status.failed) throw new ActionError(status.message);
      if (status.message !== last) this.o.log?.(`Deployment ${this.ns}/${name}: ${status.message}`);
      last = status.message;
      if (Date.now() > deadline)
        throw new ActionError(
          `Deployment ${this.ns}/${name} did not finish rolling out within ${Math.round(timeoutMs / 1000)} s (rollout-timeout): ${status.message}`,
        );
      await abortableSleep(this.o.pollMs ?? 1000, signal);
    }
  }

  async setWeight(weight: number, signal?: AbortSignal): Promise<void> {
    if (this.o.mode === 'in-place') return this.setPhase(weight, signal);
    if (weight >= 100) return this.promote(signal);
    const { stable } = await this.inspect();
    const total = this.total(stable);
    if (weight <= 0) return this.restore(total, signal);
    if (stable.metadata?.annotations?.[STABLE_REPLICAS_ANNOTATION] === undefined)
      await this.annotate(this.o.stable, { [STABLE_REPLICAS_ANNOTATION]: String(total) });
    const split = replicaSplit(weight, total);
    const share = `${weight}% asked, ${split.canary} of ${split.stable + split.canary} pods = ${round(split.share)}%`;
    if (Math.abs(split.share - weight) >= 0.5)
      this.o.warn?.(
        `${share}: the canary's effective share differs from the step (${total} stable pods allow no closer split; set replicas for finer steps)`,
      );
    else this.o.log?.(share);
    // The growing side first, so serving capacity never dips during the change.
    await this.scale(this.o.canary!, split.canary);
    await this.waitRollout(this.o.canary!, signal);
    await this.scale(this.o.stable, split.stable);
    await this.waitRollout(this.o.stable, signal);
  }

  /** Stable back to its count before the rollout, then the canary to 0, and the record removed. */
  private async restore(total: number, signal?: AbortSignal): Promise<void> {
    await this.scale(this.o.stable, total);
    await this.waitRollout(this.o.stable, signal);
    await this.scale(this.o.canary!, 0);
    await this.waitRollout(this.o.canary!, signal);
    await this.annotate(this.o.stable, { [STABLE_REPLICAS_ANNOTATION]: null });
  }

  async current(): Promise<number | undefined> {
    if (this.o.mode === 'in-place') {
      const d = await this.read(this.o.stable, 'resource');
      const phase = d.metadata?.annotations?.[PHASE_ANNOTATION];
      return phase !== undefined && this.containerOf(d).image === this.o.image ? Number(phase) : undefined;
    }
    const { stable, canary } = await this.inspect();
    const s = (stable.spec as DeploymentSpec).replicas ?? 1;
    const c = (canary.spec as DeploymentSpec).replicas ?? 1;
    return s + c > 0 ? (100 * c) / (s + c) : undefined;
  }

  async rollback(signal?: AbortSignal): Promise<void> {
    if (this.o.mode === 'in-place') return this.undo(signal);
    const { stable } = await this.inspect();
    await this.restore(this.total(stable), signal);
  }

  async promote(signal?: AbortSignal): Promise<void> {
    if (this.o.mode === 'in-place') return this.setPhase(100, signal);
    const { stable, canary } = await this.inspect();
    const total = this.total(stable);
    if (this.o.promoteBy === 'scale') {
      await this.scale(this.o.canary!, total);
      await this.waitRollout(this.o.canary!, signal);
      await this.scale(this.o.stable, 0);
      await this.waitRollout(this.o.stable, signal);
    } else {
      const image = this.containerOf(canary).image!;
      await this.setImage(stable, image);
      await this.scale(this.o.stable, total);
      await this.waitRollout(this.o.stable, signal);
      await this.scale(this.o.canary!, 0);
      await this.waitRollout(this.o.canary!, signal);
      this.o.log?.(
        `Deployment ${this.ns}/${this.o.stable} now runs ${image} on ${total} pods; the canary is at 0`,
      );
    }
    await this.annotate(this.o.stable, { [STABLE_REPLICAS_ANNOTATION]: null });
  }

  private containerOf(deployment: KubeObject): Container & { index: number } {
    const containers = (deployment.spec as DeploymentSpec).template?.spec?.containers ?? [];
    const index = this.o.container ? containers.findIndex((c) => c.name === this.o.container) : 0;
    if (index < 0 || !containers[index])
      throw new InputError(
        'container',
        `Deployment ${deployment.metadata?.name} has no container '${this.o.container ?? '(first)'}'; containers: ${containers.map((c) => c.name).join(', ')}`,
      );
    return { ...containers[index]!, index };
  }

  /** A JSON Patch that tests the container's name and replaces only its image. */
  private async setImage(deployment: KubeObject, image: string): Promise<void> {
    const container = this.containerOf(deployment);
    if (container.image === image) return;
    const path = `/spec/template/spec/containers/${container.index}`;
    const ops: JsonPatchOp[] = [
      { op: 'test', path: `${path}/name`, value: container.name },
      { op: 'replace', path: `${path}/image`, value: image },
    ];
    await this.o.client.patch(this.ref(deployment.metadata!.name!), ops);
  }

  /** in-place: the first phase rolls the image out; every phase is then a watch of the fully updated Deployment. */
  private async setPhase(weight: number, signal?: AbortSignal): Promise<void> {
    if (weight <= 0) return this.undo(signal);
    const deployment = await this.read(this.o.stable, 'resource');
    if (this.containerOf(deployment).image !== this.o.image) {
      this.o.log?.(
        `in-place: Deployment ${this.ns}/${this.o.stable} rolls every pod to ${this.o.image} with its own rolling update; each step (${weight}% first) is a watch of the metrics before the next, not a traffic share`,
      );
      await this.setImage(deployment, this.o.image!);
    }
    await this.waitRollout(this.o.stable, signal);
    await this.annotate(this.o.stable, { [PHASE_ANNOTATION]: weight >= 100 ? null : String(weight) });
  }

  /**
   * `kubectl rollout undo`: the Deployment's ReplicaSet with the highest revision below the current one
   * gives back its pod template (without the pod-template-hash label the controller adds). Nothing to do
   * when the Deployment does not run the new image: the rollout never reached it.
   */
  private async undo(signal?: AbortSignal): Promise<void> {
    const deployment = await this.read(this.o.stable, 'resource');
    if (this.containerOf(deployment).image !== this.o.image) {
      this.o.log?.(`Deployment ${this.ns}/${this.o.stable} does not run ${this.o.image}: nothing to undo`);
      return;
    }
    const spec = deployment.spec as DeploymentSpec;
    if (spec.paused)
      throw new ActionError(
        `Deployment ${this.ns}/${this.o.stable} is paused, and a paused Deployment cannot be rolled back; resume it (kubectl rollout resume) and abort again`,
      );
    const current = Number(deployment.metadata?.annotations?.[REVISION] ?? 0);
    const owned = (await this.o.client.list(REPLICASETS, labelText(spec.selector?.matchLabels))).filter(
      (rs) =>
        (rs.metadata?.ownerReferences ?? []).some((o) => o.controller && o.uid === deployment.metadata?.uid),
    );
    const revision = (rs: KubeObject) => Number(rs.metadata?.annotations?.[REVISION] ?? 0);
    const previous = owned
      .filter((rs) => revision(rs) < current)
      .sort((a, b) => revision(b) - revision(a))[0];
    if (!previous)
      throw new ActionError(
        `Deployment ${this.ns}/${this.o.stable} has no ReplicaSet of a revision before ${current} to roll back to (revisionHistoryLimit 0, or the first rollout)`,
      );
    const template = structuredClone((previous.spec as { template: PodTemplate }).template);
    if (template.metadata?.labels) delete template.metadata.labels['pod-template-hash'];
    this.o.log?.(
      `Rolling Deployment ${this.ns}/${this.o.stable} back to revision ${revision(previous)} (ReplicaSet ${previous.metadata?.name}, ${this.containerOf({ spec: { template } }).image})`,
    );
    const annotations = { ...deployment.metadata?.annotations };
    delete annotations[PHASE_ANNOTATION];
    await this.o.client.patch(this.ref(this.o.stable), [
      { op: 'test', path: '/metadata/resourceVersion', value: deployment.metadata?.resourceVersion },
      { op: 'replace', path: '/spec/template', value: template },
      { op: 'replace', path: '/metadata/annotations', value: annotations },
    ]);
    await this.waitRollout(this.o.stable, signal);
  }
}

const round = (value: number) => Math.round(value * 10) / 10;
