import { describe, expect, it } from 'vitest';
import type { RolloutResult } from '../src/phases';
import { renderReport } from '../src/report';

const hostile = 'p99|<img src=x onerror=alert(1)> @octocat\n```\n::add-mask::x';

function result(): RolloutResult {
  const metric = {
    name: hostile,
    class: 'latency',
    critical: false,
    canary: 0.2,
    stable: 0.1,
    verdict: 'fail',
    rules: [{ rule: 'max', verdict: 'fail', detail: `${hostile} above 0.15` }],
  };
  return {
    outcome: 'rolled-back',
    finalWeight: 0,
    reason: `metric ${hostile} failed`,
    startedAt: 0,
    endedAt: 1,
    windows: [
      {
        step: 1,
        weight: 10,
        window: 1,
        startedAt: 0,
        endedAt: 1,
        verdict: 'fail',
        reason: `${hostile} failed`,
        metrics: [metric],
        classes: {},
        hints: [],
      },
    ],
  } as unknown as RolloutResult;
}

describe('canary report with a hostile custom metric name (issue: injection)', () => {
  const markdown = renderReport(result(), { title: 'Canary', keyMetric: hostile });

  it('keeps HTML, mentions and table pipes of metric names inert', () => {
    expect(markdown).not.toContain('<img');
    // Inside a code fence a mention is text; outside, it must be escaped.
    const prose = markdown.replace(/```mermaid[\s\S]*?\n```/g, '');
    expect(prose).not.toMatch(/(?<!\\)@octocat/);
    const lastTable = markdown.split('\n').filter((l) => l.startsWith('| ') && l.includes('octocat'));
    expect(lastTable.length).toBeGreaterThan(0);
    for (const row of lastTable) expect(row.match(/(?<!\\)\|/g)).toHaveLength(7);
  });

  it('cannot close the Mermaid fence or break its title', () => {
    const title = markdown.split('\n').find((l) => l.includes('canary (first line)'))!;
    expect(title).toMatch(/^ {2}title "[^"`\n]*"$/);
    expect(markdown.split('\n').filter((l) => l.startsWith('```')).length % 2).toBe(0);
    expect(markdown.split('\n').some((l) => /^\s*::/.test(l))).toBe(false);
  });
});
