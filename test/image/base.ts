import { execFile } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import {
  describe as describeBytes,
  encodeJson,
  type ImageIndex,
  MediaType,
  type RegistryClient,
  sha256,
} from '@mlops-actions/oci';

const exec = promisify(execFile);

/** A gzip'd tar made by GNU tar, so the base image does not come from the code under test. */
async function tarLayer(root: string, scratch: string): Promise<{ blob: Buffer; diffId: string }> {
  const dir = mkdtempSync(join(scratch, 'layer-'));
  await exec('tar', [
    '--sort=name',
    '--owner=0',
    '--group=0',
    '--numeric-owner',
    '--mtime=@0',
    '-cf',
    join(dir, 'l.tar'),
    '-C',
    root,
    '.',
  ]);
  const tar = readFileSync(join(dir, 'l.tar'));
  await exec('gzip', ['-n', join(dir, 'l.tar')]);
  return { blob: readFileSync(join(dir, 'l.tar.gz')), diffId: sha256(tar) };
}

/**
 * A two-platform base of three layers (Debian's busybox-static, /etc/passwd, an /app script), pushed as an
 * OCI index to `repository:1`; every timestamp is 0, so the same busybox gives the same digest.
 */
export async function pushBusyboxBase(client: RegistryClient, repository: string): Promise<string> {
  const scratch = mkdtempSync(join(tmpdir(), 'busybox-base-'));
  try {
    const bin = join(scratch, 'bin-layer');
    mkdirSync(join(bin, 'bin'), { recursive: true });
    writeFileSync(join(bin, 'bin', 'busybox'), readFileSync('/usr/bin/busybox'));
    chmodSync(join(bin, 'bin', 'busybox'), 0o755);
    const etc = join(scratch, 'etc-layer');
    mkdirSync(join(etc, 'etc'), { recursive: true });
    writeFileSync(join(etc, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
    const app = join(scratch, 'app-layer');
    mkdirSync(join(app, 'app'), { recursive: true });
    writeFileSync(join(app, 'app', 'serve.sh'), '#!/bin/sh\nls /mnt/models\n');
    const layers = await Promise.all([bin, etc, app].map((root) => tarLayer(root, scratch)));
    const descriptors = layers.map((l) => describeBytes(MediaType.ociLayerGzip, l.blob));
    for (const [n, l] of layers.entries()) await client.pushBlob(repository, descriptors[n]!, l.blob);
    const manifests = [];
    for (const architecture of ['amd64', 'arm64']) {
      const config = encodeJson({
        architecture,
        os: 'linux',
        config: { Env: ['PATH=/bin', 'MODE=base'], Entrypoint: ['/bin/busybox'], Cmd: ['sh'] },
        rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
        history: [{ created_by: 'base' }],
      });
      const configDescriptor = describeBytes(MediaType.ociConfig, config);
      await client.pushBlob(repository, configDescriptor, config);
      const manifest = encodeJson({
        schemaVersion: 2,
        mediaType: MediaType.ociManifest,
        config: configDescriptor,
        layers: descriptors,
      });
      const d = await client.putManifest(repository, manifest, MediaType.ociManifest);
      manifests.push({ ...d, platform: { os: 'linux', architecture } });
    }
    const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    return (await client.putManifest(repository, encodeJson(index), MediaType.ociIndex, '1')).digest;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
