import { ActionError } from '@mlops-actions/kit';
import type { KubeClient, KubeObject, ResourceRef } from './kubernetes';
import type { Router } from './router';

export interface ArgoRouterOptions {
  client: KubeClient;
  name: string;
  /** The new image; set on the container once, when the rollout starts. */
  image?: string;
  /** The container to update (default: the first). */
  container?: string;
  /** How long to wait for the controller to reach a weight. */
  timeoutMs?: number;
  pollMs?: number;
  log?: (line: string) => void;
}

interface RolloutStatus {
  abort?: boolean;
  phase?: string;
  message?: string;
  currentPodHash?: string;
  pauseConditions?: unknown[];
  canary?: { weights?: { canary?: { weight?: number } } };
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(signal.reason);
    });
  });

/**
 * Argo Rollouts: the controller owns the weights, so this router sets the image, then promotes past
 * each pause until the canary weight reaches the step's; each window it reads the Rollout and its
 * AnalysisRuns and aborts when either failed. Rollback is Argo's abort (status.abort), which returns
 * all traffic to the stable ReplicaSet.
 */
export class ArgoRolloutsRouter implements Router {
  readonly kind = 'argo-rollouts';
  static readonly ref = { group: 'argoproj.io', version: 'v1alpha1', plural: 'rollouts', kind: 'Rollout' };
  private imageSet = false;

  constructor(private readonly o: ArgoRouterOptions) {}

  private get ref(): ResourceRef {
    return { ...ArgoRolloutsRouter.ref, name: this.o.name };
  }

  describe(): string {
    return `Argo Rollout ${this.o.client.o.namespace}/${this.o.name}`;
  }

  private status(rollout: KubeObject): RolloutStatus {
    return (rollout.status ?? {}) as RolloutStatus;
  }

  private async setImage(): Promise<void> {
    if (!this.o.image || this.imageSet) return;
    const rollout = await this.o.client.get(this.ref);
    const containers =
      (rollout.spec?.template as { spec?: { containers?: Array<{ name: string; image?: string }> } })?.spec
        ?.containers ?? [];
    const index = this.o.container ? containers.findIndex((c) => c.name === this.o.container) : 0;
    if (index < 0 || !containers[index]) {
      throw new ActionError(
        `Rollout ${this.o.name} has no container '${this.o.container ?? '(first)'}'; containers: ${containers.map((c) => c.name).join(', ')}`,
      );
    }
    const path = `/spec/template/spec/containers/${index}`;
    await this.o.client.patch(this.ref, [
      { op: 'test', path: `${path}/name`, value: containers[index]!.name },
      { op: 'replace', path: `${path}/image`, value: this.o.image },
    ]);
    this.imageSet = true;
  }

  async setWeight(weight: number, signal?: AbortSignal): Promise<void> {
    if (weight <= 0) return this.rollback();
    if (weight >= 100) return this.promote();
    await this.setImage();
    const deadline = Date.now() + (this.o.timeoutMs ?? 300_000);
    for (;;) {
      const rollout = await this.o.client.get(this.ref);
      const status = this.status(rollout);
      this.failIfBroken(status);
      const current = status.canary?.weights?.canary?.weight ?? 0;
      if (current >= weight) return;
      if ((status.pauseConditions?.length ?? 0) > 0 || rollout.spec?.paused === true) {
        this.o.log?.(`Argo Rollout ${this.o.name} paused at ${current}%: promoting to the next step`);
        await this.o.client.patch(this.ref, { status: { pauseConditions: null } }, { status: true });
        if (rollout.spec?.paused === true) await this.o.client.patch(this.ref, { spec: { paused: false } });
      }
      if (Date.now() > deadline) {
        throw new ActionError(
          `Argo Rollout ${this.o.name} did not reach ${weight}% in time (at ${current}%, phase ${status.phase ?? 'unknown'})`,
        );
      }
      await sleep(this.o.pollMs ?? 2000, signal);
    }
  }

  private failIfBroken(status: RolloutStatus): void {
    if (status.abort)
      throw new ActionError(
        `Argo Rollout ${this.o.name} was aborted${status.message ? `: ${status.message}` : ''}`,
      );
    if (status.phase === 'Degraded')
      throw new ActionError(
        `Argo Rollout ${this.o.name} is Degraded${status.message ? `: ${status.message}` : ''}`,
      );
  }

  async check(): Promise<void> {
    const rollout = await this.o.client.get(this.ref);
    const status = this.status(rollout);
    this.failIfBroken(status);
    const hash = status.currentPodHash;
    const runs = await this.o.client.list(
      { group: 'argoproj.io', version: 'v1alpha1', plural: 'analysisruns', kind: 'AnalysisRun' },
      hash ? `rollouts-pod-template-hash=${hash}` : undefined,
    );
    const mine = runs.filter((run) =>
      (
        (run.metadata as { ownerReferences?: Array<{ kind: string; name: string }> })?.ownerReferences ?? []
      ).some((owner) => owner.kind === 'Rollout' && owner.name === this.o.name),
    );
    const failed = mine.find((run) =>
      ['Failed', 'Error'].includes(String((run.status as { phase?: string } | undefined)?.phase)),
    );
    if (failed) {
      const message = (failed.status as { message?: string }).message;
      await this.rollback();
      throw new ActionError(
        `Argo AnalysisRun ${failed.metadata?.name} ${String((failed.status as { phase?: string }).phase).toLowerCase()}${message ? `: ${message}` : ''}; the Rollout was aborted`,
      );
    }
  }

  async current(): Promise<number | undefined> {
    const status = this.status(await this.o.client.get(this.ref));
    return status.canary?.weights?.canary?.weight;
  }

  async rollback(): Promise<void> {
    await this.o.client.patch(this.ref, { status: { abort: true } }, { status: true });
  }

  async promote(): Promise<void> {
    await this.setImage();
    await this.o.client.patch(this.ref, { status: { promoteFull: true } }, { status: true });
  }
}
