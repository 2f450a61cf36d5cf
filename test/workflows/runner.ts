/**
 * Executes an example workflow the way GitHub would, locally: GitHub's own parser reads the file, GitHub's
 * expression engine evaluates every `${{ }}` against real-shaped contexts, our `uses:` steps run their
 * dist/ bundle through the harness and `run:` steps run in bash with the runner's shell flags. Only what
 * cannot run here is stubbed, by the caller: other people's actions (`stubs`) and machine-specific
 * literals of the example (`overrides`, e.g. an nginx path under /etc).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { data, Evaluator, Lexer, Parser } from '@actions/expressions';
import type { FunctionDefinition } from '@actions/expressions/funcs/info';
import { convertWorkflowTemplate, NoOperationTraceWriter, parseWorkflow } from '@actions/workflow-parser';
import { type EventSpec, parseFileCommands, repoRoot, runStep } from '../harness';

export interface StepRun {
  id: string;
  uses?: string;
  outcome: 'success' | 'failure' | 'skipped';
  outputs: Record<string, string>;
  /** Inputs our action received, after evaluation. */
  inputs?: Record<string, string>;
  stdout: string;
}

export interface StubContext {
  inputs: Record<string, string>;
  workspace: string;
  /** Adds to the environment of later steps, as GITHUB_ENV does. */
  exportEnv(name: string, value: string): void;
}

export interface WorkflowScenario {
  event: EventSpec;
  /** The job to run; default: the only one. */
  job?: string;
  /** The `inputs` context; default: the event's inputs (workflow_dispatch). */
  inputs?: Record<string, string>;
  vars?: Record<string, string>;
  secrets?: Record<string, string>;
  /** The project actions/checkout leaves in the workspace (copied). */
  checkout: (workspace: string) => void;
  /** Environment of every step (PATH with CLI shims, GITHUB_API_URL of a double, …). */
  env?: Record<string, string>;
  /** Third-party actions by `owner/name` (without @ref), for those that cannot run here. */
  stubs?: Record<string, (ctx: StubContext) => Promise<Record<string, string>> | Record<string, string>>;
  /** Per step id, inputs replaced after evaluation (machine-specific literals of the example only). */
  overrides?: Record<string, Record<string, string>>;
}

/** Thrown when a workflow uses one of our actions whose bundle is not in dist/ (not merged yet). */
export class PendingActionError extends Error {}

type Token = {
  templateTokenType: number;
  isExpression: boolean;
  isLiteral: boolean;
  expression?: string;
  value?: unknown;
  assertMapping(what: string): Iterable<{ key: Token; value: Token }>;
  assertSequence(what: string): Iterable<Token>;
};

const STATUS = ['success', 'failure', 'always', 'cancelled'];

function functions(jobFailed: () => boolean): Map<string, FunctionDefinition> {
  const status = (name: string, value: () => boolean): [string, FunctionDefinition] => [
    name,
    { name, minArgs: 0, maxArgs: 0, call: () => new data.BooleanData(value()) },
  ];
  return new Map([
    status('success', () => !jobFailed()),
    status('failure', () => jobFailed()),
    status('always', () => true),
    status('cancelled', () => false),
  ]);
}

/** Our action id, for `owner/mlops-actions/actions/<id>@ref` or `./actions/<id>`. */
export function ourAction(uses: string | undefined): string | undefined {
  if (!uses) return undefined;
  return /(?:^\.\/|\/mlops-actions\/)actions\/([a-z0-9-]+)(?:@|$)/.exec(uses)?.[1];
}

/** The `uses:` of our actions in a workflow file whose bundle is missing from dist/. */
export function missingActions(text: string): string[] {
  const ids = [...text.matchAll(/uses:\s*(\S+)/g)]
    .map((m) => ourAction(m[1]!))
    .filter((id) => id !== undefined);
  return [...new Set(ids)].filter((id) => !existsSync(join(repoRoot, 'dist', id, 'index.js')));
}

function mapping(token: Token | undefined): Array<[string, Token]> {
  if (!token) return [];
  return [...token.assertMapping('mapping')].map(({ key, value }) => [String(key.value), value]);
}

export async function runWorkflow(file: string, scenario: WorkflowScenario): Promise<StepRun[]> {
  const content = readFileSync(file, 'utf8');
  const parsed = parseWorkflow({ name: file, content }, new NoOperationTraceWriter());
  const errors = parsed.context.errors.getErrors();
  if (errors.length > 0) throw new Error(`${file}: ${errors.map((e) => e.message).join('; ')}`);
  const template = await convertWorkflowTemplate(parsed.context, parsed.value!);
  const root = mapping(parsed.value as unknown as Token);
  const jobsToken = root.find(([k]) => k === 'jobs')?.[1];
  const jobs = mapping(jobsToken);
  const jobId = scenario.job ?? (jobs.length === 1 ? jobs[0]![0] : undefined);
  const jobToken = jobs.find(([k]) => k === jobId)?.[1];
  const jobTemplate = template.jobs.find((j) => j.id.value === jobId) as unknown as {
    steps: Array<{ id: string; if: Token }>;
  };
  if (!jobToken || !jobTemplate) throw new Error(`${file}: no job '${scenario.job}'`);
  const jobFields = mapping(jobToken);
  const stepTokens = [...jobFields.find(([k]) => k === 'steps')![1].assertSequence('steps')];

  const runnerDir = mkdtempSync(join(tmpdir(), 'workflow-'));
  const workspace = join(runnerDir, 'workspace');
  const runnerTemp = join(runnerDir, 'temp');
  mkdirSync(workspace, { recursive: true });
  mkdirSync(runnerTemp, { recursive: true });
  const payload = scenario.event.payload as {
    repository?: { full_name?: string };
    pull_request?: { head?: { sha?: string; ref?: string } };
    after?: string;
    ref?: string;
  };
  const sha = payload.pull_request?.head?.sha ?? payload.after ?? '0'.repeat(40);
  const ref =
    payload.ref ??
    (payload.pull_request
      ? `refs/pull/${(scenario.event.payload as { number?: number }).number}/merge`
      : 'refs/heads/main');
  const repository = payload.repository?.full_name ?? 'acme/model';
  const github = {
    event_name: scenario.event.name,
    event: scenario.event.payload,
    repository,
    repository_owner: repository.split('/')[0],
    ref,
    ref_name: ref.replace(/^refs\/(heads|tags)\//, ''),
    sha,
    actor: 'octocat',
    workflow: String(root.find(([k]) => k === 'name')?.[1]?.value ?? file),
    run_id: '1',
    run_number: '1',
    run_attempt: '1',
    server_url: 'https://github.com',
    api_url: scenario.env?.GITHUB_API_URL ?? 'https://api.github.com',
    token: scenario.secrets?.GITHUB_TOKEN ?? 'ghs_workflow_token',
    workspace,
    job: jobId,
  };
  const steps: Record<string, { outputs: Record<string, string>; outcome: string; conclusion: string }> = {};
  let env: Record<string, string> = {};
  let failed = false;
  const fns = functions(() => failed);
  const contexts = () => ({
    github,
    inputs: scenario.inputs ?? (scenario.event.payload.inputs as Record<string, string> | undefined) ?? {},
    vars: scenario.vars ?? {},
    secrets: { GITHUB_TOKEN: github.token, ...scenario.secrets },
    steps,
    env,
    job: { status: failed ? 'failure' : 'success' },
    runner: { os: 'Linux', arch: 'X64', temp: runnerTemp },
    matrix: {},
    strategy: {},
    needs: {},
  });
  const evaluate = (expression: string): unknown => {
    const lexed = new Lexer(expression).lex();
    const ctx = contexts();
    const expr = new Parser(lexed.tokens, Object.keys(ctx), [...fns.values()]).parse();
    const context = JSON.parse(JSON.stringify(ctx), data.reviver) as data.Dictionary;
    return JSON.parse(JSON.stringify(new Evaluator(expr, context, fns).evaluate(), data.replacer) ?? 'null');
  };
  const text = (token: Token): string => {
    if (token.isExpression) {
      const value = evaluate(token.expression!);
      return value === null || value === undefined
        ? ''
        : typeof value === 'object'
          ? JSON.stringify(value)
          : String(value);
    }
    return token.value === null || token.value === undefined ? '' : String(token.value);
  };
  const envOf = (token: Token | undefined) =>
    Object.fromEntries(mapping(token).map(([k, v]) => [k, text(v)]));
  env = envOf(root.find(([k]) => k === 'env')?.[1]);
  env = { ...env, ...envOf(jobFields.find(([k]) => k === 'env')?.[1]) };

  const baseEnv = {
    ...scenario.env,
    CI: 'true',
    GITHUB_ACTIONS: 'true',
    GITHUB_REPOSITORY: repository,
    GITHUB_SHA: sha,
    GITHUB_REF: ref,
    GITHUB_WORKFLOW: github.workflow,
    GITHUB_WORKSPACE: workspace,
    RUNNER_TEMP: runnerTemp,
  };
  const results: StepRun[] = [];
  for (const [index, stepToken] of stepTokens.entries()) {
    const fields = Object.fromEntries(mapping(stepToken));
    const id = jobTemplate.steps[index]!.id;
    const condition = jobTemplate.steps[index]!.if.expression ?? 'success()';
    const conditionText = STATUS.some((s) => condition.includes(`${s}()`))
      ? condition
      : `success() && (${condition})`;
    if (!evaluate(conditionText)) {
      steps[id] = { outputs: {}, outcome: 'skipped', conclusion: 'skipped' };
      results.push({ id, outcome: 'skipped', outputs: {}, stdout: '' });
      continue;
    }
    const stepEnv = { ...env, ...envOf(fields.env) };
    const inputs = { ...envOf(fields.with), ...scenario.overrides?.[id] };
    let run: StepRun;
    if (fields.uses) {
      const uses = text(fields.uses);
      const ours = ourAction(uses);
      if (ours) {
        if (!existsSync(join(repoRoot, 'dist', ours, 'index.js'))) {
          throw new PendingActionError(`${uses}: dist/${ours} is not built in this branch`);
        }
        const result = await runStep({
          action: ours,
          inputs,
          env: { ...baseEnv, ...stepEnv },
          event: scenario.event,
          workspace,
          runnerDir,
        });
        Object.assign(env, result.env);
        run = {
          id,
          uses,
          outcome: result.exitCode === 0 ? 'success' : 'failure',
          outputs: result.outputs,
          inputs,
          stdout: result.stdout,
        };
      } else {
        const name = uses.replace(/@.*$/, '');
        const stub =
          scenario.stubs?.[name] ??
          (name === 'actions/checkout'
            ? () => {
                scenario.checkout(workspace);
                return {};
              }
            : name === 'actions/setup-python'
              ? () => ({})
              : undefined);
        if (!stub) throw new Error(`${file}: no stub for ${uses} (it cannot run here)`);
        const outputs = await stub({
          inputs,
          workspace,
          exportEnv: (k, v) => {
            env[k] = v;
          },
        });
        run = { id, uses, outcome: 'success', outputs, inputs, stdout: '' };
      }
    } else {
      run = await runBash(
        id,
        text(fields.run!),
        { ...process.env, ...baseEnv, ...stepEnv } as Record<string, string>,
        workspace,
        runnerDir,
        env,
      );
    }
    steps[id] = { outputs: run.outputs, outcome: run.outcome, conclusion: run.outcome };
    if (run.outcome === 'failure') failed = true;
    results.push(run);
  }
  return results;
}

/** A `run:` step as the runner runs it on Linux: `bash --noprofile --norc -eo pipefail <file>`. */
async function runBash(
  id: string,
  script: string,
  env: Record<string, string>,
  cwd: string,
  runnerDir: string,
  jobEnv: Record<string, string>,
): Promise<StepRun> {
  const file = join(runnerDir, `${id}.sh`);
  const outputFile = join(runnerDir, `${id}.output`);
  const envFile = join(runnerDir, `${id}.env`);
  writeFileSync(file, script);
  writeFileSync(outputFile, '');
  writeFileSync(envFile, '');
  const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', file], {
    cwd,
    env: { ...env, GITHUB_OUTPUT: outputFile, GITHUB_ENV: envFile },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  child.stderr.on('data', (d: Buffer) => {
    stdout += d.toString();
  });
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  Object.assign(jobEnv, parseFileCommands(readFileSync(envFile, 'utf8')));
  return {
    id,
    outcome: code === 0 ? 'success' : 'failure',
    outputs: parseFileCommands(readFileSync(outputFile, 'utf8')),
    stdout,
  };
}
