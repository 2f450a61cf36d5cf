import {
  ActionError,
  formatBytes,
  formatDuration,
  HttpClient,
  type HttpClientOptions,
  HttpError,
  NetworkError,
  oneLine,
  redactUrl,
} from '@mlops-actions/kit';
import type { FollowOptions, JobOutcome, SubmittedJob, TrainingBackend, TrainingJobSpec } from './backend';
import { RAY_DEFAULT_EXCLUDES, RAY_MAX_PACKAGE_BYTES, rayPackage, zipPackage } from './ray-package';

/** How train-and-log's inputs reach the Ray backend. */
export interface RayOptions {
  /** The Ray dashboard of the head node, `http://<head>:8265` (the address `ray job submit` takes). */
  address: string;
  /** Extra headers for every request, e.g. `Authorization` for a cluster behind an authenticating proxy. */
  headers?: Record<string, string>;
  /** `entrypoint_num_cpus`: CPUs reserved for the entrypoint process. */
  entrypointNumCpus?: number;
  /** `entrypoint_num_gpus`: GPUs reserved for the entrypoint process (it then runs on a GPU node). */
  entrypointNumGpus?: number;
  /** `entrypoint_memory`: bytes of memory reserved for the entrypoint process. */
  entrypointMemory?: number;
  /** `entrypoint_resources`: custom resources (`{"accelerator_type:A100": 1}`). */
  entrypointResources?: Record<string, number>;
  /** More `runtime_env` fields (`pip`, `uv`, `conda`, `py_modules`, `config` …); `working_dir` is ours. */
  runtimeEnv?: Record<string, unknown>;
  /** gitwildmatch patterns left out of the uploaded working directory, on top of Ray's defaults. */
  excludes?: string[];
  /**
   * Also upload what `.gitignore` files leave out (DVC-pulled data is gitignored), as Ray does with
   * RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1.
   */
  uploadGitignored?: boolean;
  /** Seconds between two looks at the job's status and logs. */
  pollIntervalMs?: number;
  /** Lines the outcome keeps from the end of the log. */
  tailLines?: number;
  /** For the step log: retries, upload size. */
  log?: (line: string) => void;
  /** Overrides for the HTTP client (timeouts, retries), e.g. to bound a test. */
  http?: Pick<HttpClientOptions, 'timeoutMs' | 'retries' | 'minDelayMs' | 'maxDelayMs'>;
}

/** Ray's `JobStatus`. */
export type RayJobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

/** The fields of Ray's `JobDetails` (`GET /api/jobs/{id}`) that we read. */
export interface RayJobDetails {
  submission_id: string | null;
  status: RayJobStatus;
  message?: string | null;
  error_type?: string | null;
  driver_exit_code?: number | null;
  metadata?: Record<string, string> | null;
}

const TERMINAL = new Set<RayJobStatus>(['STOPPED', 'SUCCEEDED', 'FAILED']);

/** How long a stop may take before we report it and let the caller go on (Ray waits 3 s, then SIGKILL). */
const STOP_WAIT_MS = 60_000;

const HEARTBEAT_MS = 5 * 60_000;

/** POSIX shell quoting: Ray runs the entrypoint through a shell. */
export function shellJoin(argv: string[]): string {
  return argv
    .map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`))
    .join(' ');
}

/**
 * Ray's job server answers errors with a Python traceback in text/plain; its last line names the
 * exception and says what was wrong.
 */
export function rayErrorLine(body: string): string {
  const lines = body
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter(Boolean);
  return oneLine(lines.at(-1) ?? '').slice(0, 500);
}

/** The reason of a failed job in one line: Ray appends the last logs to the message after a colon. */
function failureReason(details: RayJobDetails): string {
  const message = (details.message ?? 'Job failed.')
    .split(/\r?\n/)[0]!
    .replace(/,? last available logs.*$/i, '');
  return oneLine(details.error_type ? `${details.error_type}: ${message}` : message);
}

function exitCodeOf(details: RayJobDetails): number | undefined {
  if (typeof details.driver_exit_code === 'number') return details.driver_exit_code;
  const match = /exit code (-?\d+)/.exec(details.message ?? '');
  return match ? Number(match[1]) : undefined;
}

function abortable(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/**
 * Splits a growing log into complete lines, each line once: Ray's `/logs` answers the whole driver log
 * every time, so we remember how far we have printed and keep a trailing partial line for later.
 */
export class LogCursor {
  private printed = 0;
  private readonly recent: string[] = [];

  constructor(private readonly keep: number) {}

  /** New complete lines of `log`; with `final`, also the last line without its newline. */
  advance(log: string, final = false): string[] {
    if (log.length <= this.printed) return [];
    const end = final ? log.length : log.lastIndexOf('\n') + 1;
    if (end <= this.printed) return [];
    const lines = log
      .slice(this.printed, end)
      .replace(/\r?\n$/, '')
      .split(/\r?\n/);
    this.printed = end;
    for (const line of lines) {
      this.recent.push(line);
      if (this.recent.length > this.keep) this.recent.shift();
    }
    return lines;
  }

  get tail(): string[] {
    return [...this.recent];
  }
}

/**
 * Training on a Ray cluster through the Ray Jobs REST API of its dashboard: the working directory goes
 * up as a content-addressed `gcs://` package, the job runs the command with the run's environment, and
 * we follow status and logs by polling (the `/logs/tail` websocket replays the whole log on every
 * reconnection and often does not pass proxies, so it buys nothing over `/logs` with an offset).
 */
export class RayBackend implements TrainingBackend {
  readonly kind = 'ray';
  private readonly http: HttpClient;
  private readonly address: string;
  /** The address as it may appear in the log: no credentials. */
  private readonly where: string;

  constructor(private readonly options: RayOptions) {
    this.address = options.address.replace(/\/+$/, '');
    this.where = redactUrl(this.address).replace(/\/+$/, '');
    this.http = new HttpClient({
      name: `Ray at ${this.where}`,
      baseUrl: this.address,
      headers: options.headers,
      log: options.log,
      timeoutMs: 30_000,
      retries: 4,
      ...options.http,
    });
  }

  describe(): string {
    return `Ray job on the cluster at ${this.where}`;
  }

  async submit(spec: TrainingJobSpec, signal?: AbortSignal): Promise<SubmittedJob> {
    await this.checkConnection(signal);
    const workingDir = await this.uploadWorkingDirectory(spec.workingDirectory, signal);
    const body = this.submitRequest(spec, workingDir);
    try {
      await this.http.request('POST', '/api/jobs/', { json: body, signal });
    } catch (error) {
      // A retried POST whose first attempt went through meets its own job: that is ours, not a clash.
      if (!(error instanceof HttpError) || !/already exists/.test(error.body))
        throw this.explain(error, 'POST', '/api/jobs/');
      const existing = await this.details(spec.name, signal);
      const ours = Object.entries(spec.labels).every(([key, value]) => existing?.metadata?.[key] === value);
      if (!ours)
        throw new ActionError(
          `Ray at ${this.where} already has a job with submission id ${spec.name} that another run submitted`,
        );
    }
    return { backend: this.kind, id: spec.name, describe: `${this.where}/#/jobs/${spec.name}` };
  }

  async follow(job: SubmittedJob, spec: TrainingJobSpec, options: FollowOptions): Promise<JobOutcome> {
    const cursor = new LogCursor(this.options.tailLines ?? 30);
    const deadline = spec.timeoutMs > 0 ? Date.now() + spec.timeoutMs : Infinity;
    const interval = this.options.pollIntervalMs ?? 2000;
    let phase: string | undefined;
    const started = Date.now();
    let lastHeard = started;
    const onLine = (line: string) => {
      lastHeard = Date.now();
      options.onLine(line);
    };
    for (;;) {
      const details = await this.details(job.id, options.signal).catch((error: unknown) => {
        if (options.signal?.aborted) return undefined;
        throw error;
      });
      if (options.signal?.aborted) return this.stopAndReport(job, cursor, options, 'cancelled');
      if (!details) throw new ActionError(`Ray at ${this.where} no longer knows job ${job.id}`);
      if (details.status !== phase) {
        phase = details.status;
        options.onPhase(phase);
      }
      const terminal = TERMINAL.has(details.status);
      await this.printLogs(job.id, cursor, { ...options, onLine }, terminal);
      // A job that prints nothing for long still shows it is alive (a pending job waits for a GPU node).
      if (!terminal && Date.now() - lastHeard >= HEARTBEAT_MS) {
        lastHeard = Date.now();
        this.options.log?.(
          `Ray job ${job.id} is ${details.status} (${formatDuration(Date.now() - started)} so far)`,
        );
      }
      if (terminal) return this.outcome(details, cursor);
      if (Date.now() >= deadline) return this.stopAndReport(job, cursor, options, 'timed-out');
      await abortable(Math.min(interval, Math.max(deadline - Date.now(), 0)), options.signal);
    }
  }

  async cancel(job: SubmittedJob, signal?: AbortSignal): Promise<void> {
    // 404: the job is gone already; `{"stopped": false}`: it had ended. Either way nothing runs.
    await this.call('POST', `/api/jobs/${encodeURIComponent(job.id)}/stop`, { accept: [404], signal });
  }

  private async checkConnection(signal?: AbortSignal): Promise<void> {
    try {
      const version = await this.http.json<{ ray_version?: string }>('GET', '/api/version', {
        signal,
        accept: [],
      });
      this.options.log?.(`Ray ${version.ray_version ?? '(version unknown)'} at ${this.where}`);
    } catch (error) {
      if (error instanceof NetworkError)
        throw new ActionError(
          `Input 'ray-address': the Ray dashboard at ${this.where} does not answer (${error.message.replace(/^.*: /, '')}); give the head node's dashboard address, e.g. http://ray-head:8265`,
        );
      if (error instanceof HttpError && error.status === 404)
        throw new ActionError(
          `Input 'ray-address': ${this.where} answered 404 for /api/version, so it is not a Ray dashboard (Ray ≥ 2.0 serves the Jobs API on the dashboard port, 8265 by default)`,
        );
      throw this.explain(error, 'GET', '/api/version');
    }
  }

  private async uploadWorkingDirectory(directory: string, signal?: AbortSignal): Promise<string> {
    const pkg = rayPackage(
      directory,
      [...RAY_DEFAULT_EXCLUDES, ...(this.options.excludes ?? [])],
      !this.options.uploadGitignored,
    );
    const path = `/api/packages/gcs/${encodeURIComponent(pkg.name)}`;
    const exists = await this.call('GET', path, { accept: [404], signal });
    if (exists.status !== 404) {
      this.options.log?.(`Working directory package ${pkg.uri} is on the cluster already`);
      return pkg.uri;
    }
    const zip = zipPackage(pkg);
    if (zip.length >= RAY_MAX_PACKAGE_BYTES)
      throw new ActionError(
        `The working directory packs to ${formatBytes(zip.length)}, more than Ray's ${formatBytes(RAY_MAX_PACKAGE_BYTES)} package limit; leave data out with the Ray excludes`,
      );
    const files = pkg.entries.filter((entry) => !entry.directory).length;
    this.options.log?.(
      `Uploading working directory as ${pkg.uri} (${files} files, ${formatBytes(zip.length)})`,
    );
    await this.call('PUT', path, { body: zip, headers: { 'content-type': 'application/zip' }, signal });
    return pkg.uri;
  }

  private submitRequest(spec: TrainingJobSpec, workingDir: string): Record<string, unknown> {
    const extra = this.options.runtimeEnv ?? {};
    const extraEnv = (extra.env_vars as Record<string, string> | undefined) ?? {};
    const request: Record<string, unknown> = {
      entrypoint: shellJoin(spec.command),
      submission_id: spec.name,
      runtime_env: { ...extra, working_dir: workingDir, env_vars: { ...extraEnv, ...spec.env } },
      metadata: { ...spec.labels },
    };
    if (this.options.entrypointNumCpus !== undefined)
      request.entrypoint_num_cpus = this.options.entrypointNumCpus;
    if (this.options.entrypointNumGpus !== undefined)
      request.entrypoint_num_gpus = this.options.entrypointNumGpus;
    if (this.options.entrypointMemory !== undefined)
      request.entrypoint_memory = this.options.entrypointMemory;
    if (this.options.entrypointResources) request.entrypoint_resources = this.options.entrypointResources;
    return request;
  }

  private async details(id: string, signal?: AbortSignal): Promise<RayJobDetails | undefined> {
    const response = await this.call('GET', `/api/jobs/${encodeURIComponent(id)}`, { accept: [404], signal });
    if (response.status === 404) return undefined;
    return (await response.json()) as RayJobDetails;
  }

  private async printLogs(id: string, cursor: LogCursor, options: FollowOptions, final: boolean) {
    const response = await this.call('GET', `/api/jobs/${encodeURIComponent(id)}/logs`, {
      accept: [404],
      signal: final ? undefined : options.signal,
    }).catch((error: unknown) => {
      if (options.signal?.aborted) return undefined;
      throw error;
    });
    if (!response || response.status === 404) return;
    const { logs } = (await response.json()) as { logs?: string };
    for (const line of cursor.advance(logs ?? '', final)) options.onLine(line);
  }

  private outcome(details: RayJobDetails, cursor: LogCursor): JobOutcome {
    if (details.status === 'SUCCEEDED') return { status: 'succeeded', exitCode: 0, tail: cursor.tail };
    if (details.status === 'STOPPED')
      return {
        status: 'cancelled',
        reason: oneLine(details.message ?? 'Job was stopped.'),
        tail: cursor.tail,
      };
    return {
      status: 'failed',
      reason: failureReason(details),
      exitCode: exitCodeOf(details),
      tail: cursor.tail,
    };
  }

  /** Stops the job (cancelled step or timeout), waits a bounded time for Ray to say it ended, reports. */
  private async stopAndReport(
    job: SubmittedJob,
    cursor: LogCursor,
    options: FollowOptions,
    status: 'cancelled' | 'timed-out',
  ): Promise<JobOutcome> {
    await this.cancel(job);
    const interval = this.options.pollIntervalMs ?? 2000;
    const until = Date.now() + STOP_WAIT_MS;
    let details: RayJobDetails | undefined;
    for (;;) {
      details = await this.details(job.id);
      if (!details || TERMINAL.has(details.status) || Date.now() >= until) break;
      await abortable(interval);
    }
    if (details) options.onPhase(details.status);
    await this.printLogs(job.id, cursor, { ...options, signal: undefined }, true);
    const reason =
      status === 'timed-out'
        ? `the job ran past the timeout and was stopped (Ray status ${details?.status ?? 'unknown'})`
        : `the step was cancelled and the job stopped (Ray status ${details?.status ?? 'unknown'})`;
    return { status, reason, tail: cursor.tail };
  }

  private async call(
    method: string,
    path: string,
    options: Parameters<HttpClient['request']>[2] = {},
  ): Promise<Response> {
    try {
      return await this.http.request(method, path, options);
    } catch (error) {
      throw this.explain(error, method, path);
    }
  }

  /** Ray's traceback bodies shown by their last line; network failures named by the input. */
  private explain(error: unknown, method: string, path: string): unknown {
    if (error instanceof HttpError) {
      const line = rayErrorLine(error.body);
      return new ActionError(
        `Ray at ${this.where}: ${method} ${path} answered ${error.status}${line ? `: ${line}` : ''}`,
      );
    }
    if (error instanceof NetworkError) return new ActionError(`Input 'ray-address': ${error.message}`);
    return error;
  }
}
