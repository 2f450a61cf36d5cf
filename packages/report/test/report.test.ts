import { describe, expect, it } from 'vitest';
import {
  barChart,
  codeBlock,
  diffMetrics,
  escapeMarkdown,
  inlineCode,
  lineChart,
  metricDirection,
  renderDiffTable,
  table,
} from '../src';

describe('markdown escaping', () => {
  it('neutralises table pipes, HTML and link syntax in untrusted text', () => {
    const hostile = 'acc|<img src=x onerror=alert(1)>[click](http://evil)\n| injected | row |';
    const cell = escapeMarkdown(hostile);
    expect(cell).not.toMatch(/(?<!\\)\|/);
    expect(cell).not.toContain('<');
    expect(cell).not.toContain('\n');
    expect(cell).not.toMatch(/(?<!\\)\[/);
    const rendered = table(['Metric', 'Value'], [[cell, '1']]);
    // A table row keeps exactly its 3 unescaped pipes.
    expect(rendered.split('\n')[2]!.match(/(?<!\\)\|/g)).toHaveLength(3);
  });

  it('inline code and code blocks cannot be closed by their content', () => {
    expect(inlineCode('a `b` c')).toBe('``a `b` c``');
    const block = codeBlock('x\n```\ny');
    expect(block.startsWith('````')).toBe(true);
    expect(block.endsWith('\n````')).toBe(true);
    // CommonMark: a closing fence is at least as long as the opening one, indented up to 3 spaces.
    const sql = 'select 1\n   `````\n<img src=x onerror=alert(1)> @octocat <!-- mlops-actions:x:y -->';
    const fenced = codeBlock(sql, 'sql');
    const opening = /^`+/.exec(fenced)![0];
    expect(opening.length).toBe(6);
    const inner = fenced.split('\n').slice(1, -1);
    expect(inner.every((line) => !new RegExp(`^ {0,3}\`{${opening.length},}\\s*$`).test(line))).toBe(true);
    const span = inlineCode('a ``` b ` c');
    expect(span.startsWith('````')).toBe(true);
    expect(span.slice(4, -4)).not.toMatch(/(?<!`)````(?!`)/);
  });
});

describe('metric direction', () => {
  it.each([
    ['accuracy', 'higher'],
    ['test.f1', 'higher'],
    ['val/roc_auc', 'higher'],
    ['train_loss', 'lower'],
    ['rmse', 'lower'],
    ['latency_p95_ms', 'lower'],
    ['rows.train', 'unknown'],
  ])('%s is %s-is-better', (name, direction) => {
    expect(metricDirection(name)).toBe(direction);
  });

  it('explicit lists win over the defaults, with globs', () => {
    expect(metricDirection('test.loss_reduction', { higherIsBetter: ['*reduction'] })).toBe('higher');
    expect(metricDirection('score', { lowerIsBetter: ['score'] })).toBe('lower');
  });
});

describe('metric diff', () => {
  it('gives direction-aware verdicts with absolute and relative change', () => {
    const rows = diffMetrics(
      { accuracy: 0.9, loss: 0.2, old: 1, same: 3 },
      { accuracy: 0.95, loss: 0.3, fresh: 2, same: 3 },
    );
    const by = Object.fromEntries(rows.map((r) => [r.name, r]));
    expect(by.accuracy!.verdict).toBe('better');
    expect(by.accuracy!.delta).toBeCloseTo(0.05, 12);
    expect(by.accuracy!.relative).toBeCloseTo(0.05 / 0.9, 12);
    expect(by.loss!.verdict).toBe('worse');
    expect(by.fresh!.verdict).toBe('new');
    expect(by.old!.verdict).toBe('removed');
    expect(by.same!.verdict).toBe('unchanged');
  });

  it('reports NaN and infinities as such, never as numbers', () => {
    const rows = diffMetrics({ f1: 0.5, loss: 1 }, { f1: Number.NaN, loss: Number.POSITIVE_INFINITY });
    expect(rows.find((r) => r.name === 'f1')!.verdict).toBe('invalid');
    expect(rows.find((r) => r.name === 'loss')!.verdict).toBe('worse');
    const md = renderDiffTable(rows);
    expect(md).toContain('| NaN |');
    expect(md).toContain('+Inf');
  });
});

describe('mermaid line chart', () => {
  it('draws steps as x values and quotes hostile titles', () => {
    const chart = lineChart([{ name: 'loss', points: [0.9, 0.5, 0.25].map((y, x) => ({ x, y })) }], {
      title: 'loss"\n```\n<script>',
    });
    expect(chart).toContain('xychart-beta');
    expect(chart).toContain('x-axis [0, 1, 2]');
    expect(chart).toContain('line [0.9, 0.5, 0.25]');
    expect(chart.split('\n').filter((l) => l.startsWith('```'))).toHaveLength(2);
    expect(chart).not.toContain('<script>');
  });

  it('draws one bar per category with quoted labels', () => {
    const chart = barChart(
      [
        { label: 'control', value: 0.1 },
        { label: 'treatment "B"', value: 0.12 },
      ],
      { title: 'conversion', yLabel: 'rate' },
    );
    expect(chart).toContain('x-axis ["control", "treatment B"]');
    expect(chart).toContain('y-axis "rate" 0 --> 0.12');
    expect(chart).toContain('bar [0.1, 0.12]');
  });

  it('returns nothing when no point can be drawn', () => {
    expect(lineChart([{ name: 'x', points: [{ x: 0, y: Number.NaN }] }], { title: 't' })).toBe('');
  });
});
