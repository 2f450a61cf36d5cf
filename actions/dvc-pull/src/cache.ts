import { createHash } from 'node:crypto';
import { errorMessage } from '@mlops-actions/kit';

export interface CacheLog {
  info(line: string): void;
  warning(line: string): void;
}

/** The cache key: changes exactly when the set of requested DVC objects changes. */
export function cacheKey(
  objectIds: string[],
  os = process.env.RUNNER_OS ?? process.platform,
): { key: string; restoreKeys: string[] } {
  const digest = createHash('sha256')
    .update([...objectIds].sort().join('\n'))
    .digest('hex')
    .slice(0, 40);
  const prefix = `dvc-pull-${os}-`;
  return { key: `${prefix}${digest}`, restoreKeys: [prefix] };
}

type CacheModule = typeof import('@actions/cache');

/**
 * @actions/cache is heavy (about 0.4 s of CPU to load, more than a small pull itself): loaded only when
 * caching is on and the runner offers the service. Without either variable its isFeatureAvailable() is
 * false whatever the service version, so the module is not even loaded to ask.
 */
async function loadCache(log: CacheLog): Promise<CacheModule | undefined> {
  const offered = Boolean(process.env.ACTIONS_CACHE_URL || process.env.ACTIONS_RESULTS_URL);
  const cache = offered ? await import('@actions/cache') : undefined;
  if (!cache?.isFeatureAvailable()) {
    log.info(
      'Actions cache service not available here (no ACTIONS_CACHE_URL / ACTIONS_RESULTS_URL): skipping the cache',
    );
    return undefined;
  }
  return cache;
}

export interface Restored {
  available: boolean;
  hit: boolean;
  matchedKey?: string;
}

export async function restoreDvcCache(
  path: string,
  key: string,
  restoreKeys: string[],
  log: CacheLog,
): Promise<Restored> {
  const cache = await loadCache(log);
  if (!cache) return { available: false, hit: false };
  try {
    const matchedKey = await cache.restoreCache([path], key, restoreKeys);
    const hit = matchedKey === key;
    log.info(
      matchedKey
        ? `Restored .dvc/cache from ${hit ? 'the exact' : 'a partial'} cache key ${matchedKey}`
        : `No cache entry for ${key}`,
    );
    return { available: true, hit, matchedKey };
  } catch (error) {
    log.warning(`Could not restore the DVC cache (${errorMessage(error)}); pulling from the remote`);
    return { available: true, hit: false };
  }
}

export async function saveDvcCache(path: string, key: string, log: CacheLog): Promise<void> {
  const cache = await loadCache(log);
  if (!cache) return;
  try {
    await cache.saveCache([path], key);
    log.info(`Saved .dvc/cache as ${key}`);
  } catch (error) {
    log.warning(`Could not save the DVC cache (${errorMessage(error)})`);
  }
}
