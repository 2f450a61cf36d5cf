import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, resolve } from 'node:path';
import { repoRoot } from '../harness/index';

function ancestors(dir: string): string[] {
  const parent = dirname(dir);
  return parent === dir ? [dir] : [dir, ...ancestors(parent)];
}

/**
 * MLOPS_SHARED_DIR, else `shared/` beside the clone, where CI puts the shared fixtures; a git worktree
 * nested deeper, or Stryker's sandbox copy of it under `.tmp/`, finds it beside one of its ancestors.
 */
export const sharedDir = process.env.MLOPS_SHARED_DIR
  ? resolve(process.env.MLOPS_SHARED_DIR)
  : (ancestors(dirname(repoRoot))
      .map((d) => join(d, 'shared'))
      .find((d) => existsSync(join(d, 'fixtures'))) ?? resolve(repoRoot, '../shared'));
export const fixtureArchive = join(sharedDir, 'fixtures', 'dvc', 'dvc-fixture.tar.gz');

export interface ExpectedFile {
  path: string;
  size: number;
  md5: string;
}

export interface Fixture {
  /** The extracted folder holding repo/, dvc-remote/ and expected/. */
  dir: string;
  repo: string;
  remote: string;
  expected: ExpectedFile[];
}

const extracted: string[] = [];

/** Removes every fixture extracted so far (call from afterAll). */
export function removeFixtures(): void {
  for (const dir of extracted.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Extracts the real-DVC fixture into a fresh temp dir (repo/ and dvc-remote/ side by side). */
export function extractFixture(): Fixture {
  if (!existsSync(fixtureArchive)) {
    throw new Error(
      `DVC fixture not found at ${fixtureArchive}: the shared folder must sit next to the repository (../shared)`,
    );
  }
  const parent = mkdtempSync(join(tmpdir(), 'dvc-fixture-'));
  extracted.push(parent);
  execFileSync('tar', ['xzf', fixtureArchive, '-C', parent]);
  const dir = join(parent, 'dvc-fixture');
  const expected = readTsv(join(dir, 'expected', 'pulled_files.tsv'));
  return { dir, repo: join(dir, 'repo'), remote: join(dir, 'dvc-remote'), expected };
}

function readTsv(file: string): ExpectedFile[] {
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [path, size, md5] = line.split('\t');
      return { path: path!, size: Number(size), md5: md5! };
    });
}

export interface PipelineFixture {
  dir: string;
  repo: string;
  /** What a full `dvc pull` places: path, size, md5. */
  expected: ExpectedFile[];
  /** Git-tracked files (`cache: false` outs and a dep) that a pull must leave as they are. */
  gitFiles: ExpectedFile[];
}

/**
 * A repository with stage wdirs, foreach/matrix stages, per-out remotes, an import, an empty directory out
 * and a .dvcignore, written in DVC 3's formats by an independent Python script (make_pipeline_fixture.py),
 * with its remotes `remote-store/` and `remote-models/` beside it.
 */
export function makePipelineFixture(): PipelineFixture {
  const dir = mkdtempSync(join(tmpdir(), 'dvc-pipeline-'));
  extracted.push(dir);
  execFileSync('/usr/bin/python3', [join(import.meta.dirname, 'make_pipeline_fixture.py'), dir]);
  return {
    dir,
    repo: join(dir, 'repo'),
    expected: readTsv(join(dir, 'expected.tsv')),
    gitFiles: readTsv(join(dir, 'git-files.tsv')),
  };
}

/** Every file DVC would pull, compared byte for byte (size and md5 of the actual bytes). Returns problems. */
export function checkPulled(repo: string, expected: ExpectedFile[]): string[] {
  const problems: string[] = [];
  for (const file of expected) {
    const path = join(repo, file.path);
    if (!existsSync(path)) {
      problems.push(`${file.path}: missing`);
      continue;
    }
    const data = readFileSync(path);
    const md5 = createHash('md5').update(data).digest('hex');
    if (data.length !== file.size || md5 !== file.md5)
      problems.push(`${file.path}: ${data.length} bytes md5 ${md5}`);
  }
  return problems;
}

/** The recorded md5s: what DVC's files say (the legacy entry's is its dos2unix md5), for the data-hash. */
export function recordedMd5(expected: ExpectedFile[]): Array<{ path: string; md5: string }> {
  return expected.map((f) => ({
    path: f.path,
    md5: f.path === 'data/legacy2x.csv' ? 'fa6844d2803bb45e1017057bd270fab2' : f.md5,
  }));
}

/** sha256 of `path\tmd5\n` lines sorted by path bytes, computed by Python as an independent reference. */
export function pythonDataHash(files: Array<{ path: string; md5: string }>): string {
  const script =
    'import sys,json,hashlib\n' +
    'rows=json.load(sys.stdin)\n' +
    'rows.sort(key=lambda r: r["path"].encode("utf-8"))\n' +
    'print(hashlib.sha256("".join(r["path"]+"\\t"+r["md5"]+"\\n" for r in rows).encode("utf-8")).hexdigest())\n';
  return execFileSync('/usr/bin/python3', ['-c', script], { input: JSON.stringify(files) })
    .toString()
    .trim();
}

/** Every file under `dir`, relative to it, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory()) walk(join(d, e.name));
      else out.push(relative(dir, join(d, e.name)));
    }
  };
  walk(dir);
  return out.sort();
}

/** The error a promise rejects with; fails the test when it resolves. */
export async function failure(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}
