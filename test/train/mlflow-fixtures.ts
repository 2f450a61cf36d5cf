import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { repoRoot } from '../harness';

/**
 * ../shared beside the repository (CI lays a copy there), or MLOPS_SHARED_DIR (a worktree that is not
 * beside it); fails loudly when it is missing.
 */
export function sharedDir(): string {
  const dir = resolve(process.env.MLOPS_SHARED_DIR || resolve(repoRoot, '../shared'));
  if (!existsSync(dir)) {
    throw new Error(
      `the shared fixtures folder is missing: expected ${dir} (a copy of shared/ beside the repository)`,
    );
  }
  return dir;
}

export interface Exchange {
  name: string;
  note?: string;
  server?: string;
  request: {
    method: string;
    path: string;
    query: Record<string, string | string[]> | null;
    headers: Record<string, string>;
    body: unknown;
    body_encoding?: 'raw' | 'base64';
  };
  response: {
    status: number;
    content_type: string;
    headers?: Record<string, string>;
    body: unknown;
    body_encoding?: 'base64';
  };
}

export function loadContract(): Exchange[] {
  const file = resolve(sharedDir(), 'fixtures/mlflow/contract.jsonl');
  if (!existsSync(file)) throw new Error(`the MLflow contract is missing: expected ${file}`);
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => line.trim())
    .map((line) => JSON.parse(line) as Exchange);
}

/**
 * Placeholders of the recording (`<run_id:N>`, `<run_name:N>`, `<ts>`, `<data_dir>`) matched by pattern;
 * an id seen once must be the same id every time after.
 */
export class Bindings {
  readonly runIds = new Map<string, string>();
  readonly runNames = new Map<string, string>();

  substitute(text: string): string {
    return text
      .replace(/<run_id:(\d+)>/g, (_, n: string) => {
        const id = this.runIds.get(n);
        if (!id) throw new Error(`<run_id:${n}> used in a request before any response bound it`);
        return id;
      })
      .replace(/<run_name:(\d+)>/g, (_, n: string) => this.runNames.get(n) ?? `unbound-${n}`)
      .replace(
        /Basic <base64:([^:>]+):([^>]+)>/g,
        (_, user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`,
      )
      .replace(/Bearer <token>/g, 'Bearer not-a-real-token');
  }

  substituteDeep(value: unknown): unknown {
    if (typeof value === 'string') return this.substitute(value);
    if (Array.isArray(value)) return value.map((v) => this.substituteDeep(v));
    if (value && typeof value === 'object') {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.substituteDeep(v)]));
    }
    return value;
  }

  /** Matches a string with placeholders, binding new ones; returns a reason on mismatch. */
  matchText(expected: string, actual: string): string | undefined {
    const binds: Array<[Map<string, string>, string]> = [];
    let pattern = '^';
    const re = /<run_id:(\d+)>|<run_name:(\d+)>|<ts>|<data_dir>/g;
    let last = 0;
    for (const m of expected.matchAll(re)) {
      pattern += escapeRe(expected.slice(last, m.index));
      last = m.index! + m[0].length;
      if (m[1]) {
        const bound = this.runIds.get(m[1]);
        if (bound) pattern += escapeRe(bound);
        else {
          pattern += '([0-9a-f]{32})';
          binds.push([this.runIds, m[1]]);
        }
      } else if (m[2]) {
        const bound = this.runNames.get(m[2]);
        if (bound) pattern += escapeRe(bound);
        else {
          pattern += '([a-z]+-[a-z]+-\\d+)';
          binds.push([this.runNames, m[2]]);
        }
      } else if (m[0] === '<ts>') pattern += '\\d{12,}';
      else pattern += '.+?';
    }
    pattern += `${escapeRe(expected.slice(last))}$`;
    const match = new RegExp(pattern, 's').exec(actual);
    if (!match) return `expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
    binds.forEach(([map, n], i) => {
      const value = match[i + 1]!;
      for (const [k, v] of map)
        if (v === value && k !== n) throw new Error(`placeholder ${n} matched a value already bound to ${k}`);
      map.set(n, value);
    });
    return undefined;
  }

  /** Deep comparison of parsed JSON with placeholders; returns the first difference. */
  match(expected: unknown, actual: unknown, where = '$'): string | undefined {
    if (expected === '<ts>')
      return typeof actual === 'number' && Number.isInteger(actual) && actual > 1e12
        ? undefined
        : `${where}: expected a server timestamp, got ${JSON.stringify(actual)}`;
    if (typeof expected === 'string') {
      if (typeof actual !== 'string') return `${where}: expected a string, got ${JSON.stringify(actual)}`;
      const reason = this.matchText(expected, actual);
      return reason ? `${where}: ${reason}` : undefined;
    }
    if (Array.isArray(expected)) {
      if (!Array.isArray(actual))
        return `${where}: expected an array, got ${JSON.stringify(actual)?.slice(0, 200)}`;
      if (expected.length !== actual.length)
        return `${where}: expected ${expected.length} items, got ${actual.length}`;
      for (let i = 0; i < expected.length; i++) {
        const reason = this.match(expected[i], actual[i], `${where}[${i}]`);
        if (reason) return reason;
      }
      return undefined;
    }
    if (expected && typeof expected === 'object') {
      if (!actual || typeof actual !== 'object' || Array.isArray(actual))
        return `${where}: expected an object, got ${JSON.stringify(actual)?.slice(0, 200)}`;
      const ek = Object.keys(expected).sort();
      const ak = Object.keys(actual).sort();
      if (ek.join() !== ak.join()) return `${where}: expected keys [${ek}], got [${ak}]`;
      for (const key of ek) {
        const reason = this.match(
          (expected as Record<string, unknown>)[key],
          (actual as Record<string, unknown>)[key],
          `${where}.${key}`,
        );
        if (reason) return reason;
      }
      return undefined;
    }
    return Object.is(expected, actual)
      ? undefined
      : `${where}: expected ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
  }
}

function escapeRe(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Sends one recorded request, exactly as recorded (no Content-Type unless the recording had one). */
export async function replay(baseUrl: string, exchange: Exchange, bindings: Bindings): Promise<Response> {
  const req = exchange.request;
  const url = new URL(bindings.substitute(req.path), baseUrl);
  for (const [key, value] of Object.entries(req.query ?? {})) {
    for (const item of Array.isArray(value) ? value : [value])
      url.searchParams.append(key, bindings.substitute(item));
  }
  let body: Buffer | undefined;
  if (req.body !== null && req.body !== undefined) {
    if (req.body_encoding === 'base64') body = Buffer.from(req.body as string, 'base64');
    else if (req.body_encoding === 'raw') body = Buffer.from(bindings.substitute(req.body as string));
    else body = Buffer.from(JSON.stringify(bindings.substituteDeep(req.body)));
  }
  const headers = Object.fromEntries(
    Object.entries(req.headers).map(([k, v]) => [k, bindings.substitute(v)]),
  );
  return fetch(url, { method: req.method, headers, body });
}
