export interface MetricPoint {
  key: string;
  value: number;
  step: number;
  timestamp: number;
}

export interface RunHandle {
  runId: string;
  experimentId: string;
  runName: string;
  /** Where the run's artifacts live: `mlflow-artifacts:/…` or a local directory. */
  artifactUri: string;
}

export interface UploadFile {
  localPath: string;
  /** Path under the run's artifact root, forward slashes. */
  artifactPath: string;
  size: number;
}

export interface UploadOptions {
  parallel?: number;
  onFile?: (file: UploadFile) => void;
  signal?: AbortSignal;
}

export type FinalStatus = 'FINISHED' | 'FAILED' | 'KILLED';

export interface StartRunOptions {
  experimentName: string;
  runName: string;
  startTime: number;
  tags: Record<string, string>;
}

export interface BaselineRun {
  runId: string;
  metrics: Record<string, number>;
  /** Where it came from, for the report: `run <id>`, `models:/name@alias (version 3, run <id>)`. */
  label: string;
}

/** A place to record runs: the MLflow tracking server or the embedded local store. */
export interface TrackingStore {
  readonly kind: 'mlflow' | 'local';
  /** The tracking URI without credentials. */
  readonly uri: string;
  startRun(options: StartRunOptions): Promise<RunHandle>;
  log(
    run: RunHandle,
    entities: { params?: Record<string, string>; metrics?: MetricPoint[]; tags?: Record<string, string> },
  ): Promise<void>;
  uploadArtifacts(run: RunHandle, files: UploadFile[], options?: UploadOptions): Promise<void>;
  finish(run: RunHandle, status: FinalStatus, endTime: number): Promise<void>;
  /** `runs:/<id>/<path>` for MLflow, the directory for the local store. */
  modelUri(run: RunHandle, artifactPath: string): string;
  /** Latest value per metric of a recorded run. */
  getRunMetrics(runId: string): Promise<BaselineRun>;
  /** The run behind `models:/<name>@<alias>`. */
  getAliasedRun(name: string, alias: string): Promise<BaselineRun>;
  /** Requests made so far (MLflow) — for benchmarks and tests. */
  readonly requests?: number;
}
