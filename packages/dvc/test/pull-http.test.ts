import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure } from '../../../test/dvc/fixture';
import { type ServedRemote, serveRemote } from '../../../test/dvc/nginx-remote';
import { type FaultProxy, startFaultProxy } from '../../../test/servers/fault-proxy';
import { openRepo, type PullOptions, pull } from '../src/index';
import {
  type BuiltRepo,
  buildRepo,
  dvcDirListing,
  md5sum,
  pseudoRandom,
  removeBuiltRepos,
} from './built-repo';

/**
 * Download, verify and retry against a real nginx serving a DVC remote, behind the fault proxy that breaks
 * chosen responses. Every repository here points at the same remote folder; each test uses its own objects.
 */
const small = Buffer.from('small object over http\n');
const shared = Buffer.from('the same bytes tracked twice\n');
const retried = pseudoRandom(200_000, 11);
const exhausted = pseudoRandom(150_000, 12);
const corruptOnce = pseudoRandom(60_000, 13);
const large = pseudoRandom(5 << 20, 14);
const stalled = pseudoRandom(80_000, 15);
const dirA = { 'a.txt': Buffer.from('dir a, file a\n'), 'sub/b.txt': Buffer.from('dir a, file b\n') };
const dirB = { 'c.txt': Buffer.from('dir b, file c\n') };

const rel = (md5: string) => `files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;

let source: BuiltRepo;
let nginx: ServedRemote;
let basic: ServedRemote;
let proxy: FaultProxy;

beforeAll(async () => {
  source = buildRepo({
    files: {
      'small.txt': small,
      'one.txt': shared,
      'two.txt': shared,
      'retried.bin': retried,
      'exhausted.bin': exhausted,
      'corrupt-once.bin': corruptOnce,
      'large.bin': large,
      'stalled.bin': stalled,
    },
    dirs: { 'dir-a': dirA, 'dir-b': dirB },
  });
  nginx = await serveRemote(source.remote);
  basic = await serveRemote(source.remote, { basicAuth: true });
  proxy = await startFaultProxy(nginx.url);
});

afterAll(async () => {
  await proxy?.stop();
  await nginx?.nginx.stop();
  await basic?.nginx.stop();
  removeBuiltRepos();
});

/** A fresh clone of the source repository (no cache, no data) whose remote is `url`. */
function cloneWithRemote(url: string, extra = ''): string {
  const clone = buildRepo({});
  writeFileSync(
    join(clone.repo, '.dvc/config'),
    `[core]\n    remote = store\n['remote "store"']\n    url = ${url}\n${extra}`,
  );
  for (const name of readdirSync(source.repo).filter((n) => n.endsWith('.dvc') && n !== '.dvc'))
    writeFileSync(join(clone.repo, name), readFileSync(join(source.repo, name)));
  return clone.repo;
}

function recorder() {
  const lines: string[] = [];
  const warnings: string[] = [];
  return {
    lines,
    warnings,
    log: { info: (l: string) => lines.push(l), warning: (l: string) => warnings.push(l) },
  };
}

const quick: PullOptions = { remoteOptions: { minDelayMs: 20 } };

async function pullVia(url: string, targets: string[], options: PullOptions = {}) {
  const repo = cloneWithRemote(url);
  const result = await pull(await openRepo(repo), { ...quick, targets, ...options });
  return { repo, result };
}

const hits = (md5: string) => proxy.hits.get(`/${rel(md5)}`) ?? 0;
const tempFiles = (repo: string) =>
  readdirSync(repo, { recursive: true }).filter((p) => String(p).endsWith('.tmp'));

describe('download, verify, retry over http (nginx and the fault proxy)', () => {
  it('pulls a file and records its size and the downloaded bytes', async () => {
    const { repo, result } = await pullVia(nginx.url, ['small.txt']);
    expect(readFileSync(join(repo, 'small.txt'))).toEqual(small);
    expect(result.pulled).toEqual([
      { path: 'small.txt', md5: md5sum(small), hashName: 'md5', size: small.length, downloaded: true },
    ]);
    expect(result.downloadedBytes).toBe(small.length);
  });

  it('downloads an object tracked by two paths once', async () => {
    const before = hits(md5sum(shared));
    const { repo, result } = await pullVia(proxy.url, ['one.txt', 'two.txt']);
    expect(hits(md5sum(shared)) - before).toBe(1);
    expect(readFileSync(join(repo, 'one.txt'))).toEqual(shared);
    expect(readFileSync(join(repo, 'two.txt'))).toEqual(shared);
    expect(result.files).toBe(2);
  });

  it('retries a connection reset mid-body up to three times, logging each, and leaves no temp file', async () => {
    const md5 = md5sum(retried);
    proxy.setFault(rel(md5), { kind: 'reset', times: 3 });
    const before = hits(md5);
    const { lines, log } = recorder();
    const { repo, result } = await pullVia(proxy.url, ['retried.bin'], { log });
    proxy.setFault(rel(md5), undefined);
    expect(hits(md5) - before).toBe(4);
    expect(md5sum(readFileSync(join(repo, 'retried.bin')))).toBe(md5);
    expect(result.downloadedBytes).toBe(retried.length);
    const retries = lines.filter((l) => l.startsWith(`Download of ${proxy.url}/${rel(md5)} broke off (`));
    expect(retries.map((l) => l.replace(/^.*\); /, ''))).toEqual(['retry 1/3', 'retry 2/3', 'retry 3/3']);
    expect(tempFiles(repo)).toEqual([]);
  });

  it('gives up after four broken attempts, naming the path, the object, the URL and the cause', async () => {
    const md5 = md5sum(exhausted);
    proxy.setFault(rel(md5), { kind: 'reset', times: 10 });
    const before = hits(md5);
    const repo = cloneWithRemote(proxy.url);
    const error = await failure(pull(await openRepo(repo), { ...quick, targets: ['exhausted.bin'] }));
    proxy.setFault(rel(md5), undefined);
    expect(hits(md5) - before).toBe(4);
    expect(error.message).not.toMatch(/attempts: undefined$/);
    expect(error.message).toMatch(
      new RegExp(
        `^Could not download 'exhausted\\.bin' \\(object ${md5}\\) from DVC remote 'store' \\(${proxy.url.replace(/\./g, '\\.')}/${rel(md5)}\\) after 4 attempts: \\S`,
      ),
    );
    expect(existsSync(join(repo, 'exhausted.bin'))).toBe(false);
    expect(tempFiles(repo)).toEqual([]);
  });

  it('downloads an object corrupted once a second time and warns with the digest of the bad bytes', async () => {
    const md5 = md5sum(corruptOnce);
    const flipped = Buffer.from(corruptOnce);
    flipped[0] = flipped[0]! ^ 0xff;
    proxy.setFault(rel(md5), { kind: 'corrupt', times: 1 });
    const before = hits(md5);
    const { warnings, log } = recorder();
    const { repo } = await pullVia(proxy.url, ['corrupt-once.bin'], { log });
    proxy.setFault(rel(md5), undefined);
    expect(hits(md5) - before).toBe(2);
    expect(warnings).toEqual([
      `'corrupt-once.bin': object ${md5} from remote 'store' hashed to ${md5sum(flipped)}; downloading it again`,
    ]);
    expect(md5sum(readFileSync(join(repo, 'corrupt-once.bin')))).toBe(md5);
    expect(tempFiles(repo)).toEqual([]);
  });

  it('catches a body truncated cleanly (only the md5 can tell) and downloads it again', async () => {
    const md5 = md5sum(corruptOnce);
    proxy.setFault(rel(md5), { kind: 'truncate', times: 1 });
    const { warnings, log } = recorder();
    const { repo } = await pullVia(proxy.url, ['corrupt-once.bin'], { log });
    proxy.setFault(rel(md5), undefined);
    expect(warnings).toEqual([
      `'corrupt-once.bin': object ${md5} from remote 'store' hashed to ${md5sum(corruptOnce.subarray(0, 30_000))}; downloading it again`,
    ]);
    expect(md5sum(readFileSync(join(repo, 'corrupt-once.bin')))).toBe(md5);
  });

  it('a 5 MiB object (more than is kept in memory) lands intact in the cache and the workspace', async () => {
    const md5 = md5sum(large);
    for (const fillCache of [true, false]) {
      const { repo, result } = await pullVia(nginx.url, ['large.bin'], { fillCache, linkType: 'copy' });
      expect(md5sum(readFileSync(join(repo, 'large.bin')))).toBe(md5);
      expect(result.downloadedBytes).toBe(large.length);
      expect(existsSync(join(repo, '.dvc/cache', rel(md5)))).toBe(fillCache);
    }
  });

  it('a 5 MiB object corrupted twice is reported with the digest of what was served', async () => {
    const md5 = md5sum(large);
    const flipped = Buffer.from(large);
    flipped[0] = flipped[0]! ^ 0xff;
    proxy.setFault(rel(md5), { kind: 'corrupt', times: 2 });
    const repo = cloneWithRemote(proxy.url);
    const error = await failure(pull(await openRepo(repo), { ...quick, targets: ['large.bin'] }));
    proxy.setFault(rel(md5), undefined);
    expect(error.message).toBe(
      `Verification failed for 1 object(s), whose remote copies are corrupt or incomplete (re-push them with 'dvc push'): 'large.bin': object ${md5} from DVC remote 'store' (${proxy.url}/${rel(md5)}) hashes to ${md5sum(flipped)} twice`,
    );
    expect(tempFiles(repo)).toEqual([]);
  });

  it('without the cache, reads each .dir manifest into memory and places every directory file', async () => {
    const listingA = dvcDirListing(Object.entries(dirA).map(([relpath, d]) => ({ relpath, md5: md5sum(d) })));
    const { repo, result } = await pullVia(nginx.url, ['dir-a', 'dir-b'], { fillCache: false });
    expect(result.pulled.map((f) => [f.path, f.md5])).toEqual([
      ['dir-a/a.txt', md5sum(dirA['a.txt'])],
      ['dir-a/sub/b.txt', md5sum(dirA['sub/b.txt'])],
      ['dir-b/c.txt', md5sum(dirB['c.txt'])],
    ]);
    expect(readFileSync(join(repo, 'dir-a/sub/b.txt'))).toEqual(dirA['sub/b.txt']);
    expect(readFileSync(join(repo, 'dir-b/c.txt'))).toEqual(dirB['c.txt']);
    expect(result.objectIds).toContain(`md5:${listingA.md5}.dir`);
    expect(existsSync(join(repo, '.dvc/cache'))).toBe(false);
  });

  it('without the cache, a manifest download that breaks off or arrives corrupt is fetched again', async () => {
    const listingA = dvcDirListing(Object.entries(dirA).map(([relpath, d]) => ({ relpath, md5: md5sum(d) })));
    const manifest = `${rel(listingA.md5)}.dir`;
    for (const fault of [{ kind: 'reset', times: 1 } as const, { kind: 'corrupt', times: 1 } as const]) {
      proxy.setFault(manifest, fault);
      const before = proxy.hits.get(`/${manifest}`) ?? 0;
      const { repo, result } = await pullVia(proxy.url, ['dir-a'], { fillCache: false });
      proxy.setFault(manifest, undefined);
      expect((proxy.hits.get(`/${manifest}`) ?? 0) - before).toBe(2);
      expect(result.pulled.map((f) => f.path)).toEqual(['dir-a/a.txt', 'dir-a/sub/b.txt']);
      expect(readFileSync(join(repo, 'dir-a/a.txt'))).toEqual(dirA['a.txt']);
    }
  });

  it('with the cache, keeps each .dir manifest under its name and reads it from there the next time', async () => {
    const listingB = dvcDirListing(Object.entries(dirB).map(([relpath, d]) => ({ relpath, md5: md5sum(d) })));
    const repo = cloneWithRemote(proxy.url);
    await pull(await openRepo(repo), { ...quick, targets: ['dir-b'] });
    expect(readFileSync(join(repo, '.dvc/cache', `${rel(listingB.md5)}.dir`), 'utf8')).toBe(listingB.text);
    const before = hits(`${listingB.md5}.dir`);
    const again = await pull(await openRepo(repo), { ...quick, targets: ['dir-b'] });
    expect(hits(`${listingB.md5}.dir`) - before).toBe(0);
    expect(again.downloadedFiles).toBe(0);
  });

  it('abandons a stalled body after the idle timeout and downloads it again', async () => {
    const md5 = md5sum(stalled);
    proxy.setFault(rel(md5), { kind: 'stall', times: 1 });
    const before = hits(md5);
    const { repo } = await pullVia(proxy.url, ['stalled.bin'], { idleTimeoutMs: 400 });
    proxy.setFault(rel(md5), undefined);
    expect(hits(md5) - before).toBe(2);
    expect(md5sum(readFileSync(join(repo, 'stalled.bin')))).toBe(md5);
  });

  it('stops a stalled download when the caller aborts, without retrying', async () => {
    const md5 = md5sum(stalled);
    proxy.setFault(rel(md5), { kind: 'stall', times: 5 });
    const before = hits(md5);
    const repo = cloneWithRemote(proxy.url);
    const controller = new AbortController();
    const pending = pull(await openRepo(repo), {
      ...quick,
      targets: ['stalled.bin'],
      signal: controller.signal,
      idleTimeoutMs: 60_000,
    });
    setTimeout(() => controller.abort(), 500);
    const error = await failure(pending);
    proxy.setFault(rel(md5), undefined);
    expect(error.name).toBe('AbortError');
    expect(hits(md5) - before).toBe(1);
    expect(existsSync(join(repo, 'stalled.bin'))).toBe(false);
    expect(tempFiles(repo)).toEqual([]);
  }, 20_000);

  it('an object the remote does not have (404) is listed as missing', async () => {
    const repo = cloneWithRemote(nginx.url);
    const ghost = '0123456789abcdef0123456789abcdef';
    writeFileSync(
      join(repo, 'ghost.bin.dvc'),
      `outs:\n- md5: ${ghost}\n  size: 3\n  hash: md5\n  path: ghost.bin\n`,
    );
    const error = await failure(
      pull(await openRepo(repo), { ...quick, targets: ['ghost.bin', 'small.txt'] }),
    );
    expect(error.message).toBe(
      `1 file(s) missing on DVC remote store: ghost.bin (${ghost}); push them with 'dvc push'. The other 1 file(s) were placed`,
    );
  });

  it('rejected credentials stop the pull at once, not after retries', async () => {
    const repo = cloneWithRemote(
      basic.url,
      `    auth = basic\n    user = ${basic.user}\n    password = not-the-password\n`,
    );
    const error = await failure(pull(await openRepo(repo), { ...quick, targets: ['small.txt'] }));
    expect(error.message).toBe(
      `DVC remote 'store' (${basic.url}/) rejected the credentials: 401 Unauthorized; set http-user and http-password (or auth, user and password in .dvc/config.local)`,
    );
  });
});
