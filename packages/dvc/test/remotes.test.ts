import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GcsDouble, startGcsDouble } from '../../../test/doubles/gcs-json-api';
import {
  checkPulled,
  extractFixture,
  type Fixture,
  failure,
  removeFixtures,
} from '../../../test/dvc/fixture';
import { type ServedRemote, serveRemote } from '../../../test/dvc/nginx-remote';
import { type AzuriteInstance, startAzurite, uploadTreeToAzurite } from '../../../test/servers/azurite';
import { type FaultProxy, startFaultProxy } from '../../../test/servers/fault-proxy';
import { type S3rverInstance, startS3rver, uploadTree } from '../../../test/servers/s3rver';
import { openRepo, type PullOptions, pull } from '../src/index';
import { azureRemote, parseContainerUrl } from '../src/remotes/azure';
import { parseBucketUrl } from '../src/remotes/s3';

afterAll(removeFixtures);

function useRemote(fixture: Fixture, lines: string): void {
  writeFileSync(join(fixture.repo, '.dvc/config.local'), `['remote "localremote"']\n${lines}\n`);
}

const quick: PullOptions = { remoteOptions: { minDelayMs: 20 } };
const logs: string[] = [];
const log = { info: (l: string) => logs.push(l), warning: (l: string) => logs.push(l) };

describe('http remote served by real nginx', () => {
  let plain: ServedRemote;
  let basic: ServedRemote;
  let custom: ServedRemote;
  let proxy: FaultProxy;
  let source: Fixture;
  beforeAll(async () => {
    source = extractFixture();
    plain = await serveRemote(source.remote);
    basic = await serveRemote(source.remote, { basicAuth: true });
    custom = await serveRemote(source.remote, { customHeader: { name: 'X-DVC-Token', value: 'tok-4711' } });
    proxy = await startFaultProxy(plain.url);
  });
  afterAll(async () => {
    await proxy?.stop();
    for (const s of [plain, basic, custom]) await s?.nginx.stop();
  });

  it('pulls everything over plain http', async () => {
    const fixture = extractFixture();
    useRemote(fixture, `    url = ${plain.url}`);
    const r = await pull(await openRepo(fixture.repo), quick);
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    expect(r.downloadedFiles).toBe(22);
  });

  it('authenticates with DVC basic auth keys from config.local, or with the input credentials', async () => {
    const fixture = extractFixture();
    useRemote(
      fixture,
      `    url = ${basic.url}\n    auth = basic\n    user = ${basic.user}\n    password = ${basic.password}`,
    );
    await pull(await openRepo(fixture.repo), quick);
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    const second = extractFixture();
    useRemote(second, `    url = ${basic.url}\n    auth = basic`);
    await pull(await openRepo(second.repo), {
      targets: ['model.bin'],
      remoteOptions: { httpUser: basic.user, httpPassword: basic.password },
    });
    expect(
      checkPulled(
        second.repo,
        second.expected.filter((f) => f.path === 'model.bin'),
      ),
    ).toEqual([]);
  });

  it('takes user and password from the URL, as DVC does', async () => {
    const fixture = extractFixture();
    const url = new URL(basic.url);
    url.username = basic.user!;
    url.password = basic.password!;
    useRemote(fixture, `    url = ${url.toString()}`);
    await pull(await openRepo(fixture.repo), { targets: ['model.bin'] });
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => f.path === 'model.bin'),
      ),
    ).toEqual([]);
  });

  it('sends the custom auth header (auth = custom)', async () => {
    const fixture = extractFixture();
    useRemote(
      fixture,
      `    url = ${custom.url}\n    auth = custom\n    custom_auth_header = X-DVC-Token\n    password = tok-4711`,
    );
    await pull(await openRepo(fixture.repo), { targets: ['data/single.bin'] });
    expect(
      checkPulled(
        fixture.repo,
        fixture.expected.filter((f) => f.path === 'data/single.bin'),
      ),
    ).toEqual([]);
  });

  it('credentials rejected (401/403): one line, no secret in it', async () => {
    const fixture = extractFixture();
    useRemote(
      fixture,
      `    url = ${basic.url}\n    auth = basic\n    user = ${basic.user}\n    password = wrong-pass-991`,
    );
    const error = await failure(pull(await openRepo(fixture.repo), quick));
    expect(error.message).toBe(
      `DVC remote 'localremote' (${basic.url}/) rejected the credentials: 401 Unauthorized; set http-user and http-password (or auth, user and password in .dvc/config.local)`,
    );
    expect(error.message).not.toContain('wrong-pass-991');
    useRemote(
      fixture,
      `    url = ${custom.url}\n    auth = custom\n    custom_auth_header = X-DVC-Token\n    password = tok-bad-77`,
    );
    const forbidden = await failure(pull(await openRepo(fixture.repo), quick));
    expect(forbidden.message).toMatch(/rejected the credentials: 403 Forbidden/);
    expect(forbidden.message).not.toContain('tok-bad-77');
    useRemote(fixture, `    url = ${basic.url}`);
    const none = await failure(pull(await openRepo(fixture.repo), quick));
    expect(none.message).toMatch(/^DVC remote 'localremote' .* requires credentials: 401/);
  });

  describe('faults injected by a proxy in front of nginx', () => {
    const single = 'files/md5/aa/095e946924491c54ff0b814b914747';
    async function pullSingle() {
      const fixture = extractFixture();
      useRemote(fixture, `    url = ${proxy.url}`);
      const result = await pull(await openRepo(fixture.repo), {
        ...quick,
        idleTimeoutMs: 500,
        log,
        targets: ['data/single.bin'],
      });
      return { fixture, result };
    }
    const hitsOf = () => proxy.hits.get(`/${single}`) ?? 0;

    it.each([
      ['connection reset mid-body', { kind: 'reset', times: 2 } as const, 3],
      ['500s then success', { kind: 'status', status: 500, times: 2 } as const, 3],
      ['429 with Retry-After', { kind: 'retry-after', seconds: 1, times: 1 } as const, 2],
      [
        'a truncated body (caught by the md5, downloaded once more)',
        { kind: 'truncate', times: 1 } as const,
        2,
      ],
      ['a corrupted object once', { kind: 'corrupt', times: 1 } as const, 2],
      ['a body that stalls mid-way', { kind: 'stall', times: 1 } as const, 2],
    ])('recovers from %s', async (_name, fault, requests) => {
      proxy.setFault(single, fault);
      const before = hitsOf();
      const { fixture, result } = await pullSingle();
      proxy.setFault(single, undefined);
      expect(hitsOf() - before).toBe(requests);
      expect(result.downloadedFiles).toBe(1);
      expect(
        checkPulled(
          fixture.repo,
          fixture.expected.filter((f) => f.path === 'data/single.bin'),
        ),
      ).toEqual([]);
    });

    it('fails on an object that stays corrupt, naming the workspace path, and leaves nothing unverified', async () => {
      proxy.setFault(single, { kind: 'corrupt', times: 10 });
      const error = await failure(pullSingle());
      proxy.setFault(single, undefined);
      expect(error.message).toMatch(
        /^Verification failed for 1 object\(s\), whose remote copies are corrupt or incomplete \(re-push them with 'dvc push'\): 'data\/single\.bin': object aa095e946924491c54ff0b814b914747 from DVC remote 'localremote' \(http:\/\/127\.0\.0\.1:\d+\/files\/md5\/aa\/095e946924491c54ff0b814b914747\) hashes to [0-9a-f]{32} twice/,
      );
    });
  });
});

describe('s3 remote in s3rver', () => {
  let s3: S3rverInstance;
  let source: Fixture;
  beforeAll(async () => {
    source = extractFixture();
    s3 = await startS3rver(['dvc-bucket']);
    await uploadTree(s3, 'dvc-bucket', 'team/store', source.remote);
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it('pulls everything with credentials from the environment and endpointurl', async () => {
    const fixture = extractFixture();
    useRemote(fixture, `    url = s3://dvc-bucket/team/store\n    endpointurl = ${s3.endpoint}`);
    process.env.AWS_ACCESS_KEY_ID = s3.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = s3.secretAccessKey;
    const r = await pull(await openRepo(fixture.repo));
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    expect(r.downloadedFiles).toBe(22);
  });

  it('reports missing objects and rejected credentials', async () => {
    const fixture = extractFixture();
    useRemote(fixture, `    url = s3://dvc-bucket/elsewhere\n    endpointurl = ${s3.endpoint}`);
    const missing = await failure(pull(await openRepo(fixture.repo), { targets: ['data/single.bin'] }));
    expect(missing.message).toBe(
      "1 file(s) missing on DVC remote localremote: data/single.bin (aa095e946924491c54ff0b814b914747); push them with 'dvc push'",
    );
    useRemote(
      fixture,
      `    url = s3://dvc-bucket/team/store\n    endpointurl = ${s3.endpoint}\n    access_key_id = WRONGKEY\n    secret_access_key = wrong-secret-5`,
    );
    const denied = await failure(pull(await openRepo(fixture.repo), { targets: ['data/single.bin'] }));
    expect(denied.message).toMatch(
      /^DVC remote 'localremote' \(s3:\/\/dvc-bucket\/team\/store\) rejected the credentials: /,
    );
    expect(denied.message).not.toContain('wrong-secret-5');
  });
});

describe('azure remote in Azurite, the Azure Storage emulator', () => {
  let azurite: AzuriteInstance;
  beforeAll(async () => {
    azurite = await startAzurite();
    await uploadTreeToAzurite(azurite, 'dvc', 'store', extractFixture().remote);
  });
  afterAll(async () => {
    await azurite?.stop();
  });

  it('pulls everything with connection_string from config.local', async () => {
    const fixture = extractFixture();
    useRemote(fixture, `    url = azure://dvc/store\n    connection_string = ${azurite.connectionString()}`);
    const r = await pull(await openRepo(fixture.repo));
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    expect(r.downloadedFiles).toBe(22);
  });

  it('reports missing objects and rejected credentials without the key', async () => {
    const fixture = extractFixture();
    useRemote(
      fixture,
      `    url = azure://dvc/elsewhere\n    connection_string = ${azurite.connectionString()}`,
    );
    const missing = await failure(pull(await openRepo(fixture.repo), { targets: ['model.bin'] }));
    expect(missing.message).toBe(
      "1 file(s) missing on DVC remote localremote: model.bin (595ae00f6d65cead0e09e4c14a8125ae); push them with 'dvc push'",
    );
    const wrongKey = Buffer.from('not the account key at all, 64 bytes long ..................!!').toString(
      'base64',
    );
    useRemote(
      fixture,
      `    url = azure://dvc/store\n    connection_string = ${azurite.connectionString(wrongKey)}`,
    );
    const denied = await failure(pull(await openRepo(fixture.repo), { targets: ['model.bin'] }));
    expect(denied.message).toBe(
      "DVC remote 'localremote' (azure://dvc/store) rejected the credentials: 403; check the Azure storage credentials",
    );
  });
});

describe('gs remote against a double of the GCS JSON API (no GCS emulator runs here)', () => {
  let gcs: GcsDouble;
  let fixtureRoot: string;
  beforeAll(async () => {
    const source = extractFixture();
    fixtureRoot = join(source.dir, 'gcs');
    execFileSync('mkdir', ['-p', join(fixtureRoot, 'dvc-bucket')]);
    execFileSync('cp', ['-r', source.remote, join(fixtureRoot, 'dvc-bucket', 'store')]);
    gcs = await startGcsDouble(fixtureRoot);
  });
  afterAll(async () => {
    await gcs?.stop();
  });

  it('pulls everything through @google-cloud/storage with endpointurl', async () => {
    const fixture = extractFixture();
    useRemote(fixture, `    url = gs://dvc-bucket/store\n    endpointurl = ${gcs.url}`);
    const r = await pull(await openRepo(fixture.repo));
    expect(checkPulled(fixture.repo, fixture.expected)).toEqual([]);
    expect(r.downloadedFiles).toBe(22);
    expect(gcs.requests).toContain('/storage/v1/b/dvc-bucket/o/store%2Ffa%2F6844d2803bb45e1017057bd270fab2');
  });

  it('reports missing objects', async () => {
    const fixture = extractFixture();
    useRemote(fixture, `    url = gs://dvc-bucket/elsewhere\n    endpointurl = ${gcs.url}`);
    const missing = await failure(pull(await openRepo(fixture.repo), { targets: ['model.bin'] }));
    expect(missing.message).toBe(
      "1 file(s) missing on DVC remote localremote: model.bin (595ae00f6d65cead0e09e4c14a8125ae); push them with 'dvc push'",
    );
  });
});

describe('gs remote without a server', () => {
  it('parses bucket and container URLs as DVC writes them', () => {
    expect(parseBucketUrl('gs://my-bucket/path/to/store/')).toEqual({
      bucket: 'my-bucket',
      prefix: 'path/to/store',
    });
    expect(parseContainerUrl('azure://data/dvc')).toEqual({ container: 'data', prefix: 'dvc' });
  });

  it('azure without any account names the variables to set', async () => {
    const error = await failure(
      azureRemote({ name: 'az', url: 'azure://data/dvc', options: {} }, { log: () => undefined, env: {} }),
    );
    expect(error.message).toMatch(
      /^DVC remote 'az' \(azure:\/\/data\/dvc\): no Azure account; set AZURE_STORAGE_CONNECTION_STRING/,
    );
  });
});
