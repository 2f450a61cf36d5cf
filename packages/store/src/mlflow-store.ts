import { createReadStream } from 'node:fs';
import { Readable } from 'node:stream';
import { ActionError, mapPool } from '@mlops-actions/kit';
import { MlflowClient, type MlflowConnection } from '@mlops-actions/mlflow';
import type {
  BaselineRun,
  FinalStatus,
  MetricPoint,
  RunHandle,
  StartRunOptions,
  TrackingStore,
  UploadFile,
  UploadOptions,
} from './store';

/** Runs recorded on an MLflow tracking server (or Databricks), artifacts through the artifact proxy. */
export class MlflowStore implements TrackingStore {
  readonly kind = 'mlflow' as const;
  readonly uri: string;
  readonly client: MlflowClient;

  private readonly warn: (line: string) => void;

  constructor(
    connection: MlflowConnection,
    options: { log?: (line: string) => void; warn?: (line: string) => void; client?: MlflowClient } = {},
  ) {
    this.uri = connection.displayUri;
    this.warn = options.warn ?? options.log ?? (() => {});
    this.client = options.client ?? new MlflowClient({ connection, log: options.log });
  }

  get requests(): number {
    return this.client.requestCount;
  }

  async startRun(options: StartRunOptions): Promise<RunHandle> {
    const experiment = await this.client.getOrCreateExperiment(options.experimentName);
    const run = await this.client.createRun({
      experimentId: experiment.experiment_id,
      runName: options.runName,
      startTime: options.startTime,
      tags: Object.entries(options.tags).map(([key, value]) => ({ key, value })),
    });
    return {
      runId: run.info.run_id,
      experimentId: run.info.experiment_id,
      runName: run.info.run_name ?? options.runName,
      artifactUri: run.info.artifact_uri,
    };
  }

  async log(
    run: RunHandle,
    entities: { params?: Record<string, string>; metrics?: MetricPoint[]; tags?: Record<string, string> },
  ): Promise<void> {
    await this.client.logBatch(run.runId, {
      params: Object.entries(entities.params ?? {}).map(([key, value]) => ({ key, value })),
      tags: Object.entries(entities.tags ?? {}).map(([key, value]) => ({ key, value })),
      metrics: entities.metrics ?? [],
    });
  }

  async uploadArtifacts(run: RunHandle, files: UploadFile[], options: UploadOptions = {}): Promise<void> {
    if (!/^mlflow-artifacts:/.test(run.artifactUri)) {
      // Databricks (dbfs:/) and servers started with --no-serve-artifacts cannot take uploads over REST.
      this.warn(
        `Not uploading ${files.length} artifact(s): the run's artifact location ${run.artifactUri} is not served by the MLflow artifact proxy`,
      );
      return;
    }
    await mapPool(files, options.parallel ?? 8, async (file) => {
      await this.client.uploadArtifact(
        run.artifactUri,
        file,
        () => Readable.toWeb(createReadStream(file.localPath)) as unknown as NonNullable<RequestInit['body']>,
      );
      options.onFile?.(file);
    });
  }

  async finish(run: RunHandle, status: FinalStatus, endTime: number): Promise<void> {
    await this.client.updateRun(run.runId, status, endTime);
  }

  modelUri(run: RunHandle, artifactPath: string): string {
    return `runs:/${run.runId}/${artifactPath}`;
  }

  async getRunMetrics(runId: string): Promise<BaselineRun> {
    const run = await this.client.getRun(runId);
    const metrics: Record<string, number> = {};
    for (const m of run.data.metrics ?? []) metrics[m.key] = m.value;
    return { runId, metrics, label: `run ${runId}` };
  }

  async getAliasedRun(name: string, alias: string): Promise<BaselineRun> {
    const version = await this.client.getModelVersionByAlias(name, alias);
    if (!version)
      throw new ActionError(
        `baseline 'models:/${name}@${alias}': the model has no alias '${alias}' on ${this.uri}`,
      );
    const runId = version.run_id || /^runs:\/([0-9a-f]+)\//.exec(version.source ?? '')?.[1];
    if (!runId)
      throw new ActionError(
        `baseline 'models:/${name}@${alias}': version ${version.version} is not linked to a run`,
      );
    const baseline = await this.getRunMetrics(runId);
    return { ...baseline, label: `models:/${name}@${alias} (version ${version.version}, run ${runId})` };
  }
}
