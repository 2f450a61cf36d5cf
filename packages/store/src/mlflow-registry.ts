import { randomBytes } from 'node:crypto';
import { ActionError, HttpError } from '@mlops-actions/kit';
import {
  isUnityCatalogName,
  MlflowClient,
  type MlflowConnection,
  type ModelVersion,
  mlflowErrorCode,
} from '@mlops-actions/mlflow';
import {
  type HistoryEntry,
  type ModelRegistry,
  type ModelVersionInfo,
  type RegisterOptions,
  type StageRegistry,
  type WaitOptions,
  waitUntilReady,
} from './registry';

/** Registered-model tags holding the history, one entry per tag so appends never rewrite each other. */
const HISTORY_PREFIX = 'mlops.history.';
/** MLflow 2.x keeps registry tag values up to 5000 characters. */
const TAG_VALUE_LIMIT = 5000;

function filterValue(value: string): string {
  return value.includes("'") ? `"${value}"` : `'${value}'`;
}

function toInfo(v: ModelVersion): ModelVersionInfo {
  return {
    name: v.name,
    version: String(v.version),
    runId: v.run_id || undefined,
    source: v.source ?? '',
    status: v.status ?? 'READY',
    aliases: v.aliases ?? [],
    tags: Object.fromEntries((v.tags ?? []).map((t) => [t.key, t.value])),
    description: v.description || undefined,
    stage: v.current_stage,
    uri: `models:/${v.name}/${v.version}`,
  };
}

/** The MLflow Model Registry (also Databricks, with Unity Catalog `catalog.schema.model` names). */
export class MlflowRegistry implements ModelRegistry, StageRegistry {
  readonly kind = 'mlflow' as const;
  readonly uri: string;
  readonly client: MlflowClient;

  constructor(
    connection: MlflowConnection,
    options: { log?: (line: string) => void; client?: MlflowClient } = {},
  ) {
    this.uri = connection.displayUri;
    this.client = options.client ?? new MlflowClient({ connection, log: options.log });
  }

  validateAlias(alias: string): void {
    if (!/^[\w-]{1,255}$/.test(alias))
      throw new ActionError(
        `alias '${alias}' is not accepted by the MLflow registry: use 1-255 letters, digits, '_' or '-'`,
      );
    if (alias.toLowerCase() === 'latest' || /^v\d+$/i.test(alias))
      throw new ActionError(
        `alias '${alias}' is reserved by the MLflow registry ('latest' and 'v<number>' name versions); choose another alias`,
      );
  }

  async ensureModel(
    name: string,
    options: { description?: string; tags?: Record<string, string> } = {},
  ): Promise<{ created: boolean }> {
    const { created } = await this.client.getOrCreateRegisteredModel(name, {
      description: options.description,
      tags: Object.entries(options.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
    return { created };
  }

  async modelExists(name: string): Promise<boolean> {
    return (await this.client.getRegisteredModel(name)) !== undefined;
  }

  async registerVersion(options: RegisterOptions): Promise<{ version: ModelVersionInfo; created: boolean }> {
    if (options.runId) {
      const existing = await this.searchVersions(options.name, { runId: options.runId });
      const same = existing
        .filter((v) => v.source === options.source)
        .sort((a, b) => Number(a.version) - Number(b.version))[0];
      if (same) return { version: same, created: false };
    }
    const created = await this.client.createModelVersion({
      name: options.name,
      source: options.source,
      runId: options.runId,
      runLink: options.runLink,
      description: options.description,
      tags: Object.entries(options.tags ?? {}).map(([key, value]) => ({ key, value })),
    });
    return { version: toInfo(created), created: true };
  }

  waitReady(name: string, version: string, options: WaitOptions): Promise<ModelVersionInfo> {
    return waitUntilReady(
      () => this.getVersion(name, version),
      options,
      `model ${name} version ${version} on ${this.uri}`,
    );
  }

  async getVersion(name: string, version: string): Promise<ModelVersionInfo | undefined> {
    const found = await this.client.getModelVersion(name, version);
    return found ? toInfo(found) : undefined;
  }

  async getAlias(name: string, alias: string): Promise<ModelVersionInfo | undefined> {
    const found = await this.client.getModelVersionByAlias(name, alias);
    return found ? toInfo(found) : undefined;
  }

  async setAlias(name: string, alias: string, version: string): Promise<void> {
    this.validateAlias(alias);
    try {
      await this.client.setModelAlias(name, alias, version);
    } catch (error) {
      if (
        error instanceof HttpError &&
        error.status === 400 &&
        mlflowErrorCode(error) === 'INVALID_PARAMETER_VALUE'
      )
        throw new ActionError(
          `MLflow at ${this.uri} refused alias '${alias}' for ${name} version ${version}: ${(error.json as { message?: string } | undefined)?.message ?? error.body}`,
        );
      throw error;
    }
  }

  async deleteAlias(name: string, alias: string): Promise<void> {
    await this.client.deleteModelAlias(name, alias);
  }

  async searchVersions(
    name: string,
    options: { runId?: string; pageSize?: number } = {},
  ): Promise<ModelVersionInfo[]> {
    let filter = `name=${filterValue(name)}`;
    if (options.runId) filter += ` AND run_id=${filterValue(options.runId)}`;
    const versions: ModelVersionInfo[] = [];
    for await (const v of this.client.searchModelVersions(filter, { pageSize: options.pageSize })) {
      versions.push(toInfo(v));
    }
    return versions;
  }

  async setVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    await this.client.setModelVersionTag(name, version, key, value);
  }

  async appendHistory(name: string, entry: HistoryEntry): Promise<void> {
    const stamp = String(Date.parse(entry.time) || Date.now()).padStart(15, '0');
    const key = `${HISTORY_PREFIX}${stamp}-${randomBytes(3).toString('hex')}`;
    let value = JSON.stringify(entry);
    if (value.length > TAG_VALUE_LIMIT) {
      const over = value.length - TAG_VALUE_LIMIT + 1;
      value = JSON.stringify({
        ...entry,
        reason: `${entry.reason.slice(0, Math.max(0, entry.reason.length - over - 1))}…`,
      });
    }
    await this.client.setRegisteredModelTag(name, key, value);
  }

  async readHistory(name: string): Promise<HistoryEntry[]> {
    const model = await this.client.getRegisteredModel(name);
    return (model?.tags ?? [])
      .filter((t) => t.key.startsWith(HISTORY_PREFIX))
      .sort((a, b) => a.key.localeCompare(b.key))
      .flatMap((t) => {
        try {
          return [JSON.parse(t.value) as HistoryEntry];
        } catch {
          return [];
        }
      });
  }

  async transitionStage(
    name: string,
    version: string,
    stage: 'Staging' | 'Production' | 'Archived' | 'None',
    archiveExisting: boolean,
  ): Promise<ModelVersionInfo> {
    if (isUnityCatalogName(name))
      throw new ActionError(
        `use-stages: Unity Catalog models (${name}) have no stages; promote with aliases instead`,
      );
    return toInfo(await this.client.transitionModelVersionStage(name, version, stage, archiveExisting));
  }
}
