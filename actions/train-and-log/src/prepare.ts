import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { type ActionContext, ActionError, writeFileAtomic } from '@mlops-actions/kit';
import { readParamsFile } from '@mlops-actions/store';
import type { Inputs } from './main';

/** Every path input, resolved inside the workspace (symlinks followed) before anything runs. */
export interface Paths {
  workspace: string;
  workDir: string;
  notebook?: string;
  paramsFile: string;
  metricsFiles: Array<{ path: string; display: string }>;
  modelPath: string;
}

export function resolvePaths(i: Inputs, ctx: ActionContext): Paths {
  const workspace = resolve(ctx.workspace);
  const workDir = ctx.path(i['working-directory'], { input: 'working-directory' });
  if (!existsSync(workDir) || !statSync(workDir).isDirectory()) {
    throw new ActionError(
      `Input 'working-directory': '${i['working-directory']}' is not a directory in the workspace`,
    );
  }
  const inWorkDir = (value: string, input: string) => ctx.path(value, { input, base: workDir });
  const notebook = i.notebook ? inWorkDir(i.notebook, 'notebook') : undefined;
  if (notebook && !existsSync(notebook))
    throw new ActionError(`Input 'notebook': '${i.notebook}' does not exist (looked in ${workDir})`);
  const listed =
    i['metrics-files'].length === 1 && i['metrics-files'][0] === 'none' ? [] : i['metrics-files'];
  return {
    workspace,
    workDir,
    notebook,
    paramsFile: inWorkDir(i['params-file'], 'params-file'),
    metricsFiles: listed.map((f) => ({ path: inWorkDir(f, 'metrics-files'), display: f })),
    modelPath: inWorkDir(i['model-path'], 'model-path'),
  };
}

/** Params: the params file, then the params input on top; recorded before the training starts. */
export function readParams(i: Inputs, paths: Paths): Record<string, string> {
  const params: Record<string, string> = {};
  if (existsSync(paths.paramsFile)) Object.assign(params, readParamsFile(paths.paramsFile, i['params-file']));
  Object.assign(params, i.params);
  params.seed ??= String(i.seed);
  return params;
}

/**
 * Linux refuses to start a process whose single environment variable exceeds 128 KiB (E2BIG), which a
 * few thousand params reach: the params always go in a file named by MLOPS_PARAMS_FILE, and inline in
 * MLOPS_PARAMS only while they are small.
 */
export const INLINE_PARAMS_LIMIT_BYTES = 32 * 1024;

export function childEnvironment(
  i: Inputs,
  ctx: ActionContext,
  params: Record<string, string>,
): NodeJS.ProcessEnv {
  const json = JSON.stringify(params);
  const paramsFile = join(ctx.tempDir, 'params.json');
  writeFileAtomic(paramsFile, json);
  const env: NodeJS.ProcessEnv = {
    ...ctx.env,
    ...i.env,
    PYTHONHASHSEED: String(i.seed),
    MLOPS_SEED: String(i.seed),
    MLOPS_PARAMS_FILE: paramsFile,
  };
  if (Buffer.byteLength(json) <= INLINE_PARAMS_LIMIT_BYTES) env.MLOPS_PARAMS = json;
  else {
    delete env.MLOPS_PARAMS;
    ctx.log.info(
      `The params take ${Buffer.byteLength(json)} bytes: passed in ${paramsFile} (MLOPS_PARAMS_FILE) only, as one environment variable may not exceed 128 KiB.`,
    );
  }
  for (const key of Object.keys(env)) if (key.startsWith('INPUT_')) delete env[key];
  return env;
}
