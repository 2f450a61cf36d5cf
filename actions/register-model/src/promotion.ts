import { ActionError } from '@mlops-actions/kit';
import {
  type HistoryEntry,
  type ModelRegistry,
  type ModelVersionInfo,
  previousFromHistory,
  type StageRegistry,
} from '@mlops-actions/store';

export type Stage = 'Staging' | 'Production' | 'Archived' | 'None';

/**
 * What a promotion moves: an alias, or (use-stages) a legacy MLflow stage. Both answer "which version is
 * there now" and "put this version there".
 */
export interface Target {
  /** As shown to users: `alias 'champion'` or `stage Production`. */
  readonly label: string;
  /** The key kept in the history: the alias or the stage name. */
  readonly key: string;
  current(): Promise<ModelVersionInfo | undefined>;
  point(version: string): Promise<void>;
}

export function aliasTarget(registry: ModelRegistry, name: string, alias: string): Target {
  registry.validateAlias(alias);
  return {
    label: `alias '${alias}'`,
    key: alias,
    current: () => registry.getAlias(name, alias),
    point: (version) => registry.setAlias(name, alias, version),
  };
}

const STAGES: Stage[] = ['Staging', 'Production', 'Archived', 'None'];

export function parseStage(text: string): Stage {
  const stage = STAGES.find((s) => s.toLowerCase() === text.toLowerCase());
  if (!stage || stage === 'None' || stage === 'Archived')
    throw new ActionError(
      `Input 'promote-to': with use-stages the target must be a stage, Staging or Production (got '${text}')`,
    );
  return stage;
}

/** The highest version in a stage, as `get-latest-versions` answers it. */
export function stageTarget(registry: ModelRegistry & StageRegistry, name: string, stage: Stage): Target {
  return {
    label: `stage ${stage}`,
    key: stage,
    current: async () =>
      (await registry.searchVersions(name))
        .filter((v) => v.stage === stage)
        .sort((a, b) => Number(b.version) - Number(a.version))[0],
    point: async (version) => {
      await registry.transitionStage(name, version, stage, true);
    },
  };
}

export interface MoveOptions {
  registry: ModelRegistry;
  name: string;
  target: Target;
  to: string;
  /** The version the target pointed at when this run read it; a different one now means a lost race. */
  expectedFrom: string | undefined;
  entry: Omit<HistoryEntry, 'alias' | 'from' | 'to'>;
}

const describeVersion = (v: string | undefined) => (v === undefined ? 'no version' : `version ${v}`);

/**
 * Moves a target from the version read earlier to `to`, and appends the move to the history. Registries
 * have no compare-and-set, so the target is re-read just before and just after the write: when another
 * run moved it in between, this run fails and says where it points now.
 */
export async function moveTarget(options: MoveOptions): Promise<HistoryEntry> {
  const { registry, name, target, to, expectedFrom } = options;
  const before = (await target.current())?.version;
  if (before !== expectedFrom) {
    throw new ActionError(
      `${target.label} of ${name} was moved to ${describeVersion(before)} by another run while this one ran (it read ${describeVersion(expectedFrom)}); nothing was changed: re-run to promote against the new state`,
    );
  }
  await target.point(to);
  const after = (await target.current())?.version;
  if (after !== to) {
    throw new ActionError(
      `${target.label} of ${name} points at ${describeVersion(after)} right after this run set it to version ${to}: another run promoted at the same moment and won; check the history before retrying`,
    );
  }
  const entry: HistoryEntry = { ...options.entry, alias: target.key, from: before, to };
  await registry.appendHistory(name, entry);
  return entry;
}

/** The version a rollback returns to: where the target pointed before its latest move. */
export function rollbackVersion(
  history: HistoryEntry[],
  target: Target,
  name: string,
  current: string | undefined,
): string {
  if (current === undefined)
    throw new ActionError(
      `rollback: ${target.label} of ${name} points at no version, so there is nothing to roll back`,
    );
  const previous = previousFromHistory(history, target.key, current);
  if (previous === undefined)
    throw new ActionError(
      `rollback: ${target.label} of ${name} has no earlier version in its history (it points at version ${current}); promote a version explicitly instead`,
    );
  return previous;
}
