import { ActionError, HttpError, oneLine } from '@mlops-actions/kit';

/** What every feature-flag router is told: which flag, and which of its variations are stable and canary. */
export interface FlagTarget {
  /** The flag's key (LaunchDarkly, flagd) or the feature's name (Unleash). */
  flag: string;
  /** The variation everyone gets on rollback. */
  stableVariation: string;
  /** The variation the canary share gets. */
  canaryVariation: string;
  log?: (line: string) => void;
}

/**
 * The canary's share as integer weights out of `total` (LaunchDarkly: 100000, Unleash variants and
 * flagd here: 1000), the two summing to `total` exactly as both services require.
 */
export function splitWeights(weight: number, total: number): { stable: number; canary: number } {
  const canary = Math.min(total, Math.max(0, Math.round((weight * total) / 100)));
  return { stable: total - canary, canary };
}

/** The canary's share in percent from the integer weights a service stores. */
export function percentOf(canary: number, total: number): number {
  return total > 0 ? Number(((canary * 100) / total).toFixed(3)) : 0;
}

/**
 * Turns the HTTP errors a user can fix into one line naming the input to change; the token itself never
 * appears (the kit's HttpError carries the redacted URL and the server's message only).
 */
export function flagApiError(service: string, error: unknown, what: string): unknown {
  if (!(error instanceof HttpError)) return error;
  const said = serverMessage(error);
  if (error.status === 401)
    return new ActionError(
      `flag-api-token: ${service} refused the token (401${said}); give a valid API token for ${service}`,
    );
  if (error.status === 403)
    return new ActionError(
      `flag-api-token: ${service} denied ${what} (403${said}); give a token allowed to change flags in this project and environment`,
    );
  if (error.status === 404)
    return new ActionError(
      `${service}: ${what} was not found (404${said}); check flag-key, flag-project and flag-environment`,
    );
  return error;
}

function serverMessage(error: HttpError): string {
  const body = error.json as { code?: unknown; name?: unknown; message?: unknown } | undefined;
  const code = body?.code ?? body?.name;
  if (typeof body?.message !== 'string') return '';
  return `: ${oneLine(typeof code === 'string' ? `${code}: ${body.message}` : body.message)}`;
}
