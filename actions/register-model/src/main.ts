import { join, resolve } from 'node:path';
import {
  type ActionContext,
  ActionError,
  confinePath,
  defineAction,
  errorMessage,
  HttpError,
  input,
  z,
} from '@mlops-actions/kit';
import { isMlflowUri, resolveConnection } from '@mlops-actions/mlflow';
import { LayoutStore, RegistryClient } from '@mlops-actions/oci';
import {
  type HistoryEntry,
  LAYER_FORMATS,
  LocalStore,
  MlflowRegistry,
  MlflowStore,
  type ModelRegistry,
  type ModelVersionInfo,
  OciModelRegistry,
  type TrackingStore,
} from '@mlops-actions/store';
import { createDeployment } from './deployment';
import {
  type Champion,
  evaluateGates,
  type GateResult,
  noRegression,
  parseGates,
  parseImprovements,
} from './gates';
import { aliasTarget, moveTarget, parseStage, rollbackVersion, stageTarget, type Target } from './promotion';
import { buildSummary } from './report';
import { candidateMetrics, checkMlflowSource, resolveCandidate } from './sources';

const metricValue = z.union([z.number(), z.enum(['NaN', 'Infinity', '-Infinity'])]);

export const inputs = z
  .object({
    action: z
      .enum(['register', 'promote', 'rollback'])
      .default('register')
      .describe(
        '`register` a new version (then gate and optionally promote it), `promote` an existing version, or `rollback` an alias to the version it pointed at before',
      ),
    'model-name': z
      .string()
      .regex(/^[^\s/'"]+$/, 'expected a model name without spaces, slashes or quotes')
      .describe('Registered model name (`catalog.schema.model` for Unity Catalog)'),
    'run-id': z
      .string()
      .regex(/^[0-9a-f]{32}$/, 'expected a run id of 32 hex digits (train-and-log output run-id)')
      .optional()
      .describe("The training run to register (train-and-log's `run-id` output)"),
    'model-uri': z
      .string()
      .optional()
      .describe("The model to register (train-and-log's `model-uri` output); default `runs:/<run-id>/model`"),
    metrics: input
      .json(z.record(z.string(), metricValue))
      .optional()
      .describe(
        "The run's metrics as a JSON object (train-and-log's `metrics` output); default: read from the run",
      ),
    'tracking-uri': z
      .string()
      .default('.mlops')
      .describe("Where the run was recorded (train-and-log's `tracking-uri` output)"),
    'tracking-token': input
      .secret(z.string().optional())
      .describe('Bearer token for the MLflow tracking server; defaults to MLFLOW_TRACKING_TOKEN'),
    'registry-uri': z
      .string()
      .optional()
      .describe(
        'Model registry: an MLflow server (http(s)://…, `databricks`), `oci://<registry>/<namespace>`, or a directory; default: the tracking store',
      ),
    'registry-username': input
      .secret(z.string().optional())
      .describe('User name for the registry (basic auth); defaults to MLFLOW_TRACKING_USERNAME for MLflow'),
    'registry-password': input
      .secret(z.string().optional())
      .describe('Password or token for the registry; defaults to MLFLOW_TRACKING_PASSWORD for MLflow'),
    'registry-token': input
      .secret(z.string().optional())
      .describe('Bearer token for an MLflow registry on another server than the tracking store'),
    'layer-format': z
      .enum(LAYER_FORMATS)
      .default('tar')
      .describe(
        'ModelPack weight layer on the OCI and local registries: `tar` (default; weights barely compress, so packing runs at disk speed) or `tar+gzip`',
      ),
    description: z.string().optional().describe('Description of the new version'),
    tags: input.keyValues().prefault('').describe('Extra tags on the new version, as KEY=value lines'),
    gates: input
      .list()
      .prefault('')
      .describe('Thresholds, one per line: `<metric> <op> <number>`, e.g. `test.accuracy >= 0.90`'),
    'compare-to': z
      .string()
      .optional()
      .describe('Alias of the model to beat (e.g. `champion`); the first model ever passes with a note'),
    'min-improvement': input
      .list()
      .prefault('')
      .describe(
        'Required gain over `compare-to`, one per line: `test.f1 +0.01` or `rmse +1%` (direction from the name; add `higher`/`lower` otherwise); default: no regression on the gated metrics',
      ),
    'gate-mode': z
      .enum(['enforce', 'report'])
      .default('enforce')
      .describe(
        '`enforce`: a failed gate fails the step; `report`: only report it (aliases stay untouched either way)',
      ),
    'promote-to': z
      .string()
      .optional()
      .describe(
        'Alias to move to the version once the gates pass (a stage, Staging or Production, with use-stages)',
      ),
    version: z
      .string()
      .regex(/^\d+$/, 'expected a version number')
      .optional()
      .describe('For `action: promote`: the version to promote'),
    'from-alias': z
      .string()
      .optional()
      .describe('For `action: promote`: promote the version this alias points at (e.g. `staging`)'),
    reason: z.string().default('').describe('Why: kept in the promotion history'),
    'use-stages': input
      .boolean()
      .prefault('false')
      .describe(
        'Promote with legacy MLflow stages (transition-stage, archiving the previous version) instead of aliases',
      ),
    'wait-timeout': input
      .duration()
      .prefault('5m')
      .describe('How long to wait for a new version to become READY'),
    environment: z
      .string()
      .optional()
      .describe('Create a GitHub Deployment for this environment after a promotion or rollback'),
    'github-token': input
      .secret(z.string().optional())
      .describe('Token for the deployment and the PR comment; defaults to GITHUB_TOKEN'),
  })
  .superRefine((i, ctx) => {
    if (i.action === 'promote' && (i.version === undefined) === (i['from-alias'] === undefined))
      ctx.addIssue({
        code: 'custom',
        path: ['version'],
        message: 'action promote needs exactly one of version or from-alias',
      });
    if (i.action !== 'register' && !i['promote-to'])
      ctx.addIssue({
        code: 'custom',
        path: ['promote-to'],
        message: `action ${i.action} needs promote-to: the alias (or stage) to move`,
      });
    if (i.action === 'register' && !i['run-id'] && !i['model-uri'])
      ctx.addIssue({
        code: 'custom',
        path: ['model-uri'],
        message: 'action register needs model-uri or run-id (the outputs of train-and-log)',
      });
  });

const historyEntry = z.object({
  action: z.enum(['register', 'promote', 'rollback']),
  alias: z.string(),
  from: z.string().optional(),
  to: z.string(),
  actor: z.string(),
  time: z.string(),
  reason: z.string(),
  runUrl: z.string().optional(),
});

const gateRow = z.object({
  metric: z.string(),
  value: z.number(),
  expected: z.string(),
  kind: z.enum(['threshold', 'champion']),
  passed: z.boolean(),
  note: z.string().optional(),
});

export const outputs = z.object({
  'model-name': z.string().describe('The registered model'),
  version: z.string().describe('The version registered, promoted or rolled back to'),
  'model-uri': z
    .string()
    .describe('`models:/<name>/<version>`, or the `oci://…@sha256:…` reference on OCI registries'),
  digest: z.string().describe('Manifest digest of the version (OCI registries; empty for MLflow)'),
  alias: z.string().describe('The alias (or stage) that was moved; empty when none moved'),
  'previous-version': z.string().describe('The version the alias pointed at before; empty when none'),
  'gate-passed': z.boolean().describe('Whether every gate passed (true when there were none)'),
  'gate-report': z
    .object({
      mode: z.enum(['enforce', 'report']),
      passed: z.boolean(),
      rows: z.array(gateRow),
      notes: z.array(z.string()),
    })
    .describe('Every gate: metric, value, threshold or champion value, pass/fail'),
  history: z
    .array(historyEntry)
    .describe('The last promotion history entries of the model (up to 20), oldest first'),
});

type Inputs = z.output<typeof inputs>;
type Outputs = z.input<typeof outputs>;

function openTracking(i: Inputs, ctx: ActionContext): TrackingStore {
  const uri = i['tracking-uri'];
  if (!isMlflowUri(uri)) return new LocalStore(resolve(ctx.workspace, uri), uri);
  const connection = resolveConnection(uri, ctx.env, i['tracking-token']);
  for (const secret of connection.secrets) ctx.mask(secret);
  return new MlflowStore(connection, { log: (l) => ctx.log.debug(l), warn: (l) => ctx.log.warning(l) });
}

/** The registry behind `registry-uri`; default: the tracking store's own registry. */
export function openRegistry(i: Inputs, ctx: ActionContext): ModelRegistry {
  const uri = i['registry-uri'] ?? i['tracking-uri'];
  if (isMlflowUri(uri)) {
    const env = { ...ctx.env };
    if (i['registry-username']) env.MLFLOW_TRACKING_USERNAME = i['registry-username'];
    if (i['registry-password']) env.MLFLOW_TRACKING_PASSWORD = i['registry-password'];
    const sameServer = i['registry-uri'] === undefined || i['registry-uri'] === i['tracking-uri'];
    const token = i['registry-token'] ?? (sameServer ? i['tracking-token'] : undefined);
    const connection = resolveConnection(uri, env, token);
    for (const secret of connection.secrets) ctx.mask(secret);
    return new MlflowRegistry(connection, { log: (l) => ctx.log.debug(l) });
  }
  const oci = /^oci:\/\/([^/]+)\/?(.*)$/.exec(uri);
  if (oci) {
    const [, registry, namespace] = oci as unknown as [string, string, string];
    const username = i['registry-username'];
    const password = i['registry-password'] ?? i['registry-token'];
    const credentials = password ? { username: username ?? '', password } : undefined;
    return new OciModelRegistry({
      kind: 'oci',
      store: new RegistryClient({
        registry,
        credentials,
        credentialInput: 'registry-password',
        log: (l) => ctx.log.info(l),
      }),
      namespace: namespace.replace(/\/$/, ''),
      uri: `oci://${registry}${namespace ? `/${namespace}` : ''}`,
      reference: (repository, digest) => `oci://${registry}/${repository}@${digest}`,
      layerFormat: i['layer-format'],
      log: (l) => ctx.log.info(l),
    });
  }
  // The embedded default: an image layout beside the local tracking store's runs.
  const dir = i['registry-uri'] ?? `${i['tracking-uri'].replace(/\/$/, '')}/registry`;
  const root = confinePath(ctx.workspace, dir, {
    input: i['registry-uri'] ? 'registry-uri' : 'tracking-uri',
  });
  return new OciModelRegistry({
    kind: 'local',
    store: new LayoutStore(root),
    namespace: '',
    uri: dir,
    reference: (repository, _digest, tag) => `oci:${join(root, repository)}:${tag}`,
    layerFormat: i['layer-format'],
    log: (l) => ctx.log.info(l),
  });
}

function targetOf(i: Inputs, registry: ModelRegistry, alias: string): Target {
  const name = i['model-name'];
  if (!i['use-stages']) return aliasTarget(registry, name, alias);
  if (!(registry instanceof MlflowRegistry))
    throw new ActionError("Input 'use-stages': legacy stages exist only in the MLflow registry");
  return stageTarget(registry, name, parseStage(alias));
}

async function championOf(
  registry: ModelRegistry,
  tracking: TrackingStore | undefined,
  name: string,
  alias: string,
): Promise<Champion | undefined> {
  const version = await registry.getAlias(name, alias);
  if (!version) return undefined;
  if (!version.runId || !tracking)
    throw new ActionError(
      `compare-to '${alias}': version ${version.version} of ${name} is not linked to a run whose metrics can be read`,
    );
  const { metrics } = await tracking.getRunMetrics(version.runId);
  return { label: `${alias} (version ${version.version})`, metrics };
}

interface Judged {
  gate: GateResult;
  ran: boolean;
}

async function judge(
  i: Inputs,
  registry: ModelRegistry,
  tracking: TrackingStore | undefined,
  candidate: Record<string, number>,
): Promise<Judged> {
  const thresholds = parseGates(i.gates);
  const given = parseImprovements(i['min-improvement']);
  const compareTo = i['compare-to'];
  const improvements = compareTo && given.length === 0 ? noRegression(thresholds) : given;
  if (thresholds.length === 0 && (!compareTo || improvements.length === 0))
    return { gate: { passed: true, rows: [], notes: [] }, ran: false };
  const champion = compareTo ? await championOf(registry, tracking, i['model-name'], compareTo) : undefined;
  return { gate: evaluateGates({ thresholds, improvements, candidate, compareTo, champion }), ran: true };
}

async function register(
  i: Inputs,
  ctx: ActionContext,
  registry: ModelRegistry,
  tracking: TrackingStore,
): Promise<{ version: ModelVersionInfo; created: boolean; metrics: Record<string, number> }> {
  const name = i['model-name'];
  const candidate = resolveCandidate(i['model-uri'], i['run-id']);
  if (registry.kind !== 'mlflow' && !/^[a-z]+:/.test(candidate.source))
    candidate.source = confinePath(ctx.workspace, candidate.source, { input: 'model-uri' });
  if (tracking instanceof MlflowStore) await checkMlflowSource(tracking.client, candidate, tracking.uri);
  const metrics = await candidateMetrics(i.metrics, tracking, candidate.runId);
  await registry.ensureModel(name);
  const gh = ctx.github;
  const tags: Record<string, string> = {
    ...(gh.sha ? { 'mlflow.source.git.commit': gh.sha } : {}),
    ...(gh.ref ? { 'mlops.git.ref': gh.ref } : {}),
    ...(gh.repository ? { 'mlops.repository': gh.repository } : {}),
    ...(gh.runUrl ? { 'mlops.workflow-run': gh.runUrl } : {}),
    ...i.tags,
  };
  const { version, created } = await registry.registerVersion({
    name,
    source: candidate.source,
    runId: candidate.runId,
    runLink: gh.runUrl,
    description: i.description,
    tags,
  });
  ctx.log.info(
    created
      ? `Registered ${name} version ${version.version} from ${candidate.source}`
      : `${candidate.source} is already registered as ${name} version ${version.version}; not registering it again`,
  );
  const ready = await registry.waitReady(name, version.version, {
    timeoutMs: i['wait-timeout'],
    signal: ctx.signal,
  });
  return { version: ready, created, metrics };
}

async function versionToPromote(i: Inputs, registry: ModelRegistry): Promise<ModelVersionInfo> {
  const name = i['model-name'];
  if (i['from-alias']) {
    const found = await registry.getAlias(name, i['from-alias']);
    if (!found)
      throw new ActionError(
        `Input 'from-alias': ${name} has no alias '${i['from-alias']}' on ${registry.uri}`,
      );
    return found;
  }
  const found = await registry.getVersion(name, i.version!);
  if (!found)
    throw new ActionError(`Input 'version': ${name} has no version ${i.version} on ${registry.uri}`);
  return found;
}

async function announce(
  i: Inputs,
  ctx: ActionContext,
  version: ModelVersionInfo,
  alias: string,
): Promise<void> {
  if (!i.environment) return;
  const token = i['github-token'] ?? ctx.github.token;
  if (!token) {
    ctx.log.warning(`No github-token: not creating a GitHub Deployment for environment '${i.environment}'`);
    return;
  }
  try {
    const deployment = await createDeployment({
      token,
      github: ctx.github,
      environment: i.environment,
      model: version.name,
      version: version.version,
      modelUri: version.uri,
      description: `${version.name} version ${version.version} → ${alias}`,
    });
    ctx.log.info(`GitHub Deployment ${deployment.id} created for environment '${i.environment}'`);
  } catch (error) {
    ctx.log.warning(`The model was promoted, but the GitHub Deployment failed: ${errorMessage(error)}`);
  }
}

/** Auth failures name the registry and the inputs that carry its credentials; never the values. */
function explainAuth(error: unknown, registry: ModelRegistry): unknown {
  if (!(error instanceof HttpError) || (error.status !== 401 && error.status !== 403)) return error;
  const what = registry.kind === 'mlflow' ? 'MLflow registry' : 'OCI registry';
  const problem =
    error.status === 401
      ? 'refused the credentials (401): check the registry-username and registry-password inputs (or registry-token)'
      : 'denied access (403): the registry-username (or registry-token) may not write this model';
  return new ActionError(`${what} at ${registry.uri} ${problem}`);
}

export async function run(i: Inputs, ctx: ActionContext): Promise<Outputs> {
  const registry = openRegistry(i, ctx);
  try {
    return await registerOrPromote(i, ctx, registry);
  } catch (error) {
    throw explainAuth(error, registry);
  }
}

async function registerOrPromote(i: Inputs, ctx: ActionContext, registry: ModelRegistry): Promise<Outputs> {
  const name = i['model-name'];
  const tracking = i.action === 'rollback' ? undefined : openTracking(i, ctx);
  const alias = i['promote-to'];
  const target = alias ? targetOf(i, registry, alias) : undefined;
  // Read before anything slow, so a move by another run in the meantime is seen as a lost race.
  const before = target ? (await target.current())?.version : undefined;
  const history = target ? await registry.readHistory(name) : [];

  let version: ModelVersionInfo;
  let gate: Judged = { gate: { passed: true, rows: [], notes: [] }, ran: false };
  let created = false;
  if (i.action === 'rollback') {
    const to = rollbackVersion(history, target!, name, before);
    const found = await registry.getVersion(name, to);
    if (!found)
      throw new ActionError(`rollback: version ${to} of ${name} no longer exists on ${registry.uri}`);
    version = found;
  } else if (i.action === 'promote') {
    version = await versionToPromote(i, registry);
    const metrics = version.runId && tracking ? (await tracking.getRunMetrics(version.runId)).metrics : {};
    gate = await judge(i, registry, tracking, metrics);
  } else {
    const registered = await register(i, ctx, registry, tracking!);
    version = registered.version;
    created = registered.created;
    gate = await judge(i, registry, tracking, registered.metrics);
    if (gate.ran)
      await registry.setVersionTag(
        name,
        version.version,
        'mlops.gate',
        gate.gate.passed ? 'passed' : 'failed',
      );
  }

  let moved: HistoryEntry | undefined;
  if (target && gate.gate.passed) {
    if (before === version.version) {
      ctx.log.info(`${target.label} of ${name} already points at version ${version.version}`);
    } else {
      moved = await moveTarget({
        registry,
        name,
        target,
        to: version.version,
        expectedFrom: before,
        entry: {
          action: i.action === 'rollback' ? 'rollback' : i.action === 'promote' ? 'promote' : 'register',
          actor: ctx.github.actor || 'unknown',
          time: new Date().toISOString(),
          reason: i.reason,
          runUrl: ctx.github.runUrl,
        },
      });
      ctx.log.info(`Moved ${target.label} of ${name}: ${moved.from ?? 'none'} → ${moved.to}`);
      history.push(moved);
      await announce(i, ctx, version, target.key);
    }
  } else if (target) {
    ctx.log.warning(`Gates failed: ${target.label} of ${name} stays at ${before ?? 'no version'}`);
  }

  const result: Outputs = {
    'model-name': name,
    version: version.version,
    'model-uri': version.uri,
    digest: version.digest ?? '',
    alias: moved ? target!.key : '',
    'previous-version': moved?.from ?? '',
    'gate-passed': gate.gate.passed,
    'gate-report': { mode: i['gate-mode'], ...gate.gate },
    history: history.slice(-20),
  };
  const markdown = buildSummary({
    inputs: i,
    result,
    gate: gate.gate,
    gateRan: gate.ran,
    created,
    registry: registry.uri,
    target,
    before,
    moved,
  });
  ctx.summary.add(markdown);
  if (gate.ran && ctx.github.issueNumber !== undefined)
    await ctx.comment(`gates:${name}`, markdown, { token: i['github-token'] });
  if (!gate.gate.passed && i['gate-mode'] === 'enforce')
    ctx.fail(
      `${name} version ${version.version} failed its gates (${gate.gate.rows
        .filter((r) => !r.passed)
        .map((r) => r.metric)
        .join(', ')}); no alias was moved`,
    );
  return result;
}

export default defineAction({
  id: 'register-model',
  name: 'Register model',
  description:
    'Registers a trained model as a version with lineage (MLflow Model Registry, OCI registry or a local layout), checks gates against thresholds and the champion, and promotes or rolls back aliases with an audit history.',
  branding: { icon: 'package', color: 'purple' },
  inputs,
  outputs,
  run,
});
