import {
  binCounts,
  exceedsMargin,
  fisherExactGreater,
  mannWhitneyBinned,
  proportionDifference,
} from './stats';

export type MetricClass = 'technical' | 'business';
export type Verdict = 'pass' | 'fail' | 'inconclusive';
export type WindowVerdict = Verdict | 'error';
export type StatTest = 'mann-whitney' | 'two-proportion';

/** Built-in metrics computed from the request counter and the latency histogram. */
export const BUILTIN_METRICS = [
  'error-rate',
  'request-rate',
  'p50-latency',
  'p90-latency',
  'p95-latency',
  'p99-latency',
  'latency',
] as const;

export interface MetricSpec {
  name: string;
  class: MetricClass;
  /** Custom PromQL with `$selector` (the track's matchers) and `$window` (e.g. `30s`); built-ins have none. */
  query?: string;
  /**
   * A rate given as two counts (PromQL with `$selector` and `$window`, e.g. `sum(increase(…[$window]))`):
   * its value is numerator / denominator and the two-proportion test judges it on the denominator's sample.
   */
  numerator?: string;
  denominator?: string;
  /** Base name of a histogram of the metric's values (`<name>_bucket{le=…}`), for Mann-Whitney. */
  histogram?: string;
  /** Extra label matchers for this metric only, added to both tracks' selectors (e.g. `route="/predict"`). */
  selector?: string;
  min?: number;
  max?: number;
  /** canary ≥ stable × minRatio */
  minRatio?: number;
  /** canary ≤ stable × maxRatio */
  maxRatio?: number;
  test?: StatTest;
  /** Smallest effect that may fail: P(canary worse) − 0.5 for Mann-Whitney, the error-rate difference for proportions. */
  minEffect?: number;
  /** A fail of a critical metric rolls back at once, whatever failure-limit says. */
  critical?: boolean;
  /** Higher values are worse (latency, errors) unless said otherwise; business metrics are usually better higher. */
  higherIsBetter?: boolean;
}

/** What the provider measured for one metric over one window. */
export interface Measurement {
  canary: number;
  stable: number;
  /** Histogram bucket bounds and cumulative counts of both tracks (for Mann-Whitney and quantiles). */
  buckets?: { bounds: number[]; canary: number[]; stable: number[] };
  /**
   * Event and sample counts of both tracks (for the two-proportion test): errors and requests, or a
   * business rate's numerator and denominator.
   */
  counts?: { canaryErrors: number; canaryTotal: number; stableErrors: number; stableTotal: number };
}

export interface RuleResult {
  rule: string;
  verdict: Verdict;
  detail: string;
}

export interface MetricResult {
  name: string;
  class: MetricClass;
  critical: boolean;
  canary: number;
  stable: number;
  verdict: Verdict;
  rules: RuleResult[];
}

export interface JudgeOptions {
  /** Significance level of the statistical tests (one-sided: canary worse). */
  alpha: number;
  /** Fewer requests than this on either track makes a window inconclusive. */
  minSamples: number;
}

export interface WindowSamples {
  canaryRequests: number;
  stableRequests: number;
}

// toPrecision keeps NaN and ±Infinity as they are, so missing values print as such.
const fmt = (v: number) => Number(v.toPrecision(4)).toString();

function defaultMinEffect(test: StatTest): number {
  return test === 'mann-whitney' ? 0.05 : 0.005;
}

/** A bound on the canary's own value (`max`, `min`). */
function absoluteRule(m: Measurement, bound: number, upper: boolean): RuleResult {
  const rule = `${upper ? '≤' : '≥'} ${fmt(bound)}`;
  if (!Number.isFinite(m.canary)) {
    return { rule, verdict: 'inconclusive', detail: 'no canary value (no traffic or no series)' };
  }
  const ok = upper ? m.canary <= bound : m.canary >= bound;
  return { rule, verdict: ok ? 'pass' : 'fail', detail: `canary ${fmt(m.canary)}` };
}

/** A bound on the canary relative to stable over the same window (`max-ratio`, `min-ratio`). */
function relativeRule(m: Measurement, ratio: number, upper: boolean): RuleResult {
  const rule = `${upper ? '≤' : '≥'} stable × ${fmt(ratio)}`;
  if (!Number.isFinite(m.canary) || !Number.isFinite(m.stable)) {
    return { rule, verdict: 'inconclusive', detail: 'canary or stable value missing' };
  }
  const bound = m.stable * ratio;
  // Equal values pass even when both are 0 (no errors on either track).
  const ok = upper ? m.canary <= bound : m.canary >= bound;
  return { rule, verdict: ok ? 'pass' : 'fail', detail: `canary ${fmt(m.canary)} vs ${fmt(bound)}` };
}

/** Judges one metric over one window: every rule it has, each pass/fail/inconclusive. */
export function judgeMetric(spec: MetricSpec, m: Measurement, options: JudgeOptions): MetricResult {
  const rules: RuleResult[] = [];
  if (spec.max !== undefined) rules.push(absoluteRule(m, spec.max, true));
  if (spec.min !== undefined) rules.push(absoluteRule(m, spec.min, false));
  if (spec.maxRatio !== undefined) rules.push(relativeRule(m, spec.maxRatio, true));
  if (spec.minRatio !== undefined) rules.push(relativeRule(m, spec.minRatio, false));
  if (spec.test === 'mann-whitney') rules.push(mannWhitneyRule(spec, m, options));
  if (spec.test === 'two-proportion') rules.push(twoProportionRule(spec, m, options));
  const verdict: Verdict = rules.some((r) => r.verdict === 'fail')
    ? 'fail'
    : rules.some((r) => r.verdict === 'inconclusive') || rules.length === 0
      ? 'inconclusive'
      : 'pass';
  return {
    name: spec.name,
    class: spec.class,
    critical: spec.critical === true,
    canary: m.canary,
    stable: m.stable,
    verdict,
    rules,
  };
}

export interface WindowJudgement {
  verdict: Verdict;
  metrics: MetricResult[];
  /** Technical and business metrics judged apart (a class without metrics is absent). */
  classes: Partial<Record<MetricClass, Verdict>>;
  /** A critical metric failed: roll back now. */
  critical: boolean;
  reason: string;
}

/** The verdict of a group of metric results: any fail fails, else any inconclusive (or none) is inconclusive. */
export function combine(results: MetricResult[]): Verdict {
  if (results.some((m) => m.verdict === 'fail')) return 'fail';
  if (results.length === 0 || results.some((m) => m.verdict === 'inconclusive')) return 'inconclusive';
  return 'pass';
}

/**
 * A business metric with a statistical test counts its own sample (its denominator or its histogram),
 * whose guard the test applies itself: predictions can be scarce while HTTP traffic is plentiful, or the
 * other way round.
 */
function ownSample(spec: MetricSpec): boolean {
  return spec.class === 'business' && spec.test !== undefined;
}

function failure(base: Omit<WindowJudgement, 'verdict' | 'reason'>, failed: MetricResult[]): WindowJudgement {
  const byClass = (['technical', 'business'] as const)
    .map((c) => [c, failed.filter((m) => m.class === c).map((m) => m.name)] as const)
    .filter(([, names]) => names.length > 0)
    .map(([c, names]) => `${c} ${names.join(', ')}`);
  return {
    ...base,
    verdict: 'fail',
    critical: failed.some((m) => m.critical),
    reason: `failed: ${byClass.join('; ')}`,
  };
}

/**
 * Judges a window: too little traffic on either track is inconclusive whatever the metrics say (a
 * minimum-sample guard), except for a business metric judged on its own sample, which may fail it;
 * otherwise any failing metric fails the window, any inconclusive one makes it inconclusive. Technical and
 * business metrics also get a verdict of their own, for the report.
 */
export function judgeWindow(
  specs: MetricSpec[],
  measurements: Map<string, Measurement>,
  samples: WindowSamples,
  options: JudgeOptions,
): WindowJudgement {
  const metrics = specs.map((spec) => {
    const m = measurements.get(spec.name) ?? { canary: Number.NaN, stable: Number.NaN };
    return judgeMetric(spec, m, options);
  });
  const classes: WindowJudgement['classes'] = {};
  for (const group of ['technical', 'business'] as const) {
    const members = metrics.filter((m) => m.class === group);
    if (members.length > 0) classes[group] = combine(members);
  }
  const base = { metrics, classes, critical: false };
  if (!(samples.canaryRequests >= options.minSamples && samples.stableRequests >= options.minSamples)) {
    const failedOnOwnSample = metrics.filter((m, i) => m.verdict === 'fail' && ownSample(specs[i]!));
    if (failedOnOwnSample.length > 0) return failure(base, failedOnOwnSample);
    return {
      ...base,
      verdict: 'inconclusive',
      reason: `too little traffic: ${fmt(samples.canaryRequests)} canary and ${fmt(samples.stableRequests)} stable requests, ${options.minSamples} needed on each`,
    };
  }
  const failed = metrics.filter((m) => m.verdict === 'fail');
  if (failed.length > 0) return failure(base, failed);
  const unsure = metrics.filter((m) => m.verdict === 'inconclusive');
  if (unsure.length > 0) {
    return {
      ...base,
      verdict: 'inconclusive',
      reason: `inconclusive: ${unsure.map((m) => m.name).join(', ')}`,
    };
  }
  return { ...base, verdict: 'pass', reason: 'every metric passed' };
}

/**
 * Fails only when the histograms show the canary worse than stable by more than the margin: the lower
 * confidence bound of P(canary worse) − 0.5 (DeLong's standard error) must clear min-effect. A healthy
 * canary a little off stable from the load it gets passes, as in Kayenta; proving it no worse is not asked,
 * since a 10 % window rarely holds enough requests for that.
 */
function mannWhitneyRule(spec: MetricSpec, m: Measurement, options: JudgeOptions): RuleResult {
  const floor = spec.minEffect ?? defaultMinEffect('mann-whitney');
  const rule = `Mann-Whitney: P(canary worse) − 0.5 > ${fmt(floor)} at α=${fmt(options.alpha)}`;
  if (!m.buckets) return { rule, verdict: 'inconclusive', detail: 'no histogram buckets' };
  const canaryBins = toBins(m.buckets.canary);
  const stableBins = toBins(m.buckets.stable);
  const n1 = sum(canaryBins);
  const n2 = sum(stableBins);
  if (n1 < options.minSamples || n2 < options.minSamples) {
    return { rule, verdict: 'inconclusive', detail: `too few observations (canary ${n1}, stable ${n2})` };
  }
  const worseUp = !spec.higherIsBetter;
  const r = mannWhitneyBinned(canaryBins, stableBins);
  const effect = worseUp ? r.effect - 0.5 : 0.5 - r.effect;
  const test = exceedsMargin(effect, r.se, floor);
  return {
    rule,
    verdict: test.p < options.alpha ? 'fail' : 'pass',
    detail: `P(canary worse)=${fmt(0.5 + effect)} ± ${fmt(r.se)}, p=${test.p.toExponential(2)}, n=${n1}/${n2}`,
  };
}

/**
 * Fails only when the canary's share of events (errors, or for a business rate its numerator over its
 * denominator) is worse than stable's by more than min-effect: the Agresti-Caffo confidence bound of the
 * difference must clear it. With fewer than 5 expected in a cell of the 2×2 table the normal approximation
 * aborts healthy canaries more often than alpha says, so Fisher's exact test must agree as well.
 */
function twoProportionRule(spec: MetricSpec, m: Measurement, options: JudgeOptions): RuleResult {
  const floor = spec.minEffect ?? defaultMinEffect('two-proportion');
  const rule = `two-proportion: difference > ${fmt(floor)} at α=${fmt(options.alpha)}`;
  const c = m.counts;
  if (!c || c.canaryTotal < options.minSamples || c.stableTotal < options.minSamples) {
    return {
      rule,
      verdict: 'inconclusive',
      detail: `too few in the denominator (canary ${c ? fmt(c.canaryTotal) : 0}, stable ${c ? fmt(c.stableTotal) : 0}; ${options.minSamples} needed)`,
    };
  }
  const worseUp = !spec.higherIsBetter;
  const n1 = Math.round(c.canaryTotal);
  const n2 = Math.round(c.stableTotal);
  const x1 = Math.min(n1, Math.round(c.canaryErrors));
  const x2 = Math.min(n2, Math.round(c.stableErrors));
  // Judged on the "bad" outcome: errors, or the events a business rate misses when higher is better.
  const bad1 = worseUp ? x1 : n1 - x1;
  const bad2 = worseUp ? x2 : n2 - x2;
  const d = proportionDifference(bad1, n1, bad2, n2);
  const test = exceedsMargin(d.adjusted, d.se, floor);
  const pooled = (x1 + x2) / (n1 + n2);
  const smallest = Math.min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled));
  const exact = smallest < 5 ? fisherExactGreater(bad1, n1, bad2, n2) : undefined;
  const worse = test.p < options.alpha && (exact === undefined || exact < options.alpha);
  return {
    rule,
    verdict: worse ? 'fail' : 'pass',
    detail: `${fmt(x1 / n1)} vs ${fmt(x2 / n2)} (n=${n1}/${n2}), p=${test.p.toExponential(2)}${exact === undefined ? '' : `, Fisher exact p=${exact.toExponential(2)}`}`,
  };
}

/** increase() extrapolates, so counts are fractional: round to whole requests before binning. */
function toBins(cumulative: number[]): number[] {
  return binCounts(cumulative.map(Math.round));
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export { fmt as formatValue };
