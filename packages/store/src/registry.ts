import { ActionError } from '@mlops-actions/kit';

/** A version of a registered model, whatever the backend. */
export interface ModelVersionInfo {
  name: string;
  /** `1`, `2`, … (MLflow version numbers; OCI tags `v1`, `v2`, … without the `v`). */
  version: string;
  /** The run that produced it, when known. */
  runId?: string;
  /** Where the model came from: `runs:/<id>/model`, a directory, an artifact reference. */
  source: string;
  /** `READY`, `PENDING_REGISTRATION`, `FAILED_REGISTRATION`. */
  status: string;
  /** Aliases pointing at it, when the backend returns them on this call. */
  aliases: string[];
  tags: Record<string, string>;
  description?: string;
  /** Legacy MLflow stage (None, Staging, Production, Archived). */
  stage?: string;
  /** How to pull it: `models:/<name>/<version>` or `oci://…@sha256:…`. */
  uri: string;
  /** Manifest digest on OCI backends. */
  digest?: string;
}

/** One alias move, appended to the model's history because registries keep none. */
export interface HistoryEntry {
  action: 'register' | 'promote' | 'rollback';
  alias: string;
  /** The version the alias pointed at before; absent when it pointed nowhere. */
  from?: string;
  to: string;
  /** `github.actor`. */
  actor: string;
  /** ISO 8601. */
  time: string;
  reason: string;
  /** The workflow run that made the move. */
  runUrl?: string;
}

export interface RegisterOptions {
  name: string;
  /** What the version is made of: `runs:/<id>/model`, `models:/…`, a local model directory. */
  source: string;
  runId?: string;
  /** A link back to the run (MLflow `run_link`): the workflow run URL. */
  runLink?: string;
  description?: string;
  tags?: Record<string, string>;
}

export interface WaitOptions {
  timeoutMs: number;
  intervalMs?: number;
  signal?: AbortSignal;
}

/**
 * A model registry behind `registry-uri`: the MLflow Model Registry, an OCI registry, or an OCI image
 * layout on disk. Every backend keeps the promotion history on the model itself.
 */
export interface ModelRegistry {
  readonly kind: 'mlflow' | 'oci' | 'local';
  /** The registry URI without credentials. */
  readonly uri: string;
  /** Creates the registered model unless it exists (safe when another job creates it at the same time). */
  ensureModel(
    name: string,
    options?: { description?: string; tags?: Record<string, string> },
  ): Promise<{
    created: boolean;
  }>;
  /** Whether the model exists. */
  modelExists(name: string): Promise<boolean>;
  /** Registers `source` as a new version, or returns the version already registered for the same run id. */
  registerVersion(options: RegisterOptions): Promise<{ version: ModelVersionInfo; created: boolean }>;
  /** Polls until the version is READY; fails on FAILED_REGISTRATION or after `timeoutMs`. */
  waitReady(name: string, version: string, options: WaitOptions): Promise<ModelVersionInfo>;
  getVersion(name: string, version: string): Promise<ModelVersionInfo | undefined>;
  /** The version an alias points at; undefined when the alias (or the model) does not exist. */
  getAlias(name: string, alias: string): Promise<ModelVersionInfo | undefined>;
  /** Sets or moves an alias. */
  setAlias(name: string, alias: string, version: string): Promise<void>;
  deleteAlias(name: string, alias: string): Promise<void>;
  /** Every version of a model (all pages), optionally only those of one run. */
  searchVersions(name: string, options?: { runId?: string; pageSize?: number }): Promise<ModelVersionInfo[]>;
  setVersionTag(name: string, version: string, key: string, value: string): Promise<void>;
  /** Appends to the audit history kept on the model. */
  appendHistory(name: string, entry: HistoryEntry): Promise<void>;
  /** The whole history, oldest first. */
  readHistory(name: string): Promise<HistoryEntry[]>;
  /** Rejects alias names the backend would refuse, before anything changes. */
  validateAlias(alias: string): void;
}

/** Legacy MLflow stages, for teams that have not moved to aliases. */
export interface StageRegistry {
  transitionStage(
    name: string,
    version: string,
    stage: 'Staging' | 'Production' | 'Archived' | 'None',
    archiveExisting: boolean,
  ): Promise<ModelVersionInfo>;
}

/** The version that an alias pointed at before its latest move, for a rollback. */
export function previousFromHistory(
  history: HistoryEntry[],
  alias: string,
  current: string | undefined,
): string | undefined {
  for (let i = history.length - 1; i >= 0; i--) {
    const entry = history[i]!;
    if (entry.alias !== alias || entry.to !== current) continue;
    return entry.from;
  }
  return undefined;
}

export async function waitUntilReady(
  read: () => Promise<ModelVersionInfo | undefined>,
  options: WaitOptions,
  describe: string,
): Promise<ModelVersionInfo> {
  const deadline = Date.now() + options.timeoutMs;
  let interval = options.intervalMs ?? 1000;
  for (;;) {
    const version = await read();
    if (!version) throw new ActionError(`${describe} does not exist`);
    if (version.status === 'READY' || version.status === '') return version;
    if (version.status === 'FAILED_REGISTRATION')
      throw new ActionError(`${describe} failed to register (status FAILED_REGISTRATION)`);
    if (Date.now() + interval > deadline)
      throw new ActionError(
        `${describe} is still ${version.status} after ${Math.round(options.timeoutMs / 1000)}s; raise wait-timeout or check the registry`,
      );
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, interval);
      options.signal?.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(new ActionError(`${describe}: cancelled while waiting for READY`));
        },
        { once: true },
      );
    });
    interval = Math.min(interval * 2, 10_000);
  }
}
