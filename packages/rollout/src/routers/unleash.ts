import { ActionError, type HttpClient } from '@mlops-actions/kit';
import { flagApiError, percentOf, splitWeights } from './flags';
import type { Router } from './router';

/** Strategy variant weights are out of 1000. */
const TOTAL = 1000;
/** The title of a strategy this router had to create, so a person sees where it came from. */
export const UNLEASH_STRATEGY_TITLE = 'canary-deploy';

export interface UnleashRouterOptions {
  /** A client on the Unleash base URL sending `Authorization: <admin or personal access token>`. */
  http: HttpClient;
  /** The feature flag's name. */
  flag: string;
  project: string;
  environment: string;
  /**
   * With variants, the flag stays on for everyone and the strategy's variants split stable and canary;
   * without, the canary is "flag enabled" and the rollout percentage is its share.
   */
  variants?: { stable: string; canary: string };
  log?: (line: string) => void;
}

interface StrategyVariant {
  name: string;
  weight: number;
  weightType: 'variable' | 'fix';
  stickiness: string;
  payload?: unknown;
}

export interface UnleashStrategy {
  id?: string;
  name: string;
  title?: string | null;
  disabled?: boolean | null;
  sortOrder?: number;
  constraints?: unknown[];
  parameters?: Record<string, string>;
  variants?: StrategyVariant[];
  segments?: number[];
}

interface Feature {
  name: string;
  environments?: Array<{ name: string; enabled: boolean }>;
}

/**
 * The flexibleRollout strategy for a canary share, keeping what a person set on the strategy
 * (constraints, segments, stickiness, group, title, order) and changing only the split.
 */
export function unleashStrategy(
  existing: UnleashStrategy | undefined,
  flag: string,
  weight: number,
  variants?: { stable: string; canary: string },
): UnleashStrategy {
  const parameters = existing?.parameters ?? {};
  const stickiness = parameters.stickiness || 'default';
  const strategy: UnleashStrategy = {
    name: 'flexibleRollout',
    title: existing ? (existing.title ?? null) : UNLEASH_STRATEGY_TITLE,
    disabled: false,
    constraints: existing?.constraints ?? [],
    parameters: {
      ...parameters,
      // The rollout parameter is a whole percentage; variants give tenths of a percent.
      rollout: variants ? '100' : String(Math.round(weight)),
      stickiness,
      groupId: parameters.groupId || flag,
    },
    segments: existing?.segments ?? [],
  };
  if (existing?.sortOrder !== undefined) strategy.sortOrder = existing.sortOrder;
  if (variants) {
    const split = splitWeights(weight, TOTAL);
    const keep = (name: string) => existing?.variants?.find((v) => v.name === name);
    const variant = (name: string, w: number): StrategyVariant => ({
      ...keep(name),
      name,
      weight: w,
      weightType: 'fix',
      stickiness,
    });
    strategy.variants = [variant(variants.stable, split.stable), variant(variants.canary, split.canary)];
  } else if (existing?.variants) {
    strategy.variants = existing.variants;
  }
  return strategy;
}

/** The canary's share a strategy serves. */
export function unleashCanaryShare(
  strategy: UnleashStrategy | undefined,
  enabled: boolean,
  variants?: { stable: string; canary: string },
): number {
  if (!strategy || !enabled) return 0;
  const rollout = Number(strategy.parameters?.rollout ?? 0);
  if (!variants) return rollout;
  const all = strategy.variants ?? [];
  const total = all.reduce((sum, v) => sum + v.weight, 0);
  const canary = all.find((v) => v.name === variants.canary)?.weight ?? 0;
  return Number(((rollout * percentOf(canary, total)) / 100).toFixed(3));
}

/**
 * Unleash: owns the first active flexibleRollout (gradual rollout) strategy of the flag in one
 * environment, creating it when there is none, and sets its rollout percentage (or its stable and
 * canary variants) through the admin API, then reads the strategy back.
 */
export class UnleashRouter implements Router {
  readonly kind = 'unleash';

  constructor(private readonly o: UnleashRouterOptions) {
    if (o.variants && o.variants.stable === o.variants.canary)
      throw new ActionError(
        `canary-variation: '${o.variants.canary}' is also the stable variation; give two different variant names`,
      );
  }

  private get feature(): string {
    return `api/admin/projects/${encodeURIComponent(this.o.project)}/features/${encodeURIComponent(this.o.flag)}`;
  }

  private get strategies(): string {
    return `${this.feature}/environments/${encodeURIComponent(this.o.environment)}/strategies`;
  }

  private get what(): string {
    return `feature flag '${this.o.flag}' in project '${this.o.project}'`;
  }

  describe(): string {
    return `Unleash ${this.what}, environment '${this.o.environment}'`;
  }

  private async call<T>(run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw flagApiError('Unleash', error, this.what);
    }
  }

  /** Whether the flag is on in the environment, and the strategy this router owns there. */
  private async read(
    signal?: AbortSignal,
  ): Promise<{ enabled: boolean; strategy: UnleashStrategy | undefined }> {
    const feature = await this.call(() => this.o.http.json<Feature>('GET', this.feature, { signal }));
    const env = feature.environments?.find((e) => e.name === this.o.environment);
    if (!env) {
      const known = (feature.environments ?? []).map((e) => e.name).join(', ') || 'none';
      throw new ActionError(
        `flag-environment: Unleash ${this.what} has no environment '${this.o.environment}'; its environments are ${known}`,
      );
    }
    const strategies = await this.call(() =>
      this.o.http.json<UnleashStrategy[]>('GET', this.strategies, { signal }),
    );
    return {
      enabled: env.enabled,
      strategy: strategies.find((s) => s.name === 'flexibleRollout' && s.disabled !== true),
    };
  }

  async setWeight(weight: number, signal?: AbortSignal): Promise<void> {
    const { enabled, strategy } = await this.read(signal);
    const body = unleashStrategy(strategy, this.o.flag, weight, this.o.variants);
    if (!this.o.variants && Number(body.parameters!.rollout) !== weight)
      this.o.log?.(
        `Unleash rollout percentages are whole numbers: ${weight}% is set as ${body.parameters!.rollout}%`,
      );
    await this.call(() =>
      strategy?.id
        ? this.o.http.json('PUT', `${this.strategies}/${encodeURIComponent(strategy.id)}`, {
            json: body,
            signal,
          })
        : this.o.http.json('POST', this.strategies, { json: body, signal }),
    );
    if (!enabled && weight > 0) {
      await this.call(() =>
        this.o.http.request(
          'POST',
          `${this.feature}/environments/${encodeURIComponent(this.o.environment)}/on`,
          { signal },
        ),
      );
    }
    const after = await this.read(signal);
    const now = unleashCanaryShare(after.strategy, after.enabled, this.o.variants);
    const expected = unleashCanaryShare(body, enabled || weight > 0, this.o.variants);
    if (Math.abs(now - expected) > 0.001) {
      throw new ActionError(
        `Unleash ${this.what} serves the canary to ${now}% after the change to ${expected}% (someone else changed the strategy?)`,
      );
    }
    this.o.log?.(`Unleash ${this.o.flag}: canary ${now}%, stable ${100 - now}%`);
  }

  async current(signal?: AbortSignal): Promise<number | undefined> {
    const { enabled, strategy } = await this.read(signal);
    return unleashCanaryShare(strategy, enabled, this.o.variants);
  }

  rollback(signal?: AbortSignal): Promise<void> {
    return this.setWeight(0, signal);
  }

  promote(signal?: AbortSignal): Promise<void> {
    return this.setWeight(100, signal);
  }
}
