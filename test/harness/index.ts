import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { type EventSpec, events } from './events';
import { parseFileCommands } from './files';

export type { EventSpec };
export { events, parseFileCommands };

export const repoRoot = resolve(dirname(new URL(import.meta.url).pathname), '..', '..');

export type InputValue = string | number | boolean | string[] | Record<string, unknown> | undefined;

export interface StepOptions {
  /** An action id under actions/ (runs its committed dist/ bundle) or a folder holding an action.yml. */
  action: string;
  inputs?: Record<string, InputValue>;
  env?: Record<string, string | undefined>;
  event?: EventSpec;
  /** The job's workspace (GITHUB_WORKSPACE and the step's working directory). */
  workspace?: string;
  /** Runner files (GITHUB_OUTPUT, …) and RUNNER_TEMP go here; one per job so steps share RUNNER_TEMP. */
  runnerDir?: string;
  timeoutMs?: number;
  /** Send SIGINT after this long, as the runner does when a job is cancelled. */
  cancelAfterMs?: number;
  /** SIGKILL after this long: the process dies without any chance to clean up. */
  killAfterMs?: number;
  /** Kill the main step once its stdout contains this text (SIGKILL, like a lost runner). */
  killWhenStdout?: string | RegExp;
  /** Cancel (SIGINT, then SIGTERM 7.5 s later) once its stdout contains this text: after work started. */
  cancelWhenStdout?: string | RegExp;
  /** Skip the post step even when the action has one. */
  skipPost?: boolean;
}

export interface ProcessResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  /** The text after `::error::`, if the step failed through core.setFailed. */
  error?: string;
  summary: string;
}

export interface StepResult extends ProcessResult {
  outputs: Record<string, string>;
  /** The parsed `json` output, when there is one. */
  json?: unknown;
  state: Record<string, string>;
  env: Record<string, string>;
  path: string[];
  post?: ProcessResult;
}

interface ActionMetadata {
  inputs?: Record<string, { default?: string }>;
  runs: { using: string; main: string; post?: string; 'post-if'?: string };
}

function resolveAction(action: string): { dir: string; metadata: ActionMetadata } {
  const dir = existsSync(join(action, 'action.yml')) ? resolve(action) : join(repoRoot, 'actions', action);
  const file = join(dir, 'action.yml');
  if (!existsSync(file)) throw new Error(`no action.yml for '${action}' (looked in ${dir})`);
  return { dir, metadata: parseYaml(readFileSync(file, 'utf8')) as ActionMetadata };
}

function inputValue(value: InputValue): string | undefined {
  if (value === undefined) return undefined;
  if (Array.isArray(value)) return value.join('\n');
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

function firstError(stdout: string): string | undefined {
  const match = /^::error(?:[^:]*)::(.*)$/m.exec(stdout);
  return match?.[1]?.replace(/%0A/g, '\n').replace(/%0D/g, '\r').replace(/%25/g, '%');
}

function readIfExists(path: string): string {
  return existsSync(path) ? readFileSync(path, 'utf8') : '';
}

interface SpawnOptions {
  script: string;
  env: NodeJS.ProcessEnv;
  cwd: string;
  timeoutMs: number;
  cancelAfterMs?: number;
  killAfterMs?: number;
  killWhenStdout?: string | RegExp;
  cancelWhenStdout?: string | RegExp;
  summaryFile: string;
}

function runNode(options: SpawnOptions): Promise<ProcessResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [options.script], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    let cancelled = false;
    const timers: NodeJS.Timeout[] = [];
    const stop = (signal: NodeJS.Signals) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    };
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      const trigger = options.killWhenStdout;
      if (trigger && (typeof trigger === 'string' ? stdout.includes(trigger) : trigger.test(stdout)))
        stop('SIGKILL');
      const cancel = options.cancelWhenStdout;
      if (
        cancel &&
        !cancelled &&
        (typeof cancel === 'string' ? stdout.includes(cancel) : cancel.test(stdout))
      ) {
        cancelled = true;
        stop('SIGINT');
        timers.push(setTimeout(() => stop('SIGTERM'), 7500));
      }
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    timers.push(setTimeout(() => stop('SIGKILL'), options.timeoutMs));
    if (options.cancelAfterMs !== undefined) {
      timers.push(setTimeout(() => stop('SIGINT'), options.cancelAfterMs));
      // The runner follows SIGINT with SIGTERM 7.5 s later.
      timers.push(setTimeout(() => stop('SIGTERM'), options.cancelAfterMs + 7500));
    }
    if (options.killAfterMs !== undefined)
      timers.push(setTimeout(() => stop('SIGKILL'), options.killAfterMs));
    child.on('error', reject);
    child.on('close', (exitCode, signal) => {
      for (const timer of timers) clearTimeout(timer);
      resolvePromise({
        exitCode,
        signal,
        stdout,
        stderr,
        error: firstError(stdout),
        summary: readIfExists(options.summaryFile),
      });
    });
  });
}

/**
 * Runs one step of an action as the GitHub runner does: inputs with the action.yml defaults filled in,
 * the runner's file commands and environment, then the post step with the state the main step saved.
 */
export async function runStep(options: StepOptions): Promise<StepResult> {
  const { dir, metadata } = resolveAction(options.action);
  const runnerDir = options.runnerDir ?? mkdtempSync(join(tmpdir(), 'runner-'));
  const stepDir = mkdtempSync(join(runnerDir, 'step-'));
  const temp = join(runnerDir, 'temp');
  mkdirSync(temp, { recursive: true });
  const workspace = options.workspace ?? mkdtempSync(join(runnerDir, 'workspace-'));
  const event = options.event ?? events.push({ repo: 'octo-org/ml-project', sha: 'a'.repeat(40) });
  const files = {
    output: join(stepDir, 'output'),
    state: join(stepDir, 'state'),
    env: join(stepDir, 'env'),
    path: join(stepDir, 'path'),
    summary: join(stepDir, 'summary.md'),
    event: join(stepDir, 'event.json'),
  };
  for (const file of Object.values(files)) writeFileSync(file, '');
  writeFileSync(files.event, JSON.stringify(event.payload));
  const repo =
    (event.payload.repository as { full_name?: string } | undefined)?.full_name ?? 'octo-org/ml-project';
  const sha =
    ((event.payload.pull_request as { head?: { sha?: string } } | undefined)?.head?.sha ??
      (event.payload.after as string | undefined)) ||
    'a'.repeat(40);

  const inputs: Record<string, string> = {};
  for (const [name, spec] of Object.entries(metadata.inputs ?? {})) {
    if (spec.default !== undefined) inputs[inputVariable(name)] = String(spec.default);
  }
  for (const [name, value] of Object.entries(options.inputs ?? {})) {
    const text = inputValue(value);
    if (text !== undefined) inputs[inputVariable(name)] = text;
  }
  const baseEnv: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LANG: process.env.LANG ?? 'C.UTF-8',
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_WORKSPACE: workspace,
    GITHUB_REPOSITORY: repo,
    GITHUB_REPOSITORY_OWNER: repo.split('/')[0],
    GITHUB_SHA: sha,
    GITHUB_REF: event.name === 'pull_request' ? `refs/pull/${event.payload.number}/merge` : 'refs/heads/main',
    GITHUB_EVENT_NAME: event.name,
    GITHUB_EVENT_PATH: files.event,
    GITHUB_SERVER_URL: 'https://github.com',
    GITHUB_API_URL: 'https://api.github.com',
    GITHUB_RUN_ID: '1234567890',
    GITHUB_RUN_ATTEMPT: '1',
    GITHUB_WORKFLOW: 'ml',
    GITHUB_JOB: 'train',
    GITHUB_ACTOR: 'octocat',
    GITHUB_ACTION: options.action,
    GITHUB_OUTPUT: files.output,
    GITHUB_STATE: files.state,
    GITHUB_ENV: files.env,
    GITHUB_PATH: files.path,
    GITHUB_STEP_SUMMARY: files.summary,
    RUNNER_TEMP: temp,
    RUNNER_OS: 'Linux',
    RUNNER_ARCH: 'X64',
    ...inputs,
    ...options.env,
  };
  const env = Object.fromEntries(Object.entries(baseEnv).filter(([, v]) => v !== undefined));
  const timeoutMs = options.timeoutMs ?? 120_000;
  const main = await runNode({
    script: join(dir, metadata.runs.main),
    env,
    cwd: workspace,
    timeoutMs,
    cancelAfterMs: options.cancelAfterMs,
    killAfterMs: options.killAfterMs,
    killWhenStdout: options.killWhenStdout,
    cancelWhenStdout: options.cancelWhenStdout,
    summaryFile: files.summary,
  });
  const outputs = parseFileCommands(readIfExists(files.output));
  const state = parseFileCommands(readIfExists(files.state));
  const result: StepResult = {
    ...main,
    outputs,
    json: outputs.json ? JSON.parse(outputs.json) : undefined,
    state,
    env: parseFileCommands(readIfExists(files.env)),
    path: readIfExists(files.path).split('\n').filter(Boolean),
  };
  const postIf = metadata.runs['post-if'] ?? 'always()';
  const mainOk = main.exitCode === 0;
  if (metadata.runs.post && !options.skipPost && (postIf.includes('always()') || mainOk)) {
    const postSummary = join(stepDir, 'post-summary.md');
    writeFileSync(postSummary, '');
    const stateEnv = Object.fromEntries(Object.entries(state).map(([k, v]) => [`STATE_${k}`, v]));
    result.post = await runNode({
      script: join(dir, metadata.runs.post),
      env: {
        ...env,
        ...stateEnv,
        GITHUB_STEP_SUMMARY: postSummary,
        GITHUB_OUTPUT: join(stepDir, 'post-output'),
      },
      cwd: workspace,
      timeoutMs,
      summaryFile: postSummary,
    });
  }
  return result;
}

/**
 * A job: steps that share a workspace and RUNNER_TEMP, where a step's inputs may be computed from the
 * outputs of the steps before it, as `${{ steps.x.outputs.y }}` does.
 */
export class Job {
  readonly steps: Record<string, StepResult> = {};
  readonly runnerDir: string;
  readonly workspace: string;

  constructor(private readonly defaults: Omit<StepOptions, 'action' | 'inputs'> = {}) {
    this.runnerDir = defaults.runnerDir ?? mkdtempSync(join(tmpdir(), 'job-'));
    this.workspace = defaults.workspace ?? mkdtempSync(join(this.runnerDir, 'workspace-'));
  }

  async step(
    id: string,
    action: string,
    inputs:
      | Record<string, InputValue>
      | ((steps: Record<string, StepResult>) => Record<string, InputValue>) = {},
    options: Omit<StepOptions, 'action' | 'inputs'> = {},
  ): Promise<StepResult> {
    const resolved = typeof inputs === 'function' ? inputs(this.steps) : inputs;
    const result = await runStep({
      ...this.defaults,
      ...options,
      env: { ...this.defaults.env, ...options.env },
      action,
      inputs: resolved,
      runnerDir: this.runnerDir,
      workspace: this.workspace,
    });
    this.steps[id] = result;
    return result;
  }
}
