import { ActionError, type HttpClient, type HttpClientOptions } from '@mlops-actions/kit';
import { type FlagTarget, flagApiError, percentOf, splitWeights } from './flags';
import type { Router } from './router';

export const LAUNCHDARKLY_URL = 'https://app.launchdarkly.com';
/** LaunchDarkly's semantic patch media type: a list of named instructions instead of a JSON Patch. */
export const SEMANTIC_PATCH = 'application/json; domain-model=launchdarkly.semanticpatch';
/** rolloutWeights are in thousandths of a percent: 100000 is everyone. */
const TOTAL = 100_000;

export interface LaunchDarklyRouterOptions extends FlagTarget {
  /** A client on the API base URL sending `Authorization: <access token>`; see `launchDarklyHttp`. */
  http: HttpClient;
  project: string;
  environment: string;
}

interface Variation {
  _id: string;
  value: unknown;
  name?: string;
}

interface Fallthrough {
  variation?: number;
  rollout?: { variations: Array<{ variation: number; weight: number }> };
}

interface FlagRepresentation {
  key: string;
  _version?: number;
  variations: Variation[];
  environments?: Record<string, { on?: boolean; fallthrough?: Fallthrough }>;
}

/**
 * LaunchDarkly answers 429 with `X-Ratelimit-Reset`, the epoch milliseconds when the window reopens
 * (and `Retry-After` for IP limits, which the kit reads first).
 */
export function launchDarklyRetryDelay(response: Response, now = Date.now()): number | undefined {
  const reset = Number(response.headers.get('x-ratelimit-reset'));
  return Number.isFinite(reset) && reset > 0 ? Math.max(reset - now, 0) : undefined;
}

/** The HTTP client options for LaunchDarkly: the token header, 409 conflicts retried, its reset header read. */
export function launchDarklyHttpOptions(url: string, token: string | undefined): HttpClientOptions {
  return {
    name: `LaunchDarkly at ${url}`,
    baseUrl: url,
    headers: token ? { authorization: token } : undefined,
    retryStatuses: [409],
    retryDelay: (response: Response) => launchDarklyRetryDelay(response),
  };
}

/** The variation a name designates: its name, or for unnamed variations (booleans) its value as text. */
function findVariation(flag: FlagRepresentation, wanted: string): number {
  const byName = flag.variations.findIndex((v) => v.name === wanted);
  if (byName >= 0) return byName;
  return flag.variations.findIndex((v) => JSON.stringify(v.value) === wanted || v.value === wanted);
}

/** The semantic patch that sets the default rule (fallthrough) to the canary share. */
export function launchDarklyPatch(
  environment: string,
  stableId: string,
  canaryId: string,
  weight: number,
): Record<string, unknown> {
  const instruction: Record<string, unknown> = { kind: 'updateFallthroughVariationOrRollout' };
  // At either end a fixed variation is what a person would set, and what LaunchDarkly's UI shows plainly.
  if (weight <= 0) instruction.variationId = stableId;
  else if (weight >= 100) instruction.variationId = canaryId;
  else {
    const split = splitWeights(weight, TOTAL);
    instruction.rolloutWeights = { [stableId]: split.stable, [canaryId]: split.canary };
  }
  return {
    environmentKey: environment,
    comment: `canary-deploy: canary ${weight}%, stable ${100 - weight}%`,
    instructions: [instruction],
  };
}

/** The canary's share served by a flag's default rule, from its representation. */
export function launchDarklyCanaryShare(fallthrough: Fallthrough | undefined, canaryIndex: number): number {
  if (fallthrough?.rollout) {
    const served = fallthrough.rollout.variations.find((v) => v.variation === canaryIndex);
    return percentOf(served?.weight ?? 0, TOTAL);
  }
  return fallthrough?.variation === canaryIndex ? 100 : 0;
}

/**
 * LaunchDarkly: sets the flag's default rule in one environment to a percentage rollout between the
 * stable and canary variations with a semantic patch, and reads the rule back to check it took. Targets
 * and custom rules stay as they are: people they match keep what they get.
 */
export class LaunchDarklyRouter implements Router {
  readonly kind = 'launchdarkly';

  constructor(private readonly o: LaunchDarklyRouterOptions) {}

  private get path(): string {
    return `api/v2/flags/${encodeURIComponent(this.o.project)}/${encodeURIComponent(this.o.flag)}`;
  }

  private get what(): string {
    return `flag '${this.o.flag}' in project '${this.o.project}'`;
  }

  describe(): string {
    return `LaunchDarkly ${this.what}, environment '${this.o.environment}'`;
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw flagApiError('LaunchDarkly', error, this.what);
    }
  }

  private async read(signal?: AbortSignal): Promise<FlagRepresentation> {
    const flag = await this.call(() =>
      this.o.http.json<FlagRepresentation>('GET', this.path, { query: { env: this.o.environment }, signal }),
    );
    if (!flag.environments?.[this.o.environment]) {
      throw new ActionError(
        `flag-environment: LaunchDarkly ${this.what} has no environment '${this.o.environment}'; give an environment key of the project`,
      );
    }
    return flag;
  }

  private variations(flag: FlagRepresentation): { stable: number; canary: number } {
    const stable = findVariation(flag, this.o.stableVariation);
    const canary = findVariation(flag, this.o.canaryVariation);
    const known = flag.variations.map((v) => v.name ?? JSON.stringify(v.value)).join(', ');
    if (stable < 0)
      throw new ActionError(
        `stable-variation: LaunchDarkly ${this.what} has no variation '${this.o.stableVariation}'; its variations are ${known}`,
      );
    if (canary < 0 || canary === stable)
      throw new ActionError(
        `canary-variation: LaunchDarkly ${this.what} has no variation '${this.o.canaryVariation}' other than the stable one; its variations are ${known}`,
      );
    return { stable, canary };
  }

  async setWeight(weight: number, signal?: AbortSignal): Promise<void> {
    const flag = await this.read(signal);
    const { stable, canary } = this.variations(flag);
    if (weight > 0 && flag.environments![this.o.environment]!.on === false) {
      throw new ActionError(
        `LaunchDarkly ${this.what} is off in '${this.o.environment}', so everyone gets its off variation; turn targeting on (serving the stable variation) before the canary`,
      );
    }
    const body = launchDarklyPatch(
      this.o.environment,
      flag.variations[stable]!._id,
      flag.variations[canary]!._id,
      weight,
    );
    await this.call(() =>
      this.o.http.json('PATCH', this.path, {
        body: JSON.stringify(body),
        headers: { 'content-type': SEMANTIC_PATCH },
        signal,
      }),
    );
    const now = launchDarklyCanaryShare(
      (await this.read(signal)).environments![this.o.environment]!.fallthrough,
      canary,
    );
    if (Math.abs(now - weight) > 0.001) {
      throw new ActionError(
        `LaunchDarkly ${this.what} serves the canary to ${now}% after the change to ${weight}% (someone else changed the default rule?)`,
      );
    }
    this.o.log?.(`LaunchDarkly ${this.o.flag}: canary ${weight}%, stable ${100 - weight}%`);
  }

  async current(signal?: AbortSignal): Promise<number | undefined> {
    const flag = await this.read(signal);
    const { canary } = this.variations(flag);
    return launchDarklyCanaryShare(flag.environments![this.o.environment]!.fallthrough, canary);
  }

  rollback(signal?: AbortSignal): Promise<void> {
    return this.setWeight(0, signal);
  }

  promote(signal?: AbortSignal): Promise<void> {
    return this.setWeight(100, signal);
  }
}
