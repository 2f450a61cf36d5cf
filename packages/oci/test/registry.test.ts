import { execFile } from 'node:child_process';
import { createReadStream, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../test/servers/process';
import { type Registry, startRegistry } from '../../../test/servers/registry';
import { startUploadProxy } from '../../../test/servers/upload-proxy';
import { buildLayer, listTree, streamLayer } from '../src/layer';
import { LayoutStore } from '../src/layout';
import { describe as describeBytes, encodeJson, type ImageManifest, MediaType, sha256 } from '../src/media';
import { listReferrers, pushReferrer, referrersTag } from '../src/referrers';
import { RegistryClient } from '../src/registry';
import { type OciStore, SourceChangedError } from '../src/store';

const exec = promisify(execFile);
const dirs: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oci-reg-'));
  dirs.push(dir);
  return dir;
}

let registry: Registry;
beforeAll(async () => {
  registry = await startRegistry();
});
afterAll(async () => {
  await registry?.stop();
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** A one-layer image (a 3 MB file, so chunked uploads take several PATCHes) pushed to a store. */
async function pushImage(store: OciStore, repository: string, tag: string, chunkSize?: number) {
  const dir = temp();
  writeFileSync(
    join(dir, 'data.bin'),
    Buffer.alloc(3_000_000, 1).map((_, i) => (i * 31) % 251),
  );
  const layer = await buildLayer(listTree(join(dir, 'data.bin'), 'srv'), {
    output: join(dir, 'layer.tgz'),
    level: 0,
  });
  const config = encodeJson({
    architecture: 'amd64',
    os: 'linux',
    config: { Env: ['A=1'] },
    rootfs: { type: 'layers', diff_ids: [layer.diffId] },
  });
  const configDesc = describeBytes(MediaType.ociConfig, config);
  const outcomes = [
    await store.pushBlob(repository, configDesc, config),
    await store.pushBlob(repository, layer.descriptor, () => createReadStream(join(dir, 'layer.tgz')), {
      chunkSize,
    }),
  ];
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: configDesc,
    layers: [layer.descriptor],
    annotations: { 'org.opencontainers.image.title': 'test' },
  };
  const bytes = encodeJson(manifest);
  const descriptor = await store.putManifest(repository, bytes, MediaType.ociManifest, tag);
  return { descriptor, bytes, layer, outcomes };
}

describe('RegistryClient against docker-registry 2.8', () => {
  it('pushes chunked and monolithic, reads back OCI manifests, and skopeo agrees', async () => {
    const client = new RegistryClient({ registry: registry.host });
    const chunked = await pushImage(client, 'team/app', 'v1', 1024 * 1024);
    expect(chunked.outcomes).toEqual(['uploaded', 'uploaded']);
    const resolved = await client.resolve('team/app', 'v1');
    expect(resolved).toEqual(chunked.descriptor);
    expect(resolved?.mediaType).toBe(MediaType.ociManifest);
    const { stdout } = await exec('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      `docker://${registry.host}/team/app:v1`,
    ]);
    expect(Buffer.from(stdout)).toEqual(chunked.bytes);
    await exec('skopeo', [
      'copy',
      '--src-tls-verify=false',
      `docker://${registry.host}/team/app:v1`,
      `oci:${join(temp(), 'copy')}:v1`,
    ]);

    // Same content again: every blob is found by HEAD.
    const again = await pushImage(client, 'team/app', 'v2');
    expect(again.outcomes).toEqual(['exists', 'exists']);
    expect(await client.listTags('team/app')).toEqual(['v1', 'v2']);
    expect(await client.listTags('team/none')).toEqual([]);
    expect(await client.resolve('team/app', 'nope')).toBeUndefined();
  });

  it('mounts a blob from another repository (201) instead of uploading it', async () => {
    const client = new RegistryClient({ registry: registry.host });
    const { layer } = await pushImage(client, 'src/base', 'latest');
    let uploads = 0;
    const outcome = await client.pushBlob(
      'dst/app',
      layer.descriptor,
      () => {
        uploads++;
        throw new Error('no bytes should be read');
      },
      { mountFrom: 'src/base' },
    );
    expect(outcome).toBe('mounted');
    expect(uploads).toBe(0);
    expect(await client.hasBlob('dst/app', layer.descriptor.digest)).toBe(layer.descriptor.size);
    // Mounting from a repository that lacks the blob falls back (202) to false.
    expect(await client.mountBlob('dst/other', layer.descriptor.digest, 'src/empty')).toBe(false);
  });

  it('records referrers under the sha256-<hex> tag schema (no referrers API in 2.8)', async () => {
    const client = new RegistryClient({ registry: registry.host });
    const { descriptor } = await pushImage(client, 'ref/app', 'v1');
    const empty = describeBytes(MediaType.ociEmpty, Buffer.from('{}'));
    await client.pushBlob('ref/app', empty, Buffer.from('{}'));
    for (const note of ['one', 'two']) {
      await pushReferrer(client, 'ref/app', {
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        artifactType: 'application/vnd.example.note',
        config: empty,
        layers: [empty],
        subject: descriptor,
        annotations: { note },
      });
    }
    const referrers = await listReferrers(
      client,
      'ref/app',
      descriptor.digest,
      'application/vnd.example.note',
    );
    expect(referrers.map((r) => r.annotations?.note)).toEqual(['one', 'two']);
    expect(await client.listTags('ref/app')).toContain(referrersTag(descriptor.digest));
  });

  it('starts a blob upload again when the connection is cut mid-blob, and the blob lands whole', async () => {
    // A proxy that cuts the first PATCH after part of its body.
    let cut = 0;
    const upstream = new URL(registry.url);
    const server: Server = createServer((req, res) => {
      if (req.method === 'PATCH' && cut === 0) {
        cut++;
        let seen = 0;
        req.on('data', (d: Buffer) => {
          seen += d.byteLength;
          if (seen > 100_000) req.socket.destroy();
        });
        return;
      }
      const forward = request(
        {
          host: upstream.hostname,
          port: upstream.port,
          path: req.url,
          method: req.method,
          headers: req.headers,
        },
        (up) => {
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      req.pipe(forward);
    });
    const port = await freePort();
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
    try {
      const logs: string[] = [];
      const client = new RegistryClient({
        registry: `127.0.0.1:${port}`,
        log: (l) => logs.push(l),
        http: { minDelayMs: 10 },
      });
      const { layer, outcomes } = await pushImage(client, 'cut/app', 'v1', 1024 * 1024);
      expect(cut).toBe(1);
      expect(outcomes[1]).toBe('uploaded');
      expect(logs.join('\n')).toMatch(/cut off.*starting again \(2\/3\)/);
      const direct = new RegistryClient({ registry: registry.host });
      expect(await direct.hasBlob('cut/app', layer.descriptor.digest)).toBe(layer.descriptor.size);
    } finally {
      server.close();
    }
  });
});

describe('streamed blobs (digest known only at the end)', () => {
  const bytes = Buffer.alloc(3_000_000).map((_, i) => (i * 7919) % 251);
  const expected = async () => {
    const file = join(temp(), 'blob');
    writeFileSync(file, bytes);
    return `sha256:${(await exec('sha256sum', [file])).stdout.split(' ')[0]}`;
  };

  it('with digestFirst: false, uploads in several PATCHes with the digest in the closing PUT, and again whole after a reset mid-stream', async () => {
    const proxy = await startUploadProxy(registry.url);
    try {
      proxy.failNext({ kind: 'reset', afterBytes: 100_000 });
      const logs: string[] = [];
      const client = new RegistryClient({
        registry: proxy.host,
        chunkSize: 1024 * 1024,
        log: (l) => logs.push(l),
      });
      let opened = 0;
      const stored = await client.pushStream(
        'stream/app',
        () => {
          opened++;
          return Readable.from([bytes.subarray(0, 1_500_000), bytes.subarray(1_500_000)]);
        },
        { digestFirst: false },
      );
      expect(stored).toEqual({ digest: await expected(), size: 3_000_000, outcome: 'uploaded' });
      expect(opened).toBe(2);
      expect(logs.join('\n')).toMatch(/cut off.*starting again \(2\/3\)/);
      expect(proxy.log).toEqual([
        'cut PATCH blob',
        'PATCH blob 202',
        'PATCH blob 202',
        'PATCH blob 202',
        'PUT blob 201',
      ]);
      const direct = new RegistryClient({ registry: registry.host });
      expect(await direct.hasBlob('stream/app', stored.digest)).toBe(3_000_000);
      expect(sha256(await direct.getBlob('stream/app', stored.digest))).toBe(stored.digest);
    } finally {
      await proxy.stop();
    }
  });

  const parts = (data: Buffer) => Readable.from([data.subarray(0, 1_000_000), data.subarray(1_000_000)]);

  it('hashes first, then sends the blob in one monolithic PUT; pushed again, nothing is sent', async () => {
    const proxy = await startUploadProxy(registry.url);
    try {
      const logs: string[] = [];
      const client = new RegistryClient({ registry: proxy.host, log: (l) => logs.push(l) });
      let opened = 0;
      let sent = 0;
      const open = () => {
        opened++;
        return parts(bytes);
      };
      const stored = await client.pushStream('mono/app', open, { onProgress: (n) => (sent += n) });
      const digest = await expected();
      expect(stored).toEqual({ digest, size: 3_000_000, outcome: 'uploaded' });
      expect(opened).toBe(2);
      expect(sent).toBe(3_000_000);
      expect(proxy.log).toEqual(['PUT blob 201']);
      expect(logs.join('\n')).toContain(`${digest} (3000000 bytes) hashed`);

      const again = await client.pushStream('mono/app', open);
      expect(again).toEqual({ digest, size: 3_000_000, outcome: 'exists' });
      expect(opened).toBe(3);
      expect(proxy.log).toEqual(['PUT blob 201']);
      const direct = new RegistryClient({ registry: registry.host });
      expect(sha256(await direct.getBlob('mono/app', digest))).toBe(digest);
    } finally {
      await proxy.stop();
    }
  });

  it('starts a new upload session when the monolithic PUT is reset midway, and the blob lands whole', async () => {
    const proxy = await startUploadProxy(registry.url);
    try {
      proxy.failNext({ kind: 'reset', afterBytes: 100_000 });
      const logs: string[] = [];
      const client = new RegistryClient({ registry: proxy.host, log: (l) => logs.push(l) });
      const stored = await client.pushStream('reset/app', () => parts(bytes));
      expect(stored.outcome).toBe('uploaded');
      expect(proxy.log).toEqual(['cut PUT blob', 'PUT blob 201']);
      expect(logs.join('\n')).toMatch(/upload of sha256:[0-9a-f]{64} .*cut off.*starting again \(2\/3\)/);
      const direct = new RegistryClient({ registry: registry.host });
      expect(sha256(await direct.getBlob('reset/app', stored.digest))).toBe(await expected());
    } finally {
      await proxy.stop();
    }
  });

  it('falls back to chunked PATCHes when the registry answers 413 to the whole body, and stays chunked', async () => {
    const proxy = await startUploadProxy(registry.url);
    try {
      proxy.failNext({ kind: 'status', status: 413 });
      const logs: string[] = [];
      const client = new RegistryClient({
        registry: proxy.host,
        chunkSize: 1024 * 1024,
        log: (l) => logs.push(l),
      });
      const stored = await client.pushStream('big/app', () => parts(bytes));
      expect(stored).toEqual({ digest: await expected(), size: 3_000_000, outcome: 'uploaded' });
      expect(proxy.log).toEqual([
        '413 PUT blob',
        'PATCH blob 202',
        'PATCH blob 202',
        'PATCH blob 202',
        'PUT blob 201',
      ]);
      expect(logs.join('\n')).toMatch(
        /refused 3000000 bytes in one request \(413\); uploading in 1048576-byte chunks/,
      );
      // The next blob goes up in chunks at once.
      const other = Buffer.from(bytes).reverse();
      await client.pushStream('big/app', () => parts(other));
      expect(proxy.log.slice(5)).toEqual([
        'PATCH blob 202',
        'PATCH blob 202',
        'PATCH blob 202',
        'PUT blob 201',
      ]);
      const direct = new RegistryClient({ registry: registry.host });
      expect(await direct.hasBlob('big/app', stored.digest)).toBe(3_000_000);
    } finally {
      await proxy.stop();
    }
  });

  it('fails clearly, without retrying or storing anything, when the bytes change between the digest pass and the upload', async () => {
    const proxy = await startUploadProxy(registry.url);
    try {
      const client = new RegistryClient({ registry: proxy.host });
      const changed = Buffer.from(bytes);
      changed[2_500_000] = (changed[2_500_000]! + 1) % 256;
      let opened = 0;
      const error = await client
        .pushStream('changed/app', () => parts(opened++ === 0 ? bytes : changed))
        .catch((e: Error) => e);
      expect(error).toBeInstanceOf(SourceChangedError);
      expect((error as Error).message).toMatch(
        new RegExp(
          `The bytes of changed/app@${await expected()} changed while they were uploaded \\(3000000 bytes with digest sha256:[0-9a-f]{64}, not`,
        ),
      );
      expect(opened).toBe(2);
      expect(proxy.log).toEqual([]);
      const direct = new RegistryClient({ registry: registry.host });
      expect(await direct.hasBlob('changed/app', await expected())).toBeUndefined();
      expect(await direct.hasBlob('changed/app', sha256(changed))).toBeUndefined();
    } finally {
      await proxy.stop();
    }
  });

  it('names the file of a layer that was modified after the digest pass', async () => {
    const dir = temp();
    const file = join(dir, 'm', 'weights.bin');
    mkdirSync(join(dir, 'm'));
    writeFileSync(file, bytes);
    const client = new RegistryClient({ registry: registry.host });
    let opened = 0;
    const error = await streamLayer(listTree(join(dir, 'm'), 'm'), { gzip: false }, (open) =>
      client.pushStream('layer/app', () => {
        if (opened++ === 1) writeFileSync(file, Buffer.from(bytes).reverse());
        return open();
      }),
    ).catch((e: Error) => e);
    expect(error).toBeInstanceOf(SourceChangedError);
    expect((error as Error).message).toBe(
      `'${file}' was modified while the layer was read (its mtime moved after it was listed)`,
    );
  });

  describe('overlapped push (size known: one PATCH while a second read hashes)', () => {
    const size = 3_000_000;

    it('sends one PATCH at once and closes it with the digest; pushed again, the upload is stopped', async () => {
      const proxy = await startUploadProxy(registry.url);
      try {
        const logs: string[] = [];
        const client = new RegistryClient({ registry: proxy.host, log: (l) => logs.push(l) });
        let opened = 0;
        let sent = 0;
        const open = () => {
          opened++;
          return parts(bytes);
        };
        const stored = await client.pushStream('overlap/app', open, {
          size,
          onProgress: (n) => (sent += n),
        });
        const digest = await expected();
        expect(stored).toEqual({ digest, size, outcome: 'uploaded' });
        expect(opened).toBe(2);
        expect(sent).toBe(size);
        expect(proxy.log).toEqual(['PATCH blob 202', 'PUT blob 201']);
        expect(logs.join('\n')).toContain(`${digest} (3000000 bytes) hashed in`);
        const direct = new RegistryClient({ registry: registry.host });
        expect(sha256(await direct.getBlob('overlap/app', digest))).toBe(digest);
      } finally {
        await proxy.stop();
      }
    });

    it('stops the PATCH in flight and drops its session when the registry turns out to have the blob', async () => {
      const direct = new RegistryClient({ registry: registry.host });
      const digest = await expected();
      await direct.pushStream('held/app', () => parts(bytes));
      const proxy = await startUploadProxy(registry.url);
      try {
        const logs: string[] = [];
        const client = new RegistryClient({ registry: proxy.host, log: (l) => logs.push(l) });
        let opened = 0;
        let released = false;
        // The upload's read gives 1 MB and then waits: the PATCH is still in flight when the HEAD answers.
        const stalled = () =>
          new Readable({
            read() {
              if (this.readableLength === 0 && !released) this.push(bytes.subarray(0, 1_000_000));
            },
            destroy(error, callback) {
              released = true;
              callback(error);
            },
          });
        const outcome = await client.pushStream(
          'held/app',
          () => (opened++ === 0 ? parts(bytes) : stalled()),
          { size },
        );
        expect(outcome).toEqual({ digest, size, outcome: 'exists' });
        expect(opened).toBe(2);
        expect(released).toBe(true);
        // No PATCH completed and no blob was closed. The session is gone: the registry drops it when the
        // PATCH is cut, or, if the client's status GET comes first, the client deletes it.
        expect(proxy.log.filter((e) => e !== 'DELETE blob 204')).toEqual([]);
        expect(logs.join('\n')).toContain(
          `${proxy.host}/held/app has ${digest} already: the upload was stopped and its session dropped`,
        );
        expect(logs.join('\n')).not.toContain('could not drop');
      } finally {
        await proxy.stop();
      }
    });

    it('fails with SourceChangedError when the registry finds another digest (DIGEST_INVALID), storing nothing', async () => {
      const proxy = await startUploadProxy(registry.url);
      try {
        const client = new RegistryClient({ registry: proxy.host });
        const changed = Buffer.from(bytes);
        changed[2_500_000] = (changed[2_500_000]! + 1) % 256;
        let opened = 0;
        const error = await client
          .pushStream('invalid/app', () => parts(opened++ === 0 ? bytes : changed), { size })
          .catch((e: Error) => e);
        expect(error).toBeInstanceOf(SourceChangedError);
        expect((error as Error).message).toBe(
          `The bytes of invalid/app@${await expected()} changed while they were uploaded: ${proxy.host} received bytes with another digest (DIGEST_INVALID), so its source gave other bytes than when it was hashed`,
        );
        expect(proxy.log).toEqual(['PATCH blob 202', 'PUT blob 400']);
        const direct = new RegistryClient({ registry: registry.host });
        expect(await direct.hasBlob('invalid/app', await expected())).toBeUndefined();
        expect(await direct.hasBlob('invalid/app', sha256(changed))).toBeUndefined();
      } finally {
        await proxy.stop();
      }
    });

    it('sends the PATCH again in a new session when it is reset midway, and the blob lands whole', async () => {
      const proxy = await startUploadProxy(registry.url);
      try {
        proxy.failNext({ kind: 'reset', afterBytes: 100_000 });
        const logs: string[] = [];
        const client = new RegistryClient({ registry: proxy.host, log: (l) => logs.push(l) });
        let opened = 0;
        const stored = await client.pushStream(
          'patchreset/app',
          () => {
            opened++;
            return parts(bytes);
          },
          { size },
        );
        expect(stored).toEqual({ digest: await expected(), size, outcome: 'uploaded' });
        expect(opened).toBe(3);
        expect(proxy.log).toEqual(['cut PATCH blob', 'PATCH blob 202', 'PUT blob 201']);
        expect(logs.join('\n')).toMatch(/upload of a 3000000-byte stream .*cut off.*starting again \(2\/3\)/);
        const direct = new RegistryClient({ registry: registry.host });
        expect(sha256(await direct.getBlob('patchreset/app', stored.digest))).toBe(await expected());
      } finally {
        await proxy.stop();
      }
    });

    it('falls back to chunks when the registry answers 413 to the whole PATCH', async () => {
      const proxy = await startUploadProxy(registry.url);
      try {
        proxy.failNext({ kind: 'status', status: 413 });
        const logs: string[] = [];
        const client = new RegistryClient({
          registry: proxy.host,
          chunkSize: 1024 * 1024,
          log: (l) => logs.push(l),
        });
        const stored = await client.pushStream('large/app', () => parts(bytes), { size });
        expect(stored).toEqual({ digest: await expected(), size, outcome: 'uploaded' });
        expect(proxy.log).toEqual([
          '413 PATCH blob',
          'DELETE blob 204',
          'PATCH blob 202',
          'PATCH blob 202',
          'PATCH blob 202',
          'PUT blob 201',
        ]);
        expect(logs.join('\n')).toMatch(/refused 3000000 bytes in one request \(413\)/);
      } finally {
        await proxy.stop();
      }
    });
  });

  it('lands in a layout under its digest with no temporary file left, and reports a blob it already had', async () => {
    const root = temp();
    const layout = new LayoutStore(root);
    const first = await layout.pushStream('m', () => Readable.from([bytes]));
    expect(first).toEqual({ digest: await expected(), size: 3_000_000, outcome: 'uploaded' });
    const again = await layout.pushStream('m', () => Readable.from([bytes]));
    expect(again.outcome).toBe('exists');
    expect(readdirSync(join(root, 'm', 'blobs', 'sha256'))).toEqual([first.digest.slice('sha256:'.length)]);
  });
});

describe('RegistryClient auth', () => {
  const servers: Registry[] = [];
  afterAll(async () => {
    for (const s of servers) await s.stop();
  });

  it('follows the WWW-Authenticate bearer flow against a token server', async () => {
    const secured = await startRegistry({ auth: 'token' });
    servers.push(secured);
    const client = new RegistryClient({
      registry: secured.host,
      credentials: { username: secured.username!, password: secured.password! },
    });
    const { descriptor } = await pushImage(client, 'private/app', 'v1');
    expect((await client.resolve('private/app', 'v1'))?.digest).toBe(descriptor.digest);
    expect(
      secured.tokenRequests.some((q) => q.includes('scope=repository%3Aprivate%2Fapp%3Apull%2Cpush')),
    ).toBe(true);
    const { stdout } = await exec('skopeo', [
      'inspect',
      '--raw',
      '--tls-verify=false',
      '--creds',
      `${secured.username}:${secured.password}`,
      `docker://${secured.host}/private/app:v1`,
    ]);
    expect(JSON.parse(stdout).annotations['org.opencontainers.image.title']).toBe('test');

    const wrong = new RegistryClient({
      registry: secured.host,
      credentials: { username: secured.username!, password: 'not-the-password' },
      credentialInput: 'registry-password',
    });
    const error = await wrong.resolve('private/app', 'v1').catch((e: Error) => e);
    expect((error as Error).message).toMatch(
      new RegExp(`Registry ${secured.host} refused the credentials.*'registry-password'`),
    );
    expect((error as Error).message).not.toContain('not-the-password');
    const anonymous = new RegistryClient({ registry: secured.host, credentialInput: 'registry-password' });
    await expect(anonymous.listTags('private/app')).rejects.toThrow(
      /needs credentials \(401\).*set 'registry-password'/,
    );
  });

  it('sends basic auth to an htpasswd registry', async () => {
    const secured = await startRegistry({ auth: 'htpasswd' });
    servers.push(secured);
    const client = new RegistryClient({
      registry: secured.host,
      credentials: { username: secured.username!, password: secured.password! },
    });
    await pushImage(client, 'basic/app', 'v1');
    expect(await client.listTags('basic/app')).toEqual(['v1']);
    const wrong = new RegistryClient({
      registry: secured.host,
      credentials: { username: 'ci-user', password: 'nope-secret' },
      credentialInput: 'password',
    });
    const error = (await wrong.listTags('basic/app').catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(/refused the credentials.*'password'/);
    expect(error.message).not.toContain('nope-secret');
  });
});

describe('LayoutStore', () => {
  it('is a registry without a server: skopeo reads it and copies it to the registry', async () => {
    const root = temp();
    const layout = new LayoutStore(root);
    const { descriptor, layer } = await pushImage(layout, 'models/demo', 'v1');
    expect(await layout.resolve('models/demo', 'v1')).toEqual(descriptor);
    expect(await layout.listTags('models/demo')).toEqual(['v1']);
    const { stdout } = await exec('skopeo', ['inspect', '--raw', `oci:${join(root, 'models/demo')}:v1`]);
    expect(JSON.parse(stdout).layers[0].digest).toBe(layer.descriptor.digest);
    await exec('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${join(root, 'models/demo')}:v1`,
      `docker://${registry.host}/from/layout:v1`,
    ]);
    const client = new RegistryClient({ registry: registry.host });
    expect((await client.resolve('from/layout', 'v1'))?.digest).toBe(descriptor.digest);
    expect(await layout.mountBlob('models/other', descriptor.digest, 'models/demo')).toBe(true);
    await expect(
      layout.pushBlob('models/x', { ...descriptor, digest: `sha256:${'0'.repeat(64)}` }, Buffer.from('x')),
    ).rejects.toThrow(/had digest sha256:/);
    await exec('umoci', [
      'unpack',
      '--rootless',
      '--image',
      `${join(root, 'models/demo')}:v1`,
      join(root, 'bundle'),
    ]);
  });
});
