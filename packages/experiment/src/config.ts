import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { parsePercent } from '@mlops-actions/kit';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const identifier = z
  .string()
  .min(1)
  .max(128)
  .refine(
    (name) => !/["`\n\r]/.test(name) && !name.includes(String.fromCharCode(0)),
    'a column name without quotes, backticks or newlines',
  );

/** `2%` → 0.02: a relative number may be written as a percentage wherever one is accepted. */
function percentOrNumber(value: unknown): unknown {
  if (typeof value !== 'string' || !/%\s*$/.test(value)) return value;
  const negative = /^\s*-/.test(value);
  try {
    const fraction = parsePercent(value.replace(/^\s*-/, '')) / 100;
    return negative ? -fraction : fraction;
  } catch {
    return value;
  }
}

const relative = (checks: (n: z.ZodNumber) => z.ZodNumber = (n) => n) =>
  z.preprocess(
    percentOrNumber,
    checks(z.number({ error: 'expected a number such as 0.02 or a percentage such as 2%' })),
  );

const fraction = (what: string) =>
  relative((n) => n.gt(0, `${what} must be above 0`).lt(1, `${what} must be below 1`));

const priorSchema = z
  .object({
    /** Prior mean of the relative effect, e.g. 0 or 1%. */
    mean: relative().default(0),
    /** Prior standard deviation of the relative effect, e.g. 0.3 (GrowthBook's default) or 30%. */
    sd: relative((n) => n.gt(0, 'the prior sd must be above 0')),
  })
  .strict();

export const metricSchema = z
  .object({
    name: z.string().min(1).max(100),
    kind: z.enum(['mean', 'proportion', 'ratio']),
    /** The value column of a mean or proportion. */
    column: identifier.optional(),
    numerator: identifier.optional(),
    denominator: identifier.optional(),
    /** Pre-period covariate column for CUPED (mean and proportion metrics). */
    pre: identifier.optional(),
    /** Pre-period numerator and denominator columns for CUPED on a ratio metric. */
    'pre-numerator': identifier.optional(),
    'pre-denominator': identifier.optional(),
    role: z.enum(['primary', 'secondary', 'guardrail']).default('secondary'),
    direction: z.enum(['increase', 'decrease']).default('increase'),
    /** Guardrails: the relative degradation tolerated, e.g. 0.02 or 2%. */
    margin: fraction('margin').optional(),
    /** Guardrails: the degradation tolerated in the metric's own units (e.g. 5 for 5 ms), instead of margin. */
    'absolute-margin': z.number().positive().optional(),
    /** Normal prior on the relative effect for the Bayesian view; overrides the experiment's prior. */
    prior: priorSchema.optional(),
    /** How the report groups metrics, e.g. business or technical. */
    group: z.string().min(1).max(60).default('business'),
    test: z.enum(['t', 'z']).optional(),
    /** Minimum relative effect worth detecting; defaults to the experiment's mde (primary) or margin (guardrail). */
    mde: fraction('mde').optional(),
  })
  .strict()
  .superRefine((m, ctx) => {
    if (m.kind === 'ratio') {
      if (!m.numerator || !m.denominator) {
        ctx.addIssue({
          code: 'custom',
          message: `metric '${m.name}': a ratio needs numerator and denominator columns`,
        });
      }
      if (m.pre && (!m['pre-numerator'] || !m['pre-denominator'])) {
        ctx.addIssue({
          code: 'custom',
          message: `metric '${m.name}': CUPED on a ratio needs pre-numerator and pre-denominator columns, not pre`,
        });
      }
      if (!m['pre-numerator'] !== !m['pre-denominator']) {
        ctx.addIssue({
          code: 'custom',
          message: `metric '${m.name}': CUPED on a ratio needs both pre-numerator and pre-denominator`,
        });
      }
    } else if (m['pre-numerator'] || m['pre-denominator']) {
      ctx.addIssue({
        code: 'custom',
        message: `metric '${m.name}': pre-numerator and pre-denominator are for ratio metrics; use pre`,
      });
    }
    if (m.kind !== 'ratio' && !m.column) {
      ctx.addIssue({ code: 'custom', message: `metric '${m.name}': a ${m.kind} metric needs a column` });
    }
    const margins = [m.margin, m['absolute-margin']].filter((x) => x !== undefined).length;
    if (m.role === 'guardrail' && margins !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `metric '${m.name}': a guardrail needs one non-inferiority margin, relative (margin: 2%) or absolute (absolute-margin: 5)`,
      });
    }
  });

export const experimentSchema = z
  .object({
    name: z.string().max(200).optional(),
    unit: identifier,
    variant: identifier,
    control: z.union([z.string(), z.number()]).transform(String),
    treatment: z.union([z.string(), z.number()]).transform(String),
    /** Expected share of units per variant (any scale: 50/50, 0.5/0.5). Default: equal. */
    split: z.record(z.string(), z.number().positive()).optional(),
    /** `user`: one row per unit; `event`: many rows per unit, added up per unit (max for proportions). */
    granularity: z.enum(['user', 'event']).default('user'),
    /** Look for units in more than one variant (costs a GROUP BY unit on per-user data). */
    'check-duplicates': z.boolean().default(true),
    alpha: fraction('alpha').default(0.05),
    power: fraction('power').default(0.8),
    mde: fraction('mde').default(0.01),
    'srm-alpha': fraction('srm-alpha').default(0.001),
    correction: z.enum(['holm', 'bh', 'none']).default('holm'),
    sequential: z.boolean().default(false),
    'sequential-tuning': z.number().positive().default(5000),
    /**
     * With sequential: true, `always-valid` confidence sequences (look any time; GrowthBook) or a
     * `group-sequential` design with a planned number of looks and Lan-DeMets alpha spending (Confidence).
     */
    'sequential-method': z.enum(['always-valid', 'group-sequential']).default('always-valid'),
    /** Group-sequential: the planned number of equally spaced looks, and which one this evaluation is. */
    looks: z.number().int().min(2).max(50).optional(),
    look: z.number().int().min(1).optional(),
    /** Group-sequential: the alpha-spending function. */
    spending: z.enum(['obrien-fleming', 'pocock']).default('obrien-fleming'),
    bayesian: z.boolean().default(true),
    /** Normal prior on the relative effect (GrowthBook's informative prior); default flat. */
    prior: priorSchema.optional(),
    /**
     * How CUPED fits θ: with an intercept per arm (the ANCOVA slope, the default: a treatment effect on
     * the metric cannot leak into θ) or one slope over both arms (GrowthBook's and Confidence's choice).
     */
    cuped: z.enum(['pooled-within-arm', 'overall']).default('pooled-within-arm'),
    metrics: z.array(metricSchema).min(1),
  })
  .strict()
  .superRefine((e, ctx) => {
    if (e.control === e.treatment)
      ctx.addIssue({ code: 'custom', message: 'control and treatment must differ' });
    if (e['sequential-method'] === 'group-sequential') {
      if (!e.sequential)
        ctx.addIssue({
          code: 'custom',
          path: ['sequential'],
          message: 'group-sequential needs sequential: true',
        });
      if (e.looks === undefined || e.look === undefined)
        ctx.addIssue({
          code: 'custom',
          path: ['looks'],
          message: 'group-sequential needs looks (planned, e.g. 5) and look (this one, 1 to looks)',
        });
      else if (e.look > e.looks)
        ctx.addIssue({
          code: 'custom',
          path: ['look'],
          message: `look ${e.look} is beyond the ${e.looks} planned looks`,
        });
    }
    const primaries = e.metrics.filter((m) => m.role === 'primary');
    if (primaries.length !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: `exactly one metric needs role: primary (found ${primaries.length})`,
      });
    }
    const names = new Set<string>();
    for (const m of e.metrics) {
      if (names.has(m.name))
        ctx.addIssue({ code: 'custom', message: `metric name '${m.name}' is used twice` });
      names.add(m.name);
    }
    if (e.split) {
      for (const arm of [e.control, e.treatment]) {
        if (!(arm in e.split))
          ctx.addIssue({ code: 'custom', message: `split has no share for variant '${arm}'` });
      }
    }
  });

export type Experiment = z.output<typeof experimentSchema>;
export type Metric = Experiment['metrics'][number];

/** The split as weights per variant: the configured one, or equal shares of control and treatment. */
export function splitOf(e: Experiment): Record<string, number> {
  return e.split ?? { [e.control]: 1, [e.treatment]: 1 };
}

function describeIssues(error: z.ZodError): string {
  return error.issues
    .map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message))
    .join('; ');
}

/** Parses YAML or JSON text of an experiment, or throws one line naming what is wrong. */
export function parseExperiment(text: string): Experiment {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (error) {
    throw new Error(`not valid YAML (${(error as Error).message.split('\n')[0]})`);
  }
  const parsed = experimentSchema.safeParse(raw);
  if (!parsed.success) throw new Error(describeIssues(parsed.error));
  return parsed.data;
}

/** The `experiment` input: inline YAML, or a path (relative to the workspace) to a YAML/JSON file. */
export function loadExperiment(value: string, workspace: string): Experiment {
  const trimmed = value.trim();
  const looksLikePath = !trimmed.includes('\n') && /\.(ya?ml|json)$/i.test(trimmed);
  if (looksLikePath) {
    const path = isAbsolute(trimmed) ? trimmed : join(workspace, trimmed);
    if (!existsSync(path)) throw new Error(`file ${trimmed} does not exist`);
    return parseExperiment(readFileSync(path, 'utf8'));
  }
  return parseExperiment(trimmed);
}
