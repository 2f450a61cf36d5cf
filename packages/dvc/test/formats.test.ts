import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDvcFile, parseDvcIni, parseDvcLock, parseManifest, readConfig, repoPath } from '../src/index';

describe('DVC config', () => {
  it('reads remote sections as configobj writes them and resolves relative local URLs against .dvc/', () => {
    const dvcDir = join(mkdtempSync(join(tmpdir(), 'cfg-')), '.dvc');
    mkdirSync(dvcDir);
    writeFileSync(
      join(dvcDir, 'config'),
      '[core]\n    remote = store\n[\'remote "store"\']\n    url = ../../dvc-remote\n[\'remote "web"\']\n    url = https://example.org/dvc\n    auth = basic\n',
    );
    writeFileSync(
      join(dvcDir, 'config.local'),
      '[\'remote "web"\']\n    user = alice\n    password = s3cret\n[core]\n    remote = web\n',
    );
    const config = readConfig(dvcDir);
    expect(config.defaultRemote).toBe('web');
    expect(config.remotes.get('store')!.url).toBe(join(dvcDir, '..', '..', 'dvc-remote'));
    expect(config.remotes.get('web')).toEqual({
      name: 'web',
      url: 'https://example.org/dvc',
      options: { auth: 'basic', user: 'alice', password: 's3cret' },
    });
  });

  it('resolves remote://other/path and a custom cache dir', () => {
    const dvcDir = join(mkdtempSync(join(tmpdir(), 'cfg-')), '.dvc');
    mkdirSync(dvcDir);
    writeFileSync(
      join(dvcDir, 'config'),
      '[cache]\n    dir = ../../shared-cache\n[\'remote "base"\']\n    url = s3://bucket/root\n    endpointurl = http://127.0.0.1:9000\n[\'remote "sub"\']\n    url = remote://base/team/data\n',
    );
    const config = readConfig(dvcDir);
    expect(config.cacheDir).toBe(join(dvcDir, '..', '..', 'shared-cache'));
    expect(config.remotes.get('sub')).toMatchObject({
      url: 's3://bucket/root/team/data',
      options: { endpointurl: 'http://127.0.0.1:9000' },
    });
    expect(readConfig(join(tmpdir(), 'no-such-repo', '.dvc')).cacheDir).toBe(
      join(tmpdir(), 'no-such-repo', '.dvc', 'cache'),
    );
  });

  it('accepts double-quoted section names and comments', () => {
    const sections = parseDvcIni('# c\n["remote \\"x\\""]\n[\'remote "y"\']\nurl = s3://b/p # note\n');
    expect(sections['remote "y"']).toEqual({ url: 's3://b/p' });
  });
});

describe('.dvc files and dvc.lock', () => {
  it('makes out paths relative to the .dvc file and tells DVC 3 from 2.x outs', () => {
    const outs = parseDvcFile(
      'outs:\n- md5: fa6844d2803bb45e1017057bd270fab2\n  size: 20\n  path: legacy.csv\n- md5: e82a4dcfc16dc84711e29a857b0911cb.dir\n  hash: md5\n  path: set\n  remote: other\n',
      'data/sub/x.dvc',
    );
    expect(outs.map((o) => [o.path, o.hashName, o.isDir, o.remote])).toEqual([
      ['data/sub/legacy.csv', 'md5-dos2unix', false, undefined],
      ['data/sub/set', 'md5', true, 'other'],
    ]);
  });

  it('takes cache: false and remote: for dvc.lock outs from dvc.yaml', () => {
    const lock =
      "schema: '2.0'\nstages:\n  train:\n    cmd: x\n    outs:\n    - path: m.bin\n      hash: md5\n      md5: 595ae00f6d65cead0e09e4c14a8125ae\n    - path: eval/metrics.json\n      hash: md5\n      md5: de020d29d0e77e9141fa5e261e93d86a\n";
    const yaml =
      'stages:\n  train:\n    cmd: x\n    outs:\n      - m.bin:\n          remote: models\n    metrics:\n      - eval/metrics.json:\n          cache: false\n';
    const outs = parseDvcLock(lock, 'dvc.lock', yaml);
    expect(outs.map((o) => [o.path, o.cache, o.remote, o.stage, o.source])).toEqual([
      ['m.bin', true, 'models', 'train', 'dvc.lock:train'],
      ['eval/metrics.json', false, undefined, 'train', 'dvc.lock:train'],
    ]);
  });

  it('refuses malformed YAML with the file name, and out paths that leave the repo', () => {
    expect(() => parseDvcFile('outs:\n- md5: [unclosed\n', 'data/bad.dvc')).toThrow(
      /data\/bad\.dvc is not valid YAML/,
    );
    expect(() => repoPath('data', '../../etc/passwd', 'x.dvc')).toThrow(/escapes the repository/);
    expect(() => repoPath('', '/etc/passwd', 'x.dvc')).toThrow(/outside the repository/);
  });
});

describe('.dir manifests', () => {
  it('parses the JSON list DVC writes', () => {
    expect(parseManifest('[{"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "a/b.txt"}]', 'x')).toEqual(
      [{ md5: 'd41d8cd98f00b204e9800998ecf8427e', relpath: 'a/b.txt' }],
    );
  });

  it.each([
    ['{"md5": "x"}', /not a JSON list/],
    ['not json', /not JSON/],
    ['[{"relpath": "a"}]', /entry 0 is not \{md5, relpath\}/],
    ['[{"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "../escape"}]', /escapes its directory/],
    ['[{"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "a/../../x"}]', /escapes its directory/],
    ['[{"md5": "d41d8cd98f00b204e9800998ecf8427e", "relpath": "/etc/passwd"}]', /escapes its directory/],
  ])('refuses %s', (text, message) => {
    expect(() => parseManifest(text, 'set')).toThrow(message);
  });
});
