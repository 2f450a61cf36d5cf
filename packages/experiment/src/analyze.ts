import {
  type ArmEstimate,
  adjustPValues,
  type BayesianSummary,
  bayesian,
  type CovariateSums,
  compareArms,
  cupedEstimate,
  cupedTheta,
  type MeanSums,
  meanEstimate,
  nonInferiority,
  plannedFractions,
  proportionEstimate,
  type RatioCovariateSums,
  type RatioSums,
  ratioCovariateMoments,
  ratioCupedEstimate,
  ratioCupedTheta,
  ratioEstimate,
  requiredSampleSize,
  sampleRatioMismatch,
} from '@mlops-actions/stats';
import { type Experiment, type Metric, splitOf } from './config';
import { type Duplicates, MULTIPLE, type QueryPlan, type VariantSums } from './sql';

export type Decision = 'ship' | 'dont-ship' | 'keep-running' | 'invalid';

export interface ArmSummary {
  variant: string;
  units: number;
  mean: number | null;
}

export interface MetricResult {
  name: string;
  group: string;
  role: Metric['role'];
  kind: Metric['kind'];
  direction: Metric['direction'];
  method: string;
  sequential: boolean;
  control: ArmSummary;
  treatment: ArmSummary;
  /** The absolute effect (treatment − control), its CI and the p-value that agrees with that CI. */
  effect: number | null;
  ci: [number, number] | null;
  pValue: number | null;
  /**
   * The relative effect (treatment − control) / control, its delta-method CI and the p-value that agrees
   * with that CI (as GrowthBook reports it). Decisions are taken on this scale, the one the report leads with.
   */
  relativeEffect: number | null;
  relativeCi: [number, number] | null;
  relativePValue: number | null;
  /** The relative p-value after the Holm or Benjamini–Hochberg correction over primary and secondary metrics. */
  adjustedPValue: number | null;
  dof: number | null;
  /** better / worse: significant in the good / bad direction; flat: not significant. */
  outcome: 'better' | 'worse' | 'flat' | 'untestable';
  nonInferiority?: {
    /** Relative (a share of the control mean) or absolute (the metric's units). */
    margin: number;
    scale: 'relative' | 'absolute';
    /** One-sided p-value against the margin (always-valid in sequential mode). */
    pValue: number;
    /** One-sided (1 − α) bound of the effect on the margin's scale, on the side of harm. */
    bound: number;
    status: 'pass' | 'fail' | 'inconclusive';
  };
  cuped?: { theta: number; varianceReduction: number };
  bayesian?: BayesianSummary;
  /** Units (both arms) needed to detect the metric's minimum effect (primary) or prove its margin (guardrails). */
  requiredUnits?: number;
  warning?: string;
  error?: string;
}

export interface Analysis {
  decision: Decision;
  reasons: string[];
  srm: {
    pValue: number;
    chiSquare: number;
    observed: Record<string, number>;
    expected: Record<string, number>;
    alert: boolean;
  };
  duplicateUnits: number;
  /** Per-user data only: units with several rows in one variant. */
  repeatedUnits: number;
  unknownVariants: Record<string, number>;
  units: number;
  /** Further units (both arms) the decision rule wants before it can decide; 0 when it has enough. */
  usersNeeded: number;
  metrics: MetricResult[];
}

function sumsOf(v: VariantSums, i: number): number {
  return v.sums[i] ?? 0;
}

function productOf(v: VariantSums, i: number, j: number): number {
  return v.products.get(i <= j ? `${i},${j}` : `${j},${i}`) ?? 0;
}

function meanSums(v: VariantSums, i: number): MeanSums {
  return { n: v.units, sum: sumsOf(v, i), sumSquares: productOf(v, i, i) };
}

function covariateSums(v: VariantSums, i: number, pre: number): CovariateSums {
  return {
    ...meanSums(v, i),
    sumPre: sumsOf(v, pre),
    sumPreSquares: productOf(v, pre, pre),
    sumCross: productOf(v, i, pre),
  };
}

function ratioCovariateSums(v: VariantSums, c: Required<MetricColumnsOf>): RatioCovariateSums {
  const p = (i: number, j: number) => productOf(v, i, j);
  const { numerator: y, denominator: d, preNumerator: x, preDenominator: e } = c;
  return {
    ...ratioSums(v, y, d),
    sumPreNum: sumsOf(v, x),
    sumPreNumSquares: p(x, x),
    sumPreDen: sumsOf(v, e),
    sumPreDenSquares: p(e, e),
    sumPreNumDen: p(x, e),
    sumNumPreNum: p(y, x),
    sumNumPreDen: p(y, e),
    sumDenPreNum: p(d, x),
    sumDenPreDen: p(d, e),
  };
}

type MetricColumnsOf = Pick<
  QueryPlan['metrics'][string],
  'numerator' | 'denominator' | 'preNumerator' | 'preDenominator'
>;

function ratioSums(v: VariantSums, num: number, den: number): RatioSums {
  return {
    n: v.units,
    sumNum: sumsOf(v, num),
    sumNumSquares: productOf(v, num, num),
    sumDen: sumsOf(v, den),
    sumDenSquares: productOf(v, den, den),
    sumNumDen: productOf(v, num, den),
  };
}

interface Estimates {
  a: ArmEstimate;
  b: ArmEstimate;
  method: string;
  test: 't' | 'z';
  cuped?: { theta: number; varianceReduction: number };
  meanA: number;
  meanB: number;
}

/** CUPED-adjusted arms; the variance reduction compares with the unadjusted variances (the baselines'). */
function adjustedBy(
  theta: number,
  a: ArmEstimate,
  b: ArmEstimate,
  method: string,
  test: 't' | 'z',
): Estimates {
  const raw = a.baselineVariance / a.n + b.baselineVariance / b.n;
  const adjusted = a.variance / a.n + b.variance / b.n;
  return {
    a,
    b,
    method,
    test,
    cuped: { theta, varianceReduction: raw > 0 ? 1 - adjusted / raw : 0 },
    meanA: a.baseline,
    meanB: b.baseline,
  };
}

function ratioMetric(
  m: Metric,
  e: Experiment,
  plan: QueryPlan,
  a: VariantSums,
  b: VariantSums,
): Estimates | string {
  const cols = plan.metrics[m.name]!;
  const test = m.test ?? 't';
  const name = test === 't' ? 'Welch t' : 'z';
  for (const arm of [a, b]) {
    if (sumsOf(arm, cols.denominator!) === 0)
      return `denominator '${m.denominator}' sums to zero in variant '${arm.variant}'`;
    if (cols.preDenominator !== undefined && sumsOf(arm, cols.preDenominator) === 0)
      return `pre-period denominator '${m['pre-denominator']}' sums to zero in variant '${arm.variant}'`;
  }
  if (cols.preNumerator !== undefined && cols.preDenominator !== undefined) {
    const columns = cols as Required<MetricColumnsOf>;
    const ma = ratioCovariateMoments(ratioCovariateSums(a, columns));
    const mb = ratioCovariateMoments(ratioCovariateSums(b, columns));
    const theta = ratioCupedTheta([ma, mb]);
    const pooled =
      (sumsOf(a, columns.preNumerator) + sumsOf(b, columns.preNumerator)) /
      (sumsOf(a, columns.preDenominator) + sumsOf(b, columns.preDenominator));
    return adjustedBy(
      theta,
      ratioCupedEstimate(ma, theta, pooled),
      ratioCupedEstimate(mb, theta, pooled),
      `delta-method ratio with CUPED (θ ${e.cuped}), ${name}`,
      test,
    );
  }
  const ea = ratioEstimate(ratioSums(a, cols.numerator!, cols.denominator!));
  const eb = ratioEstimate(ratioSums(b, cols.numerator!, cols.denominator!));
  return {
    a: ea,
    b: eb,
    method: `delta-method ratio, ${name}`,
    test,
    meanA: ea.estimate,
    meanB: eb.estimate,
  };
}

function estimate(
  m: Metric,
  e: Experiment,
  plan: QueryPlan,
  a: VariantSums,
  b: VariantSums,
): Estimates | string {
  if (m.kind === 'ratio') return ratioMetric(m, e, plan, a, b);
  const cols = plan.metrics[m.name]!;
  if (m.kind === 'proportion' && !isBinary(plan, m, a, b)) {
    // For 0/1 values Σx² = Σx; anything else is not a proportion and p(1 − p) misstates the variance.
    return `column '${m.column}' holds values other than 0 and 1, so it is not a proportion (use kind: mean)`;
  }
  const test = m.test ?? (m.kind === 'proportion' ? 'z' : 't');
  const base = test === 'z' && m.kind === 'proportion' ? proportionEstimate : meanEstimate;
  const name = test === 't' ? 'Welch t' : 'z';
  if (m.pre && cols.pre !== undefined) {
    const sa = covariateSums(a, cols.value!, cols.pre);
    const sb = covariateSums(b, cols.value!, cols.pre);
    const theta = cupedTheta([sa, sb], e.cuped);
    const pooled = (sa.sumPre + sb.sumPre) / (sa.n + sb.n);
    return adjustedBy(
      theta,
      cupedEstimate(sa, theta, pooled),
      cupedEstimate(sb, theta, pooled),
      `CUPED (θ ${e.cuped}), ${name}`,
      test,
    );
  }
  const ea = base(meanSums(a, cols.value!));
  const eb = base(meanSums(b, cols.value!));
  return {
    a: ea,
    b: eb,
    method: name === 'z' ? 'z-test' : 'Welch t-test',
    test,
    meanA: ea.estimate,
    meanB: eb.estimate,
  };
}

function untestable(
  m: Metric,
  a: ArmSummary,
  b: ArmSummary,
  sequential: boolean,
  error: string,
): MetricResult {
  return {
    name: m.name,
    group: m.group,
    role: m.role,
    kind: m.kind,
    direction: m.direction,
    method: 'none',
    sequential,
    // A mean may itself be what overflowed; an untestable metric shows it only when it is a number.
    control: { ...a, mean: Number.isFinite(a.mean) ? a.mean : null },
    treatment: { ...b, mean: Number.isFinite(b.mean) ? b.mean : null },
    effect: null,
    ci: null,
    pValue: null,
    relativeEffect: null,
    relativeCi: null,
    relativePValue: null,
    adjustedPValue: null,
    dof: null,
    outcome: 'untestable',
    error,
  };
}

/** A metric that is zero for every unit in both arms (an error rate without errors): nothing moved. */
function zeroEverywhere(m: Metric, a: ArmSummary, b: ArmSummary, sequential: boolean): MetricResult {
  const { error: _, ...base } = untestable(m, a, b, sequential, '');
  return {
    ...base,
    method: 'none (zero in every unit)',
    effect: 0,
    ci: [0, 0],
    pValue: 1,
    relativeEffect: 0,
    relativeCi: [0, 0],
    relativePValue: 1,
    adjustedPValue: 1,
    outcome: 'flat',
    ...(m.role === 'guardrail'
      ? {
          nonInferiority: {
            ...marginOf(m),
            // No unit moved, so the effect is exactly 0, within any positive margin.
            pValue: 0,
            bound: 0,
            status: 'pass' as const,
          },
        }
      : {}),
    warning: `'${m.name}' is zero for every unit in both arms: no change to test`,
  };
}

function isBinary(plan: QueryPlan, m: Metric, ...arms: VariantSums[]): boolean {
  const i = plan.metrics[m.name]!.value!;
  return arms.every((arm) => {
    const sum = sumsOf(arm, i);
    return Math.abs(productOf(arm, i, i) - sum) <= 1e-9 * Math.max(1, Math.abs(sum));
  });
}

function totals(rows: VariantSums[]) {
  const byVariant = new Map<string, VariantSums>();
  let duplicateUnits = 0;
  for (const row of rows) {
    if (row.variant === MULTIPLE) duplicateUnits += row.units;
    else if (row.variant !== null) byVariant.set(row.variant, row);
  }
  return { byVariant, duplicateUnits };
}

/** A guardrail's margin and its scale. */
function marginOf(m: Metric): { margin: number; scale: 'relative' | 'absolute' } {
  return m['absolute-margin'] !== undefined
    ? { margin: m['absolute-margin'], scale: 'absolute' }
    : { margin: m.margin!, scale: 'relative' };
}

/** Every number of a result, nested ones included: none may reach the outputs as NaN or ±∞. */
function nonFinite(value: unknown, path = ''): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? undefined : path;
  if (!value || typeof value !== 'object') return undefined;
  for (const [k, v] of Object.entries(value)) {
    // Sample sizes may be unreachable (∞); the outputs turn those into null.
    if (k === 'requiredUnits') continue;
    const bad = nonFinite(v, Array.isArray(value) ? `${path}[${k}]` : path ? `${path}.${k}` : k);
    if (bad) return bad;
  }
  return undefined;
}

/** Applies the statistics and the decision rule to the per-variant sums of one experiment. */
export function analyze(
  e: Experiment,
  plan: QueryPlan,
  rows: VariantSums[],
  duplicates?: Duplicates,
): Analysis {
  const totalsOf = totals(rows);
  const { byVariant } = totalsOf;
  const duplicateUnits = totalsOf.duplicateUnits + (duplicates?.multiVariant ?? 0);
  const repeatedUnits = duplicates ? duplicates.repeated - duplicates.multiVariant : 0;
  const split = splitOf(e);
  const empty = (variant: string): VariantSums => ({
    variant,
    units: 0,
    rows: 0,
    sums: [],
    products: new Map(),
  });
  const control = byVariant.get(e.control) ?? empty(e.control);
  const treatment = byVariant.get(e.treatment) ?? empty(e.treatment);
  const unknownVariants: Record<string, number> = {};
  for (const [variant, row] of byVariant) if (!(variant in split)) unknownVariants[variant] = row.units;

  const armsInSplit = Object.keys(split);
  const observed = armsInSplit.map((v) => byVariant.get(v)?.units ?? 0);
  const srmResult = sampleRatioMismatch(
    observed,
    armsInSplit.map((v) => split[v]!),
  );
  const srm = {
    pValue: srmResult.pValue,
    chiSquare: srmResult.chiSquare,
    observed: Object.fromEntries(armsInSplit.map((v, i) => [v, observed[i]!])),
    expected: Object.fromEntries(armsInSplit.map((v, i) => [v, srmResult.expected[i]!])),
    alert: srmResult.pValue < e['srm-alpha'],
  };

  const groupSequential =
    e.sequential && e['sequential-method'] === 'group-sequential'
      ? { look: e.look!, fractions: plannedFractions(e.looks!), spending: e.spending }
      : undefined;
  const sequential = e.sequential && !groupSequential ? { tuning: e['sequential-tuning'] } : undefined;
  const results: MetricResult[] = [];
  for (const m of e.metrics) {
    const armA: ArmSummary = { variant: e.control, units: control.units, mean: null };
    const armB: ArmSummary = { variant: e.treatment, units: treatment.units, mean: null };
    if (control.units < 2 || treatment.units < 2) {
      const arm = control.units < 2 ? control : treatment;
      results.push(
        untestable(
          m,
          armA,
          armB,
          e.sequential,
          `variant '${arm.variant}' has ${arm.units} unit(s); at least 2 are needed`,
        ),
      );
      continue;
    }
    const est = estimate(m, e, plan, control, treatment);
    if (typeof est === 'string') {
      results.push(untestable(m, armA, armB, e.sequential, est));
      continue;
    }
    armA.mean = est.meanA;
    armB.mean = est.meanB;
    if (est.a.baseline === 0) {
      if (est.a.variance === 0 && est.b.variance === 0 && est.b.estimate === 0) {
        results.push(zeroEverywhere(m, armA, armB, e.sequential));
      } else {
        results.push(
          untestable(
            m,
            armA,
            armB,
            e.sequential,
            'the control mean is zero, so the relative effect is undefined',
          ),
        );
      }
      continue;
    }
    const c = compareArms(est.a, est.b, { alpha: e.alpha, test: est.test, sequential, groupSequential });
    const result: MetricResult = {
      name: m.name,
      group: m.group,
      role: m.role,
      kind: m.kind,
      direction: m.direction,
      method: groupSequential
        ? `${est.method}, group-sequential (look ${groupSequential.look} of ${e.looks}, ${e.spending} spending)`
        : sequential
          ? `${est.method}, sequential (always-valid)`
          : est.method,
      sequential: c.sequential,
      control: armA,
      treatment: armB,
      effect: c.absolute.effect,
      ci: c.absolute.ci,
      pValue: c.absolute.pValue,
      relativeEffect: c.relative.effect,
      relativeCi: c.relative.ci,
      relativePValue: c.relative.pValue,
      adjustedPValue: c.relative.pValue,
      dof: Number.isFinite(c.dof) ? c.dof : null,
      outcome: 'flat',
    };
    if (est.cuped) result.cuped = est.cuped;
    if (c.degenerate) {
      result.warning = `'${m.name}' has zero variance in both arms: the effect is exact and no test applies`;
    }
    const prior = m.prior ?? e.prior;
    if (e.bayesian) result.bayesian = bayesian(c, m.direction, prior);
    const margin = m.role === 'guardrail' ? marginOf(m) : undefined;
    if (margin) {
      const ni = nonInferiority(
        c,
        margin.margin,
        m.direction,
        e.alpha,
        groupSequential
          ? { design: groupSequential }
          : sequential
            ? { ...sequential, n: est.a.n + est.b.n }
            : undefined,
        margin.scale,
      );
      result.nonInferiority = {
        ...margin,
        pValue: ni.pValue,
        bound: ni.bound,
        status: ni.nonInferior ? 'pass' : ni.inferior ? 'fail' : 'inconclusive',
      };
    }
    // Sample sizes work on the relative scale: an absolute margin is that share of the control mean.
    const relativeMargin =
      margin && (margin.scale === 'relative' ? margin.margin : margin.margin / Math.abs(est.a.baseline));
    const mde = relativeMargin !== undefined ? (m.mde ?? relativeMargin) : (m.mde ?? e.mde);
    result.requiredUnits = requiredSampleSize({
      varianceControl: est.a.variance,
      varianceTreatment: est.b.variance,
      weightControl: split[e.control]!,
      weightTreatment: split[e.treatment]!,
      baseline: est.a.baseline,
      mde,
      // Guardrails are one-sided: 2α in the two-sided formula.
      alpha: m.role === 'guardrail' ? 2 * e.alpha : e.alpha,
      power: e.power,
      sequential,
    });
    const bad = nonFinite(result);
    if (bad) {
      results.push(
        untestable(
          m,
          armA,
          armB,
          e.sequential,
          `the data's sums give a non-finite ${bad} (values too large or degenerate)`,
        ),
      );
      continue;
    }
    results.push(result);
  }

  // Corrections over the primary and secondary metrics that could be tested.
  // Corrections of the relative p-values (the scale decisions use) over the primary and secondary metrics.
  const family = results.filter((r) => r.role !== 'guardrail' && r.relativePValue !== null);
  const adjusted = adjustPValues(
    family.map((r) => r.relativePValue!),
    e.correction,
  );
  for (const [i, r] of family.entries()) r.adjustedPValue = adjusted[i]!;
  for (const r of results) {
    if (r.relativePValue === null || r.relativeEffect === null) continue;
    const p = r.adjustedPValue ?? r.relativePValue;
    const good = r.direction === 'increase' ? r.relativeEffect > 0 : r.relativeEffect < 0;
    r.outcome = p < e.alpha && r.relativeEffect !== 0 ? (good ? 'better' : 'worse') : 'flat';
  }

  const analysis: Analysis = {
    decision: 'keep-running',
    reasons: [],
    srm,
    duplicateUnits,
    repeatedUnits,
    unknownVariants,
    units: control.units + treatment.units,
    usersNeeded: 0,
    metrics: results,
  };
  decide(e, analysis);
  return analysis;
}

/**
 * The decision rule, in order:
 * 1. invalid: sample ratio mismatch, units in more than one variant, an arm without data, or a primary
 *    metric that cannot be computed;
 * 2. dont-ship: the primary metric is significantly worse, or a guardrail is proven worse than its margin;
 * 3. ship: the primary metric is significantly better and every guardrail is proven non-inferior;
 * 4. keep-running: fewer units than needed to detect the minimum effect on the primary metric or to
 *    settle the guardrails (usersNeeded says how many more);
 * 5. dont-ship: enough units, and still no significant improvement or an unsettled guardrail.
 */
function decide(e: Experiment, a: Analysis): void {
  const primary = a.metrics.find((m) => m.role === 'primary')!;
  const guardrails = a.metrics.filter((m) => m.role === 'guardrail');
  const invalid: string[] = [];
  if (a.srm.alert) {
    const shares = Object.entries(a.srm.observed)
      .map(([v, n]) => `${v}=${n}`)
      .join(', ');
    invalid.push(
      `sample ratio mismatch: units ${shares} against the configured split (χ² p = ${a.srm.pValue.toExponential(2)} < ${e['srm-alpha']})`,
    );
  }
  if (a.duplicateUnits > 0) invalid.push(`${a.duplicateUnits} unit(s) appear in more than one variant`);
  if (a.repeatedUnits > 0) {
    invalid.push(
      `${a.repeatedUnits} unit(s) have several rows in per-user data (one row per unit, or granularity: event)`,
    );
  }
  for (const arm of [primary.control, primary.treatment]) {
    if (arm.units === 0) invalid.push(`variant '${arm.variant}' has no units in the data`);
  }
  if (primary.outcome === 'untestable' && !invalid.some((r) => r.includes('has no units'))) {
    invalid.push(`primary metric '${primary.name}' cannot be computed: ${primary.error}`);
  }
  for (const g of guardrails) {
    if (g.outcome === 'untestable' && g.control.units > 0 && g.treatment.units > 0) {
      invalid.push(`guardrail '${g.name}' cannot be computed: ${g.error}`);
    }
  }
  if (invalid.length > 0) {
    a.decision = 'invalid';
    a.reasons = invalid;
    return;
  }
  const failed = guardrails.filter((g) => g.nonInferiority?.status === 'fail');
  if (primary.outcome === 'worse' || failed.length > 0) {
    a.decision = 'dont-ship';
    if (primary.outcome === 'worse')
      a.reasons.push(`primary metric '${primary.name}' is significantly worse`);
    for (const g of failed)
      a.reasons.push(`guardrail '${g.name}' is worse than its ${formatMargin(g.nonInferiority!)} margin`);
    return;
  }
  const unsettled = guardrails.filter((g) => g.nonInferiority?.status !== 'pass');
  if (primary.outcome === 'better' && unsettled.length === 0) {
    a.decision = 'ship';
    a.reasons.push(`primary metric '${primary.name}' improved significantly`);
    if (guardrails.length > 0)
      a.reasons.push(`every guardrail is non-inferior (${guardrails.map((g) => g.name).join(', ')})`);
    return;
  }
  const wanted = [
    primary.outcome === 'better' ? 0 : (primary.requiredUnits ?? 0),
    ...unsettled.map((g) => g.requiredUnits ?? 0),
  ];
  const needed = Math.max(...wanted);
  if (needed > a.units) {
    a.decision = 'keep-running';
    a.usersNeeded = Number.isFinite(needed) ? needed - a.units : Number.POSITIVE_INFINITY;
    if (primary.outcome !== 'better')
      a.reasons.push(`primary metric '${primary.name}' is not significant yet`);
    for (const g of unsettled) a.reasons.push(`guardrail '${g.name}' is not yet proven non-inferior`);
    a.reasons.push(
      Number.isFinite(needed)
        ? `about ${formatCount(a.usersNeeded)} more units are needed (${formatCount(needed)} in total) to detect the minimum effect with ${pct(e.power)} power`
        : 'the data cannot reach the configured power (no variance information)',
    );
    return;
  }
  a.decision = 'dont-ship';
  if (primary.outcome !== 'better') {
    const mde = e.metrics.find((m) => m.role === 'primary')!.mde ?? e.mde;
    a.reasons.push(
      `primary metric '${primary.name}' shows no significant improvement with enough units to detect ${pct(mde)}`,
    );
  }
  for (const g of unsettled)
    a.reasons.push(`guardrail '${g.name}' is not proven non-inferior with enough units`);
}

/** A margin as the report prints it: `2%` relative, `5` (in the metric's units) absolute. */
export function formatMargin(ni: { margin: number; scale: 'relative' | 'absolute' }): string {
  return ni.scale === 'relative' ? pct(ni.margin) : `${Number(ni.margin.toPrecision(4))} (absolute)`;
}

export function pct(x: number): string {
  return `${Number((x * 100).toPrecision(3))}%`;
}

export function formatCount(n: number): string {
  return Number.isFinite(n) ? Math.round(n).toLocaleString('en-US') : '∞';
}

/**
 * A configured variant that is absent from data holding other, unconfigured variant values is a
 * misnamed variant (an error); an arm absent from otherwise matching data is missing data (invalid).
 */
export function missingVariants(e: Experiment, rows: VariantSums[]): string | undefined {
  const { byVariant } = totals(rows);
  const split = splitOf(e);
  const absent = [e.control, e.treatment].filter((v) => !byVariant.has(v));
  const others = [...byVariant.keys()].filter((v) => !(v in split));
  if (absent.length === 0 || others.length === 0) return undefined;
  const found = [...byVariant.entries()]
    .sort(([x], [y]) => x.localeCompare(y))
    .map(([v, r]) => `${v} (${formatCount(r.units)})`)
    .join(', ');
  const role = (v: string) => (v === e.control ? 'control' : 'treatment');
  return `variant ${absent.map((v) => `'${v}' (${role(v)})`).join(' and ')} is not in the data column '${e.variant}'; found: ${found}`;
}
