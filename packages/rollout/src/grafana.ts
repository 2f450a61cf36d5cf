import { errorMessage, type HttpClient } from '@mlops-actions/kit';
import type { RolloutEvent } from './phases';

export interface GrafanaAnnotationOptions {
  /** A client on the Grafana base URL carrying the service-account token. */
  http: HttpClient;
  /** Annotate this dashboard only; without it the annotation is organisation-wide (shown by tag). */
  dashboardUid?: string;
  tags: string[];
  warn: (line: string) => void;
}

/**
 * Writes each rollout event as a Grafana annotation (POST /api/annotations), so the dashboards a team
 * already watches show the rollout. An annotation that cannot be written is a warning: it must never
 * stop a rollback.
 */
export function grafanaAnnotator(o: GrafanaAnnotationOptions): (event: RolloutEvent) => Promise<void> {
  return async (event) => {
    const body: Record<string, unknown> = {
      time: event.at,
      tags: [...o.tags, `canary-${event.kind}`],
      text: event.text,
    };
    if (o.dashboardUid) body.dashboardUID = o.dashboardUid;
    try {
      await o.http.json('POST', 'api/annotations', {
        body: JSON.stringify(body),
        headers: { 'content-type': 'application/json' },
      });
    } catch (error) {
      o.warn(`Grafana annotation not written (${event.kind}): ${errorMessage(error)}`);
    }
  };
}
