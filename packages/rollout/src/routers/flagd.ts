import { existsSync, readFileSync } from 'node:fs';
import { ActionError, errorMessage, writeFileAtomic } from '@mlops-actions/kit';
import { type FlagTarget, percentOf, splitWeights } from './flags';
import type { Router } from './router';

/** fractional weights are relative integers; out of 1000 gives tenths of a percent. */
const TOTAL = 1000;

export interface FlagdRouterOptions extends FlagTarget {
  /** The flag definition file flagd (or an OpenFeature in-process provider) watches. */
  file: string;
  /** Runs after each write with the weight, e.g. to apply a ConfigMap or push to git (a command router). */
  sync?: Router;
}

interface FlagdFlag {
  key?: string;
  state?: string;
  variants?: Record<string, unknown>;
  defaultVariant?: string | null;
  targeting?: Record<string, unknown>;
  [other: string]: unknown;
}

interface FlagdFile {
  flags?: Record<string, FlagdFlag> | FlagdFlag[];
  [other: string]: unknown;
}

/**
 * The flag at a canary share: at either end the default variant alone, in between a `fractional`
 * targeting rule with `[variant, weight]` pairs (flagd buckets on the flag key and targetingKey).
 */
export function flagdFlagAt(flag: FlagdFlag, stable: string, canary: string, weight: number): FlagdFlag {
  const { targeting: _replaced, ...rest } = flag;
  if (weight <= 0) return { ...rest, state: 'ENABLED', defaultVariant: stable };
  if (weight >= 100) return { ...rest, state: 'ENABLED', defaultVariant: canary };
  const split = splitWeights(weight, TOTAL);
  return {
    ...rest,
    state: 'ENABLED',
    defaultVariant: stable,
    targeting: {
      fractional: [
        [stable, split.stable],
        [canary, split.canary],
      ],
    },
  };
}

/** The canary's share a flag serves, when its targeting is one this router understands. */
export function flagdCanaryShare(flag: FlagdFlag, canary: string): number | undefined {
  if (flag.state === 'DISABLED') return 0;
  const fractional = flag.targeting?.fractional;
  if (Array.isArray(fractional)) {
    const pairs = fractional.filter(
      (p): p is [string, number] => Array.isArray(p) && typeof p[0] === 'string' && typeof p[1] === 'number',
    );
    const total = pairs.reduce((sum, [, w]) => sum + w, 0);
    return percentOf(pairs.find(([v]) => v === canary)?.[1] ?? 0, total);
  }
  if (flag.targeting && Object.keys(flag.targeting).length > 0) return undefined;
  return flag.defaultVariant === canary ? 100 : 0;
}

/**
 * flagd / OpenFeature: rewrites one flag of a flag definition file atomically (the rest of the file is
 * kept) so its default variant or a `fractional` rule gives the canary its share; flagd picks the file
 * up by itself. The router owns the flag's targeting: rules a person wrote there are replaced.
 */
export class FlagdRouter implements Router {
  readonly kind = 'flagd';

  constructor(private readonly o: FlagdRouterOptions) {
    if (o.stableVariation === o.canaryVariation)
      throw new ActionError(
        `canary-variation: '${o.canaryVariation}' is also the stable variation; give two different variant keys`,
      );
  }

  describe(): string {
    return `flagd flag '${this.o.flag}' in ${this.o.file}`;
  }

  private load(): { doc: FlagdFile; flag: FlagdFlag; put: (flag: FlagdFlag) => void } {
    if (!existsSync(this.o.file))
      throw new ActionError(`flag-file: ${this.o.file} does not exist; give the flagd flag definition file`);
    let doc: FlagdFile;
    try {
      doc = JSON.parse(readFileSync(this.o.file, 'utf8')) as FlagdFile;
    } catch (error) {
      throw new ActionError(`flag-file: ${this.o.file} is not JSON (${errorMessage(error)})`);
    }
    const flags = doc?.flags;
    const list = Array.isArray(flags) ? flags : undefined;
    const index = list ? list.findIndex((f) => f.key === this.o.flag) : -1;
    const flag = list ? list[index] : (flags as Record<string, FlagdFlag> | undefined)?.[this.o.flag];
    if (!flag) {
      throw new ActionError(
        `flag-key: ${this.o.file} has no flag '${this.o.flag}'; its flags are ${(list ? list.map((f) => String(f.key)) : Object.keys(flags ?? {})).join(', ') || 'none'}`,
      );
    }
    for (const [input, name] of [
      ['stable-variation', this.o.stableVariation],
      ['canary-variation', this.o.canaryVariation],
    ] as const) {
      if (!flag.variants || !(name in flag.variants))
        throw new ActionError(
          `${input}: flag '${this.o.flag}' in ${this.o.file} has no variant '${name}'; its variants are ${Object.keys(flag.variants ?? {}).join(', ')}`,
        );
    }
    const put = (next: FlagdFlag) => {
      if (list) list[index] = next;
      else (flags as Record<string, FlagdFlag>)[this.o.flag] = next;
    };
    return { doc, flag, put };
  }

  async setWeight(weight: number, signal?: AbortSignal): Promise<void> {
    const { doc, flag, put } = this.load();
    put(flagdFlagAt(flag, this.o.stableVariation, this.o.canaryVariation, weight));
    const text = `${JSON.stringify(doc, null, 2)}\n`;
    writeFileAtomic(this.o.file, text);
    if (readFileSync(this.o.file, 'utf8') !== text)
      throw new ActionError(`could not write ${this.o.file}: read back different content`);
    await this.o.sync?.setWeight(weight, signal);
    this.o.log?.(`flagd ${this.o.flag}: canary ${weight}%, stable ${100 - weight}% in ${this.o.file}`);
  }

  async current(): Promise<number | undefined> {
    return flagdCanaryShare(this.load().flag, this.o.canaryVariation);
  }

  rollback(signal?: AbortSignal): Promise<void> {
    return this.setWeight(0, signal);
  }

  promote(signal?: AbortSignal): Promise<void> {
    return this.setWeight(100, signal);
  }
}
