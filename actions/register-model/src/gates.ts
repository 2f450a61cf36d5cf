import { ActionError } from '@mlops-actions/kit';
import {
  type Direction,
  escapeMarkdown,
  formatNumber,
  inlineCode,
  metricDirection,
  table,
} from '@mlops-actions/report';

export type Operator = '>=' | '<=' | '>' | '<' | '==' | '!=';

export interface ThresholdGate {
  text: string;
  metric: string;
  op: Operator;
  value: number;
}

export interface ImprovementGate {
  text: string;
  metric: string;
  /** Required gain in the metric's good direction; negative = tolerated regression. */
  amount: number;
  relative: boolean;
  direction: Exclude<Direction, 'unknown'>;
}

export const GATE_GRAMMAR =
  "'<metric> <op> <number>' with op one of >= <= > < == != (e.g. 'test.accuracy >= 0.90', 'latency_p95_ms <= 50')";
export const IMPROVEMENT_GRAMMAR =
  "'<metric> +<number>' or '<metric> +<number>%', optionally followed by 'higher' or 'lower' for metrics whose direction cannot be told from the name (e.g. 'test.f1 +0.01', 'rmse +1%', 'score -0.5 higher')";

const METRIC = String.raw`[A-Za-z_][\w.\-/]*`;
const NUMBER = String.raw`[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?`;
const THRESHOLD_RE = new RegExp(String.raw`^(${METRIC})\s*(>=|<=|==|!=|>|<)\s*(${NUMBER})$`);
const IMPROVEMENT_RE = new RegExp(
  String.raw`^(${METRIC})\s+([-+](?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?)(%?)(?:\s+(higher|lower))?$`,
);

/** Parses `gates:` lines; the error shows the expression and the grammar. */
export function parseGates(lines: string[], input = 'gates'): ThresholdGate[] {
  return lines
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((text) => {
      const m = THRESHOLD_RE.exec(text);
      if (!m)
        throw new ActionError(`Input '${input}': cannot parse the gate '${text}'; expected ${GATE_GRAMMAR}`);
      return { text, metric: m[1]!, op: m[2] as Operator, value: Number(m[3]) };
    });
}

/** Parses `min-improvement:` lines; the direction comes from the name unless given. */
export function parseImprovements(lines: string[], input = 'min-improvement'): ImprovementGate[] {
  return lines
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((text) => {
      const m = IMPROVEMENT_RE.exec(text);
      if (!m)
        throw new ActionError(`Input '${input}': cannot parse '${text}'; expected ${IMPROVEMENT_GRAMMAR}`);
      const metric = m[1]!;
      const direction = (m[4] as 'higher' | 'lower' | undefined) ?? metricDirection(metric);
      if (direction === 'unknown')
        throw new ActionError(
          `Input '${input}': cannot tell whether higher or lower is better for '${metric}'; write '${metric} ${m[2]}${m[3]} higher' or '… lower'`,
        );
      return { text, metric, amount: Number(m[2]), relative: m[3] === '%', direction };
    });
}

export interface GateRow {
  metric: string;
  value: number;
  /** `>= 0.9`, or the champion comparison `≥ 0.91 (champion 0.90 +0.01)`. */
  expected: string;
  kind: 'threshold' | 'champion';
  passed: boolean;
  note?: string;
}

export interface GateResult {
  passed: boolean;
  rows: GateRow[];
  notes: string[];
}

export interface Champion {
  /** e.g. `champion → version 3`. */
  label: string;
  metrics: Record<string, number>;
}

function compare(value: number, op: Operator, bound: number): boolean {
  if (Number.isNaN(value)) return false;
  switch (op) {
    case '>=':
      return value >= bound;
    case '<=':
      return value <= bound;
    case '>':
      return value > bound;
    case '<':
      return value < bound;
    case '==':
      return value === bound;
    case '!=':
      return value !== bound;
  }
}

function metricOf(metrics: Record<string, number>, metric: string, gate: string): number {
  const value = metrics[metric];
  if (value === undefined) {
    const known = Object.keys(metrics).sort();
    throw new ActionError(
      `gate '${gate}': the run has no metric '${metric}' (it has ${known.length ? known.join(', ') : 'no metrics'})`,
    );
  }
  return value;
}

/**
 * Judges a candidate: every threshold, then every champion comparison (direction-aware). With no champion
 * (the first model ever) the comparisons pass with a note. A metric the candidate lacks is an error.
 */
export function evaluateGates(options: {
  thresholds: ThresholdGate[];
  improvements: ImprovementGate[];
  candidate: Record<string, number>;
  /** Undefined when no comparison was asked for. */
  compareTo?: string;
  champion?: Champion;
}): GateResult {
  const rows: GateRow[] = [];
  const notes: string[] = [];
  for (const gate of options.thresholds) {
    const value = metricOf(options.candidate, gate.metric, gate.text);
    rows.push({
      metric: gate.metric,
      value,
      expected: `${gate.op} ${formatNumber(gate.value, 6)}`,
      kind: 'threshold',
      passed: compare(value, gate.op, gate.value),
    });
  }
  if (options.compareTo !== undefined) {
    for (const gate of options.improvements) {
      const value = metricOf(options.candidate, gate.metric, gate.text);
      if (!options.champion) continue;
      const base = options.champion.metrics[gate.metric];
      if (base === undefined || Number.isNaN(base)) {
        rows.push({
          metric: gate.metric,
          value,
          expected: `${options.champion.label} has no value`,
          kind: 'champion',
          passed: true,
          note: `the ${options.champion.label} has no metric '${gate.metric}': not compared`,
        });
        notes.push(`The ${options.champion.label} has no metric '${gate.metric}', so it was not compared.`);
        continue;
      }
      const gain = gate.relative ? (Math.abs(base) * gate.amount) / 100 : gate.amount;
      const bound = gate.direction === 'higher' ? base + gain : base - gain;
      const op: Operator = gate.direction === 'higher' ? '>=' : '<=';
      const signed = `${gate.amount >= 0 ? '+' : ''}${formatNumber(gate.amount, 6)}${gate.relative ? '%' : ''}`;
      rows.push({
        metric: gate.metric,
        value,
        expected: `${op} ${formatNumber(bound, 6)} (${options.champion.label}: ${formatNumber(base, 6)} ${signed})`,
        kind: 'champion',
        passed: compare(value, op, bound),
      });
    }
    if (!options.champion)
      notes.push(
        `No model has the alias '${options.compareTo}' yet: this is the first model, so the champion comparison passes.`,
      );
  }
  return { passed: rows.every((r) => r.passed), rows, notes };
}

/** The gate table for the summary and the PR comment; metric names are escaped. */
export function renderGateTable(result: GateResult): string {
  if (result.rows.length === 0) return '_No gates were configured._';
  const body = table(
    ['Metric', 'Value', 'Threshold or champion', 'Result'],
    result.rows.map((r) => [
      inlineCode(r.metric),
      formatNumber(r.value, 6),
      escapeMarkdown(r.expected),
      r.passed ? '✅ pass' : '❌ fail',
    ]),
    ['left', 'right', 'left', 'left'],
  );
  return [body, ...result.notes.map((n) => `> ${escapeMarkdown(n)}`)].join('\n\n');
}

/**
 * Without `min-improvement`, a champion comparison asks for no regression on every thresholded metric, in
 * the direction its threshold points (`>=` higher is better, `<=` lower is better).
 */
export function noRegression(thresholds: ThresholdGate[]): ImprovementGate[] {
  const seen = new Set<string>();
  return thresholds.flatMap((g) => {
    if (seen.has(g.metric) || g.op === '==' || g.op === '!=') return [];
    seen.add(g.metric);
    const direction = g.op === '>=' || g.op === '>' ? 'higher' : 'lower';
    return [{ text: `${g.metric} +0`, metric: g.metric, amount: 0, relative: false, direction }];
  });
}
