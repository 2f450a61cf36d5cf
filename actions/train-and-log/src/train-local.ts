import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';
import { type ActionContext, ActionError, errorMessage } from '@mlops-actions/kit';
import { type ExecResult, execute } from './execute';
import type { Inputs } from './main';
import {
  extractCellError,
  findNotebookRunner,
  findOnPath,
  injectParameters,
  isPythonIdentifier,
  type Notebook,
  type NotebookRunner,
  notebookErrors,
} from './notebook';
import type { Paths } from './prepare';

/** What runs: the notebook runner or the shell command, and the python whose environment is recorded. */
export interface Plan {
  command: string;
  /** `mlflow.source.name`: the notebook's path or `run`. */
  source: string;
  python: string;
  runner?: NotebookRunner;
}

export function planTraining(i: Inputs, paths: Paths, env: NodeJS.ProcessEnv): Plan {
  const runner = paths.notebook ? findNotebookRunner(env.PATH) : undefined;
  if (paths.notebook && !runner) {
    throw new ActionError(
      'Cannot execute the notebook: neither papermill nor jupyter nbconvert is installed (pip install nbconvert ipykernel, or apt-get install jupyter-nbconvert python3-ipykernel)',
    );
  }
  const python = runner
    ? (findOnPath('python3', dirname(runner.command)) ?? 'python3')
    : (findOnPath('python3', env.PATH) ?? 'python3');
  const notebook = paths.notebook ? relative(paths.workspace, paths.notebook) : undefined;
  return {
    command: notebook ? `${runner!.kind} ${notebook}` : i.run!,
    source: notebook ?? 'run',
    python,
    runner,
  };
}

/** How the training ended, whichever backend ran it. */
export interface TrainingResult {
  /** Why it failed, for the error and the report; undefined when it succeeded. */
  failure?: string;
  /** `cancelled` marks the run KILLED rather than FAILED. */
  cancelled?: boolean;
  cellError?: string;
  tail: string[];
  executedNotebook?: string;
  /** The full log, uploaded as logs/train.log. */
  logFile: string;
}

export function logFilePath(ctx: ActionContext): string {
  const logDir = join(ctx.tempDir, 'logs');
  mkdirSync(logDir, { recursive: true });
  return join(logDir, 'train.log');
}

/** Runs the notebook (parameters injected) or the command on the runner, in its own process group. */
export async function trainLocally(
  i: Inputs,
  ctx: ActionContext,
  paths: Paths,
  plan: Plan,
  env: NodeJS.ProcessEnv,
): Promise<TrainingResult> {
  const logFile = logFilePath(ctx);
  const outcome: TrainingResult = { tail: [], logFile };
  const started = Date.now();
  try {
    const execOptions = {
      cwd: paths.workDir,
      env,
      timeoutMs: i.timeout,
      signal: ctx.signal,
      logFile,
      onLine: (line: string) => ctx.log.info(line),
    };
    let result: ExecResult;
    if (paths.notebook) {
      const executed = await executeNotebook(i, ctx, paths.notebook, paths, plan.runner!, execOptions);
      result = executed.result;
      outcome.executedNotebook = executed.executedNotebook;
      outcome.cellError = executed.cellError;
    } else {
      const bash = existsSync('/bin/bash');
      result = await ctx.log.group(`Running: ${i.run}`, () =>
        execute(
          bash ? '/bin/bash' : '/bin/sh',
          bash ? ['-e', '-o', 'pipefail', '-c', i.run!] : ['-e', '-c', i.run!],
          execOptions,
        ),
      );
    }
    outcome.tail = result.tail;
    if (result.timedOut)
      outcome.failure = `The training was stopped after the timeout of ${i.timeout / 1000} s`;
    else if (result.cancelled) {
      outcome.failure = 'The training was cancelled';
      outcome.cancelled = true;
    } else if (result.exitCode !== 0)
      outcome.failure = `The training ${paths.notebook ? 'notebook' : 'command'} failed with ${result.signal ? `signal ${result.signal}` : `exit code ${result.exitCode}`}`;
  } catch (error) {
    outcome.failure = `The training could not be started: ${errorMessage(error)}`;
  }
  ctx.log.info(
    `Training ${outcome.failure ? 'failed' : 'finished'} in ${((Date.now() - started) / 1000).toFixed(1)} s.`,
  );
  return outcome;
}

async function executeNotebook(
  i: Inputs,
  ctx: ActionContext,
  notebookPath: string,
  paths: Paths,
  runner: NotebookRunner,
  execOptions: Parameters<typeof execute>[2],
): Promise<{ result: ExecResult; executedNotebook?: string; cellError?: string }> {
  const nb = JSON.parse(readFileSync(notebookPath, 'utf8')) as Notebook;
  const injected: Record<string, unknown> = { seed: i.seed };
  for (const [k, v] of Object.entries(i.params)) {
    if (isPythonIdentifier(k)) injected[k] = v;
    else
      ctx.log.warning(
        `Param '${k}' is not a Python identifier, so it is logged but not injected into the notebook`,
      );
  }
  const inputCopy = join(paths.workDir, `.${basename(notebookPath, '.ipynb')}.mlops-input.ipynb`);
  writeFileSync(inputCopy, JSON.stringify(injectParameters(nb, injected), null, 1));
  const outDir = join(ctx.tempDir, 'notebook');
  mkdirSync(outDir, { recursive: true });
  let executedNotebook: string | undefined = join(outDir, basename(notebookPath));
  let result: ExecResult;
  try {
    result = await ctx.log.group(
      `Executing ${relative(paths.workspace, notebookPath)} with ${runner.kind}`,
      () =>
        execute(
          runner.command,
          runner.args(inputCopy, outDir, basename(notebookPath), paths.workDir),
          execOptions,
        ),
    );
  } finally {
    rmSync(inputCopy, { force: true });
  }
  let cellError: string | undefined;
  if (existsSync(executedNotebook)) {
    const errors = notebookErrors(JSON.parse(readFileSync(executedNotebook, 'utf8')) as Notebook);
    if (errors.length) cellError = errors[0];
  } else executedNotebook = undefined;
  if (result.exitCode !== 0) cellError ??= extractCellError(result.stderr);
  return { result, executedNotebook, cellError };
}
