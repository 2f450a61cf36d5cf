/** Moves traffic between the stable and the canary version. Weights are the canary's share in percent. */
export interface Router {
  readonly kind: string;
  /** What it changes, for logs: `nginx include /etc/nginx/canary.conf`. */
  describe(): string;
  /** Sends `weight`% of traffic to the canary and the rest to stable. */
  setWeight(weight: number, signal?: AbortSignal): Promise<void>;
  /** The canary's current share, when the router can read it back (resume needs it). */
  current(signal?: AbortSignal): Promise<number | undefined>;
  /** 100% stable, pinned to the previous version; never moves toward the new one. */
  rollback(signal?: AbortSignal): Promise<void>;
  /** 100% canary: the canary becomes the version everyone gets. */
  promote(signal?: AbortSignal): Promise<void>;
  /** Fails when the platform itself gave up on the canary (Argo Rollouts' AnalysisRuns); called each window. */
  check?(signal?: AbortSignal): Promise<void>;
}

/** Splits 100 into two integer-ish shares, fine-grained enough for fractional percentages. */
export function shares(weight: number, scale = 10): { stable: number; canary: number } {
  const canary = Math.round(weight * scale);
  return { canary, stable: 100 * scale - canary };
}
