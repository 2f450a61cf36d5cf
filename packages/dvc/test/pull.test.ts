import { execFileSync } from 'node:child_process';
import {
  appendFileSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { ActionError } from '@mlops-actions/kit';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkPulled,
  extractFixture,
  failure,
  listFiles,
  pythonDataHash,
  recordedMd5,
  removeFixtures,
} from '../../../test/dvc/fixture';
import { computeDataHash, openRepo, pull, requestedObjectIds } from '../src/index';

afterAll(removeFixtures);

async function pullFixture(targets: string[] = [], extra: Parameters<typeof pull>[1] = {}) {
  const fixture = extractFixture();
  const result = await pull(await openRepo(fixture.repo), { targets, ...extra });
  return { fixture, result };
}

describe('pull from the fixture made by real DVC (local remote)', () => {
  it('writes every file DVC writes, byte for byte, and the cache in DVC 3 layout', async () => {
    const { fixture, result } = await pullFixture();
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    expect(result.files).toBe(fixture.expected.length);
    expect(result.bytes).toBe(fixture.expected.reduce((s, f) => s + f.size, 0));
    expect(result.downloadedFiles).toBe(22);
    expect(result.skippedNoCache).toEqual(['eval/loss.csv', 'eval/metrics.json']);
    const listed = (name: string) =>
      readFileSync(join(fixture.dir, 'expected', name), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((l) => l.replace(/^\.\//, ''));
    const ours = listFiles(join(fixture.repo, '.dvc', 'cache'));
    // Everything we cache is where real DVC keeps it (legacy objects at the cache root, .dir objects too);
    // the remote also holds an older model.bin from the fixture's history that HEAD does not use.
    const dvcCache = listed('cache_files.txt');
    expect(ours.filter((p) => !dvcCache.includes(p))).toEqual([]);
    expect(listed('remote_files.txt').filter((p) => !ours.includes(p))).toEqual([
      'files/md5/94/047c4a490bc46e4d2690c9676ef32f',
    ]);
    expect(result.dataHash).toBe(pythonDataHash(recordedMd5(fixture.expected)));
  });

  it('downloads nothing the second time and repairs a damaged workspace file from the cache', async () => {
    const fixture = extractFixture();
    const repo = await openRepo(fixture.repo);
    const first = await pull(repo);
    const second = await pull(await openRepo(fixture.repo));
    expect(second.downloadedFiles).toBe(0);
    expect(second.dataHash).toBe(first.dataHash);
    appendFileSync(join(fixture.repo, 'data', 'dataset', 'labels.json'), 'tampered');
    rmSync(join(fixture.repo, 'model.bin'));
    const third = await pull(await openRepo(fixture.repo));
    expect(third.downloadedFiles).toBe(0);
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
  });

  it('pulls only what the targets select: stage names, .dvc files, globs and paths inside a directory out', async () => {
    const fixture = extractFixture();
    const repo = await openRepo(fixture.repo);
    const r = await pull(repo, {
      targets: ['train', 'data/crlf.csv.dvc', 'data/dataset/train/cat', 'data/single.*'],
    });
    expect(r.targets.map((t) => [t.target, t.files])).toEqual([
      ['train', 1],
      ['data/crlf.csv.dvc', 1],
      ['data/dataset/train/cat', 4],
      ['data/single.*', 1],
    ]);
    expect(r.pulled.map((f) => f.path)).toEqual([
      'data/crlf.csv',
      'data/dataset/train/cat/000.txt',
      'data/dataset/train/cat/001.txt',
      'data/dataset/train/cat/002.txt',
      'data/dataset/train/cat/003.txt',
      'data/single.bin',
      'model.bin',
    ]);
    const wanted = new Set(r.pulled.map((f) => f.path));
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => wanted.has(f.path)),
      ),
    ).toEqual([]);
    expect(() => statSync(join(fixture.repo, 'data', 'legacy2x.csv'))).toThrow();
    expect(r.dataHash).toBe(computeDataHash(recordedMd5(fixture.expected.filter((f) => wanted.has(f.path)))));
  });

  it("honours an out's own remote: and the dvc.yaml:stage form of a target", async () => {
    const fixture = extractFixture();
    const other = join(fixture.dir, 'other-remote');
    execFileSync('cp', ['-r', fixture.remote, other]);
    rmSync(join(fixture.remote, 'files/md5/aa'), { recursive: true });
    writeFileSync(
      join(fixture.repo, '.dvc/config.local'),
      `['remote "other"']\n    url = ../../other-remote\n`,
    );
    writeFileSync(
      join(fixture.repo, 'data/single.bin.dvc'),
      'outs:\n- md5: aa095e946924491c54ff0b814b914747\n  size: 131072\n  hash: md5\n  path: single.bin\n  remote: other\n',
    );
    const r = await pull(await openRepo(fixture.repo), { targets: ['data/single.bin', 'dvc.yaml:train'] });
    expect(r.pulled.map((f) => f.path)).toEqual(['data/single.bin', 'model.bin']);
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => ['data/single.bin', 'model.bin'].includes(f.path)),
      ),
    ).toEqual([]);
    // With another remote requested, an out with its own remote is skipped, as dvc pull -r does since DVC 3.49.
    rmSync(join(fixture.repo, 'data/single.bin'));
    const lines: string[] = [];
    const log = { info: (l: string) => lines.push(l), warning: (l: string) => lines.push(l) };
    const onlyDefault = await pull(await openRepo(fixture.repo), {
      remote: 'localremote',
      log,
      targets: ['data/single.bin', 'train'],
    });
    expect(onlyDefault.pulled.map((f) => f.path)).toEqual(['model.bin']);
    expect(lines, JSON.stringify(lines)).toContain(
      "Skipping data/single.bin (remote: other): its own remote is not the requested 'localremote' (as dvc pull -r does)",
    );
    expect(() => statSync(join(fixture.repo, 'data/single.bin'))).toThrow();
  });

  it('places files by hardlink and by symlink', async () => {
    const hard = await pullFixture(['data/single.bin'], { linkType: 'hardlink' });
    const cacheObject = join(hard.fixture.repo, '.dvc/cache/files/md5/aa/095e946924491c54ff0b814b914747');
    expect(statSync(join(hard.fixture.repo, 'data/single.bin')).ino).toBe(statSync(cacheObject).ino);
    const soft = await pullFixture(['data/single.bin'], { linkType: 'symlink' });
    const link = join(soft.fixture.repo, 'data/single.bin');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toBe(
      join(soft.fixture.repo, '.dvc/cache/files/md5/aa/095e946924491c54ff0b814b914747'),
    );
    expect(
      checkPulled(
        soft.fixture.repo,
        soft.fixture.expected.filter((f) => f.path === 'data/single.bin'),
      ),
    ).toEqual([]);
  });

  it('keys the cache on the requested object ids', async () => {
    const fixture = extractFixture();
    const repo = await openRepo(fixture.repo);
    expect(requestedObjectIds(repo, [])).toEqual([
      'md5-dos2unix:fa6844d2803bb45e1017057bd270fab2',
      'md5:3568c76fdbdcb337b85c4beb8e3e74a0',
      'md5:595ae00f6d65cead0e09e4c14a8125ae',
      'md5:aa095e946924491c54ff0b814b914747',
      'md5:e82a4dcfc16dc84711e29a857b0911cb.dir',
    ]);
  });
});

describe('bad input', () => {
  it('not a DVC repo', async () => {
    const fixture = extractFixture();
    const error = await failure(openRepo(fixture.remote));
    expect(error).toBeInstanceOf(ActionError);
    expect(error.message).toMatch(/^Not a DVC repository: no \.dvc directory in .*dvc-remote or any parent/);
  });

  it('no default remote and none given', async () => {
    const fixture = extractFixture();
    writeFileSync(join(fixture.repo, '.dvc/config'), '[\'remote "store"\']\n    url = ../../dvc-remote\n');
    const error = await failure(pull(await openRepo(fixture.repo)));
    expect(error.message).toMatch(
      /No DVC remote for '.+': \.dvc\/config sets no core\.remote and the 'remote' input is empty; set remote to one of: store/,
    );
  });

  it('unknown remote name', async () => {
    const fixture = extractFixture();
    const error = await failure(pull(await openRepo(fixture.repo), { remote: 'nope' }));
    expect(error.message).toBe(
      "Input 'remote': DVC remote 'nope' is not defined in .dvc/config or .dvc/config.local; known remotes: localremote",
    );
  });

  it('target that matches nothing', async () => {
    const fixture = extractFixture();
    const error = await failure(pull(await openRepo(fixture.repo), { targets: ['data/nothing-here'] }));
    expect(error.message).toMatch(
      /^Input 'targets': 'data\/nothing-here' matches no DVC-tracked output, \.dvc file or dvc\.lock stage; tracked: /,
    );
  });

  it('malformed .dvc YAML', async () => {
    const fixture = extractFixture();
    writeFileSync(join(fixture.repo, 'data/broken.dvc'), 'outs:\n- md5: [oops\n  path: x\n');
    const error = await failure(openRepo(fixture.repo));
    expect(error.message).toMatch(/^data\/broken\.dvc is not valid YAML: /);
    expect(error.message).not.toContain('\n');
  });

  it('.dir manifest that is not a JSON list', async () => {
    const fixture = extractFixture();
    const dir = join(fixture.remote, 'files/md5/e8/2a4dcfc16dc84711e29a857b0911cb.dir');
    // A valid-hash object whose content is a JSON object: make the .dvc file point at it.
    const text = '{"md5": "0bbb39c8f9736d959dc219a4d2042b0b", "relpath": "README.md"}';
    const md5 = (await import('node:crypto')).createHash('md5').update(text).digest('hex');
    mkdirSync(join(fixture.remote, 'files/md5', md5.slice(0, 2)), { recursive: true });
    writeFileSync(join(fixture.remote, 'files/md5', md5.slice(0, 2), `${md5.slice(2)}.dir`), text);
    writeFileSync(
      join(fixture.repo, 'data/dataset.dvc'),
      `outs:\n- md5: ${md5}.dir\n  hash: md5\n  path: dataset\n`,
    );
    expect(readFileSync(dir, 'utf8').startsWith('[')).toBe(true);
    const error = await failure(pull(await openRepo(fixture.repo), { targets: ['data/dataset'] }));
    expect(error.message).toBe(
      `'data/dataset' (${md5}.dir): the .dir manifest is not a JSON list of {md5, relpath}`,
    );
  });

  it('manifest entries that escape the repo are refused and nothing is written outside', async () => {
    const fixture = extractFixture();
    const text = '[{"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "../../../escaped.txt"}]';
    const md5 = (await import('node:crypto')).createHash('md5').update(text).digest('hex');
    mkdirSync(join(fixture.remote, 'files/md5', md5.slice(0, 2)), { recursive: true });
    writeFileSync(join(fixture.remote, 'files/md5', md5.slice(0, 2), `${md5.slice(2)}.dir`), text);
    writeFileSync(
      join(fixture.repo, 'data/dataset.dvc'),
      `outs:\n- md5: ${md5}.dir\n  hash: md5\n  path: dataset\n`,
    );
    const error = await failure(pull(await openRepo(fixture.repo)));
    expect(error.message).toMatch(/escapes its directory; refusing to write it/);
    expect(readdirSync(fixture.dir)).not.toContain('escaped.txt');
  });

  it('missing objects on the remote: lists up to 10 paths and the count', async () => {
    const fixture = extractFixture();
    await pull(await openRepo(fixture.repo), { targets: ['data/dataset'] });
    rmSync(join(fixture.repo, '.dvc/cache/files/md5/0b'), { recursive: true });
    for (const f of fixture.expected.filter((x) => x.path.startsWith('data/dataset/')))
      rmSync(join(fixture.repo, f.path));
    const gone = fixture.expected.filter(
      (x) => x.path.startsWith('data/dataset/') && x.path !== 'data/dataset/README.md',
    );
    rmSync(join(fixture.repo, '.dvc/cache/files'), { recursive: true });
    mkdirSync(join(fixture.repo, '.dvc/cache/files/md5/e8'), { recursive: true });
    for (const f of gone)
      rmSync(join(fixture.remote, 'files/md5', f.md5.slice(0, 2), f.md5.slice(2)), { force: true });
    const error = await failure(pull(await openRepo(fixture.repo), { targets: ['data/dataset'] }));
    expect(error.message).toMatch(
      /^17 file\(s\) missing on DVC remote localremote: data\/dataset\/deep\/a\/b\/c\/leaf\.bin \(b2ea9f7fcea831a4a63b213f41a8855b\), /,
    );
    expect(error.message).toMatch(
      /, and 7 more; push them with 'dvc push'\. The other 1 file\(s\) were placed$/,
    );
    expect(error.message.match(/\(([0-9a-f]{32})\)/g)).toHaveLength(10);
    // What could be pulled was pulled and verified.
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => f.path === 'data/dataset/README.md'),
      ),
    ).toEqual([]);
  });

  it('an object corrupted on the remote: retried once, then an error naming the workspace path and the object', async () => {
    const fixture = extractFixture();
    writeFileSync(join(fixture.remote, 'files/md5/aa/095e946924491c54ff0b814b914747'), 'not the bytes');
    const error = await failure(pull(await openRepo(fixture.repo), { targets: ['data/single.bin'] }));
    expect(error.message).toMatch(
      /^Verification failed for 1 object\(s\), whose remote copies are corrupt or incomplete \(re-push them with 'dvc push'\): 'data\/single\.bin': object aa095e946924491c54ff0b814b914747 from DVC remote 'localremote' \(.*files\/md5\/aa\/095e946924491c54ff0b814b914747\) hashes to [0-9a-f]{32} twice/,
    );
    expect(() => statSync(join(fixture.repo, 'data/single.bin'))).toThrow();
    expect(readdirSync(join(fixture.repo, '.dvc/cache/files/md5/aa'))).toEqual([]);
  });

  it('an unsupported remote scheme names the remote and suggests use-dvc-cli', async () => {
    const fixture = extractFixture();
    writeFileSync(
      join(fixture.repo, '.dvc/config.local'),
      '[\'remote "localremote"\']\n    url = ssh://host/dvc\n',
    );
    const error = await failure(pull(await openRepo(fixture.repo)));
    expect(error.message).toBe(
      "DVC remote 'localremote' uses ssh://, which dvc-pull does not read natively (it reads local paths, http(s), s3, gs and azure); set use-dvc-cli: true to run an installed 'dvc pull' instead",
    );
  });
});
