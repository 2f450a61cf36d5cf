import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStep } from '../harness/index';
import { type S3rverInstance, startS3rver, uploadTree } from '../servers/s3rver';
import {
  checkPulled,
  extractFixture,
  makePipelineFixture,
  pythonDataHash,
  recordedMd5,
  removeFixtures,
} from './fixture';
import { type ServedRemote, serveRemote } from './nginx-remote';

afterAll(removeFixtures);

describe('dvc-pull end to end (bundled action through the harness)', () => {
  let basic: ServedRemote;
  let s3: S3rverInstance;
  beforeAll(async () => {
    const source = extractFixture();
    basic = await serveRemote(source.remote, { basicAuth: true });
    s3 = await startS3rver(['dvc-e2e']);
    await uploadTree(s3, 'dvc-e2e', '', source.remote);
  });
  afterAll(async () => {
    await basic?.nginx.stop();
    await s3?.stop();
  });

  it('pulls everything from the local remote with the default inputs', async () => {
    const fixture = extractFixture();
    const step = await runStep({ action: 'dvc-pull', workspace: fixture.repo });
    expect(step.error).toBeUndefined();
    expect(step.exitCode).toBe(0);
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    const dataHash = pythonDataHash(recordedMd5(fixture.expected));
    expect(step.outputs).toMatchObject({
      files: '22',
      bytes: String(fixture.expected.reduce((s, f) => s + f.size, 0)),
      'downloaded-files': '22',
      'cache-hit': 'false',
      'data-hash': dataHash,
    });
    expect(step.json).toMatchObject({
      files: 22,
      'downloaded-files': 22,
      'cache-hit': false,
      'data-hash': dataHash,
    });
    expect(step.stdout).toContain('Actions cache service not available here');
    expect(step.summary).toContain('| `(all)` | 22 |');
    expect(step.summary).toContain(dataHash);

    const again = await runStep({
      action: 'dvc-pull',
      workspace: fixture.repo,
      inputs: { targets: 'data/dataset' },
    });
    expect(again.outputs['downloaded-files']).toBe('0');
    expect(again.outputs.files).toBe('18');
  });

  it('pulls from nginx behind basic auth with the secret inputs, never printing the password', async () => {
    const fixture = extractFixture();
    writeFileSync(
      join(fixture.repo, '.dvc/config.local'),
      `[core]\n    remote = web\n['remote "web"']\n    url = ${basic.url}\n    auth = basic\n`,
    );
    const step = await runStep({
      action: 'dvc-pull',
      workspace: fixture.repo,
      inputs: { 'http-user': basic.user, 'http-password': basic.password, jobs: 3, cache: false },
    });
    expect(step.error).toBeUndefined();
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    const leaked = `${step.stdout}\n${step.stderr}`
      .split('\n')
      .filter((l) => l.includes(basic.password!) && !l.startsWith('::add-mask::'));
    expect(leaked).toEqual([]);
    expect(step.stdout).not.toContain('Actions cache service');
  });

  it('pulls from s3rver through the lazily loaded AWS SDK chunk', async () => {
    const fixture = extractFixture();
    writeFileSync(
      join(fixture.repo, '.dvc/config.local'),
      `['remote "localremote"']\n    url = s3://dvc-e2e\n    endpointurl = ${s3.endpoint}\n`,
    );
    const step = await runStep({
      action: 'dvc-pull',
      workspace: fixture.repo,
      inputs: { targets: ['data/dataset', 'data/legacy2x.csv'] },
      env: { AWS_ACCESS_KEY_ID: s3.accessKeyId, AWS_SECRET_ACCESS_KEY: s3.secretAccessKey },
    });
    expect(step.error).toBeUndefined();
    expect(step.outputs.files).toBe('19');
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => f.path.startsWith('data/dataset/') || f.path === 'data/legacy2x.csv'),
      ),
    ).toEqual([]);
    expect(readFileSync(join(fixture.repo, 'data/legacy2x.csv'), 'latin1')).toBe('legacy,text\r\nrow,1\r\n');
  });

  it.each([
    [{ 'link-type': 'rsync' }, /^Input 'link-type': .*copy.*reflink.*hardlink.*symlink.* \(got "rsync"\)$/],
    [{ jobs: '0' }, /^Input 'jobs': expected a whole number from 1 to 256 \(got "0"\)$/],
    [{ targets: 'nope/*.csv' }, /^Input 'targets': Glob \['nope\/\*\.csv'\] has no matches\.$/],
    [
      { 'working-directory': 'missing-dir' },
      /^Input 'working-directory': 'missing-dir' is not a folder in the workspace/,
    ],
    [
      { remote: 'ghost' },
      /^Input 'remote': DVC remote 'ghost' is not defined in \.dvc\/config or \.dvc\/config\.local; known remotes: localremote$/,
    ],
  ])('fails with one line for bad input %o', async (inputs, message) => {
    const fixture = extractFixture();
    const step = await runStep({ action: 'dvc-pull', workspace: fixture.repo, inputs });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(message);
    expect(step.error).not.toContain('\n');
    expect(step.stdout).not.toMatch(/^\s+at /m);
  });

  it('fails clearly when use-dvc-cli is set but DVC is not installed', async () => {
    const fixture = extractFixture();
    const step = await runStep({
      action: 'dvc-pull',
      workspace: fixture.repo,
      inputs: { 'use-dvc-cli': true },
      env: { PATH: '/usr/bin:/bin' },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(/^Input 'use-dvc-cli': could not run 'dvc' \(.*\); install DVC first/);
  });
});

describe('dvc-pull with use-dvc-cli (a double of the dvc command records the call)', () => {
  function dvcDouble(): { bin: string; log: string } {
    const bin = mkdtempSync(join(tmpdir(), 'dvc-double-'));
    const log = join(bin, 'calls.log');
    // Test double of DVC's CLI: records its arguments and working directory, changes nothing.
    writeFileSync(join(bin, 'dvc'), `#!/bin/sh\necho "$PWD $*" >> ${log}\nexit 0\n`, { mode: 0o755 });
    return { bin, log };
  }

  it('passes remote, jobs and targets to dvc pull, then verifies what DVC left in the workspace', async () => {
    const fixture = extractFixture();
    const first = await runStep({ action: 'dvc-pull', workspace: fixture.repo, inputs: { cache: false } });
    expect(first.exitCode).toBe(0);
    await new Promise((r) => setTimeout(r, 20));
    const { bin, log } = dvcDouble();
    const step = await runStep({
      action: 'dvc-pull',
      workspace: fixture.repo,
      inputs: {
        'use-dvc-cli': true,
        remote: 'localremote',
        jobs: 2,
        targets: 'data/single.bin\ntrain',
        cache: false,
      },
      env: { PATH: `${bin}:${process.env.PATH}` },
    });
    expect(step.error).toBeUndefined();
    expect(readFileSync(log, 'utf8').trim()).toBe(
      `${fixture.repo} pull -r localremote -j 2 data/single.bin train`,
    );
    expect(step.outputs).toMatchObject({ files: '2', 'downloaded-files': '0' });
  });

  it('fails when dvc pull leaves files missing, naming them', async () => {
    const fixture = extractFixture();
    const { bin } = dvcDouble();
    const step = await runStep({
      action: 'dvc-pull',
      workspace: fixture.repo,
      inputs: { 'use-dvc-cli': true, targets: 'data/single.bin', cache: false },
      env: { PATH: `${bin}:${process.env.PATH}` },
    });
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe(
      "1 file(s) are missing or differ from their recorded md5 after 'dvc pull': data/single.bin",
    );
  });
});

describe('dvc-pull end to end on a pipeline repository (wdir, foreach/matrix, per-out remotes, import)', () => {
  it('places every file where DVC places it, with cache: false writing no .dvc/cache', async () => {
    const fixture = makePipelineFixture();
    const step = await runStep({ action: 'dvc-pull', workspace: fixture.repo, inputs: { cache: 'false' } });
    expect(step.error).toBeUndefined();
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    expect(checkPulled(fixture.repo, fixture.gitFiles)).toEqual([]);
    expect(step.outputs.files).toBe(String(fixture.expected.length));
    expect(step.outputs['data-hash']).toBe(pythonDataHash(fixture.expected));
    expect(existsSync(join(fixture.repo, '.dvc/cache/files'))).toBe(false);
  });

  it('a corrupt object fails the step only after every good file is placed, naming path and both md5s', async () => {
    const fixture = makePipelineFixture();
    const bad = fixture.expected.find((f) => f.path === 'pipelines/prepared/text.txt')!;
    writeFileSync(join(fixture.dir, 'remote-store/files/md5', bad.md5.slice(0, 2), bad.md5.slice(2)), 'x');
    const step = await runStep({ action: 'dvc-pull', workspace: fixture.repo });
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      new RegExp(
        `^Verification failed for 1 object\\(s\\).*'pipelines/prepared/text\\.txt': object ${bad.md5} from DVC remote 'store' \\(.*\\) hashes to 9dd4e461268c8034f5c8564e155c67a6 twice\\. The other ${fixture.expected.length - 1} file\\(s\\) were placed$`,
      ),
    );
    expect(step.error).not.toContain('\n');
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => f !== bad),
      ),
    ).toEqual([]);
  });
});
