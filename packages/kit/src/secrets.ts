/**
 * Credentials inside URLs. A URL-valued input may carry `user:password@` (a tracking server, a
 * Prometheus, a data source); the password must be masked before validation can echo the value, and
 * every URL printed anywhere goes through `redactUrl` / `redactUrls`.
 */

const SENSITIVE_QUERY =
  /^(token|access_token|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|code|key|password|secret)$/i;

// `scheme://userinfo@` anywhere in a text; userinfo stops at the first character a URL authority
// cannot hold unescaped, so even a URL that `new URL` rejects (port 99999) is found.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s/?#@"'`<>]*)@/gi;

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>]+/gi;

function decode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/**
 * The secrets inside every URL of a text: each password, and `user:password`, as written and
 * percent-decoded, so the runner masks whichever form a later message shows.
 */
export function urlSecrets(text: string): string[] {
  const found = new Set<string>();
  for (const [url] of String(text).matchAll(URL_IN_TEXT)) {
    const userinfo = /^[a-z][a-z0-9+.-]*:\/\/([^/?#@]*)@/i.exec(url)?.[1];
    if (userinfo) {
      const colon = userinfo.indexOf(':');
      for (const value of [userinfo, colon >= 0 ? userinfo.slice(colon + 1) : userinfo]) {
        found.add(value);
        found.add(decode(value));
      }
    }
    for (const match of url.matchAll(/[?&]([^=&#]+)=([^&#]*)/g)) {
      if (SENSITIVE_QUERY.test(decode(match[1]!)) && match[2]) {
        found.add(match[2]);
        found.add(decode(match[2]));
      }
    }
  }
  // A one- or two-character mask would blank out ordinary text all over the log.
  return [...found].filter((value) => value.length >= 3);
}

/** True when a value looks like a URL with a scheme and an authority (`scheme://…`). */
export function isUrlLike(value: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(value.trim());
}

/** A URL fit for a log, a summary or an error: no user info, signed query values replaced. */
export function redactUrl(url: string | URL): string {
  try {
    const parsed = new URL(url);
    parsed.username = '';
    parsed.password = '';
    for (const key of [...parsed.searchParams.keys()]) {
      if (SENSITIVE_QUERY.test(key)) parsed.searchParams.set(key, '***');
    }
    return parsed.toString();
  } catch {
    return redactUrls(String(url));
  }
}

/** Redacts every URL inside free text (an error message, a server's answer): user info and signed queries. */
export function redactUrls(text: string): string {
  return String(text)
    .replace(USERINFO, (_, scheme: string, userinfo: string) => (userinfo ? `${scheme}***@` : `${scheme}@`))
    .replace(/([?&])([^=&#\s]+)=([^&#\s"'`<>]*)/g, (whole, sep: string, key: string) =>
      SENSITIVE_QUERY.test(decode(key)) ? `${sep}${key}=***` : whole,
    );
}
