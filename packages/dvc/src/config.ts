import { existsSync, readFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { ActionError } from '@mlops-actions/kit';

export type Section = Record<string, string>;

/**
 * Parses the INI dialect DVC writes with configobj: `[core]`, `['remote "name"']` (the section name may
 * be quoted with ' or "), `key = value`, `#`/`;` comments. Values may be quoted.
 */
export function parseDvcIni(text: string, file = 'config'): Record<string, Section> {
  const sections: Record<string, Section> = {};
  let current: Section | undefined;
  for (const [index, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (!line || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[\s*(.+?)\s*\]$/.exec(line);
    if (header) {
      const name = unquote(header[1]!);
      sections[name] ??= {};
      current = sections[name];
      continue;
    }
    const pair = /^([^=]+?)\s*=\s*(.*)$/.exec(line);
    if (!pair || !current) {
      throw new ActionError(
        `${file} line ${index + 1} is not DVC config (expected [section] or key = value): ${line}`,
      );
    }
    current[pair[1]!.trim()] = unquote(stripInlineComment(pair[2]!));
  }
  return sections;
}

function stripInlineComment(value: string): string {
  if (/^["']/.test(value)) return value;
  const hash = value.search(/\s#/);
  return (hash >= 0 ? value.slice(0, hash) : value).trim();
}

function unquote(value: string): string {
  const v = value.trim();
  if (v.length >= 2 && (v[0] === "'" || v[0] === '"') && v[v.length - 1] === v[0]) return v.slice(1, -1);
  return v;
}

export interface RemoteConfig {
  name: string;
  /** The URL as written, with a relative local path resolved against `.dvc/`. */
  url: string;
  options: Section;
}

export interface DvcConfig {
  defaultRemote?: string;
  remotes: Map<string, RemoteConfig>;
  /** `[cache] dir`, resolved against `.dvc/`; DVC's default is `.dvc/cache`. */
  cacheDir: string;
  /** `[cache] type`: the link types DVC tries in order; DVC's default is `reflink,copy`. */
  cacheTypes: CacheType[];
}

export type CacheType = 'reflink' | 'hardlink' | 'symlink' | 'copy';
const CACHE_TYPES: readonly string[] = ['reflink', 'hardlink', 'symlink', 'copy'];

function parseCacheTypes(value: string | undefined): CacheType[] {
  if (!value) return ['reflink', 'copy'];
  const types = value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
  const bad = types.find((t) => !CACHE_TYPES.includes(t));
  if (bad || types.length === 0)
    throw new ActionError(
      `.dvc/config: cache.type '${value}' is not a comma-separated list of reflink, hardlink, symlink, copy`,
    );
  return types as CacheType[];
}

function isUrlWithScheme(url: string): boolean {
  return /^[a-z][a-z0-9+.-]*:\/\//i.test(url);
}

/** Reads `.dvc/config` then `.dvc/config.local` (the local file wins key by key), as DVC merges them. */
export function readConfig(dvcDir: string): DvcConfig {
  const merged: Record<string, Section> = {};
  for (const name of ['config', 'config.local']) {
    const file = join(dvcDir, name);
    if (!existsSync(file)) continue;
    for (const [section, values] of Object.entries(parseDvcIni(readFileSync(file, 'utf8'), `.dvc/${name}`))) {
      merged[section] = { ...merged[section], ...values };
    }
  }
  const remotes = new Map<string, RemoteConfig>();
  for (const [section, values] of Object.entries(merged)) {
    const match = /^remote\s+"(.+)"$/.exec(section);
    if (!match) continue;
    const name = match[1]!;
    const { url: rawUrl, ...options } = values;
    if (!rawUrl) throw new ActionError(`DVC remote '${name}' in .dvc/config has no url`);
    let url = rawUrl;
    if (!isUrlWithScheme(url) && !url.startsWith('file:')) url = isAbsolute(url) ? url : resolve(dvcDir, url);
    else if (url.startsWith('file://')) url = new URL(url).pathname;
    remotes.set(name, { name, url, options });
  }
  // `remote://other/path` points inside another remote, as DVC allows.
  for (const remote of remotes.values()) {
    const seen = new Set<string>();
    for (
      let match = /^remote:\/\/([^/]+)\/?(.*)$/.exec(remote.url);
      match;
      match = /^remote:\/\/([^/]+)\/?(.*)$/.exec(remote.url)
    ) {
      const base = remotes.get(match[1]!);
      if (!base || seen.has(match[1]!))
        throw new ActionError(
          `DVC remote '${remote.name}': url ${remote.url} refers to an unknown or circular remote '${match[1]}'`,
        );
      seen.add(match[1]!);
      const path = match[2]!;
      remote.url = path ? `${base.url.replace(/\/+$/, '')}/${path}` : base.url;
      remote.options = { ...base.options, ...remote.options };
    }
  }
  const defaultRemote = merged.core?.remote || undefined;
  const dir = merged.cache?.dir;
  const cacheDir = dir ? (isAbsolute(dir) ? dir : resolve(dvcDir, dir)) : join(dvcDir, 'cache');
  return { defaultRemote, remotes, cacheDir, cacheTypes: parseCacheTypes(merged.cache?.type) };
}
