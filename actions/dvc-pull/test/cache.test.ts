import { describe, expect, it } from 'vitest';
import { cacheKey, restoreDvcCache, saveDvcCache } from '../src/cache';

describe('dvc-pull cache key and degraded cache', () => {
  const ids = ['md5:aa095e946924491c54ff0b814b914747', 'md5:e82a4dcfc16dc84711e29a857b0911cb.dir'];

  it('depends on the set of object ids only, and changes when any id changes', () => {
    const key = cacheKey(ids, 'Linux');
    expect(key.key).toMatch(/^dvc-pull-Linux-[0-9a-f]{40}$/);
    expect(key.restoreKeys).toEqual(['dvc-pull-Linux-']);
    expect(cacheKey([...ids].reverse(), 'Linux').key).toBe(key.key);
    expect(cacheKey([ids[0]!, 'md5:e82a4dcfc16dc84711e29a857b0911cc.dir'], 'Linux').key).not.toBe(key.key);
    expect(cacheKey(ids, 'Windows').key).not.toBe(key.key);
  });

  it('logs a skip and carries on when the runner offers no cache service', async () => {
    delete process.env.ACTIONS_CACHE_URL;
    delete process.env.ACTIONS_RESULTS_URL;
    const lines: string[] = [];
    const log = { info: (l: string) => lines.push(l), warning: (l: string) => lines.push(`warning: ${l}`) };
    expect(await restoreDvcCache('/tmp/none', 'k', [], log)).toEqual({ available: false, hit: false });
    await saveDvcCache('/tmp/none', 'k', log);
    expect(lines).toEqual([
      'Actions cache service not available here (no ACTIONS_CACHE_URL / ACTIONS_RESULTS_URL): skipping the cache',
      'Actions cache service not available here (no ACTIONS_CACHE_URL / ACTIONS_RESULTS_URL): skipping the cache',
    ]);
  });
});
