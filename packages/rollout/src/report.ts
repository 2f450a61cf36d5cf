import { escapeMarkdown, mermaidString } from '@mlops-actions/report';
import { formatValue } from './judge';
import type { RolloutResult, WindowRecord } from './phases';

const ICON: Record<string, string> = { pass: '✅', fail: '❌', inconclusive: '❔', error: '⚠️' };

/** Reasons and rule details carry metric names and Prometheus messages: untrusted text. */
function cell(text: string): string {
  return escapeMarkdown(text);
}

/** The report's JSON: every window with every metric, fit for the `report` output. */
export function reportJson(result: RolloutResult) {
  return {
    outcome: result.outcome,
    finalWeight: result.finalWeight,
    failedStep: result.failedStep ?? null,
    reason: result.reason,
    startedAt: new Date(result.startedAt).toISOString(),
    endedAt: new Date(result.endedAt).toISOString(),
    windows: result.windows.map((w) => ({
      step: w.step,
      weight: w.weight,
      window: w.window,
      verdict: w.verdict,
      classes: w.classes,
      reason: w.reason,
      startedAt: new Date(w.startedAt).toISOString(),
      endedAt: new Date(w.endedAt).toISOString(),
      hints: w.hints,
      metrics: w.metrics.map((m) => ({
        name: m.name,
        class: m.class,
        critical: m.critical,
        canary: Number.isFinite(m.canary) ? m.canary : null,
        stable: Number.isFinite(m.stable) ? m.stable : null,
        verdict: m.verdict,
        rules: m.rules,
      })),
    })),
  };
}

function stepRows(windows: WindowRecord[]): string[] {
  const byStep = new Map<number, WindowRecord[]>();
  for (const w of windows) byStep.set(w.step, [...(byStep.get(w.step) ?? []), w]);
  return [...byStep.entries()].map(([step, list]) => {
    const counts = (v: string) => list.filter((w) => w.verdict === v).length;
    const last = list[list.length - 1]!;
    const verdict = counts('fail') > 0 ? 'fail' : last.verdict;
    return `| ${step} | ${last.weight}% | ${list.length} | ${counts('pass')} / ${counts('fail')} / ${counts('inconclusive')} / ${counts('error')} | ${ICON[verdict] ?? ''} ${verdict} | ${cell(last.reason)} |`;
  });
}

function chartNumber(v: number): string {
  return Number.isFinite(v) ? String(Number(v.toPrecision(4))) : '0';
}

/** A Mermaid xychart of the canary weight per window, and one of a key metric, canary against stable. */
export function mermaidCharts(result: RolloutResult, keyMetric?: string): string {
  if (result.windows.length === 0) return '';
  const labels = result.windows.map((w) => `"s${w.step}w${w.window}"`).join(', ');
  const out = [
    '```mermaid',
    'xychart-beta',
    '  title "Canary weight (%) per window"',
    `  x-axis [${labels}]`,
    '  y-axis "weight %" 0 --> 100',
    `  bar [${result.windows.map((w) => w.weight).join(', ')}]`,
    '```',
  ];
  const name = keyMetric ?? result.windows.find((w) => w.metrics.length > 0)?.metrics[0]?.name;
  if (name) {
    const values = result.windows.map((w) => w.metrics.find((m) => m.name === name));
    if (values.some((m) => m && Number.isFinite(m.canary))) {
      out.push(
        '',
        '```mermaid',
        'xychart-beta',
        `  title ${mermaidString(`${name}: canary (first line) and stable (second line)`)}`,
        `  x-axis [${labels}]`,
        `  line [${values.map((m) => chartNumber(m?.canary ?? Number.NaN)).join(', ')}]`,
        `  line [${values.map((m) => chartNumber(m?.stable ?? Number.NaN)).join(', ')}]`,
        '```',
      );
    }
  }
  return out.join('\n');
}

const OUTCOME: Record<string, string> = {
  promoted: '✅ promoted to 100%',
  'rolled-back': '↩️ rolled back to 100% stable',
  paused: '⏸️ paused',
  inconclusive: '❔ inconclusive: not promoted, stable has all traffic',
};

/** Markdown for the job summary and the PR comment. */
export function renderReport(result: RolloutResult, o: { title: string; keyMetric?: string }): string {
  const lines = [
    `### ${o.title}: ${OUTCOME[result.outcome] ?? result.outcome}`,
    '',
    `${escapeMarkdown(result.reason)}. Final canary weight: **${result.finalWeight}%**${result.failedStep ? `; failed at step ${result.failedStep.index} (${result.failedStep.weight}%)` : ''}.`,
  ];
  if (result.windows.length > 0) {
    lines.push(
      '',
      '| step | weight | windows | pass / fail / inconclusive / error | verdict | last reason |',
      '| --- | --- | --- | --- | --- | --- |',
      ...stepRows(result.windows),
      '',
      mermaidCharts(result, o.keyMetric),
    );
    const last = result.windows[result.windows.length - 1]!;
    if (last.metrics.length > 0) {
      lines.push(
        '',
        `<details><summary>Metrics of the last window (step ${last.step}, ${last.weight}%)</summary>`,
        '',
        '| metric | class | canary | stable | rules | verdict |',
        '| --- | --- | --- | --- | --- | --- |',
        ...last.metrics.map(
          (m) =>
            `| ${escapeMarkdown(m.name)}${m.critical ? ' (critical)' : ''} | ${m.class} | ${formatValue(m.canary)} | ${formatValue(m.stable)} | ${cell(m.rules.map((r) => `${r.rule}: ${r.verdict} (${r.detail})`).join('; '))} | ${ICON[m.verdict]} ${m.verdict} |`,
        ),
        '',
        '</details>',
      );
    }
  }
  return lines.join('\n');
}
