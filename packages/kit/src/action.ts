import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { artifactServiceAvailable, uniqueArtifactName, uploadArtifact } from './artifact';
import { runner } from './commands';
import { type StickyCommentResult, upsertStickyComment } from './comment';
import { ActionError, InputError, oneLine } from './errors';
import { writeFileAtomic } from './files';
import { type GithubContext, readGithubContext } from './github';
import { HttpClient, type HttpClientOptions } from './http';
import { describeFields } from './inputs';
import { logValue } from './log';
import { limitOutputs, OUTPUTS_LIMIT_BYTES } from './outputs';
import { type ConfineOptions, confinePath } from './paths';
import { Progress, type ProgressOptions } from './progress';
import { redact, urlSecrets } from './secrets';
import { Summary } from './summary';

export interface Logger {
  info(line: string): void;
  warning(line: string): void;
  debug(line: string): void;
  group<T>(title: string, work: () => Promise<T>): Promise<T>;
}

export interface StateStore {
  save(key: string, value: unknown): void;
  get<T = unknown>(key: string): T | undefined;
}

export interface ActionContext {
  name: string;
  workspace: string;
  /** A directory of this step's own, under RUNNER_TEMP. */
  tempDir: string;
  github: GithubContext;
  log: Logger;
  state: StateStore;
  summary: Summary;
  /** Aborted when the runner cancels the job (SIGINT/SIGTERM). */
  signal: AbortSignal;
  env: NodeJS.ProcessEnv;
  progress(options: Omit<ProgressOptions, 'log'>): Progress;
  http(options: HttpClientOptions): HttpClient;
  /**
   * A path input resolved against the workspace, symlinks followed; throws an InputError naming the
   * input when it lands outside (unless the author opted out).
   */
  path(value: string, options: ConfineOptions): string;
  /** Masks a value in the log from here on. */
  mask(value: string | undefined): void;
  comment(
    key: string,
    body: string,
    options?: { token?: string; issueNumber?: number },
  ): Promise<StickyCommentResult>;
  /** Fails the step once `run` has returned and its outputs are written (a rollout that rolled back). */
  fail(message: string): void;
}

/** How long a cancelled step may take to wind down (the runner sends SIGTERM 7.5 s after SIGINT). */
const CANCEL_GRACE_MS = 5000;

export interface ActionDefinition<I extends z.ZodObject, O extends z.ZodObject> {
  /** The folder name under actions/, e.g. `dvc-pull`. */
  id: string;
  name: string;
  description: string;
  branding?: { icon: string; color: string };
  inputs: I;
  outputs: O;
  run(inputs: z.output<I>, ctx: ActionContext): Promise<z.input<O>>;
  /** Runs after the job's steps (post-if: always()), with the state `run` saved. */
  post?(inputs: z.output<I>, ctx: ActionContext): Promise<void>;
}

// biome-ignore lint/suspicious/noExplicitAny: a definition of any input and output shape
export type AnyActionDefinition = ActionDefinition<any, any>;

export function defineAction<I extends z.ZodObject, O extends z.ZodObject>(
  definition: ActionDefinition<I, O>,
): ActionDefinition<I, O> {
  if ('json' in definition.outputs.shape) throw new Error(`${definition.id}: 'json' is a reserved output`);
  return definition;
}

/** The runner's name for an input's variable: spaces become underscores, hyphens are kept. */
export function inputVariable(name: string): string {
  return `INPUT_${name.replace(/ /g, '_').toUpperCase()}`;
}

const shorten = (value: string) => (value.length > 200 ? `${value.slice(0, 200)}…` : value);

function describeIssue(
  issue: z.core.$ZodIssue,
  raw: Record<string, string | undefined>,
  secrets: Set<string>,
) {
  const name = issue.path.length > 0 ? String(issue.path[0]) : undefined;
  if (name === undefined) return `Inputs: ${oneLine(issue.message)}`;
  const value = raw[name];
  if (value === undefined && issue.code === 'invalid_type')
    return `Input '${name}' is required but was not set`;
  const shown =
    value === undefined
      ? ''
      : secrets.has(name)
        ? ' (got ***)'
        : ` (got ${JSON.stringify(shorten(redact(value)))})`;
  const where = issue.path.length > 1 ? ` at ${issue.path.slice(1).join('.')}` : '';
  return `Input '${name}'${where}: ${oneLine(issue.message)}${shown}`;
}

/** Reads, masks and validates the inputs of a schema from `INPUT_*` variables. */
export function readInputs<I extends z.ZodObject>(
  schema: I,
  env: NodeJS.ProcessEnv = process.env,
): z.output<I> {
  const raw: Record<string, string | undefined> = {};
  const secrets = new Set<string>();
  for (const field of describeFields(schema)) {
    const value = env[inputVariable(field.name)];
    raw[field.name] = value === undefined || value.trim() === '' ? undefined : value.trim();
    // Any input may hold a URL with credentials (a tracking server, a data source): mask them before
    // validation can echo the value.
    if (value) for (const secret of urlSecrets(value)) runner.setSecret(secret);
    if (field.secret) {
      secrets.add(field.name);
      if (value) runner.setSecret(value);
    }
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return parsed.data;
  const messages = parsed.error.issues.map((issue) => describeIssue(issue, raw, secrets));
  const first = parsed.error.issues[0];
  throw new InputError(first?.path[0] ? String(first.path[0]) : 'inputs', [...new Set(messages)].join('; '));
}

/** What every log line of an action goes through: one line, no workflow command, no URL credentials. */
const safeLine = (line: string) => logValue(redact(line));

function createContext(
  definition: AnyActionDefinition,
  env: NodeJS.ProcessEnv = process.env,
  signal: AbortSignal = new AbortController().signal,
): ActionContext & { failure(): string | undefined } {
  let failure: string | undefined;
  const github = readGithubContext(env);
  const summary = new Summary();
  // One message, one line: a value interpolated into a message cannot start a line of its own.
  const logger: Logger = {
    info: (line) => runner.info(safeLine(line)),
    warning: (line) => runner.warning(safeLine(line)),
    debug: (line) => runner.debug(safeLine(line)),
    group: (title, work) => runner.group(safeLine(title), work),
  };
  const tempRoot = env.RUNNER_TEMP || tmpdir();
  let tempDir: string | undefined;
  return {
    name: definition.id,
    workspace: env.GITHUB_WORKSPACE || process.cwd(),
    get tempDir() {
      tempDir ??= mkdtempSync(join(tempRoot, `${definition.id}-`));
      return tempDir;
    },
    github,
    log: logger,
    state: {
      save: (key, value) => runner.saveState(key, JSON.stringify(value)),
      get: <T>(key: string) => {
        const text = runner.getState(key);
        return text ? (JSON.parse(text) as T) : undefined;
      },
    },
    summary,
    signal,
    env,
    path: (value, options) => confinePath(env.GITHUB_WORKSPACE || process.cwd(), value, options),
    progress: (options) => new Progress({ ...options, log: (line) => runner.info(safeLine(line)) }),
    http: (options) => new HttpClient({ log: (line) => runner.info(safeLine(line)), ...options }),
    mask: (value) => {
      if (value) runner.setSecret(value);
    },
    comment: (key, body, options = {}) =>
      upsertStickyComment({
        apiUrl: github.apiUrl,
        repository: github.repository,
        issueNumber: options.issueNumber ?? github.issueNumber,
        token: options.token ?? github.token,
        action: definition.id,
        key,
        body,
        summary,
        log: (line) => runner.info(safeLine(line)),
        warn: (line) => runner.warning(safeLine(line)),
      }),
    fail: (message) => {
      failure ??= message;
    },
    failure: () => failure,
  };
}

function reportFailure(error: unknown, env: NodeJS.ProcessEnv): void {
  const debug = runner.isDebug() || env.ACTIONS_STEP_DEBUG === 'true';
  const message =
    error instanceof Error
      ? error instanceof ActionError
        ? error.message
        : `${error.name}: ${error.message}`
      : String(error);
  runner.setFailed(oneLine(redact(message)));
  if (debug && error instanceof Error && error.stack) runner.debug(redact(error.stack));
}

/**
 * Writes every output and the `json` output within GitHub's per-job limit: when they would exceed it,
 * the whole result goes to a file under RUNNER_TEMP, uploaded as a workflow artifact where the runner
 * has the artifact service (RUNNER_TEMP is gone after the job), and the largest outputs point to both.
 */
async function writeOutputs(
  definition: AnyActionDefinition,
  result: unknown,
  tempDir: () => string,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const parsed = (definition.outputs as z.ZodObject).safeParse(result);
  if (!parsed.success) {
    throw new Error(
      `${definition.id} produced outputs that do not match its schema: ${z.prettifyError(parsed.error)}`,
    );
  }
  const values = parsed.data as Record<string, unknown>;
  const limited = limitOutputs(values, '\0', OUTPUTS_LIMIT_BYTES);
  let written = limited.values;
  if (limited.trimmed.length > 0) {
    const dir = tempDir();
    const file = join(dir, 'outputs.json');
    writeFileAtomic(file, redact(JSON.stringify(values, null, 2)));
    let artifact: string | undefined;
    if (artifactServiceAvailable(env)) {
      try {
        artifact = (await uploadArtifact(uniqueArtifactName(`${definition.id}-outputs`, env), [file], dir))
          .name;
      } catch (error) {
        runner.warning(`Could not upload ${file} as a workflow artifact: ${oneLine(redact(String(error)))}`);
      }
    }
    written = limitOutputs(values, file, OUTPUTS_LIMIT_BYTES, artifact).values;
    runner.warning(
      `The outputs of ${definition.id} exceed GitHub's 1 MB limit: ${limited.trimmed.map((k) => `'${k}'`).join(', ')} ${limited.trimmed.length === 1 ? 'was' : 'were'} replaced by a pointer to the full result in ${file}${artifact ? ` (workflow artifact '${artifact}')` : ''}`,
    );
  }
  for (const [key, value] of Object.entries(written)) runner.setOutput(key, redact(value));
}

/**
 * Runs an action as the runner calls it: the main step, or — when the main step left its marker in the
 * state — the post step. Never throws; failures become one `::error::` line and exit code 1.
 */
export async function runAction(
  definition: AnyActionDefinition,
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  const isPost = runner.getState('isPost') === 'true';
  const controller = new AbortController();
  let cancels = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    cancels++;
    if (cancels > 1) process.exit(1);
    runner.warning(`Received ${signal}: cancelling ${definition.id}.`);
    controller.abort(new ActionError(`${definition.id} was cancelled (${signal})`));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const ctx = createContext(definition, env, controller.signal);
  // A cancelled step gets a short grace to wind down (a rollout restores stable), then stops waiting for
  // work that ignores the signal; the post step cleans up what is left.
  const cancelled = new Promise<never>((_, reject) => {
    controller.signal.addEventListener(
      'abort',
      () => setTimeout(() => reject(controller.signal.reason), CANCEL_GRACE_MS).unref(),
      { once: true },
    );
  });
  cancelled.catch(() => undefined);
  try {
    if (isPost) {
      if (!definition.post) return;
      let inputs: unknown;
      try {
        inputs = readInputs(definition.inputs, env);
      } catch (error) {
        runner.info(
          `Post step skipped: the inputs were invalid, so the main step changed nothing (${String(error)}).`,
        );
        return;
      }
      await Promise.race([definition.post(inputs, ctx), cancelled]);
    } else {
      if (definition.post) runner.saveState('isPost', 'true');
      const inputs = readInputs(definition.inputs, env);
      const result = await Promise.race([definition.run(inputs, ctx), cancelled]);
      await writeOutputs(definition, result, () => ctx.tempDir, env);
      const failure = ctx.failure();
      if (failure) runner.setFailed(oneLine(redact(failure)));
      else if (controller.signal.aborted) reportFailure(controller.signal.reason, env);
    }
  } catch (error) {
    reportFailure(controller.signal.aborted ? controller.signal.reason : error, env);
  } finally {
    try {
      ctx.summary.write(env.GITHUB_STEP_SUMMARY);
    } catch (error) {
      runner.warning(`Could not write the job summary: ${String(error)}`);
    }
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
  if (controller.signal.aborted) process.exit(1);
}
