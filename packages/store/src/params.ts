import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ActionError } from '@mlops-actions/kit';
import { parse as parseYaml } from 'yaml';
import { parseJsonWithNaN } from './metrics';

/** Flattens a params document (`params.yaml` as DVC uses it) to dotted keys with string values. */
export function flattenParams(
  value: unknown,
  prefix = '',
  out: Record<string, string> = {},
): Record<string, string> {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    for (const [key, v] of Object.entries(value)) flattenParams(v, prefix ? `${prefix}.${key}` : key, out);
  } else if (prefix) {
    out[prefix] = typeof value === 'string' ? value : JSON.stringify(value ?? null);
  }
  return out;
}

export function readParamsFile(path: string, display: string): Record<string, string> {
  if (!existsSync(path)) throw new ActionError(`params-file '${display}' does not exist`);
  const text = readFileSync(path, 'utf8');
  const ext = extname(path).toLowerCase();
  let data: unknown;
  try {
    data = ext === '.json' ? parseJsonWithNaN(text, display) : parseYaml(text);
  } catch (error) {
    if (error instanceof ActionError) throw error;
    throw new ActionError(
      `params-file '${display}' is not valid YAML: ${(error as Error).message.split('\n')[0]}`,
    );
  }
  if (data === null || data === undefined) return {};
  if (typeof data !== 'object' || Array.isArray(data))
    throw new ActionError(`params-file '${display}' must hold a mapping of names to values`);
  return flattenParams(data);
}

/** sha256 over the params sorted by key, so the same params give the same digest wherever they came from. */
export function paramsDigest(params: Record<string, string>): string {
  const canonical = JSON.stringify(
    Object.keys(params)
      .sort()
      .map((k) => [k, params[k]]),
  );
  return `sha256:${createHash('sha256').update(canonical).digest('hex')}`;
}
