import { escapeMarkdown, formatNumber, table } from './markdown';

export type Direction = 'higher' | 'lower' | 'unknown';
export type Verdict = 'better' | 'worse' | 'unchanged' | 'new' | 'removed' | 'changed' | 'invalid';

export interface DirectionRules {
  /** Metric names (or trailing name parts, glob `*` allowed) where a larger value is better. */
  higherIsBetter?: string[];
  lowerIsBetter?: string[];
}

const DEFAULT_HIGHER = [
  'acc',
  'accuracy',
  'balanced_accuracy',
  'f1',
  'f1_score',
  'fbeta',
  'precision',
  'recall',
  'auc',
  'roc_auc',
  'pr_auc',
  'average_precision',
  'ap',
  'map',
  'r2',
  'r2_score',
  'iou',
  'miou',
  'dice',
  'bleu',
  'rouge',
  'ndcg',
  'mrr',
  'hit_rate',
  'top1',
  'top5',
  'top_1',
  'top_5',
  'specificity',
  'sensitivity',
  'mcc',
  'kappa',
  'explained_variance',
  'throughput',
  'qps',
  'rps',
  'score',
];
const DEFAULT_LOWER = [
  'loss',
  'error',
  'err',
  'mse',
  'rmse',
  'mae',
  'mape',
  'smape',
  'logloss',
  'log_loss',
  'cross_entropy',
  'perplexity',
  'latency',
  'latency_ms',
  'p50',
  'p90',
  'p95',
  'p99',
  'duration',
  'time',
  'seconds',
  'ms',
  'fpr',
  'fnr',
  'false_positive_rate',
  'false_negative_rate',
  'brier',
  'brier_score',
  'wer',
  'cer',
  'memory',
  'size',
  'size_bytes',
  'cost',
];

function globMatch(pattern: string, name: string): boolean {
  const re = new RegExp(
    `^${pattern
      .split('*')
      .map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
    'i',
  );
  return re.test(name);
}

/** The words of a metric name: `val/f1_macro` → [`val`, `f1`, `macro`] plus the last path segment whole. */
function nameParts(name: string): string[] {
  const last = name.split(/[./]/).pop() ?? name;
  return [name, last, ...last.split(/[_\-\s]/)].map((p) => p.toLowerCase()).filter(Boolean);
}

/**
 * Which way is good for a metric: explicit rules first (whole name, then its last segment), then the
 * defaults for common names (accuracy, f1, auc, loss, rmse, latency…); `unknown` when nothing matches.
 */
export function metricDirection(name: string, rules: DirectionRules = {}): Direction {
  const last = name.split(/[./]/).pop() ?? name;
  for (const candidate of [name, last]) {
    if (rules.higherIsBetter?.some((p) => globMatch(p, candidate))) return 'higher';
    if (rules.lowerIsBetter?.some((p) => globMatch(p, candidate))) return 'lower';
  }
  const parts = nameParts(name);
  if (parts.slice(0, 2).some((p) => DEFAULT_LOWER.includes(p))) return 'lower';
  if (parts.slice(0, 2).some((p) => DEFAULT_HIGHER.includes(p))) return 'higher';
  if (parts.some((p) => DEFAULT_LOWER.includes(p))) return 'lower';
  if (parts.some((p) => DEFAULT_HIGHER.includes(p))) return 'higher';
  return 'unknown';
}

export interface MetricDiff {
  name: string;
  baseline?: number;
  current?: number;
  /** current − baseline, when both are finite. */
  delta?: number;
  /** delta / |baseline|, when the baseline is finite and non-zero. */
  relative?: number;
  direction: Direction;
  verdict: Verdict;
}

export interface DiffOptions extends DirectionRules {
  /** Relative changes smaller than this (e.g. 0.001 = 0.1%) count as unchanged. */
  tolerance?: number;
}

/** Compares two sets of metric values, one row per name present in either, in a stable order. */
export function diffMetrics(
  baseline: Record<string, number>,
  current: Record<string, number>,
  options: DiffOptions = {},
): MetricDiff[] {
  const tolerance = options.tolerance ?? 1e-9;
  const names = [...new Set([...Object.keys(current), ...Object.keys(baseline)])];
  return names.map((name) => {
    const b = baseline[name];
    const c = current[name];
    const direction = metricDirection(name, options);
    const row: MetricDiff = { name, baseline: b, current: c, direction, verdict: 'unchanged' };
    if (b === undefined) return { ...row, verdict: 'new' };
    if (c === undefined) return { ...row, verdict: 'removed' };
    if (Number.isNaN(c) && !Number.isNaN(b)) return { ...row, verdict: 'invalid' };
    if (Number.isNaN(c) && Number.isNaN(b)) return row;
    if (!Number.isFinite(b) || !Number.isFinite(c)) {
      if (b === c) return row;
      if (Number.isNaN(b)) return { ...row, verdict: 'changed' };
      const up = c > b;
      return { ...row, verdict: verdictOf(up ? 1 : -1, direction) };
    }
    const delta = c - b;
    const relative = b !== 0 ? delta / Math.abs(b) : undefined;
    const scale = Math.max(Math.abs(b), Math.abs(c), Number.MIN_VALUE);
    if (Math.abs(delta) / scale <= tolerance) return { ...row, delta, relative, verdict: 'unchanged' };
    return { ...row, delta, relative, verdict: verdictOf(Math.sign(delta), direction) };
  });
}

function verdictOf(sign: number, direction: Direction): Verdict {
  if (direction === 'unknown') return 'changed';
  return sign > 0 === (direction === 'higher') ? 'better' : 'worse';
}

const VERDICT_LABEL: Record<Verdict, string> = {
  better: '✅ better',
  worse: '❌ worse',
  unchanged: '➖ unchanged',
  new: '🆕 new',
  removed: '🗑️ removed',
  changed: '🔄 changed',
  invalid: '⚠️ not a number',
};

export function formatDelta(value: number | undefined): string {
  if (value === undefined) return '—';
  const text = formatNumber(value);
  return value > 0 ? `+${text}` : text;
}

export function formatPercent(value: number | undefined): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  const pct = value * 100;
  const text = Math.abs(pct) >= 100 ? pct.toFixed(0) : pct.toFixed(2);
  return `${pct > 0 ? '+' : ''}${text}%`;
}

/** The diff as a markdown table: metric, baseline, new, Δ, Δ%, verdict (names escaped). */
export function renderDiffTable(rows: MetricDiff[]): string {
  return table(
    ['Metric', 'Baseline', 'New', 'Δ', 'Δ %', 'Verdict'],
    rows.map((r) => [
      escapeMarkdown(r.name) + (r.direction === 'higher' ? ' ↑' : r.direction === 'lower' ? ' ↓' : ''),
      formatNumber(r.baseline),
      formatNumber(r.current),
      formatDelta(r.delta),
      formatPercent(r.relative),
      VERDICT_LABEL[r.verdict],
    ]),
    ['left', 'right', 'right', 'right', 'right', 'left'],
  );
}

/** A one-line tally such as `2 better, 1 worse, 3 unchanged`. */
export function summarizeVerdicts(rows: MetricDiff[]): string {
  const counts = new Map<Verdict, number>();
  for (const r of rows) counts.set(r.verdict, (counts.get(r.verdict) ?? 0) + 1);
  return [...counts.entries()].map(([v, n]) => `${n} ${v}`).join(', ');
}
