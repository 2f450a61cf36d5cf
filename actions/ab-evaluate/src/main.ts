import {
  type Analysis,
  aggregate,
  analyze,
  DataError,
  type Experiment,
  formatCount,
  loadExperiment,
  missingVariants,
  openAnyEngine,
  provideDuckDbBinding,
  readAggregates,
  renderReport,
  sourceKind,
  warehouseKind,
} from '@mlops-actions/experiment';
import { type ActionContext, ActionError, defineAction, InputError, input, z } from '@mlops-actions/kit';

export const inputs = z.object({
  experiment: z
    .string()
    .describe(
      'The experiment definition as YAML (inline, or a path to a .yml/.yaml/.json file in the workspace): unit and variant columns, control and treatment, split, metrics with kind, columns, role and direction. See the README',
    ),
  data: z
    .string()
    .describe(
      'Where the data is: CSV, Parquet or JSON-lines files (paths or globs, one per line or comma-separated, relative to the workspace), a DuckDB database file (.duckdb or duckdb:path), a PostgreSQL connection string (postgres://user:pass@host/db), or a warehouse that runs the aggregation itself: bigquery://project, snowflake://account/database/schema?warehouse=WH, databricks://host/warehouse-id, trino://user@host:port/catalog/schema',
    ),
  table: z
    .string()
    .optional()
    .describe(
      'For databases: the table (schema.table) or a SELECT query that yields one row per unit (or per event)',
    ),
  format: z
    .enum(['csv', 'parquet', 'json'])
    .optional()
    .describe('File format when the file names do not tell it (.csv, .parquet, .jsonl/.ndjson)'),
  'memory-limit': z
    .string()
    .regex(/^\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)$/i, 'expected a size such as 1GB or 512MB')
    .default('512MB')
    .describe(
      'Memory cap of the embedded DuckDB (files and DuckDB databases); larger aggregations spill to RUNNER_TEMP',
    ),
  comment: input
    .boolean()
    .prefault('true')
    .describe('Post the report as a sticky comment on the pull request, or on issue-number'),
  'issue-number': input
    .integer()
    .refine((n) => n > 0, 'expected a positive issue or pull request number')
    .optional()
    .describe(
      'Comment on this issue or pull request (e.g. a tracking issue of a scheduled evaluation); default: the triggering pull request',
    ),
  'warehouse-token': input
    .secret(z.string().optional())
    .describe(
      'Token for a warehouse: Databricks personal access token, Google OAuth access token (BigQuery), Snowflake OAuth or key-pair JWT; default: DATABRICKS_TOKEN, GOOGLE_OAUTH_ACCESS_TOKEN or SNOWFLAKE_TOKEN',
    ),
  'github-token': input
    .secret(z.string().optional())
    .describe(
      'Token for the comment (default: GITHUB_TOKEN from the environment); needs issues: write or pull-requests: write',
    ),
  'allow-data-outside-workspace': input
    .boolean()
    .prefault('false')
    .describe(
      "Let data files and DuckDB databases lie outside the workspace (a self-hosted runner's shared data directory); by default they must resolve inside it",
    ),
  'npm-registry': z
    .string()
    .regex(/^https?:\/\/\S+$/, 'expected the http(s) URL of an npm registry')
    .optional()
    .describe(
      "npm registry (or mirror) to fetch DuckDB's native binding from when neither the runner's tool cache nor a local node_modules has it; default: npm_config_registry, else https://registry.npmjs.org. Credentials in the URL (https://user:token@host/) are sent as basic auth",
    ),
  'fail-on-invalid': input
    .boolean()
    .prefault('false')
    .describe(
      'Fail the step when the decision is invalid (sample ratio mismatch, duplicate units, missing data)',
    ),
});

/**
 * Data files and DuckDB databases are read by path: each must resolve inside the workspace (a glob by
 * its fixed directory part), so `data=/etc/passwd` cannot echo a file of the runner into an error.
 */
function confineDataPaths(data: string, allowOutside: boolean, ctx: ActionContext): void {
  for (const entry of data.split(/[\n,]/).map((p) => p.trim().replace(/^duckdb:(\/\/)?/i, ''))) {
    if (!entry) continue;
    const glob = entry.search(/[*?[{]/);
    const fixed = glob < 0 ? entry : entry.slice(0, entry.lastIndexOf('/', glob) + 1) || '.';
    const options = { input: 'data', allowOutside, optOut: 'allow-data-outside-workspace' };
    ctx.path(fixed, options);
    if (glob >= 0 && entry.slice(glob).split('/').includes('..'))
      ctx.path(entry.replace(/[*?[{].*$/, '..'), options);
  }
}

/** DuckDB's native binding is not in the bundle: fetch (or find) the one for this runner first. */
async function provideBinding(registry: string | undefined, ctx: ActionContext): Promise<void> {
  await provideDuckDbBinding({
    registry,
    env: ctx.env,
    http: (options) => ctx.http(options),
    progress: (label, totalBytes) => ctx.progress({ label, total: 1, totalBytes, unit: 'tarball' }),
    log: (line) => ctx.log.info(line),
    signal: ctx.signal,
  });
}

const metricResult = z.object({
  name: z.string(),
  group: z.string(),
  role: z.string(),
  kind: z.string(),
  direction: z.string(),
  method: z.string(),
  sequential: z.boolean(),
  control: z.object({ variant: z.string(), units: z.number(), mean: z.number().nullable() }),
  treatment: z.object({ variant: z.string(), units: z.number(), mean: z.number().nullable() }),
  effect: z.number().nullable(),
  ci: z.tuple([z.number(), z.number()]).nullable(),
  pValue: z.number().nullable(),
  relativeEffect: z.number().nullable(),
  relativeCi: z.tuple([z.number(), z.number()]).nullable(),
  relativePValue: z.number().nullable(),
  adjustedPValue: z.number().nullable(),
  dof: z.number().nullable(),
  outcome: z.string(),
  nonInferiority: z
    .object({
      margin: z.number(),
      scale: z.enum(['relative', 'absolute']),
      pValue: z.number(),
      bound: z.number(),
      status: z.string(),
    })
    .optional(),
  cuped: z.object({ theta: z.number(), varianceReduction: z.number() }).optional(),
  bayesian: z
    .object({
      chanceToWin: z.number(),
      expectedLoss: z.number(),
      expectedLossControl: z.number(),
      posteriorMean: z.number(),
      posteriorSd: z.number(),
    })
    .optional(),
  requiredUnits: z.number().nullable().optional(),
  warning: z.string().optional(),
  error: z.string().optional(),
});

export const outputs = z.object({
  decision: z
    .enum(['ship', 'dont-ship', 'keep-running', 'invalid'])
    .describe('ship, dont-ship, keep-running or invalid'),
  reasons: z.array(z.string()).describe('Why, one sentence per line of evidence (JSON array)'),
  results: z
    .array(metricResult)
    .describe(
      'Per metric (JSON array): per-arm means and units; absolute effect, CI and p-value; relative effect, CI and p-value (delta method); the Holm/BH-adjusted relative p-value; method, sequential flag, non-inferiority, CUPED θ, chance to win',
    ),
  'srm-p-value': z
    .number()
    .describe('p-value of the sample ratio mismatch χ² test against the configured split'),
  'users-needed': z
    .number()
    .nullable()
    .describe(
      'Further units (both arms) needed before a decision when keep-running; 0 otherwise; null when unreachable',
    ),
  'duplicate-units': z.number().describe('Units found in more than one variant'),
  query: z
    .string()
    .describe('The aggregation SQL that was run (run it on your warehouse to push the work down)'),
});

function finite(x: number | undefined): number | null {
  return x === undefined || !Number.isFinite(x) ? null : x;
}

export function toOutputs(a: Analysis, sql: string): z.input<typeof outputs> {
  return {
    decision: a.decision,
    reasons: a.reasons,
    results: a.metrics.map((m) => ({ ...m, requiredUnits: finite(m.requiredUnits) })),
    'srm-p-value': a.srm.pValue,
    'users-needed': finite(a.usersNeeded),
    'duplicate-units': a.duplicateUnits,
    query: sql,
  };
}

export default defineAction({
  id: 'ab-evaluate',
  name: 'A/B evaluate',
  description:
    'Decide an online A/B test between two model versions: ship, dont-ship, keep-running or invalid, with Welch/z tests, CUPED, ratio metrics, SRM, guardrails, sequential testing and a report',
  branding: { icon: 'bar-chart-2', color: 'green' },
  inputs,
  outputs,
  async run(i, ctx) {
    ctx.mask(i['github-token']);
    let experiment: Experiment;
    const definition = i.experiment.trim();
    if (!definition.includes('\n') && /\.(ya?ml|json)$/i.test(definition))
      ctx.path(definition, { input: 'experiment' });
    try {
      experiment = loadExperiment(i.experiment, ctx.workspace);
    } catch (error) {
      throw new InputError('experiment', (error as Error).message);
    }
    ctx.mask(i['warehouse-token']);
    const warehouse = warehouseKind(i.data);
    const kind = sourceKind(i.data);
    if (!warehouse && kind !== 'postgres') confineDataPaths(i.data, i['allow-data-outside-workspace'], ctx);
    const where =
      warehouse ??
      (kind === 'postgres' ? 'PostgreSQL' : kind === 'duckdb' ? 'DuckDB database' : 'data files');
    if (kind === 'postgres' || warehouse) {
      const password = /^[a-z]+:\/\/[^:/@]*:([^@]*)@/i.exec(i.data)?.[1];
      ctx.mask(password ? decodeURIComponent(password) : undefined);
    }
    if (!warehouse && kind !== 'postgres') await provideBinding(i['npm-registry'], ctx);
    ctx.log.info(
      `Reading ${where} with one GROUP BY variant query (${experiment.metrics.length} metrics, ${experiment.granularity} rows)`,
    );
    const started = Date.now();
    // One query gives no progress of its own; a heartbeat shows the step is alive on large data.
    const heartbeat = setInterval(
      () => ctx.log.info(`Still aggregating (${Math.round((Date.now() - started) / 1000)} s)…`),
      15_000,
    );
    const aggregation = await (async () => {
      let engine: Awaited<ReturnType<typeof openAnyEngine>> | undefined;
      try {
        engine = await openAnyEngine({
          data: i.data,
          table: i.table,
          format: i.format,
          workspace: ctx.workspace,
          memoryLimit: i['memory-limit'],
          tempDir: ctx.tempDir,
          token: i['warehouse-token'],
          env: ctx.env,
          log: (line) => ctx.log.info(line),
          signal: ctx.signal,
        });
        return await aggregate(experiment, engine);
      } catch (error) {
        if (error instanceof DataError) throw new ActionError(`Input 'data': ${error.message}`);
        const message = (error as Error).message?.split('\n')[0] ?? String(error);
        throw new ActionError(`Input 'data': reading ${where} failed: ${message}`);
      } finally {
        clearInterval(heartbeat);
        await engine?.close().catch(() => undefined);
      }
    })();
    const rows = readAggregates(aggregation.rows, aggregation.plan);
    ctx.log.info(
      `Aggregated ${formatCount(rows.reduce((s, r) => s + r.rows, 0))} rows into ${rows.length} variant rows in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
    const missing = missingVariants(experiment, rows);
    if (missing) throw new InputError('experiment', missing);

    const analysis = analyze(experiment, aggregation.plan, rows, aggregation.duplicates);
    for (const m of analysis.metrics) if (m.warning) ctx.log.warning(m.warning);
    if (analysis.duplicateUnits > 0)
      ctx.log.warning(`${analysis.duplicateUnits} unit(s) appear in more than one variant`);
    ctx.log.info(
      `Decision: ${analysis.decision}${analysis.reasons.length ? ` (${analysis.reasons.join('; ')})` : ''}`,
    );

    const report = renderReport(experiment, analysis, { sql: aggregation.sql });
    ctx.summary.add(report);
    if (i.comment) {
      const key = experiment.name ?? `${experiment.control}-vs-${experiment.treatment}`;
      const posted = await ctx.comment(key, report, {
        token: i['github-token'],
        issueNumber: i['issue-number'],
      });
      if (posted.url) ctx.log.info(`Report comment ${posted.mode}: ${posted.url}`);
    }
    if (i['fail-on-invalid'] && analysis.decision === 'invalid') {
      throw new ActionError(`The experiment is invalid: ${analysis.reasons.join('; ')}`);
    }
    return toOutputs(analysis, aggregation.sql);
  },
});
