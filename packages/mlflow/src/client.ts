import { ActionError, HttpClient, HttpError } from '@mlops-actions/kit';
import { type BatchInput, planBatches, readWireValue, validateBatch, validateKey } from './batch';
import type { MlflowConnection } from './connection';
import type {
  Experiment,
  KeyValue,
  Metric,
  ModelStage,
  ModelVersion,
  RegisteredModel,
  Run,
  RunInfo,
  RunStatus,
} from './types';

const API = 'api/2.0/mlflow/';
const ARTIFACTS = 'api/2.0/mlflow-artifacts/artifacts/';
const UNITY_CATALOG = 'api/2.1/unity-catalog/models/';

/** Unity Catalog model names are three-level: `catalog.schema.model`. */
export function isUnityCatalogName(name: string): boolean {
  return /^[^.\s]+\.[^.\s]+\.[^.\s]+$/.test(name);
}

/** A version as the Unity Catalog REST API returns it (`ModelVersionInfo`). */
interface UnityCatalogVersion {
  model_name: string;
  version: number;
  run_id?: string;
  source?: string;
  status?: string;
  comment?: string;
  aliases?: Array<{ alias_name: string; version_num: number }>;
}

interface ErrorBody {
  error_code?: string;
  message?: string;
}

export function mlflowErrorCode(error: unknown): string | undefined {
  if (!(error instanceof HttpError)) return undefined;
  return (error.json as ErrorBody | undefined)?.error_code;
}

function encodePath(path: string): string {
  return path
    .split('/')
    .filter((p) => p.length > 0)
    .map(encodeURIComponent)
    .join('/');
}

export interface ArtifactFile {
  /** Path on disk. */
  localPath: string;
  /** Path under the run's artifact root, with forward slashes. */
  artifactPath: string;
  size: number;
}

export interface MlflowClientOptions {
  connection: MlflowConnection;
  http?: HttpClient;
  log?: (line: string) => void;
}

/**
 * The MLflow REST API as train-and-log and register-model need it. JSON bodies are always sent with
 * `Content-Type: application/json` (the server rejects anything else), GET parameters go in the query
 * and DELETE parameters in a JSON body.
 */
export class MlflowClient {
  readonly http: HttpClient;
  readonly connection: MlflowConnection;
  requestCount = 0;

  constructor(options: MlflowClientOptions) {
    this.connection = options.connection;
    this.http =
      options.http ??
      new HttpClient({
        name: `MLflow at ${options.connection.displayUri}`,
        baseUrl: options.connection.baseUrl,
        headers: options.connection.headers,
        log: options.log,
      });
  }

  private async call<T>(
    method: 'GET' | 'POST' | 'PATCH' | 'PUT' | 'DELETE',
    endpoint: string,
    body?: Record<string, unknown>,
    prefix = API,
  ): Promise<T> {
    this.requestCount++;
    try {
      if (method === 'GET') {
        return await this.http.json<T>(method, prefix + endpoint, {
          query: body as Record<string, string | number | string[] | undefined>,
        });
      }
      return await this.http.json<T>(method, prefix + endpoint, { json: body ?? {} });
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** Adds what to do about auth failures; the server's 401/403 bodies are plain text without secrets. */
  private explain(error: unknown): unknown {
    if (error instanceof HttpError && (error.status === 401 || error.status === 403)) {
      const what =
        error.status === 401
          ? `not authenticated (${this.connection.auth === 'none' ? 'no credentials were given' : `the ${this.connection.auth} credentials were refused`}); set MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD, or MLFLOW_TRACKING_TOKEN`
          : 'permission denied: the user may not do this in this experiment or model';
      return new HttpError(
        `MLflow at ${this.connection.displayUri} answered ${error.status}: ${what} (${error.url})`,
        error.status,
        error.url,
        error.body,
      );
    }
    return error;
  }

  async getExperimentByName(name: string): Promise<Experiment | undefined> {
    try {
      const res = await this.call<{ experiment: Experiment }>('GET', 'experiments/get-by-name', {
        experiment_name: name,
      });
      return res.experiment;
    } catch (error) {
      if (mlflowErrorCode(error) === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw error;
    }
  }

  async createExperiment(name: string, tags: KeyValue[] = []): Promise<string> {
    const res = await this.call<{ experiment_id: string }>('POST', 'experiments/create', { name, tags });
    return String(res.experiment_id);
  }

  /** Get-or-create that survives a concurrent job creating the same experiment (400 RESOURCE_ALREADY_EXISTS). */
  async getOrCreateExperiment(name: string): Promise<Experiment> {
    const existing = await this.getExperimentByName(name);
    if (existing) {
      if (existing.lifecycle_stage === 'deleted') {
        throw new ActionError(
          `MLflow experiment '${name}' is deleted; restore it or choose another experiment-name`,
        );
      }
      return existing;
    }
    try {
      const id = await this.createExperiment(name);
      return { experiment_id: id, name };
    } catch (error) {
      if (mlflowErrorCode(error) !== 'RESOURCE_ALREADY_EXISTS') throw error;
      const raced = await this.getExperimentByName(name);
      if (!raced) throw error;
      return raced;
    }
  }

  async createRun(options: {
    experimentId: string;
    runName?: string;
    startTime: number;
    tags?: KeyValue[];
    userId?: string;
  }): Promise<Run> {
    const tags = (options.tags ?? []).filter((t) => t.key !== 'mlflow.runName');
    if (options.runName) tags.push({ key: 'mlflow.runName', value: options.runName });
    const { tags: checked } = validateBatch({ tags });
    const res = await this.call<{ run: Run }>('POST', 'runs/create', {
      experiment_id: options.experimentId,
      run_name: options.runName,
      start_time: options.startTime,
      user_id: options.userId,
      tags: checked,
    });
    return res.run;
  }

  async getRun(runId: string): Promise<Run> {
    const res = await this.call<{ run: Run }>('GET', 'runs/get', { run_id: runId });
    const run = res.run;
    run.data ??= {};
    run.data.metrics = (run.data.metrics ?? []).map((m) => ({ ...m, value: readWireValue(m.value) }));
    return run;
  }

  async updateRun(runId: string, status: RunStatus, endTime: number): Promise<RunInfo> {
    const res = await this.call<{ run_info: RunInfo }>('POST', 'runs/update', {
      run_id: runId,
      status,
      end_time: endTime,
    });
    return res.run_info;
  }

  async getMetricHistory(runId: string, key: string): Promise<Metric[]> {
    const res = await this.call<{ metrics?: Metric[] }>('GET', 'metrics/get-history', {
      run_id: runId,
      metric_key: key,
    });
    return (res.metrics ?? []).map((m) => ({ ...m, value: readWireValue(m.value), step: m.step ?? 0 }));
  }

  /** Logs any number of metrics, params and tags in as few requests as the server's limits allow. */
  async logBatch(runId: string, input: BatchInput): Promise<number> {
    const checked = validateBatch(input);
    const batches = planBatches(checked, runId);
    for (const batch of batches) {
      await this.call('POST', 'runs/log-batch', { run_id: runId, ...batch });
    }
    return batches.length;
  }

  /** Entries directly under `path` of a run's artifacts (run-relative paths); empty when the path is missing. */
  async listArtifacts(runId: string, path: string): Promise<Array<{ path: string; is_dir?: boolean }>> {
    const res = await this.call<{ files?: Array<{ path: string; is_dir?: boolean }> }>(
      'GET',
      'artifacts/list',
      {
        run_id: runId,
        path,
      },
    );
    return res.files ?? [];
  }

  /** PUT through the artifact proxy: `mlflow-artifacts:/<exp>/<run>/artifacts` + the relative path. */
  async uploadArtifact(
    artifactUri: string,
    file: ArtifactFile,
    open: () => NonNullable<RequestInit['body']>,
  ): Promise<void> {
    const root = artifactRoot(artifactUri);
    this.requestCount++;
    try {
      await this.http.request('PUT', ARTIFACTS + encodePath(`${root}/${file.artifactPath}`), {
        body: open,
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(file.size) },
        timeoutMs: 120_000,
      });
    } catch (error) {
      throw this.explain(error);
    }
  }

  /** GET through the artifact proxy (list first: MLflow answers a missing file with 500, which is retried). */
  async downloadArtifact(artifactUri: string, artifactPath: string): Promise<Buffer> {
    const root = artifactRoot(artifactUri);
    this.requestCount++;
    try {
      const res = await this.http.request('GET', ARTIFACTS + encodePath(`${root}/${artifactPath}`), {
        timeoutMs: 120_000,
      });
      return Buffer.from(await res.arrayBuffer());
    } catch (error) {
      throw this.explain(error);
    }
  }

  // ---------- model registry ----------

  async getRegisteredModel(name: string): Promise<RegisteredModel | undefined> {
    try {
      const res = await this.call<{ registered_model: RegisteredModel }>('GET', 'registered-models/get', {
        name,
      });
      return res.registered_model;
    } catch (error) {
      if (mlflowErrorCode(error) === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw error;
    }
  }

  /** Get-or-create that survives a concurrent job creating the same model (400 RESOURCE_ALREADY_EXISTS). */
  async getOrCreateRegisteredModel(
    name: string,
    options: { description?: string; tags?: KeyValue[] } = {},
  ): Promise<{ model: RegisteredModel; created: boolean }> {
    const existing = await this.getRegisteredModel(name);
    if (existing) return { model: existing, created: false };
    try {
      const res = await this.call<{ registered_model: RegisteredModel }>('POST', 'registered-models/create', {
        name,
        description: options.description,
        tags: options.tags ?? [],
      });
      return { model: res.registered_model, created: true };
    } catch (error) {
      if (mlflowErrorCode(error) !== 'RESOURCE_ALREADY_EXISTS') throw error;
      const raced = await this.getRegisteredModel(name);
      if (!raced) throw error;
      return { model: raced, created: false };
    }
  }

  async setRegisteredModelTag(name: string, key: string, value: string): Promise<void> {
    await this.call('POST', 'registered-models/set-tag', { name, key, value });
  }

  async createModelVersion(options: {
    name: string;
    source: string;
    runId?: string;
    runLink?: string;
    description?: string;
    tags?: KeyValue[];
  }): Promise<ModelVersion> {
    const { tags } = validateBatch({ tags: options.tags ?? [] });
    const res = await this.call<{ model_version: ModelVersion }>('POST', 'model-versions/create', {
      name: options.name,
      source: options.source,
      run_id: options.runId,
      run_link: options.runLink,
      description: options.description,
      tags,
    });
    return res.model_version;
  }

  async getModelVersion(name: string, version: string): Promise<ModelVersion | undefined> {
    try {
      const res = await this.call<{ model_version: ModelVersion }>('GET', 'model-versions/get', {
        name,
        version,
      });
      return res.model_version;
    } catch (error) {
      if (mlflowErrorCode(error) === 'RESOURCE_DOES_NOT_EXIST') return undefined;
      throw error;
    }
  }

  async setModelVersionTag(name: string, version: string, key: string, value: string): Promise<void> {
    validateKey('tag', key);
    await this.call('POST', 'model-versions/set-tag', { name, version, key, value });
  }

  /**
   * Every page of `model-versions/search` (GET; `filter` such as `name='m' AND run_id='…'`). The server
   * never includes aliases here.
   */
  async *searchModelVersions(
    filter: string,
    options: { pageSize?: number; orderBy?: string[] } = {},
  ): AsyncGenerator<ModelVersion> {
    let pageToken: string | undefined;
    do {
      const res = await this.call<{ model_versions?: ModelVersion[]; next_page_token?: string }>(
        'GET',
        'model-versions/search',
        {
          filter,
          max_results: options.pageSize ?? 200,
          order_by: options.orderBy,
          page_token: pageToken,
        },
      );
      yield* res.model_versions ?? [];
      pageToken = res.next_page_token || undefined;
    } while (pageToken);
  }

  async transitionModelVersionStage(
    name: string,
    version: string,
    stage: ModelStage,
    archiveExistingVersions: boolean,
  ): Promise<ModelVersion> {
    const res = await this.call<{ model_version: ModelVersion }>('POST', 'model-versions/transition-stage', {
      name,
      version,
      stage,
      archive_existing_versions: archiveExistingVersions,
    });
    return res.model_version;
  }

  async getModelVersionByAlias(name: string, alias: string): Promise<ModelVersion | undefined> {
    try {
      if (isUnityCatalogName(name)) {
        const res = await this.call<UnityCatalogVersion>(
          'GET',
          `${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
          { include_aliases: 'true' },
          UNITY_CATALOG,
        );
        return {
          name: res.model_name,
          version: String(res.version),
          run_id: res.run_id,
          source: res.source,
          status: res.status,
          description: res.comment,
          aliases: (res.aliases ?? []).map((a) => a.alias_name),
        };
      }
      const res = await this.call<{ model_version: ModelVersion }>('GET', 'registered-models/alias', {
        name,
        alias,
      });
      return res.model_version;
    } catch (error) {
      // The server answers a missing alias (even of a missing model) with 400 INVALID_PARAMETER_VALUE.
      if (
        error instanceof HttpError &&
        (error.status === 404 || (error.status === 400 && /alias .* not found/i.test(error.body)))
      ) {
        return undefined;
      }
      throw error;
    }
  }

  /** Sets or moves an alias (the server moves an existing alias silently). */
  async setModelAlias(name: string, alias: string, version: string): Promise<void> {
    if (isUnityCatalogName(name)) {
      await this.call(
        'PUT',
        `${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
        { version_num: Number(version) },
        UNITY_CATALOG,
      );
      return;
    }
    await this.call('POST', 'registered-models/alias', { name, alias, version });
  }

  /** Idempotent: deleting a missing alias succeeds. */
  async deleteModelAlias(name: string, alias: string): Promise<void> {
    if (isUnityCatalogName(name)) {
      try {
        await this.call(
          'DELETE',
          `${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}`,
          undefined,
          UNITY_CATALOG,
        );
      } catch (error) {
        if (!(error instanceof HttpError && error.status === 404)) throw error;
      }
      return;
    }
    await this.call('DELETE', 'registered-models/alias', { name, alias });
  }
}

/** The proxy path of a run's artifact root; only `mlflow-artifacts:` roots can be written through REST. */
export function artifactRoot(artifactUri: string): string {
  const match = /^mlflow-artifacts:(?:\/\/[^/]*)?\/?(.*)$/.exec(artifactUri);
  if (!match) {
    throw new ActionError(
      `The run's artifact location '${artifactUri}' is not served by the MLflow artifact proxy; start the server with --serve-artifacts (the default since MLflow 2.0) or use a local tracking-uri`,
    );
  }
  return match[1]!.replace(/\/$/, '');
}
