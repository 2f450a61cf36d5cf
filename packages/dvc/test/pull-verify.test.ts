import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  chmodSync,
  existsSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { failure } from '../../../test/dvc/fixture';
import { openRepo, type PullOptions, pull } from '../src/index';
import {
  type BuiltRepo,
  buildRepo,
  md5sum,
  pseudoRandom,
  pythonDos2unixMd5,
  removeBuiltRepos,
} from './built-repo';

afterAll(removeBuiltRepos);

function recorder() {
  const info: string[] = [];
  const warnings: string[] = [];
  return {
    info,
    warnings,
    log: { info: (l: string) => info.push(l), warning: (l: string) => warnings.push(l) },
  };
}

async function pullRepo(built: BuiltRepo, options: PullOptions = {}) {
  return pull(await openRepo(built.repo), options);
}

/** Every file under `dir`, relative, recursively; [] when it does not exist. */
function filesUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

const modeOf = (path: string) => statSync(path).mode & 0o777;
const WORKSPACE_MODE = 0o666 & ~process.umask();

describe('the cache is verified before it is used (local remote)', () => {
  it('places a file from a cache that holds the object, without the remote', async () => {
    const data = Buffer.from('features,label\n1,0\n2,1\n');
    const built = buildRepo({ files: { 'table.csv': data } });
    await pullRepo(built);
    rmSync(join(built.repo, 'table.csv'));
    rmSync(built.object(md5sum(data)));
    const again = await pullRepo(built);
    expect(readFileSync(join(built.repo, 'table.csv'))).toEqual(data);
    expect(again.downloadedFiles).toBe(0);
    expect(again.downloadedBytes).toBe(0);
    expect(again.pulled).toEqual([
      { path: 'table.csv', md5: md5sum(data), hashName: 'md5', size: data.length, downloaded: false },
    ]);
    expect(again.bytes).toBe(data.length);
  });

  it('downloads again an object whose cache copy is corrupt (same size, other bytes)', async () => {
    const data = pseudoRandom(4096, 7);
    const md5 = md5sum(data);
    const built = buildRepo({ files: { 'weights.bin': data } });
    await pullRepo(built);
    rmSync(join(built.repo, 'weights.bin'));
    chmodSync(built.cached(md5), 0o644);
    writeFileSync(built.cached(md5), pseudoRandom(4096, 8));
    const again = await pullRepo(built);
    expect(md5sum(readFileSync(join(built.repo, 'weights.bin')))).toBe(md5);
    expect(md5sum(readFileSync(built.cached(md5)))).toBe(md5);
    expect(again.pulled[0]).toMatchObject({ downloaded: true, size: 4096 });
    expect(again.downloadedBytes).toBe(4096);
  });

  it('fetches a .dir manifest again when its cache copy is corrupt', async () => {
    const built = buildRepo({
      dirs: { images: { 'a.txt': Buffer.from('alpha\n'), 'b/c.txt': Buffer.from('gamma\n') } },
    });
    const first = await pullRepo(built);
    const dirId = first.objectIds[0]!.replace(/^md5:/, '').replace(/\.dir$/, '');
    const cachedDir = `${built.cached(dirId)}.dir`;
    chmodSync(cachedDir, 0o644);
    writeFileSync(cachedDir, '[]');
    rmSync(join(built.repo, 'images'), { recursive: true });
    const again = await pullRepo(built);
    expect(again.pulled.map((f) => f.path)).toEqual(['images/a.txt', 'images/b/c.txt']);
    expect(readFileSync(join(built.repo, 'images/b/c.txt'), 'utf8')).toBe('gamma\n');
    expect(md5sum(readFileSync(cachedDir))).toBe(dirId);
  });
});

describe('the workspace is verified, not trusted (local remote)', () => {
  const data = Buffer.from('0123456789abcdef'.repeat(64));

  async function pulledOnce() {
    const built = buildRepo({
      files: { 'data.txt': data },
      dirs: { set: { 'x.txt': Buffer.from('x-ray\n') } },
    });
    await pullRepo(built);
    return built;
  }

  it('leaves an unchanged file alone', async () => {
    const built = await pulledOnce();
    const before = statSync(join(built.repo, 'data.txt'));
    const again = await pullRepo(built);
    expect(again.downloadedFiles).toBe(0);
    expect(again.pulled.find((f) => f.path === 'data.txt')).toMatchObject({
      size: data.length,
      downloaded: false,
    });
    expect(again.pulled.find((f) => f.path === 'set/x.txt')).toMatchObject({ size: 6, downloaded: false });
    const after = statSync(join(built.repo, 'data.txt'));
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
  });

  it('repairs a file edited in place to the same size', async () => {
    const built = await pulledOnce();
    const path = join(built.repo, 'data.txt');
    const edited = Buffer.from(data);
    edited[10] = 0x5a;
    writeFileSync(path, edited);
    const later = new Date(statSync(path).mtimeMs + 5000);
    utimesSync(path, later, later);
    await pullRepo(built);
    expect(md5sum(readFileSync(path))).toBe(md5sum(data));
  });

  it('repairs a file replaced by another of the same size and modification time', async () => {
    const built = await pulledOnce();
    const path = join(built.repo, 'data.txt');
    const before = statSync(path);
    const other = join(built.repo, 'other.tmp');
    const edited = Buffer.from(data);
    edited[0] = 0x21;
    writeFileSync(other, edited);
    // touch -r copies the nanoseconds, which utimes would round.
    execFileSync('touch', ['-r', path, other]);
    rmSync(path);
    renameSync(other, path);
    expect(statSync(path).mtimeMs).toBe(before.mtimeMs);
    expect(statSync(path).ino).not.toBe(before.ino);
    await pullRepo(built);
    expect(md5sum(readFileSync(path))).toBe(md5sum(data));
  });

  it('repairs a directory file (no recorded size) that grew while keeping its modification time', async () => {
    const built = await pulledOnce();
    const path = join(built.repo, 'set/x.txt');
    const before = statSync(path);
    const ref = join(built.root, 'mtime-ref');
    writeFileSync(ref, '');
    execFileSync('touch', ['-r', path, ref]);
    appendFileSync(path, 'more');
    execFileSync('touch', ['-r', ref, path]);
    expect(statSync(path).mtimeMs).toBe(before.mtimeMs);
    const again = await pullRepo(built);
    expect(readFileSync(path, 'utf8')).toBe('x-ray\n');
    expect(again.pulled.find((f) => f.path === 'set/x.txt')).toMatchObject({ size: 6, downloaded: false });
  });
});

describe('objects that hash to something else (local remote)', () => {
  it('names every corrupt object with the digest of what the remote holds, places the rest, leaves no temp file', async () => {
    const good = Buffer.from('good bytes\n');
    const a = pseudoRandom(3000, 1);
    const b = Buffer.from('b,b\r\nb,b\r\n');
    const built = buildRepo({ files: { 'a.bin': a, 'good.txt': good }, legacy: { 'b.csv': b } });
    const badA = pseudoRandom(3000, 2);
    const badB = Buffer.from('b,x\r\nb,b\r\n');
    writeFileSync(built.object(md5sum(a)), badA);
    writeFileSync(built.object(pythonDos2unixMd5(b), true), badB);
    const { log, warnings } = recorder();
    const error = await failure(pullRepo(built, { log }));
    const where = (md5: string, legacy?: boolean) => built.object(md5, legacy);
    expect(error.message).toBe(
      `Verification failed for 2 object(s), whose remote copies are corrupt or incomplete (re-push them with 'dvc push'): ` +
        `'a.bin': object ${md5sum(a)} from DVC remote 'store' (${where(md5sum(a))}) hashes to ${md5sum(badA)} twice; ` +
        `'b.csv': object ${pythonDos2unixMd5(b)} from DVC remote 'store' (${where(pythonDos2unixMd5(b), true)}) hashes to ${pythonDos2unixMd5(badB)} twice. ` +
        'The other 1 file(s) were placed',
    );
    expect(warnings.sort()).toEqual([
      `'a.bin': object ${md5sum(a)} from remote 'store' hashed to ${md5sum(badA)}; downloading it again`,
      `'b.csv': object ${pythonDos2unixMd5(b)} from remote 'store' hashed to ${pythonDos2unixMd5(badB)}; downloading it again`,
    ]);
    expect(readFileSync(join(built.repo, 'good.txt'))).toEqual(good);
    expect(existsSync(join(built.repo, 'a.bin'))).toBe(false);
    expect(existsSync(join(built.repo, 'b.csv'))).toBe(false);
    expect(filesUnder(join(built.repo, '.dvc/cache'))).toEqual([
      `files/md5/${md5sum(good).slice(0, 2)}/${md5sum(good).slice(2)}`,
    ]);
  });

  it('lists a corrupt object and a missing one each in its own sentence', async () => {
    const built = buildRepo({ files: { 'z.bin': Buffer.from('zzz'), 'y.bin': Buffer.from('yyy') } });
    writeFileSync(built.object(md5sum('zzz')), 'zz!');
    rmSync(built.object(md5sum('yyy')));
    const error = await failure(pullRepo(built));
    expect(error.message).toBe(
      `Verification failed for 1 object(s), whose remote copies are corrupt or incomplete (re-push them with 'dvc push'): ` +
        `'z.bin': object ${md5sum('zzz')} from DVC remote 'store' (${built.object(md5sum('zzz'))}) hashes to ${md5sum('zz!')} twice. ` +
        `1 file(s) missing on DVC remote store: y.bin (${md5sum('yyy')}); push them with 'dvc push'`,
    );
  });

  it('an imported out the remote lacks is listed as imported, not as missing', async () => {
    const built = buildRepo({ files: { 'own.txt': Buffer.from('own\n') } });
    const md5 = md5sum('imported bytes\n');
    writeFileSync(
      join(built.repo, 'borrowed.txt.dvc'),
      `md5: 0123456789abcdef0123456789abcdef\nfrozen: true\ndeps:\n- path: data/borrowed.txt\n  repo:\n    url: https://example.com/org/data-registry\n    rev_lock: 0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c\nouts:\n- md5: ${md5}\n  size: 15\n  hash: md5\n  path: borrowed.txt\n`,
    );
    const error = await failure(pullRepo(built));
    expect(error.message).toBe(
      `1 imported file(s) are not on DVC remote store: borrowed.txt (${md5}, imported from https://example.com/org/data-registry@0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c); DVC pulls 'dvc import' outs from their source repository, which the native engine does not clone: set use-dvc-cli: true, or push them to the remote. The other 1 file(s) were placed`,
    );
  });

  it('a legacy 2.x text object is verified by its dos2unix md5 and written with its CRLF bytes', async () => {
    const text = Buffer.from('id,name\r\n1,ada\r\n2,grace\r\n');
    const built = buildRepo({ legacy: { 'people.csv': text } });
    const result = await pullRepo(built);
    expect(readFileSync(join(built.repo, 'people.csv'))).toEqual(text);
    expect(result.pulled).toEqual([
      {
        path: 'people.csv',
        md5: pythonDos2unixMd5(text),
        hashName: 'md5-dos2unix',
        size: text.length,
        downloaded: true,
      },
    ]);
    expect(readFileSync(built.cached(pythonDos2unixMd5(text), true))).toEqual(text);
  });
});

describe('where verified downloads are written (local remote)', () => {
  it('keeps cache files read-only and gives workspace copies the usual mode', async () => {
    const data = Buffer.from('cache me\n');
    const built = buildRepo({ files: { 'c.txt': data } });
    const result = await pullRepo(built, { linkType: 'copy' });
    expect(modeOf(built.cached(md5sum(data)))).toBe(0o444);
    expect(modeOf(join(built.repo, 'c.txt'))).toBe(WORKSPACE_MODE);
    expect(result.downloadedBytes).toBe(data.length);
  });

  it('without the cache, writes verified files and directories straight into the workspace', async () => {
    const built = buildRepo({
      files: { 'nested/deeper/f.txt': Buffer.from('file\n') },
      dirs: {
        one: { 'a.txt': Buffer.from('one-a\n'), 'sub/b.txt': Buffer.from('one-b\n') },
        two: { 'a.txt': Buffer.from('two-a\n') },
      },
    });
    const cwdBefore = readdirSync(process.cwd());
    const result = await pullRepo(built, { fillCache: false });
    // Manifests go through memory: no temp file anywhere, not even in the working directory.
    expect(readdirSync(process.cwd())).toEqual(cwdBefore);
    expect(readFileSync(join(built.repo, 'nested/deeper/f.txt'), 'utf8')).toBe('file\n');
    expect(readFileSync(join(built.repo, 'one/a.txt'), 'utf8')).toBe('one-a\n');
    expect(readFileSync(join(built.repo, 'one/sub/b.txt'), 'utf8')).toBe('one-b\n');
    expect(readFileSync(join(built.repo, 'two/a.txt'), 'utf8')).toBe('two-a\n');
    expect(modeOf(join(built.repo, 'one/a.txt'))).toBe(WORKSPACE_MODE);
    expect(filesUnder(join(built.repo, '.dvc/cache'))).toEqual([]);
    expect(result.downloadedFiles).toBe(4);
    expect(result.downloadedBytes).toBe(5 + 6 + 6 + 6);
    expect(filesUnder(built.repo).filter((p) => p.endsWith('.tmp'))).toEqual([]);
  });

  it('without the cache, a .dir listing the remote lacks is missing, not corrupt', async () => {
    const built = buildRepo({ dirs: { one: { 'a.txt': Buffer.from('one-a\n') } } });
    const md5 = /md5: ([0-9a-f]{32})\.dir/.exec(readFileSync(join(built.repo, 'one.dvc'), 'utf8'))![1]!;
    rmSync(`${built.object(md5)}.dir`);
    const error = await failure(pullRepo(built, { fillCache: false }));
    expect(error.message).toBe(
      `1 file(s) missing on DVC remote store: one (${md5}.dir); push them with 'dvc push'`,
    );
  });

  it('streams an object too large to read whole (17 MiB) into the cache and the workspace intact', async () => {
    const big = pseudoRandom(17 << 20, 99);
    const md5 = md5sum(big);
    const built = buildRepo({ files: { 'big.bin': big } });
    const result = await pullRepo(built, { linkType: 'copy' });
    expect(md5sum(readFileSync(join(built.repo, 'big.bin')))).toBe(md5);
    expect(md5sum(readFileSync(built.cached(md5)))).toBe(md5);
    expect(modeOf(built.cached(md5))).toBe(0o444);
    expect(result.pulled[0]).toMatchObject({ size: 17 << 20, downloaded: true });
  });
});
