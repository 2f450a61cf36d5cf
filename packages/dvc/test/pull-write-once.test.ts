import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { failure, listFiles } from '../../../test/dvc/fixture';
import { type ServedRemote, serveRemote } from '../../../test/dvc/nginx-remote';
import { openRepo, pull } from '../src/index';

const md5 = (data: Buffer | string) => createHash('md5').update(data).digest('hex');
const root = mkdtempSync(join(tmpdir(), 'dvc-write-once-'));
const remote = join(root, 'remote');
const workspaceMode = 0o666 & ~process.umask();

// A small file, one that spans several 1 MB write batches and sync-read chunks, and an empty one.
const files = new Map<string, Buffer>([
  ['small.bin', randomBytes(20_000)],
  ['big.bin', randomBytes(3 * (1 << 20) + 12_345)],
  ['empty.txt', Buffer.alloc(0)],
]);

function objectFile(hex: string): string {
  return join(remote, 'files', 'md5', hex.slice(0, 2), hex.slice(2));
}

/** A `data` directory out and its objects, in the layout and `.dir` encoding DVC 3 writes. */
function writeRemote(): string {
  for (const data of files.values()) {
    mkdirSync(join(objectFile(md5(data)), '..'), { recursive: true });
    writeFileSync(objectFile(md5(data)), data);
    // A remote filled by `dvc push` from a protected cache holds read-only files.
    chmodSync(objectFile(md5(data)), 0o444);
  }
  const listing = [...files]
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([relpath, data]) => `{"md5": "${md5(data)}", "relpath": "${relpath}"}`);
  const manifest = `[${listing.join(', ')}]`;
  const dirMd5 = md5(manifest);
  mkdirSync(join(objectFile(dirMd5), '..'), { recursive: true });
  writeFileSync(`${objectFile(dirMd5)}.dir`, manifest);
  return dirMd5;
}

let dirMd5 = '';
let served: ServedRemote;
beforeAll(async () => {
  dirMd5 = writeRemote();
  served = await serveRemote(remote);
});
afterAll(async () => {
  await served?.nginx.stop();
  rmSync(root, { recursive: true, force: true });
});

function makeRepo(remoteUrl: string): string {
  const repo = mkdtempSync(join(root, 'repo-'));
  mkdirSync(join(repo, '.dvc'));
  writeFileSync(
    join(repo, '.dvc', 'config'),
    `[core]\n    remote = store\n['remote "store"']\n    url = ${remoteUrl}\n`,
  );
  writeFileSync(
    join(repo, 'data.dvc'),
    `outs:\n- md5: ${dirMd5}.dir\n  nfiles: ${files.size}\n  hash: md5\n  path: data\n`,
  );
  return repo;
}

function expectPlaced(repo: string): void {
  for (const [name, data] of files) {
    const path = join(repo, 'data', name);
    expect(readFileSync(path).equals(data), name).toBe(true);
    expect(statSync(path).mode & 0o777, name).toBe(workspaceMode);
  }
  expect(listFiles(repo).filter((p) => p.endsWith('.tmp'))).toEqual([]);
}

function expectCache(repo: string): void {
  for (const data of files.values()) {
    const cached = join(repo, '.dvc', 'cache', 'files', 'md5', md5(data).slice(0, 2), md5(data).slice(2));
    expect(readFileSync(cached).equals(data)).toBe(true);
    // Protected as DVC protects its cache; the workspace file is a separate, writable copy.
    expect(statSync(cached).mode & 0o777).toBe(0o444);
    expect(statSync(cached).ino).not.toBe(
      statSync(join(repo, 'data', [...files].find(([, d]) => d === data)![0])).ino,
    );
  }
}

describe.each([
  ['a local remote (copied inside the kernel, then hashed)', () => remote],
  ['nginx (hashed as it streams, written in batches)', () => served.url],
])('each byte written once from %s', (_, url) => {
  it('cache: false writes writable workspace files byte for byte and no .dvc/cache', async () => {
    const repo = makeRepo(url());
    const result = await pull(await openRepo(repo), { fillCache: false });
    expect(result.downloadedFiles).toBe(files.size);
    expectPlaced(repo);
    expect(existsSync(join(repo, '.dvc', 'cache'))).toBe(false);
  });

  it('cache: true fills a read-only cache and places writable copies', async () => {
    const repo = makeRepo(url());
    await pull(await openRepo(repo), { fillCache: true });
    expectPlaced(repo);
    expectCache(repo);
  });
});

describe('a corrupt object on a local remote', () => {
  it('places the good files, leaves no temp file and names the bad object', async () => {
    const bad = md5(files.get('small.bin')!);
    const copy = join(root, 'corrupt-remote');
    cpSync(remote, copy, { recursive: true });
    const target = join(copy, 'files', 'md5', bad.slice(0, 2), bad.slice(2));
    chmodSync(target, 0o644);
    writeFileSync(target, 'not the bytes');
    for (const fillCache of [true, false]) {
      const repo = makeRepo(copy);
      const error = await failure(pull(await openRepo(repo), { fillCache }));
      expect(error.message).toMatch(
        new RegExp(
          `^Verification failed for 1 object\\(s\\).*'data/small\\.bin': object ${bad} .* hashes to ${md5('not the bytes')} twice\\. The other 2 file\\(s\\) were placed$`,
        ),
      );
      expect(existsSync(join(repo, 'data', 'small.bin'))).toBe(false);
      expect(readFileSync(join(repo, 'data', 'big.bin')).equals(files.get('big.bin')!)).toBe(true);
      expect(listFiles(repo).filter((p) => p.endsWith('.tmp'))).toEqual([]);
    }
  });
});
