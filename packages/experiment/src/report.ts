import { codeBlock, escapeMarkdown, mermaidString, table } from '@mlops-actions/report';
import { type Analysis, type Decision, formatCount, formatMargin, type MetricResult } from './analyze';
import type { Experiment } from './config';

const BADGES: Record<Decision, string> = {
  ship: '✅ **ship**',
  'dont-ship': '⛔ **don’t ship**',
  'keep-running': '⏳ **keep running**',
  invalid: '⚠️ **invalid**',
};

function num(x: number | null | undefined, digits = 4): string {
  if (x === null || x === undefined || !Number.isFinite(x)) return '–';
  const abs = Math.abs(x);
  if (abs !== 0 && (abs < 1e-3 || abs >= 1e6)) return x.toExponential(2);
  return String(Number(x.toPrecision(digits)));
}

function signedPct(x: number | null): string {
  if (x === null || !Number.isFinite(x)) return '–';
  return `${x >= 0 ? '+' : ''}${(x * 100).toFixed(2)}%`;
}

function pValue(p: number | null): string {
  if (p === null) return '–';
  return p < 1e-4 ? p.toExponential(1) : p.toFixed(4);
}

const OUTCOME: Record<MetricResult['outcome'], string> = {
  better: '🟢 better',
  worse: '🔴 worse',
  flat: '⚪ not significant',
  untestable: '⚠️ untestable',
};

function outcomeCell(m: MetricResult): string {
  if (m.role === 'guardrail' && m.nonInferiority) {
    const s = m.nonInferiority.status;
    const label = s === 'pass' ? '🟢 non-inferior' : s === 'fail' ? '🔴 inferior' : '⚪ inconclusive';
    return `${label} (margin ${formatMargin(m.nonInferiority)})`;
  }
  return OUTCOME[m.outcome];
}

function metricRows(metrics: MetricResult[], e: Experiment): string[][] {
  return metrics.map((m) => [
    `${escapeMarkdown(m.name)}${m.direction === 'decrease' ? ' ↓' : ''}`,
    m.role,
    num(m.control.mean),
    num(m.treatment.mean),
    m.relativeCi
      ? `${signedPct(m.relativeEffect)} [${signedPct(m.relativeCi[0])}, ${signedPct(m.relativeCi[1])}]`
      : '–',
    m.role === 'guardrail'
      ? pValue(m.nonInferiority?.pValue ?? null)
      : `${pValue(m.relativePValue)} (${pValue(m.adjustedPValue)})`,
    e.bayesian && m.bayesian ? `${(m.bayesian.chanceToWin * 100).toFixed(1)}%` : '–',
    m.error ? `⚠️ ${escapeMarkdown(m.error)}` : outcomeCell(m),
  ]);
}

/** A Mermaid bar of each metric's relative effect (%), with its interval bounds as two lines. */
export function effectChart(metrics: MetricResult[], alpha: number): string {
  const drawable = metrics.filter(
    (m) => m.relativeCi && Number.isFinite(m.relativeCi[0]) && Number.isFinite(m.relativeCi[1]),
  );
  if (drawable.length === 0) return '';
  const v = (x: number) => String(Number((x * 100).toPrecision(4)));
  const lows = drawable.map((m) => v(m.relativeCi![0]));
  const highs = drawable.map((m) => v(m.relativeCi![1]));
  const min = Math.min(0, ...drawable.map((m) => m.relativeCi![0] * 100));
  const max = Math.max(0, ...drawable.map((m) => m.relativeCi![1] * 100));
  const pad = (max - min) * 0.1 || 1;
  return [
    '```mermaid',
    'xychart-beta',
    `  title ${mermaidString(`Relative effect (%) with ${Math.round((1 - alpha) * 100)}% intervals`)}`,
    `  x-axis [${drawable.map((m) => mermaidString(m.name)).join(', ')}]`,
    `  y-axis ${mermaidString('relative effect (%)')} ${num(min - pad, 3)} --> ${num(max + pad, 3)}`,
    `  bar [${drawable.map((m) => v(m.relativeEffect!)).join(', ')}]`,
    `  line [${lows.join(', ')}]`,
    `  line [${highs.join(', ')}]`,
    '```',
    '',
    '_Bars: relative effect of the treatment; lines: lower and upper interval bounds._',
  ].join('\n');
}

export function renderReport(e: Experiment, a: Analysis, options: { sql?: string } = {}): string {
  const title = e.name
    ? `A/B test ${escapeMarkdown(e.name)}`
    : `A/B test ${escapeMarkdown(e.treatment)} vs ${escapeMarkdown(e.control)}`;
  const lines: string[] = [`## ${title}: ${BADGES[a.decision]}`, ''];
  for (const reason of a.reasons) lines.push(`- ${escapeMarkdown(reason)}`);
  lines.push('');
  const srm = Object.entries(a.srm.observed)
    .map(([v, n]) => `${escapeMarkdown(v)}: ${formatCount(n)} (expected ${formatCount(a.srm.expected[v]!)})`)
    .join(', ');
  lines.push(
    `**Units** ${srm}. Sample ratio check χ² p = ${pValue(a.srm.pValue)}${a.srm.alert ? ' ⚠️ mismatch' : ''}.`,
  );
  if (a.duplicateUnits > 0) {
    lines.push(`**${formatCount(a.duplicateUnits)} units appear in more than one variant.**`);
  }
  if (a.repeatedUnits > 0)
    lines.push(`**${formatCount(a.repeatedUnits)} units have several rows** in per-user data.`);
  const unknown = Object.entries(a.unknownVariants);
  if (unknown.length > 0) {
    lines.push(
      `Variants outside the split, ignored: ${unknown.map(([v, n]) => `${escapeMarkdown(v)} (${formatCount(n)})`).join(', ')}.`,
    );
  }
  if (a.decision === 'keep-running' && a.usersNeeded > 0)
    lines.push(`**Units still needed:** about ${formatCount(a.usersNeeded)}.`);
  const method = e.sequential
    ? e['sequential-method'] === 'group-sequential'
      ? `Group-sequential test at look ${e.look} of ${e.looks} (Lan-DeMets ${e.spending === 'pocock' ? 'Pocock' : "O'Brien-Fleming"} alpha spending: repeated confidence intervals and repeated p-values; units needed are fixed-horizon), α = ${e.alpha}`
      : `Sequential testing (always-valid confidence sequences, tuning ${e['sequential-tuning']}), α = ${e.alpha}`
    : `Fixed-horizon tests, α = ${e.alpha}`;
  const correction =
    e.correction === 'none'
      ? 'no multiple-testing correction'
      : `in brackets the same p-values ${e.correction === 'holm' ? 'Holm' : 'Benjamini–Hochberg'}-adjusted over the primary and secondary metrics`;
  lines.push(
    `${method}. p is the p-value of the relative effect (delta method), the one that agrees with the interval beside it; ${correction}. Absolute effects, intervals and p-values are in the \`results\` output.`,
    '',
  );
  const headers = [
    'metric',
    'role',
    e.control,
    e.treatment,
    'relative effect [CI]',
    'p (adj.)',
    'chance to win',
    'outcome',
  ].map((h, i) => (i === 2 || i === 3 ? escapeMarkdown(h) : h));
  const groups = [...new Set(a.metrics.map((m) => m.group))];
  for (const group of groups) {
    const metrics = a.metrics.filter((m) => m.group === group);
    lines.push(`### ${escapeMarkdown(group[0]!.toUpperCase() + group.slice(1))} metrics`, '');
    lines.push(
      table(headers, metricRows(metrics, e), [
        'left',
        'left',
        'right',
        'right',
        'right',
        'right',
        'right',
        'left',
      ]),
      '',
    );
  }
  if (a.metrics.some((m) => m.role === 'guardrail')) {
    lines.push('_Guardrails: p is the one-sided non-inferiority p-value against the margin._', '');
  }
  const warnings = a.metrics.filter((m) => m.warning).map((m) => `- ${escapeMarkdown(m.warning!)}`);
  if (warnings.length > 0) lines.push(...warnings, '');
  const chart = effectChart(a.metrics, e.alpha);
  if (chart) lines.push(chart, '');
  if (options.sql)
    lines.push(
      '<details><summary>Aggregation query</summary>',
      '',
      codeBlock(options.sql, 'sql'),
      '',
      '</details>',
    );
  return lines.join('\n');
}
