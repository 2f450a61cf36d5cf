/**
 * Parsers for the string forms that workflow authors write in `with:`. Each throws a plain Error whose
 * message says what is accepted; the input layer adds the input's name.
 */

/** Splits on newlines, or on commas when the value is a single line; trims and drops empty items. */
export function parseList(raw: string): string[] {
  const parts = raw.includes('\n') ? raw.split(/\r?\n/) : raw.split(',');
  return parts.map((p) => p.trim()).filter((p) => p.length > 0);
}

const TRUE_WORDS = new Set(['true', 'True', 'TRUE', 'yes', 'on', '1']);
const FALSE_WORDS = new Set(['false', 'False', 'FALSE', 'no', 'off', '0']);

export function parseBoolean(raw: string): boolean {
  const value = raw.trim();
  if (TRUE_WORDS.has(value)) return true;
  if (FALSE_WORDS.has(value)) return false;
  throw new Error('expected a boolean: true or false');
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `90s`, `5m`, `1h30m`, `250ms`, or a bare number of seconds; returns milliseconds. */
export function parseDuration(raw: string): number {
  const value = raw.trim();
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000);
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d)/gy;
  let total = 0;
  let consumed = 0;
  for (let match = re.exec(value); match; match = re.exec(value)) {
    total += Number(match[1]) * (DURATION_UNITS[match[2]!] ?? 0);
    consumed = re.lastIndex;
  }
  if (value.length === 0 || consumed !== value.length) {
    throw new Error('expected a duration such as 90s, 5m, 1h30m or 250ms');
  }
  return Math.round(total);
}

/** `10%` or `10` → 10; accepts 0 to 100 inclusive. */
export function parsePercent(raw: string): number {
  const match = /^\s*(\d+(?:\.\d+)?)\s*%?\s*$/.exec(raw);
  const value = match ? Number(match[1]) : Number.NaN;
  if (!(value >= 0 && value <= 100)) throw new Error('expected a percentage from 0% to 100%, such as 10%');
  return value;
}

export function parseJson(raw: string): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    throw new Error(`expected JSON (${(error as Error).message})`);
  }
}

/** Lines of `key=value` (or `key: value`); blank lines and `#` comments are skipped. */
export function parseKeyValues(raw: string): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [index, line] of raw.split(/\r?\n/).entries()) {
    const text = line.trim();
    if (!text || text.startsWith('#')) continue;
    const match = /^([^=:\s][^=:]*?)\s*[=:]\s*(.*)$/.exec(text);
    if (!match) throw new Error(`expected lines of key=value; line ${index + 1} is "${text}"`);
    result[match[1]!] = match[2]!;
  }
  return result;
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${value.toFixed(unit === 0 ? 0 : 1)} ${units[unit]}`;
}

export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms)) return '?';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${String(seconds % 60).padStart(2, '0')}s`;
  return `${Math.floor(minutes / 60)}h${String(minutes % 60).padStart(2, '0')}m`;
}
