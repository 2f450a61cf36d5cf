import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';

/** md5 of the bytes by coreutils' md5sum: the expected digests never come from the code under test. */
export function md5sum(data: Buffer | string): string {
  return execFileSync('md5sum', { input: data }).toString().split(' ')[0]!;
}

/**
 * A `.dir` listing as DVC 3 writes it (dvc-data's Tree: entries sorted by relpath, `json.dumps` with
 * sorted keys), and its md5, both computed by Python.
 */
export function dvcDirListing(entries: Array<{ relpath: string; md5: string }>): {
  text: string;
  md5: string;
} {
  const script =
    'import sys,json,hashlib\n' +
    'rows=sorted(json.load(sys.stdin), key=lambda r: r["relpath"])\n' +
    'text=json.dumps(rows, sort_keys=True)\n' +
    'sys.stdout.write(json.dumps({"text": text, "md5": hashlib.md5(text.encode()).hexdigest()}))';
  return JSON.parse(
    execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(entries) }).toString(),
  ) as { text: string; md5: string };
}

/** dvc-data's md5-dos2unix of a text file (2.x outs): the md5 of the bytes with CRLF turned into LF, by Python. */
export function pythonDos2unixMd5(data: Buffer): string {
  const script =
    'import sys,hashlib\nsys.stdout.write(hashlib.md5(sys.stdin.buffer.read().replace(b"\\r\\n", b"\\n")).hexdigest())';
  return execFileSync('/usr/bin/python3', ['-c', script], { input: data }).toString();
}

export interface BuiltRepo {
  root: string;
  repo: string;
  remote: string;
  /** Where the remote keeps an object (DVC 3: `files/md5/<2>/<30>`; legacy 2.x: `<2>/<30>`). */
  object(md5: string, legacy?: boolean): string;
  /** The same inside the repository's `.dvc/cache`. */
  cached(md5: string, legacy?: boolean): string;
}

export interface RepoSpec {
  /** DVC 3 file outs (`<name>.dvc` at the root, `hash: md5`). */
  files?: Record<string, Buffer>;
  /** 2.x file outs (no `hash:` key): recorded with their dos2unix md5, stored at the remote's root. */
  legacy?: Record<string, Buffer>;
  /** Directory outs: name → relpath → bytes. */
  dirs?: Record<string, Record<string, Buffer>>;
}

const built: string[] = [];

export function removeBuiltRepos(): void {
  for (const dir of built.splice(0)) rmSync(dir, { recursive: true, force: true });
}

function place(path: string, data: Buffer | string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
}

/** A DVC 3 repository (`.dvc/config`, `.dvc` files) and its local remote, with every object pushed. */
export function buildRepo(spec: RepoSpec): BuiltRepo {
  const root = mkdtempSync(join(tmpdir(), 'dvc-built-'));
  built.push(root);
  const repo = join(root, 'repo');
  const remote = join(root, 'remote');
  const rel = (md5: string, legacy?: boolean) =>
    legacy ? `${md5.slice(0, 2)}/${md5.slice(2)}` : `files/md5/${md5.slice(0, 2)}/${md5.slice(2)}`;
  place(
    join(repo, '.dvc', 'config'),
    `[core]\n    remote = store\n['remote "store"']\n    url = ../../remote\n`,
  );
  mkdirSync(remote, { recursive: true });
  for (const [name, data] of Object.entries(spec.files ?? {})) {
    const md5 = md5sum(data);
    place(join(remote, rel(md5)), data);
    place(
      join(repo, `${name}.dvc`),
      `outs:\n- md5: ${md5}\n  size: ${data.length}\n  hash: md5\n  path: ${basename(name)}\n`,
    );
  }
  for (const [name, data] of Object.entries(spec.legacy ?? {})) {
    const md5 = pythonDos2unixMd5(data);
    place(join(remote, rel(md5, true)), data);
    place(
      join(repo, `${name}.dvc`),
      `outs:\n- md5: ${md5}\n  size: ${data.length}\n  path: ${basename(name)}\n`,
    );
  }
  for (const [name, files] of Object.entries(spec.dirs ?? {})) {
    const entries = Object.entries(files).map(([relpath, data]) => {
      const md5 = md5sum(data);
      place(join(remote, rel(md5)), data);
      return { relpath, md5 };
    });
    const listing = dvcDirListing(entries);
    place(join(remote, `${rel(listing.md5)}.dir`), listing.text);
    place(
      join(repo, `${name}.dvc`),
      `outs:\n- md5: ${listing.md5}.dir\n  nfiles: ${entries.length}\n  hash: md5\n  path: ${basename(name)}\n`,
    );
  }
  return {
    root,
    repo,
    remote,
    object: (md5, legacy) => join(remote, rel(md5, legacy)),
    cached: (md5, legacy) => join(repo, '.dvc', 'cache', rel(md5, legacy)),
  };
}

/** Deterministic bytes that are neither text nor compressible patterns md5 could confuse. */
export function pseudoRandom(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}
