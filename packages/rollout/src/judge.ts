import { fisherExactGreater, mannWhitneyBinned, twoProportion } from './stats';

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
  /** Histogram bucket bounds and cumulative counts of both tracks (for Mann-Whitney). */
  buckets?: { bounds: number[]; canary: number[]; stable: number[] };
  /** Error and request counts of both tracks (for the two-proportion test). */
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

const fmt = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)).toString() : String(v));

function defaultMinEffect(test: StatTest): number {
  return test === 'mann-whitney' ? 0.05 : 0.005;
}

/** Judges one metric over one window: every rule it has, each pass/fail/inconclusive. */
export function judgeMetric(spec: MetricSpec, m: Measurement, options: JudgeOptions): MetricResult {
  const rules: RuleResult[] = [];
  const worseUp = !spec.higherIsBetter;
  const known = Number.isFinite(m.canary);
  if (spec.max !== undefined) {
    rules.push(
      known
        ? {
            rule: `≤ ${fmt(spec.max)}`,
            verdict: m.canary <= spec.max ? 'pass' : 'fail',
            detail: `canary ${fmt(m.canary)}`,
          }
        : {
            rule: `≤ ${fmt(spec.max)}`,
            verdict: 'inconclusive',
            detail: 'no canary value (no traffic or no series)',
          },
    );
  }
  if (spec.min !== undefined) {
    rules.push(
      known
        ? {
            rule: `≥ ${fmt(spec.min)}`,
            verdict: m.canary >= spec.min ? 'pass' : 'fail',
            detail: `canary ${fmt(m.canary)}`,
          }
        : {
            rule: `≥ ${fmt(spec.min)}`,
            verdict: 'inconclusive',
            detail: 'no canary value (no traffic or no series)',
          },
    );
  }
  const relative = (ratio: number, upper: boolean) => {
    const rule = `${upper ? '≤' : '≥'} stable × ${fmt(ratio)}`;
    if (!known || !Number.isFinite(m.stable)) {
      return { rule, verdict: 'inconclusive' as const, detail: 'canary or stable value missing' };
    }
    const bound = m.stable * ratio;
    // Equal values pass even when both are 0 (no errors on either track).
    const ok = upper ? m.canary <= bound : m.canary >= bound;
    return {
      rule,
      verdict: ok ? ('pass' as const) : ('fail' as const),
      detail: `canary ${fmt(m.canary)} vs ${fmt(bound)}`,
    };
  };
  if (spec.maxRatio !== undefined) rules.push(relative(spec.maxRatio, true));
  if (spec.minRatio !== undefined) rules.push(relative(spec.minRatio, false));
  if (spec.test === 'mann-whitney') {
    const floor = spec.minEffect ?? defaultMinEffect('mann-whitney');
    const rule = `Mann-Whitney p < ${fmt(options.alpha)}, effect ≥ ${fmt(floor)}`;
    if (!m.buckets) {
      rules.push({ rule, verdict: 'inconclusive', detail: 'no histogram buckets' });
    } else {
      const canaryBins = toBins(m.buckets.canary);
      const stableBins = toBins(m.buckets.stable);
      const n1 = sum(canaryBins);
      const n2 = sum(stableBins);
      if (n1 < options.minSamples || n2 < options.minSamples) {
        rules.push({
          rule,
          verdict: 'inconclusive',
          detail: `too few observations (canary ${n1}, stable ${n2})`,
        });
      } else {
        const r = mannWhitneyBinned(canaryBins, stableBins, { alternative: worseUp ? 'greater' : 'less' });
        const effect = worseUp ? r.effect - 0.5 : 0.5 - r.effect;
        const worse = r.p < options.alpha && effect >= floor;
        rules.push({
          rule,
          verdict: worse ? 'fail' : 'pass',
          detail: `p=${r.p.toExponential(2)}, P(canary worse)=${fmt(0.5 + effect)}, n=${n1}/${n2}`,
        });
      }
    }
  }
  if (spec.test === 'two-proportion') {
    const floor = spec.minEffect ?? defaultMinEffect('two-proportion');
    const rule = `two-proportion p < ${fmt(options.alpha)}, difference ≥ ${fmt(floor)}`;
    const c = m.counts;
    if (!c || c.canaryTotal < options.minSamples || c.stableTotal < options.minSamples) {
      rules.push({
        rule,
        verdict: 'inconclusive',
        detail: `too few requests (canary ${c ? fmt(c.canaryTotal) : 0}, stable ${c ? fmt(c.stableTotal) : 0})`,
      });
    } else {
      const x1 = Math.round(c.canaryErrors);
      const n1 = Math.round(c.canaryTotal);
      const x2 = Math.round(c.stableErrors);
      const n2 = Math.round(c.stableTotal);
      const r = twoProportion(x1, n1, x2, n2, worseUp ? 'greater' : 'less');
      // The z-test holds when every cell of the 2×2 table expects 5 or more; below that it aborts healthy
      // canaries far more often than alpha says, so the exact test decides.
      const pooled = (x1 + x2) / (n1 + n2);
      const smallest = Math.min(n1 * pooled, n1 * (1 - pooled), n2 * pooled, n2 * (1 - pooled));
      const exact = smallest < 5;
      const p = exact
        ? worseUp
          ? fisherExactGreater(x1, n1, x2, n2)
          : fisherExactGreater(n1 - x1, n1, n2 - x2, n2)
        : r.p;
      const diff = worseUp ? r.p1 - r.p2 : r.p2 - r.p1;
      const worse = p < options.alpha && diff >= floor;
      rules.push({
        rule,
        verdict: worse ? 'fail' : 'pass',
        detail: `p=${p.toExponential(2)}${exact ? ' (Fisher exact)' : ''}, ${fmt(r.p1)} vs ${fmt(r.p2)}`,
      });
    }
  }
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
 * Judges a window: too little traffic on either track is inconclusive whatever the metrics say (a
 * minimum-sample guard); otherwise any failing metric fails the window, any inconclusive one makes it
 * inconclusive. Technical and business metrics also get a verdict of their own, for the report.
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
    return {
      ...base,
      verdict: 'inconclusive',
      reason: `too little traffic: ${fmt(samples.canaryRequests)} canary and ${fmt(samples.stableRequests)} stable requests, ${options.minSamples} needed on each`,
    };
  }
  const failed = metrics.filter((m) => m.verdict === 'fail');
  if (failed.length > 0) {
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

function toBins(cumulative: number[]): number[] {
  const out: number[] = [];
  let previous = 0;
  for (const value of cumulative) {
    // increase() extrapolates, so counts are fractional: round to whole requests.
    const v = Math.round(value);
    out.push(Math.max(0, v - previous));
    previous = Math.max(previous, v);
  }
  return out;
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

export { fmt as formatValue };
