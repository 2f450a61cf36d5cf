import { ActionError, type HttpClient } from '@mlops-actions/kit';

export interface LabelMatcher {
  label: string;
  op: '=' | '!=' | '=~' | '!~';
  value: string;
}

/** An alert that aborts the rollout while firing: all its matchers must hold. */
export type AlertSelector = LabelMatcher[];

export interface FiringAlert {
  name: string;
  summary: string;
  labels: Record<string, string>;
  source: 'prometheus' | 'alertmanager';
}

const MATCHER = /^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"\s*$/;
const ALERT_NAME = /^[a-zA-Z_][a-zA-Z0-9_:]*$/;

/**
 * One entry of abort-on-alerts: an alert name (`HighLatency`) or label matchers in PromQL syntax
 * (`severity="page", service=~"model.*"`), optionally in braces.
 */
export function parseAlertSelector(text: string): AlertSelector {
  const trimmed = text.trim();
  if (ALERT_NAME.test(trimmed)) return [{ label: 'alertname', op: '=', value: trimmed }];
  const body = trimmed.startsWith('{') && trimmed.endsWith('}') ? trimmed.slice(1, -1) : trimmed;
  const parts = body.split(/,(?=(?:[^"]*"[^"]*")*[^"]*$)/).filter((p) => p.trim().length > 0);
  if (parts.length === 0) throw new ActionError(`alert selector '${text}' is empty`);
  return parts.map((part) => {
    const m = MATCHER.exec(part);
    if (!m) {
      throw new ActionError(
        `alert selector '${text}': '${part.trim()}' is not a label matcher; expected an alert name or matchers such as severity="page", team=~"ml.*"`,
      );
    }
    const value = m[3]!.replace(/\\(.)/g, '$1');
    if (m[2] === '=~' || m[2] === '!~') {
      try {
        new RegExp(value);
      } catch {
        throw new ActionError(`alert selector '${text}': '${value}' is not a valid regular expression`);
      }
    }
    return { label: m[1]!, op: m[2] as LabelMatcher['op'], value };
  });
}

/** Prometheus semantics: a missing label is the empty string; regular expressions are fully anchored. */
export function matchesSelector(labels: Record<string, string>, selector: AlertSelector): boolean {
  return selector.every(({ label, op, value }) => {
    const actual = labels[label] ?? '';
    if (op === '=') return actual === value;
    if (op === '!=') return actual !== value;
    const matched = new RegExp(`^(?:${value})$`).test(actual);
    return op === '=~' ? matched : !matched;
  });
}

interface RawAlert {
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

function toFiring(alert: RawAlert, source: FiringAlert['source']): FiringAlert {
  const labels = alert.labels ?? {};
  const notes = alert.annotations ?? {};
  return {
    name: labels.alertname ?? '(unnamed)',
    summary: notes.summary ?? notes.description ?? '',
    labels,
    source,
  };
}

/** Firing alerts from Prometheus' /api/v1/alerts (pending ones are not firing yet). */
export async function prometheusAlerts(http: HttpClient, signal?: AbortSignal): Promise<FiringAlert[]> {
  const body = await http.json<{ status?: string; data?: { alerts?: Array<RawAlert & { state?: string }> } }>(
    'GET',
    'api/v1/alerts',
    { signal },
  );
  if (body.status !== 'success' || !Array.isArray(body.data?.alerts)) {
    throw new ActionError(`${http.name}: /api/v1/alerts answered without a list of alerts`);
  }
  return body.data.alerts.filter((a) => a.state === 'firing').map((a) => toFiring(a, 'prometheus'));
}

/** Active alerts from Alertmanager's /api/v2/alerts, leaving out silenced and inhibited ones. */
export async function alertmanagerAlerts(http: HttpClient, signal?: AbortSignal): Promise<FiringAlert[]> {
  const body = await http.json<Array<RawAlert & { status?: { state?: string } }>>('GET', 'api/v2/alerts', {
    query: { active: 'true', silenced: 'false', inhibited: 'false' },
    signal,
  });
  if (!Array.isArray(body)) throw new ActionError(`${http.name}: /api/v2/alerts answered without a list`);
  return body.filter((a) => a.status?.state === 'active').map((a) => toFiring(a, 'alertmanager'));
}

/** The firing alerts any selector matches, from every source given. */
export async function firingAlerts(
  sources: Array<(signal?: AbortSignal) => Promise<FiringAlert[]>>,
  selectors: AlertSelector[],
  signal?: AbortSignal,
): Promise<FiringAlert[]> {
  const all = (await Promise.all(sources.map((source) => source(signal)))).flat();
  return all.filter((alert) => selectors.some((s) => matchesSelector(alert.labels, s)));
}

/** The verdict line of firing alerts, names and summaries. */
export function describeAlerts(alerts: FiringAlert[]): string {
  return alerts.map((a) => `${a.name}${a.summary ? ` (${a.summary})` : ''} from ${a.source}`).join('; ');
}
