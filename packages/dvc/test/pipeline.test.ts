import { createHash } from 'node:crypto';
import {
  appendFileSync,
  existsSync,
  lstatSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  checkPulled,
  failure,
  listFiles,
  makePipelineFixture,
  pythonDataHash,
  removeFixtures,
} from '../../../test/dvc/fixture';
import { openRepo, type PullOptions, pull } from '../src/index';

afterAll(removeFixtures);

async function pullFixture(options: PullOptions = {}) {
  const fixture = makePipelineFixture();
  const result = await pull(await openRepo(fixture.repo), options);
  return { fixture, result };
}

const md5 = (data: string | Buffer) => createHash('md5').update(data).digest('hex');

describe('pipelines as DVC 3 writes them (wdir, foreach/matrix, per-out remote, import, empty dir)', () => {
  it('a whole pull places every file where DVC places it, byte for byte, and nothing else', async () => {
    const { fixture, result } = await pullFixture();
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    expect(checkPulled(fixture.repo, fixture.gitFiles)).toEqual([]);
    expect(result.files).toBe(fixture.expected.length);
    expect(result.dataHash).toBe(pythonDataHash(fixture.expected));
    expect(result.skippedNoCache).toEqual([
      'features/scores.json',
      'pipelines/cv/work/acc.json',
      'pipelines/nlp/models/seed-1/metrics.json',
      'pipelines/nlp/models/seed-2/metrics.json',
      'pipelines/nlp/sweeps/lr-0.01/loss.csv',
      'pipelines/nlp/sweeps/lr-0.1/loss.csv',
    ]);
    // The empty directory out exists and is empty; the ignored scratch file is left alone.
    expect(statSync(join(fixture.repo, 'data/empty')).isDirectory()).toBe(true);
    expect(readdirSync(join(fixture.repo, 'data/empty'))).toEqual([]);
    expect(readFileSync(join(fixture.repo, 'data/images/cats/draft.tmp'), 'utf8')).toBe('scratch\n');
    // Nothing lands where a root-relative reading of the lock paths would put it.
    const workspace = listFiles(fixture.repo).filter((p) => !p.startsWith('.dvc/'));
    const tracked = [
      ...fixture.expected.map((f) => f.path),
      ...fixture.gitFiles.map((f) => f.path),
      'data/images/cats/draft.tmp',
      // The vars files of pipelines/cv/dvc.yaml, committed to git.
      'pipelines/cv/conf/data.yaml',
      'pipelines/cv/conf/model.json',
      'pipelines/cv/work/conf/data.yaml',
      'pipelines/cv/work/local.yaml',
    ];
    expect(
      workspace.filter(
        (p) => !tracked.includes(p) && !/(\.dvc|dvc\.(yaml|lock)|params\.yaml|\.dvcignore)$/.test(p),
      ),
    ).toEqual([]);
  });

  it('only the empty directory out as a target still creates it', async () => {
    const { fixture, result } = await pullFixture({ targets: ['data/empty'] });
    expect(result.files).toBe(0);
    expect(readdirSync(join(fixture.repo, 'data/empty'))).toEqual([]);
  });

  it('remote: outs with their own remote are filtered out when another one is requested, as dvc pull -r does', async () => {
    const lines: string[] = [];
    const log = { info: (l: string) => lines.push(l), warning: (l: string) => lines.push(l) };
    const { fixture, result } = await pullFixture({ remote: 'store', log });
    const ownRemote = [
      'pipelines/nlp/models/seed-1/model.bin',
      'pipelines/nlp/models/seed-2/model.bin',
      'pipelines/prepared/vocab/en.txt',
      'pipelines/prepared/vocab/sub/de.txt',
    ];
    expect(result.pulled.map((f) => f.path).sort()).toEqual(
      fixture.expected
        .map((f) => f.path)
        .filter((p) => !ownRemote.includes(p))
        .sort(),
    );
    for (const path of ownRemote) expect(existsSync(join(fixture.repo, path))).toBe(false);
    expect(lines).toContain(
      "Skipping pipelines/prepared/vocab (remote: models): its own remote is not the requested 'store' (as dvc pull -r does)",
    );
  });

  it('remote: the requested remote serves every out without its own remote, so objects it lacks are missing', async () => {
    const fixture = makePipelineFixture();
    const error = await failure(pull(await openRepo(fixture.repo), { remote: 'models' }));
    expect(error.message).toMatch(
      /^11 file\(s\) missing on DVC remote models: data\/empty \([0-9a-f]{32}\.dir\), data\/images \([0-9a-f]{32}\.dir\), data\/raw\.csv /,
    );
    expect(error.message).toMatch(
      /1 imported file\(s\) are not on DVC remote models: data\/registry\/iris\.csv /,
    );
    // What the models remote has is placed all the same.
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => /model\.bin$|prepared\/vocab\//.test(f.path)),
      ),
    ).toEqual([]);
  });

  it.each([
    ['data/images/cats', ['data/images/cats/1.png', 'data/images/cats/2.png']],
    ['pipelines/prepared/vocab/sub/de.txt', ['pipelines/prepared/vocab/sub/de.txt']],
    ['data/raw.csv.dvc', ['data/raw.csv']],
    ['featurize', ['features/table.bin']],
    ['dvc.yaml:featurize', ['features/table.bin']],
    [
      'pipelines/nlp/dvc.yaml:train',
      ['pipelines/nlp/models/seed-1/model.bin', 'pipelines/nlp/models/seed-2/model.bin'],
    ],
    ['pipelines/nlp/dvc.yaml:train@2', ['pipelines/nlp/models/seed-2/model.bin']],
    ['pipelines/nlp/dvc.yaml:sweep@0.01-3', ['pipelines/nlp/sweeps/lr-0.01/depth-3.bin']],
    [
      'pipelines/nlp/dvc.yaml:prepare',
      [
        'pipelines/prepared/text.txt',
        'pipelines/prepared/vocab/en.txt',
        'pipelines/prepared/vocab/sub/de.txt',
      ],
    ],
    ['pipelines/nlp/models/seed-1/model.bin', ['pipelines/nlp/models/seed-1/model.bin']],
    [
      'data/*.dvc',
      [
        'data/images/cats/1.png',
        'data/images/cats/2.png',
        'data/images/dogs/1.png',
        'data/images/labels.json',
        'data/raw.csv',
      ],
    ],
    // Globs match what exists on disk (Python's glob over the workspace): the folder data/images exists
    // (its ignored scratch file is there), data/images.dvc does not match 'imag?s'.
    [
      'data/imag?s',
      [
        'data/images/cats/1.png',
        'data/images/cats/2.png',
        'data/images/dogs/1.png',
        'data/images/labels.json',
      ],
    ],
    // `**` is zero or more folders: pipelines/cv/dvc.yaml and pipelines/nlp/dvc.yaml; root dvc.yaml is not
    // under pipelines/.
    [
      'pipelines/**/dvc.yaml',
      [
        'pipelines/cv/work/heads/head.bin',
        'pipelines/cv/work/out/test.parquet',
        'pipelines/cv/work/out/train.parquet',
        'pipelines/cv/work/resnet-18-v2.bin',
        'pipelines/nlp/models/seed-1/model.bin',
        'pipelines/nlp/models/seed-2/model.bin',
        'pipelines/nlp/sweeps/lr-0.01/depth-3.bin',
        'pipelines/nlp/sweeps/lr-0.1/depth-3.bin',
        'pipelines/prepared/text.txt',
        'pipelines/prepared/vocab/en.txt',
        'pipelines/prepared/vocab/sub/de.txt',
      ],
    ],
    ['**/raw.csv.dvc', ['data/raw.csv']],
  ])('target %s pulls exactly what dvc pull pulls for it', async (target, paths) => {
    const { fixture, result } = await pullFixture({ targets: [target] });
    expect(result.pulled.map((f) => f.path).sort()).toEqual(paths);
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => paths.includes(f.path)),
      ),
    ).toEqual([]);
  });

  it('a glob matching nothing on disk fails as dvc pull --glob does, even when it would match tracked paths', async () => {
    const fixture = makePipelineFixture();
    // The outs are tracked but not pulled yet: DVC's glob sees only existing files.
    const error = await failure(
      pull(await openRepo(fixture.repo), { targets: ['pipelines/nlp/models/*/model.bin'] }),
    );
    expect(error.message).toBe("Input 'targets': Glob ['pipelines/nlp/models/*/model.bin'] has no matches.");
    expect(existsSync(join(fixture.repo, 'pipelines/nlp/models/seed-1/model.bin'))).toBe(false);
  });

  it('a glob matching an untracked file fails naming that file, as each match is a target of its own', async () => {
    const fixture = makePipelineFixture();
    const error = await failure(
      pull(await openRepo(fixture.repo), { targets: ['pipelines/cv/conf/*.json'] }),
    );
    expect(error.message).toMatch(
      /^Input 'targets': 'pipelines\/cv\/conf\/model\.json' \(from glob 'pipelines\/cv\/conf\/\*\.json'\) matches no DVC-tracked output/,
    );
  });

  it('after a pull, a glob matches the placed outs too', async () => {
    const { fixture } = await pullFixture();
    const result = await pull(await openRepo(fixture.repo), {
      targets: ['pipelines/nlp/models/*/model.bin'],
    });
    expect(result.pulled.map((f) => f.path)).toEqual([
      'pipelines/nlp/models/seed-1/model.bin',
      'pipelines/nlp/models/seed-2/model.bin',
    ]);
    expect(result.downloadedFiles).toBe(0);
  });

  it('a bare stage name is looked up in ./dvc.yaml only', async () => {
    const fixture = makePipelineFixture();
    const error = await failure(pull(await openRepo(fixture.repo), { targets: ['prepare'] }));
    expect(error.message).toMatch(/^Input 'targets': 'prepare' matches no DVC-tracked output/);
  });

  it('corrupt objects on the remote: every good file is placed, then one error lists each bad object', async () => {
    const fixture = makePipelineFixture();
    const bad = {
      'data/images/cats/2.png': 'not a png',
      'pipelines/nlp/models/seed-1/model.bin': 'truncated',
    };
    for (const [path, bytes] of Object.entries(bad)) {
      const file = fixture.expected.find((f) => f.path === path)!;
      const remote = path.includes('model.bin') ? 'remote-models' : 'remote-store';
      writeFileSync(join(fixture.dir, remote, 'files/md5', file.md5.slice(0, 2), file.md5.slice(2)), bytes);
    }
    const error = await failure(pull(await openRepo(fixture.repo), { jobs: 1 }));
    for (const [path, bytes] of Object.entries(bad)) {
      const file = fixture.expected.find((f) => f.path === path)!;
      expect(error.message).toContain(`'${path}': object ${file.md5} from DVC remote '`);
      expect(error.message).toContain(`hashes to ${md5(bytes)} twice`);
      expect(existsSync(join(fixture.repo, path))).toBe(false);
    }
    expect(error.message).toMatch(/^Verification failed for 2 object\(s\)/);
    expect(error.message).toMatch(/The other 16 file\(s\) were placed$/);
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => !(f.path in bad)),
      ),
    ).toEqual([]);
  });

  it('an import missing on the remote names its source repository and the way to pull it', async () => {
    const fixture = makePipelineFixture();
    const iris = fixture.expected.find((f) => f.path === 'data/registry/iris.csv')!;
    rmSync(join(fixture.dir, 'remote-store/files/md5', iris.md5.slice(0, 2), iris.md5.slice(2)));
    const error = await failure(pull(await openRepo(fixture.repo), { targets: ['data/registry'] }));
    expect(error.message).toBe(
      `1 imported file(s) are not on DVC remote store: data/registry/iris.csv (${iris.md5}, imported from https://github.com/iterative/dataset-registry@f31f5c4cdae787b4bdeb97a717687d44667d9e62); DVC pulls 'dvc import' outs from their source repository, which the native engine does not clone: set use-dvc-cli: true, or push them to the remote`,
    );
  });
});

describe('writing each byte once, as cache.type asks', () => {
  it('without a cache to fill, files go straight into the workspace and .dvc/cache stays empty', async () => {
    const { fixture } = await pullFixture({ fillCache: false });
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    expect(existsSync(join(fixture.repo, '.dvc/cache/files'))).toBe(false);
    expect(statSync(join(fixture.repo, 'data/raw.csv')).mode & 0o200).toBe(0o200);
  });

  it('cache.type hardlink: workspace files share the read-only cache inode', async () => {
    const fixture = makePipelineFixture();
    appendFileSync(join(fixture.repo, '.dvc/config'), '[cache]\n    type = hardlink\n');
    await pull(await openRepo(fixture.repo), { fillCache: false });
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    const raw = fixture.expected.find((f) => f.path === 'data/raw.csv')!;
    const cached = statSync(
      join(fixture.repo, '.dvc/cache/files/md5', raw.md5.slice(0, 2), raw.md5.slice(2)),
    );
    const placed = statSync(join(fixture.repo, 'data/raw.csv'));
    expect(placed.ino).toBe(cached.ino);
    expect(cached.mode & 0o777).toBe(0o444);
  });

  it('cache.type symlink,copy: symlinks into the cache', async () => {
    const fixture = makePipelineFixture();
    appendFileSync(join(fixture.repo, '.dvc/config'), '[cache]\n    type = "symlink,copy"\n');
    await pull(await openRepo(fixture.repo));
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    const link = join(fixture.repo, 'features/table.bin');
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readlinkSync(link)).toContain('/.dvc/cache/files/md5/');
  });

  it('the default reflink,copy fills the cache read-only and leaves writable copies in the workspace', async () => {
    const { fixture } = await pullFixture();
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    const model = fixture.expected.find((f) => f.path.endsWith('seed-2/model.bin'))!;
    const cached = join(fixture.repo, '.dvc/cache/files/md5', model.md5.slice(0, 2), model.md5.slice(2));
    expect(statSync(cached).mode & 0o777).toBe(0o444);
    const placed = statSync(join(fixture.repo, model.path));
    expect(placed.mode & 0o200).toBe(0o200);
    expect(placed.ino).not.toBe(statSync(cached).ino);
  });
});

describe('vars: files named in dvc.yaml (DVC templating)', () => {
  const cvYaml = (vars: string) =>
    `vars:\n${vars}stages:\n  train:\n    wdir: work\n    cmd: python train.py\n    outs:\n    - \${model.name}-\${model.layers}-\${tag}.bin\n`;

  it('a TOML or Python vars file is refused clearly (no parser bundled)', async () => {
    const fixture = makePipelineFixture();
    writeFileSync(join(fixture.repo, 'pipelines/cv/conf/extra.toml'), 'lr = 0.1\n');
    writeFileSync(join(fixture.repo, 'pipelines/cv/dvc.yaml'), cvYaml('  - conf/extra.toml\n'));
    const error = await failure(openRepo(fixture.repo));
    expect(error.message).toBe(
      "vars: 'pipelines/cv/conf/extra.toml': .toml vars files are not supported by dvc-pull (it bundles no TOML or Python parser); use a YAML or JSON file",
    );
  });

  it('a missing file, a missing key and a redefined value fail naming the file', async () => {
    const fixture = makePipelineFixture();
    const yaml = join(fixture.repo, 'pipelines/cv/dvc.yaml');
    writeFileSync(yaml, cvYaml('  - conf/nope.yaml\n'));
    expect((await failure(openRepo(fixture.repo))).message).toBe(
      "pipelines/cv/dvc.yaml: vars: 'pipelines/cv/conf/nope.yaml' does not exist",
    );
    writeFileSync(yaml, cvYaml('  - conf/model.json:model,nokey\n'));
    expect((await failure(openRepo(fixture.repo))).message).toBe(
      "pipelines/cv/dvc.yaml: vars: could not find 'nokey' in 'pipelines/cv/conf/model.json'",
    );
    // params.yaml (loaded by default) defines root; a vars mapping may not redefine it.
    writeFileSync(yaml, cvYaml('  - root: elsewhere\n'));
    expect((await failure(openRepo(fixture.repo))).message).toMatch(
      /^pipelines\/cv\/dvc\.yaml: vars: cannot redefine 'root'/,
    );
  });

  it('params.yaml named again, and mappings merged key by key, are accepted as DVC accepts them', async () => {
    const fixture = makePipelineFixture();
    writeFileSync(
      join(fixture.repo, 'pipelines/cv/dvc.yaml'),
      cvYaml('  - params.yaml\n  - conf/model.json:model\n  - model:\n      extra: 1\n  - tag: v2\n'),
    );
    const repo = await openRepo(fixture.repo);
    // Resolved (no error) and with the stage's wdir: the lock's paths land under work/.
    expect(
      repo.outs
        .filter((o) => o.source === 'pipelines/cv/dvc.lock:train')
        .map((o) => o.path)
        .sort(),
    ).toEqual([
      'pipelines/cv/work/acc.json',
      'pipelines/cv/work/heads/head.bin',
      'pipelines/cv/work/resnet-18-v2.bin',
    ]);
  });
});
