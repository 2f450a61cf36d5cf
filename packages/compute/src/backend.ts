/**
 * One training job on an engine the team already runs. train-and-log creates the tracking run first and
 * passes its ids in `env`, so whichever engine trains, the process logs into the same run.
 */
export interface TrainingJobSpec {
  /** A DNS-1123 name unique to this run (derived from the run id), used for the job and as a label. */
  name: string;
  /** The command the engine runs, as argv. */
  command: string[];
  /** Environment for the training process: MLFLOW_TRACKING_URI, MLFLOW_RUN_ID, MLFLOW_EXPERIMENT_ID, seed, params, data hash. */
  env: Record<string, string>;
  /** The local working directory (Ray uploads it as the job's working_dir package). */
  workingDirectory: string;
  /** Labels or metadata recorded on the remote job for lineage (run id, repository, commit). */
  labels: Record<string, string>;
  /** 0 = no limit. */
  timeoutMs: number;
}

/** A job as submitted: enough to follow it, or to cancel it from a post step in another process. */
export interface SubmittedJob {
  backend: string;
  /** The engine's own id: `namespace/kind/name` on Kubernetes, the submission id on Ray. */
  id: string;
  /** A link or command a human can use to look at it. */
  describe: string;
}

export type JobStatus = 'succeeded' | 'failed' | 'timed-out' | 'cancelled';

export interface JobOutcome {
  status: JobStatus;
  /** Why it failed, in the engine's words (`ErrImagePull: …`, `OOMKilled`, Ray's message). */
  reason?: string;
  exitCode?: number;
  /** The last lines of the log of the failing (or last) worker. */
  tail: string[];
}

export interface FollowOptions {
  /** One call per log line, already prefixed with the pod or worker it came from. */
  onLine(line: string): void;
  /** Phase changes (`Pending`, `Running`, `ContainerCreating` …) for the step log. */
  onPhase(phase: string): void;
  signal?: AbortSignal;
}

export interface TrainingBackend {
  readonly kind: string;
  /** What it will do, for the log: `Kubernetes batch/v1 Job in namespace ml-train`. */
  describe(): string;
  submit(spec: TrainingJobSpec, signal?: AbortSignal): Promise<SubmittedJob>;
  /** Streams logs and phases until the job ends, the timeout passes or the signal aborts (then it cancels the job). */
  follow(job: SubmittedJob, spec: TrainingJobSpec, options: FollowOptions): Promise<JobOutcome>;
  /** Stops the job and everything it started; idempotent, safe from a post step. */
  cancel(job: SubmittedJob, signal?: AbortSignal): Promise<void>;
}
