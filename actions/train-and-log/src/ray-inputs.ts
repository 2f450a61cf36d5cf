import type { RayOptions } from '@mlops-actions/compute';
import { input, z } from '@mlops-actions/kit';

/** `4Gi`, `512M`, `2000000000`: bytes, with an SI (k, M, G, T) or binary (Ki, Mi, Gi, Ti) suffix. */
export function parseMemory(raw: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kKMGT]i?)?B?$/.exec(raw.trim());
  if (!match) throw new Error('expected bytes, optionally with a unit: 4Gi, 512Mi, 8G, 2000000000');
  const unit = match[2]?.toUpperCase() ?? '';
  const power = ' KMGT'.indexOf(unit[0] ?? ' ');
  const base = unit.endsWith('I') ? 1024 : 1000;
  return Math.round(Number(match[1]) * base ** Math.max(power, 0));
}

/** The inputs of `backend: ray`, spread into train-and-log's input schema. */
export const rayInputs = {
  'ray-address': z
    .string()
    .optional()
    .describe(
      'With backend ray: the dashboard of the Ray head node, as `ray job submit --address` takes it (http://ray-head:8265); credentials in it are masked',
    ),
  'ray-auth-header': input
    .secret(z.string().optional())
    .describe(
      'With backend ray, for a cluster behind an authenticating proxy or with Ray token auth: `Bearer <token>` (sent as Authorization) or `<Header-Name>: <value>`',
    ),
  'ray-entrypoint-cpus': input
    .number()
    .pipe(z.number().nonnegative())
    .optional()
    .describe('With backend ray: CPUs reserved for the training process (entrypoint_num_cpus)'),
  'ray-entrypoint-gpus': input
    .number()
    .pipe(z.number().nonnegative())
    .optional()
    .describe(
      'With backend ray: GPUs reserved for the training process, so it runs on a GPU node (entrypoint_num_gpus)',
    ),
  'ray-entrypoint-memory': z
    .string()
    .transform((raw, ctx) => {
      try {
        return parseMemory(raw);
      } catch (error) {
        ctx.issues.push({ code: 'custom', message: (error as Error).message, input: raw });
        return z.NEVER;
      }
    })
    .optional()
    .describe('With backend ray: memory reserved for the training process (entrypoint_memory), e.g. 16Gi'),
  'ray-entrypoint-resources': input
    .json(z.record(z.string(), z.number().nonnegative()))
    .optional()
    .describe(
      'With backend ray: custom resources for the training process as a JSON object, e.g. {"accelerator_type:A100": 1}',
    ),
  'ray-runtime-env': input
    .yaml(
      z
        .record(z.string(), z.unknown())
        .refine((env) => !('working_dir' in env), 'working_dir is the uploaded workspace; leave it out'),
    )
    .optional()
    .describe(
      'With backend ray: more runtime_env fields as YAML or JSON (pip, uv, conda, env_vars, config …); the workspace is uploaded as working_dir',
    ),
  'ray-excludes': input
    .list()
    .prefault('')
    .describe(
      'With backend ray: gitwildmatch patterns left out of the uploaded workspace, on top of Ray defaults (.git, .venv, venv, __pycache__) and .gitignore files',
    ),
  'ray-upload-gitignored': input
    .boolean()
    .prefault('false')
    .describe(
      'With backend ray: also upload files that .gitignore leaves out, such as data pulled by dvc-pull (Ray: RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1)',
    ),
};

type RayInputs = z.output<z.ZodObject<typeof rayInputs>>;

/** `Bearer x` → Authorization; `Name: value` → that header. */
function authHeaders(value: string | undefined): Record<string, string> | undefined {
  if (!value) return undefined;
  const named = /^([A-Za-z0-9-]+):\s*(.+)$/.exec(value);
  return named ? { [named[1]!]: named[2]! } : { authorization: value };
}

/** train-and-log's inputs as the Ray backend's options; call only with `ray-address` set. */
export function rayOptions(
  inputs: RayInputs & { 'ray-address': string },
  log: (line: string) => void,
): RayOptions {
  return {
    address: inputs['ray-address'],
    headers: authHeaders(inputs['ray-auth-header']),
    entrypointNumCpus: inputs['ray-entrypoint-cpus'],
    entrypointNumGpus: inputs['ray-entrypoint-gpus'],
    entrypointMemory: inputs['ray-entrypoint-memory'],
    entrypointResources: inputs['ray-entrypoint-resources'],
    runtimeEnv: inputs['ray-runtime-env'],
    excludes: inputs['ray-excludes'],
    uploadGitignored: inputs['ray-upload-gitignored'],
    log,
  };
}

/** The cross-field rules of the Ray inputs, for train-and-log's `superRefine`. */
export function checkRayInputs(value: { backend?: string } & Partial<RayInputs>, ctx: z.RefinementCtx): void {
  if (value.backend !== 'ray') return;
  const address = value['ray-address'];
  if (!address) {
    ctx.addIssue({
      code: 'custom',
      path: ['ray-address'],
      message: 'backend ray needs the Ray dashboard address, e.g. http://ray-head:8265',
    });
    return;
  }
  let url: URL | undefined;
  try {
    url = new URL(address);
  } catch {
    url = undefined;
  }
  if (!url || !/^https?:$/.test(url.protocol))
    ctx.addIssue({
      code: 'custom',
      path: ['ray-address'],
      message:
        'expected the http(s) URL of the Ray dashboard, e.g. http://ray-head:8265 (not ray:// or host:port)',
    });
}
