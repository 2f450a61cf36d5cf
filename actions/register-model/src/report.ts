import { escapeMarkdown, inlineCode, table } from '@mlops-actions/report';
import type { HistoryEntry } from '@mlops-actions/store';
import { type GateResult, renderGateTable } from './gates';
import type { Target } from './promotion';

export interface SummaryInput {
  inputs: { action: string; 'model-name': string; 'gate-mode': string; 'promote-to'?: string };
  result: { version: string; 'model-uri': string; digest: string; history: HistoryEntry[] };
  gate: GateResult;
  gateRan: boolean;
  created: boolean;
  registry: string;
  target?: Target;
  before?: string;
  moved?: HistoryEntry;
}

const shown = (v: string | undefined) => (v === undefined ? '—' : v);

/** The history table: who moved what, when, why, from which run. Strings from users are escaped. */
export function renderHistory(history: HistoryEntry[], last = 10): string {
  if (history.length === 0) return '_No promotions yet._';
  return table(
    ['When', 'Who', 'Action', 'Alias', 'From → to', 'Reason', 'Run'],
    history
      .slice(-last)
      .reverse()
      .map((h) => [
        escapeMarkdown(h.time),
        escapeMarkdown(h.actor),
        h.action,
        inlineCode(h.alias),
        `${shown(h.from)} → ${h.to}`,
        escapeMarkdown(h.reason || '—'),
        h.runUrl && /^https:\/\/[^\s)]+$/.test(h.runUrl) ? `[run](${h.runUrl})` : '—',
      ]),
  );
}

export function buildSummary(s: SummaryInput): string {
  const name = s.inputs['model-name'];
  const verdict = !s.gateRan ? '' : s.gate.passed ? ' ✅ gates passed' : ' ❌ gates failed';
  const lines = [`### Register model: ${inlineCode(name)} version ${s.result.version}${verdict}`, ''];
  const what =
    s.inputs.action === 'register'
      ? s.created
        ? `Registered a new version on ${inlineCode(s.registry)}.`
        : `The run was already registered as version ${s.result.version} on ${inlineCode(s.registry)}: nothing new was created.`
      : s.inputs.action === 'promote'
        ? `Promoting an existing version on ${inlineCode(s.registry)}.`
        : `Rolling back on ${inlineCode(s.registry)}.`;
  lines.push(what, '', `- Model URI: ${inlineCode(s.result['model-uri'])}`);
  if (s.result.digest) lines.push(`- Digest: ${inlineCode(s.result.digest)}`);
  if (s.target) {
    if (s.moved)
      lines.push(`- ${escapeMarkdown(s.target.label)}: ${shown(s.moved.from)} → **${s.moved.to}**`);
    else if (s.before === s.result.version)
      lines.push(`- ${escapeMarkdown(s.target.label)} already points at version ${s.result.version}`);
    else lines.push(`- ${escapeMarkdown(s.target.label)} left at ${shown(s.before)} (gates failed)`);
  }
  if (s.gateRan) {
    lines.push('', `#### Gates (${s.inputs['gate-mode']})`, '', renderGateTable(s.gate));
  }
  if (s.target) lines.push('', '#### Promotion history (latest first)', '', renderHistory(s.result.history));
  return lines.join('\n');
}
