import { randomBytes } from 'node:crypto';
import { appendFileSync, copyFileSync, existsSync, mkdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ActionError, mapPool, writeFileAtomic } from '@mlops-actions/kit';
import { LayoutStore } from '@mlops-actions/oci';
import { OciModelRegistry } from './oci-registry';
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

/** One run as the local store keeps it in `<root>/runs/<run-id>/run.json`. */
export interface LocalRunRecord {
  format: 'mlops-run/v1';
  run_id: string;
  experiment_id: string;
  experiment_name: string;
  run_name: string;
  status: 'RUNNING' | FinalStatus;
  start_time: number;
  end_time?: number;
  params: Record<string, string>;
  tags: Record<string, string>;
  /**
   * The latest point of each metric (at the highest step), in a one-element list; records written before
   * histories were streamed hold every point here. Non-finite values are written as "NaN", "Infinity",
   * "-Infinity". The whole history is in `metrics.jsonl` beside this file (see `historyFile`).
   */
  metrics: Record<string, Array<{ value: number | string; step: number; timestamp: number }>>;
  artifact_uri: string;
}

function encode(value: number): number | string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

function decode(value: number | string): number {
  return typeof value === 'number' ? value : Number(value);
}

/**
 * The embedded store: run records as JSON under a directory (default `.mlops`), artifacts copied beside
 * them. Every write is atomic. The directory is what gets uploaded as a workflow artifact.
 */
export class LocalStore implements TrackingStore {
  readonly kind = 'local' as const;
  readonly root: string;

  constructor(
    root: string,
    readonly uri: string = root,
  ) {
    this.root = resolve(root);
  }

  private runFile(runId: string): string {
    if (!/^[0-9a-f]{32}$/.test(runId))
      throw new ActionError(`'${runId}' is not a run id of the local store (32 hex digits)`);
    return join(this.root, 'runs', runId, 'run.json');
  }

  read(runId: string): LocalRunRecord {
    const file = this.runFile(runId);
    if (!existsSync(file)) throw new ActionError(`Run ${runId} is not in the local store at ${this.uri}`);
    return JSON.parse(readFileSync(file, 'utf8')) as LocalRunRecord;
  }

  private write(record: LocalRunRecord): void {
    writeFileAtomic(this.runFile(record.run_id), `${JSON.stringify(record, null, 2)}\n`);
  }

  private experimentId(name: string): string {
    const file = join(this.root, 'experiments.json');
    const map = existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as Record<string, string>) : {};
    if (!map[name]) {
      map[name] = String(Object.keys(map).length + 1);
      writeFileAtomic(file, `${JSON.stringify(map, null, 2)}\n`);
    }
    return map[name]!;
  }

  async startRun(options: StartRunOptions): Promise<RunHandle> {
    const runId = randomBytes(16).toString('hex');
    const experimentId = this.experimentId(options.experimentName);
    const artifactUri = join(this.root, 'runs', runId, 'artifacts');
    mkdirSync(artifactUri, { recursive: true });
    this.write({
      format: 'mlops-run/v1',
      run_id: runId,
      experiment_id: experimentId,
      experiment_name: options.experimentName,
      run_name: options.runName,
      status: 'RUNNING',
      start_time: options.startTime,
      params: {},
      tags: { ...options.tags, 'mlflow.runName': options.runName },
      metrics: {},
      artifact_uri: artifactUri,
    });
    return { runId, experimentId, runName: options.runName, artifactUri };
  }

  async log(
    run: RunHandle,
    entities: { params?: Record<string, string>; metrics?: MetricPoint[]; tags?: Record<string, string> },
  ): Promise<void> {
    const record = this.read(run.runId);
    for (const [key, value] of Object.entries(entities.params ?? {})) {
      if (key in record.params && record.params[key] !== value) {
        throw new ActionError(
          `Param '${key}' was already logged with the value '${record.params[key]}'; params cannot change within a run`,
        );
      }
      record.params[key] = value;
    }
    Object.assign(record.tags, entities.tags ?? {});
    const lines: string[] = [];
    for (const m of entities.metrics ?? []) {
      const point = { value: encode(m.value), step: m.step, timestamp: m.timestamp };
      const latest = record.metrics[m.key]?.at(-1);
      if (!latest || m.step >= latest.step) record.metrics[m.key] = [point];
      lines.push(`${JSON.stringify({ key: m.key, ...point })}\n`);
    }
    if (lines.length > 0) appendFileSync(this.historyFile(run.runId), lines.join(''));
    this.write(record);
  }

  /** Every metric point of a run, appended as it is logged: one JSON object per line (`key`, `value`, `step`, `timestamp`). */
  historyFile(runId: string): string {
    return join(dirname(this.runFile(runId)), 'metrics.jsonl');
  }

  async uploadArtifacts(run: RunHandle, files: UploadFile[], options: UploadOptions = {}): Promise<void> {
    await mapPool(files, options.parallel ?? 8, async (file) => {
      const target = join(run.artifactUri, ...file.artifactPath.split('/'));
      if (!target.startsWith(run.artifactUri))
        throw new ActionError(`Artifact path '${file.artifactPath}' leaves the run's directory`);
      mkdirSync(dirname(target), { recursive: true });
      const temp = `${target}.${randomBytes(4).toString('hex')}.tmp`;
      copyFileSync(file.localPath, temp);
      const { renameSync } = await import('node:fs');
      renameSync(temp, target);
      options.onFile?.(file);
    });
  }

  async finish(run: RunHandle, status: FinalStatus, endTime: number): Promise<void> {
    const record = this.read(run.runId);
    record.status = status;
    record.end_time = endTime;
    this.write(record);
  }

  modelUri(run: RunHandle, artifactPath: string): string {
    return join(run.artifactUri, ...artifactPath.split('/'));
  }

  async getRunMetrics(runId: string): Promise<BaselineRun> {
    const record = this.read(runId);
    const metrics: Record<string, number> = {};
    for (const [key, points] of Object.entries(record.metrics)) {
      const latest = [...points].sort((a, b) => a.step - b.step || a.timestamp - b.timestamp).pop();
      if (latest) metrics[key] = decode(latest.value);
    }
    return { runId, metrics, label: `run ${runId} (local store)` };
  }

  /** The local registry register-model keeps beside the runs (`<root>/registry`, an OCI image layout). */
  registry(): OciModelRegistry {
    const root = join(this.root, 'registry');
    return new OciModelRegistry({
      kind: 'local',
      store: new LayoutStore(root),
      namespace: '',
      uri: `${this.uri.replace(/\/$/, '')}/registry`,
      reference: (repository, _digest, tag) => `oci:${join(root, repository)}:${tag}`,
    });
  }

  async getAliasedRun(name: string, alias: string): Promise<BaselineRun> {
    const registry = this.registry();
    const version = existsSync(join(this.root, 'registry'))
      ? await registry.getAlias(name, alias)
      : undefined;
    if (!version)
      throw new ActionError(
        `baseline 'models:/${name}@${alias}': the local registry ${registry.uri} has no model ${name} with alias '${alias}' (register-model creates it)`,
      );
    if (!version.runId)
      throw new ActionError(
        `baseline 'models:/${name}@${alias}': version ${version.version} is not linked to a run`,
      );
    const baseline = await this.getRunMetrics(version.runId);
    return {
      ...baseline,
      label: `models:/${name}@${alias} (version ${version.version}, run ${version.runId})`,
    };
  }
}
