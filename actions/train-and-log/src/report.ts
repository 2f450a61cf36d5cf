import {
  codeBlock,
  details,
  diffMetrics,
  escapeMarkdown,
  formatNumber,
  inlineCode,
  lineChart,
  type MetricDiff,
  renderDiffTable,
  summarizeVerdicts,
  table,
} from '@mlops-actions/report';
import type { BaselineRun } from '@mlops-actions/store';

export interface RunReport {
  status: 'FINISHED' | 'FAILED';
  runName: string;
  runId: string;
  experimentId: string;
  trackingUri: string;
  modelUri: string;
  paramsDigest: string;
  params: Record<string, string>;
  metrics: Record<string, number>;
  history: Record<string, Array<{ step: number; value: number }>>;
  baseline?: BaselineRun;
  baselineNote?: string;
  higherIsBetter: string[];
  lowerIsBetter: string[];
  error?: string;
  cellError?: string;
  logTail?: string[];
}

const MAX_CHARTS = 6;

export function buildReport(r: RunReport): { markdown: string; diff: MetricDiff[] } {
  const parts: string[] = [];
  const icon = r.status === 'FINISHED' ? '✅' : '❌';
  parts.push(
    `### ${icon} Training run ${inlineCode(r.runName)} ${r.status === 'FINISHED' ? 'finished' : 'failed'}`,
  );
  parts.push(
    table(
      ['Run', 'Experiment', 'Tracking', 'Model', 'Params digest'],
      [
        [
          inlineCode(r.runId),
          inlineCode(r.experimentId),
          escapeMarkdown(r.trackingUri),
          r.modelUri ? inlineCode(r.modelUri) : '—',
          inlineCode(r.paramsDigest.slice(0, 19)),
        ],
      ],
    ),
  );
  if (r.error) parts.push(`**Error:** ${escapeMarkdown(r.error)}`);
  if (r.cellError) parts.push(`**Failing notebook cell:**\n\n${codeBlock(r.cellError, 'python')}`);
  if (r.logTail?.length)
    parts.push(details('Last lines of the training output', codeBlock(r.logTail.join('\n'))));
  let diff: MetricDiff[] = [];
  if (Object.keys(r.metrics).length > 0) {
    if (r.baseline) {
      diff = diffMetrics(r.baseline.metrics, r.metrics, {
        higherIsBetter: r.higherIsBetter,
        lowerIsBetter: r.lowerIsBetter,
      });
      parts.push(
        `#### Metrics against ${escapeMarkdown(r.baseline.label)}\n\n${summarizeVerdicts(diff)}\n\n${renderDiffTable(diff)}`,
      );
    } else {
      parts.push(
        `#### Metrics${r.baselineNote ? ` (${escapeMarkdown(r.baselineNote)})` : ''}\n\n${table(
          ['Metric', 'Value'],
          Object.entries(r.metrics).map(([k, v]) => [escapeMarkdown(k), formatNumber(v)]),
          ['left', 'right'],
        )}`,
      );
    }
  }
  const histories = Object.entries(r.history).filter(([, points]) => points.length > 1);
  for (const [name, points] of histories.slice(0, MAX_CHARTS)) {
    const chart = lineChart([{ name, points: points.map((p) => ({ x: p.step, y: p.value })) }], {
      title: name,
      xLabel: 'step',
    });
    if (chart) parts.push(chart);
  }
  if (histories.length > MAX_CHARTS)
    parts.push(`_${histories.length - MAX_CHARTS} more metric histories are in the run._`);
  const params = Object.entries(r.params);
  if (params.length > 0) {
    parts.push(
      details(
        `Params (${params.length})`,
        table(
          ['Param', 'Value'],
          params.map(([k, v]) => [
            escapeMarkdown(k),
            escapeMarkdown(v.length > 200 ? `${v.slice(0, 200)}…` : v),
          ]),
        ),
      ),
    );
  }
  return { markdown: parts.join('\n\n'), diff };
}
