import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { listen, readBody, sendJson } from './http-server';

/**
 * Test double of the Ray Jobs REST API served by the Ray dashboard (`dashboard/modules/job/job_head.py`,
 * the OpenAPI spec `doc/source/cluster/running-applications/job-submission/openapi.yml`):
 * - `GET /api/version` → `{version, ray_version, ray_commit, session_name}`
 * - `GET /api/packages/{protocol}/{package_name}` → 200 empty, or 404 `Package gcs://… does not exist`;
 *   `PUT` stores the bytes (only `gcs` is a package store; other protocols fail with a traceback, 500)
 * - `POST /api/jobs/` with a `JobSubmitRequest`; a field of the wrong type or an unknown field is Ray's
 *   400 with the Python traceback as text/plain; a submission id in use is the agent's 400 wrapped by
 *   the head into a 500 `RuntimeError: Request failed with status code 400: …already exists…`
 * - `GET /api/jobs/{id}` → `JobDetails`; `GET /api/jobs/{id}/logs` → `{"logs": "<whole driver log>"}`;
 *   `POST /api/jobs/{id}/stop` → `{"stopped": true|false}` (false once terminal); unknown ids are 404
 *   `Job <id> does not exist`.
 * Statuses follow `JobStatus`: PENDING → RUNNING → SUCCEEDED | FAILED | STOPPED, never out of a terminal
 * one. The test drives a job through `job(id)`, or lets the double run the entrypoint itself
 * (`execute: true`): the package is unpacked with Python's zipfile (so a bad zip fails as on Ray), the
 * entrypoint runs through `sh -c` in it with the runtime_env's `env_vars`, stop sends SIGTERM as Ray's
 * job supervisor does.
 */

export type RayJobStatus = 'PENDING' | 'RUNNING' | 'STOPPED' | 'SUCCEEDED' | 'FAILED';

const TERMINAL = new Set<RayJobStatus>(['STOPPED', 'SUCCEEDED', 'FAILED']);

const DEFAULT_MESSAGES: Record<RayJobStatus, string> = {
  PENDING:
    'Job has not started yet. It may be waiting for resources (CPUs, GPUs, memory, custom resources) to become available. It may be waiting for the runtime environment to be set up.',
  RUNNING: 'Job is currently running.',
  STOPPED: 'Job was intentionally stopped.',
  SUCCEEDED: 'Job finished successfully.',
  FAILED: 'Job failed.',
};

const SUBMIT_FIELDS = new Set([
  'entrypoint',
  'submission_id',
  'job_id',
  'runtime_env',
  'metadata',
  'entrypoint_num_cpus',
  'entrypoint_num_gpus',
  'entrypoint_memory',
  'entrypoint_resources',
  'entrypoint_label_selector',
]);

export interface RayJob {
  submission_id: string;
  status: RayJobStatus;
  entrypoint: string;
  message: string;
  error_type: string | null;
  start_time: number;
  end_time: number | null;
  metadata: Record<string, string>;
  runtime_env: Record<string, unknown>;
  driver_exit_code: number | null;
  entrypoint_num_cpus: number | null;
  entrypoint_num_gpus: number | null;
  entrypoint_memory: number | null;
  entrypoint_resources: Record<string, number> | null;
  logs: string;
}

export interface RayFault {
  /** Requests whose `METHOD path` matches fail … */
  match: RegExp;
  /** … with this status … */
  status: number;
  /** … this many times. */
  times: number;
  retryAfterSeconds?: number;
}

export interface RayJobsDouble {
  url: string;
  packages: Map<string, Buffer>;
  jobs: Map<string, RayJob>;
  requests: Array<{ method: string; path: string; body?: unknown }>;
  faults: RayFault[];
  /** Moves a job on as Ray's supervisor would; refuses to leave a terminal status. */
  setStatus(
    id: string,
    status: RayJobStatus,
    extra?: { message?: string; errorType?: string; exitCode?: number },
  ): void;
  appendLog(id: string, text: string): void;
  /** The entrypoint exits with `exitCode`: FAILED with Ray's message (exit code and last log lines). */
  exit(id: string, exitCode: number): void;
  /** Called after each accepted submission, for a test that scripts the job. */
  onSubmit?: (job: RayJob) => void;
  stop(): Promise<void>;
}

function traceback(exception: string, message: string): string {
  return [
    'Traceback (most recent call last):',
    '  File "/home/ray/anaconda3/lib/python3.11/site-packages/ray/dashboard/modules/job/utils.py", line 192, in parse_and_validate_request',
    '    return validate_request_type(await req.json(), request_type)',
    `${exception}: ${message}`,
    '',
  ].join('\n');
}

function text(res: ServerResponse, status: number, body: string, headers: Record<string, string> = {}) {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', ...headers });
  res.end(body);
}

/** The entrypoint's whole process group, as Ray's supervisor stops it; a group that is gone is fine. */
function signalGroup(child: ChildProcess | undefined, signal: NodeJS.Signals) {
  if (!child?.pid) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // Exited between the check and the signal.
  }
}

function isNumber(value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value);
}

/** `type(value)` as Python prints it, for the value JSON decoding would give Ray. */
function pythonType(value: unknown): string {
  if (value === null) return "<class 'NoneType'>";
  if (Array.isArray(value)) return "<class 'list'>";
  if (typeof value === 'number') return Number.isInteger(value) ? "<class 'int'>" : "<class 'float'>";
  const names: Record<string, string> = { string: 'str', boolean: 'bool', object: 'dict' };
  return `<class '${names[typeof value] ?? typeof value}'>`;
}

function isDict(value: unknown): value is Record<string, unknown> {
  return !!value && typeof value === 'object' && !Array.isArray(value);
}

/** `JobSubmitRequest.__post_init__` (dashboard/modules/job/common.py): the TypeError it raises, or undefined. */
function validateSubmit(body: Record<string, unknown>): string | undefined {
  for (const key of Object.keys(body))
    if (!SUBMIT_FIELDS.has(key))
      return `JobSubmitRequest.__init__() got an unexpected keyword argument '${key}'`;
  if (typeof body.entrypoint !== 'string')
    return `entrypoint must be a string, got ${pythonType(body.entrypoint)}`;
  for (const key of ['submission_id', 'job_id'])
    if (body[key] != null && typeof body[key] !== 'string')
      return `${key} must be a string if provided, got ${pythonType(body[key])}`;
  if (body.runtime_env != null && !isDict(body.runtime_env))
    return `runtime_env must be a dict, got ${pythonType(body.runtime_env)}`;
  if (body.metadata != null) {
    if (!isDict(body.metadata)) return `metadata must be a dict, got ${pythonType(body.metadata)}`;
    for (const value of Object.values(body.metadata))
      if (typeof value !== 'string') return `metadata values must be strings, got ${pythonType(value)}`;
  }
  for (const key of ['entrypoint_num_cpus', 'entrypoint_num_gpus'])
    if (body[key] != null && !isNumber(body[key]))
      return `${key} must be a number, got ${pythonType(body[key])}`;
  if (body.entrypoint_memory != null && !Number.isInteger(body.entrypoint_memory))
    return `entrypoint_memory must be an integer, got ${pythonType(body.entrypoint_memory)}`;
  const resources = body.entrypoint_resources;
  if (resources != null) {
    if (!isDict(resources)) return `entrypoint_resources must be a dict, got ${pythonType(resources)}`;
    for (const value of Object.values(resources))
      if (!isNumber(value)) return `entrypoint_resources values must be numbers, got ${pythonType(value)}`;
  }
  return undefined;
}

export interface RayJobsDoubleOptions {
  /** Run each entrypoint (see above) instead of waiting for the test to drive the job. */
  execute?: boolean;
  /** Require `Authorization: Bearer <token>`, as Ray's token authentication does. */
  token?: string;
  /** The environment of the cluster's nodes the entrypoint starts from; this process's by default. */
  env?: Record<string, string | undefined>;
}

export async function startRayJobsDouble(options: RayJobsDoubleOptions = {}): Promise<RayJobsDouble> {
  const packages = new Map<string, Buffer>();
  const jobs = new Map<string, RayJob>();
  const processes = new Map<string, ChildProcess>();
  const scratch = mkdtempSync(join(tmpdir(), 'ray-double-'));
  let submissions = 0;

  const setStatus: RayJobsDouble['setStatus'] = (id, status, extra = {}) => {
    const job = jobs.get(id);
    if (!job) throw new Error(`no job ${id}`);
    if (TERMINAL.has(job.status) && job.status !== status)
      throw new Error(`Attempted to change job status from a terminal state (${job.status} → ${status})`);
    job.status = status;
    job.message = extra.message ?? DEFAULT_MESSAGES[status];
    job.error_type = extra.errorType ?? null;
    if (extra.exitCode !== undefined) job.driver_exit_code = extra.exitCode;
    if (TERMINAL.has(status)) job.end_time = Date.now();
  };

  const exit = (id: string, exitCode: number) => {
    const job = jobs.get(id)!;
    if (TERMINAL.has(job.status)) return;
    if (exitCode === 0) return setStatus(id, 'SUCCEEDED', { exitCode });
    const tail = job.logs.slice(-20_000);
    setStatus(id, 'FAILED', {
      exitCode,
      errorType: 'JOB_ENTRYPOINT_COMMAND_ERROR',
      message: `Job entrypoint command failed with exit code ${exitCode}${tail ? `, last available logs (truncated to 20,000 chars):\n${tail}` : ''}`,
    });
  };

  const execute = (job: RayJob) => {
    const uri = job.runtime_env.working_dir as string | undefined;
    const dir = join(scratch, job.submission_id);
    if (uri) {
      const data = packages.get(uri);
      if (!data)
        return setStatus(job.submission_id, 'FAILED', {
          errorType: 'RUNTIME_ENV_SETUP_FAILED',
          message: `Job set up failed with error: Failed to download runtime_env file package ${uri} from the GCS to the Ray worker node.`,
        });
      const zip = `${dir}.zip`;
      writeFileSync(zip, data);
      const unzip = spawnSync('/usr/bin/python3', ['-m', 'zipfile', '-e', zip, dir], { encoding: 'utf8' });
      if (unzip.status !== 0)
        return setStatus(job.submission_id, 'FAILED', {
          errorType: 'RUNTIME_ENV_SETUP_FAILED',
          message: `Job set up failed with error: ${unzip.stderr.trim().split('\n').at(-1)}`,
        });
    }
    const env = {
      ...(options.env ?? process.env),
      ...((job.runtime_env.env_vars as Record<string, string>) ?? {}),
    };
    const child = spawn('sh', ['-c', job.entrypoint], { cwd: uri ? dir : scratch, env, detached: true });
    processes.set(job.submission_id, child);
    setStatus(job.submission_id, 'RUNNING');
    const append = (chunk: Buffer) => (job.logs += chunk.toString('utf8'));
    child.stdout.on('data', append);
    child.stderr.on('data', append);
    child.on('close', (code, signal) => {
      processes.delete(job.submission_id);
      if (job.status === 'STOPPED') return;
      exit(job.submission_id, code ?? (signal ? 128 + 15 : 1));
    });
  };

  const faults: RayFault[] = [];
  const requests: RayJobsDouble['requests'] = [];

  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://ray');
    const path = url.pathname;
    const method = req.method ?? 'GET';
    const raw = await readBody(req);
    let body: unknown;
    if (raw.length > 0 && req.headers['content-type']?.includes('json')) {
      try {
        body = JSON.parse(raw.toString('utf8'));
      } catch {
        body = Symbol.for('invalid-json');
      }
    }
    requests.push({ method, path, body: typeof body === 'symbol' ? raw.toString('utf8') : body });

    const fault = faults.find((f) => f.times > 0 && f.match.test(`${method} ${path}`));
    if (fault) {
      fault.times--;
      return text(res, fault.status, fault.status === 429 ? 'Too Many Requests' : '502 Bad Gateway', {
        ...(fault.retryAfterSeconds !== undefined ? { 'retry-after': String(fault.retryAfterSeconds) } : {}),
      });
    }
    if (options.token && req.headers.authorization !== `Bearer ${options.token}`)
      return text(res, 401, 'Unauthorized: Missing authentication token');

    if (method === 'GET' && path === '/api/version')
      return sendJson(res, 200, {
        version: '2',
        ray_version: '2.40.0',
        ray_commit: '22541c38dbef25286df26c47cf2a6adcafc1d6b1',
        session_name: 'session_2026-12-03_12-00-00_000000_1',
      });

    const pkg = /^\/api\/packages\/([^/]+)\/([^/]+)$/.exec(path);
    if (pkg) {
      const uri = `${pkg[1]}://${decodeURIComponent(pkg[2]!)}`;
      if (method === 'GET') {
        if (!packages.has(uri)) return text(res, 404, `Package ${uri} does not exist`);
        res.writeHead(200);
        res.end();
        return;
      }
      if (method === 'PUT') {
        if (pkg[1] !== 'gcs')
          return text(
            res,
            500,
            traceback('NotImplementedError', `Protocol Protocol.${pkg[1]!.toUpperCase()} is not supported`),
          );
        packages.set(uri, raw);
        res.writeHead(200);
        res.end();
        return;
      }
    }

    if (method === 'POST' && path === '/api/jobs/') {
      if (typeof body !== 'object' || body === null)
        return text(
          res,
          400,
          traceback('json.decoder.JSONDecodeError', 'Expecting value: line 1 column 1 (char 0)'),
        );
      const request = body as Record<string, unknown>;
      const problem = validateSubmit(request);
      if (problem) return text(res, 400, traceback('TypeError', problem));
      const id =
        (request.submission_id as string | undefined) ??
        `raysubmit_${(++submissions).toString(36).padStart(16, 'x')}`;
      if (jobs.has(id))
        return text(
          res,
          500,
          traceback(
            'RuntimeError',
            `Request failed with status code 400: Traceback (most recent call last):\n  File "job_agent.py", line 58, in submit_job\nValueError: Job with submission_id ${id} already exists. Please use a different submission_id..`,
          ),
        );
      const job: RayJob = {
        submission_id: id,
        status: 'PENDING',
        entrypoint: request.entrypoint as string,
        message: DEFAULT_MESSAGES.PENDING,
        error_type: null,
        start_time: Date.now(),
        end_time: null,
        metadata: { ...((request.metadata as Record<string, string>) ?? {}) },
        runtime_env: (request.runtime_env as Record<string, unknown>) ?? {},
        driver_exit_code: null,
        entrypoint_num_cpus: (request.entrypoint_num_cpus as number) ?? null,
        entrypoint_num_gpus: (request.entrypoint_num_gpus as number) ?? null,
        entrypoint_memory: (request.entrypoint_memory as number) ?? null,
        entrypoint_resources: (request.entrypoint_resources as Record<string, number>) ?? null,
        logs: '',
      };
      jobs.set(id, job);
      sendJson(res, 200, { job_id: id, submission_id: id });
      if (options.execute) setTimeout(() => execute(job), 50);
      double.onSubmit?.(job);
      return;
    }

    const jobPath = /^\/api\/jobs\/([^/]+)(\/logs|\/stop)?$/.exec(path);
    if (jobPath) {
      const id = decodeURIComponent(jobPath[1]!);
      const job = jobs.get(id);
      if (!job) return text(res, 404, `Job ${id} does not exist`);
      if (method === 'GET' && !jobPath[2]) {
        const { logs: _logs, ...details } = job;
        return sendJson(res, 200, {
          type: 'SUBMISSION',
          job_id: job.status === 'PENDING' ? null : '02000000',
          driver_info: null,
          driver_agent_http_address: null,
          driver_node_id: null,
          ...details,
        });
      }
      if (method === 'GET' && jobPath[2] === '/logs') return sendJson(res, 200, { logs: job.logs });
      if (method === 'POST' && jobPath[2] === '/stop') {
        if (TERMINAL.has(job.status)) return sendJson(res, 200, { stopped: false });
        setStatus(id, 'STOPPED');
        signalGroup(processes.get(id), 'SIGTERM');
        return sendJson(res, 200, { stopped: true });
      }
    }
    text(res, 404, '404: Not Found');
  };

  const server = await listen(handler);
  const double: RayJobsDouble = {
    url: server.url,
    packages,
    jobs,
    requests,
    faults,
    setStatus,
    appendLog: (id, chunk) => {
      jobs.get(id)!.logs += chunk;
    },
    exit,
    stop: async () => {
      for (const child of processes.values()) signalGroup(child, 'SIGKILL');
      await server.close();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
  return double;
}
