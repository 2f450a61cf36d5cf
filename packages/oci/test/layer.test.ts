import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { forEachChunk } from '@mlops-actions/kit';
import { afterAll, describe, expect, it } from 'vitest';
import { buildLayer, listTree, sourceDateEpoch, streamLayer, tarSize, writeHashed } from '../src/layer';
import { SourceChangedError } from '../src/store';

const dirs: string[] = [];
function temp(): string {
  const dir = mkdtempSync(join(tmpdir(), 'oci-layer-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function makeModel(root: string, mtime: number, umask: number): void {
  const old = process.umask(umask);
  try {
    mkdirSync(join(root, 'weights', 'deep'), { recursive: true });
    writeFileSync(join(root, 'weights', 'model.bin'), Buffer.alloc(300_000, 7));
    writeFileSync(join(root, 'MLmodel'), 'flavors: {}\n');
    writeFileSync(join(root, 'serve.sh'), '#!/bin/sh\necho hi\n');
    chmodSync(join(root, 'serve.sh'), 0o700 & ~umask);
    writeFileSync(join(root, 'weights', 'deep', `${'n'.repeat(120)}.txt`), 'long name');
    symlinkSync('weights/model.bin', join(root, 'current'));
    for (const f of ['MLmodel', 'serve.sh', 'weights/model.bin']) utimesSync(join(root, f), mtime, mtime);
  } finally {
    process.umask(old);
  }
}

describe('deterministic tar layer', () => {
  it('gives the same digests from different folders, mtimes and umasks; tar and gzip read it back', async () => {
    const a = temp();
    const b = temp();
    makeModel(join(a, 'm'), 1_000_000, 0o022);
    makeModel(join(b, 'm'), 1_700_000_000, 0o077);
    const one = await buildLayer(listTree(join(a, 'm'), '/mnt/models'), {
      output: join(a, 'layer.tgz'),
      mtime: 0,
    });
    const two = await buildLayer(listTree(join(b, 'm'), '/mnt/models'), {
      output: join(b, 'layer.tgz'),
      mtime: 0,
    });
    expect(two.descriptor).toEqual(one.descriptor);
    expect(two.diffId).toBe(one.diffId);

    const blobSha = execFileSync('sha256sum', [join(a, 'layer.tgz')], { encoding: 'utf8' }).split(' ')[0];
    expect(one.descriptor.digest).toBe(`sha256:${blobSha}`);
    const tarSha = execFileSync('sh', ['-c', `gzip -dc '${join(a, 'layer.tgz')}' | sha256sum`], {
      encoding: 'utf8',
    }).split(' ')[0];
    expect(one.diffId).toBe(`sha256:${tarSha}`);

    const listing = execFileSync('tar', ['--numeric-owner', '--full-time', '-tvzf', join(a, 'layer.tgz')], {
      encoding: 'utf8',
    })
      .trim()
      .split('\n');
    expect(listing.map((line) => line.split(/\s+/).slice(5).join(' '))).toEqual([
      'mnt/',
      'mnt/models/',
      'mnt/models/MLmodel',
      'mnt/models/current -> weights/model.bin',
      'mnt/models/serve.sh',
      'mnt/models/weights/',
      'mnt/models/weights/deep/',
      `mnt/models/weights/deep/${'n'.repeat(120)}.txt`,
      'mnt/models/weights/model.bin',
    ]);
    for (const line of listing) {
      const [mode, owner, , date, time] = line.split(/\s+/);
      expect(owner).toBe('0/0');
      expect(`${date} ${time}`).toBe('1970-01-01 00:00:00');
      expect(['drwxr-xr-x', '-rw-r--r--', '-rwxr-xr-x', 'lrwxrwxrwx']).toContain(mode);
    }
    expect(listing.find((l) => l.endsWith('serve.sh'))).toMatch(/^-rwxr-xr-x/);
    expect(listing.find((l) => l.endsWith('MLmodel'))).toMatch(/^-rw-r--r--/);
    // gzip header: no FNAME flag, MTIME 0, OS 255.
    const head = readFileSync(join(a, 'layer.tgz')).subarray(0, 10);
    expect(head[3]).toBe(0);
    expect(head.readUInt32LE(4)).toBe(0);
    expect(head[9]).toBe(255);
  });

  it('knows the size of the plain tar before packing it (PAX headers and padding included)', async () => {
    const dir = temp();
    makeModel(join(dir, 'm'), 1_000_000, 0o022);
    const entries = listTree(join(dir, 'm'), 'models');
    await buildLayer(entries, { output: join(dir, 'layer.tar'), gzip: false, mtime: 1_700_000_000 });
    expect(tarSize(entries, 1_700_000_000)).toBe(statSync(join(dir, 'layer.tar')).size);
  });

  it('stamps SOURCE_DATE_EPOCH and refuses a malformed one', async () => {
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '1700000000' })).toBe(1_700_000_000);
    expect(sourceDateEpoch({})).toBe(0);
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(
      /SOURCE_DATE_EPOCH 'yesterday'/,
    );
    const dir = temp();
    writeFileSync(join(dir, 'f'), 'x');
    await buildLayer(listTree(join(dir, 'f'), 'models'), {
      output: join(dir, 'l.tgz'),
      mtime: 1_700_000_000,
    });
    const listing = execFileSync('tar', ['--full-time', '--utc', '-tvzf', join(dir, 'l.tgz')], {
      encoding: 'utf8',
      env: { ...process.env, TZ: 'UTC' },
    });
    expect(listing).toContain('2023-11-14 22:13:20 models/f');
  });

  describe('plain tar read into reused buffers', () => {
    /** Sizes around the 512-byte blocks and across a 1 MB read buffer. */
    const SIZES = [0, 1, 511, 512, 513, 1024 * 1024 - 1, 1024 * 1024 + 7, 3 * 1024 * 1024 + 600];

    function model(): string {
      const dir = temp();
      mkdirSync(join(dir, 'm'));
      SIZES.forEach((size, i) => {
        const bytes = Buffer.allocUnsafe(size);
        for (let j = 0; j < size; j++) bytes[j] = (j * 7 + i) & 0xff;
        writeFileSync(join(dir, 'm', `f${i}.bin`), bytes);
      });
      return dir;
    }

    async function packed(entries: ReturnType<typeof listTree>, chunkSize: number) {
      const parts: Buffer[] = [];
      const layer = await streamLayer(entries, { gzip: false }, async (open) => {
        const hash = createHash('sha256');
        const size = await forEachChunk(
          open(),
          (chunk) => {
            hash.update(chunk);
            parts.push(Buffer.from(chunk));
          },
          { chunkSize },
        );
        return { digest: `sha256:${hash.digest('hex')}`, size };
      });
      return { layer, bytes: Buffer.concat(parts) };
    }

    it('gives the same bytes whatever the buffer size, which GNU tar extracts as the files', async () => {
      const dir = model();
      const entries = listTree(join(dir, 'm'), 'model');
      const results = await Promise.all([1000, 4096, 1024 * 1024].map((size) => packed(entries, size)));
      const digests = new Set(results.map((r) => r.layer.digest));
      expect(digests.size).toBe(1);
      const { layer, bytes } = results[0]!;
      expect(layer.descriptor.size).toBe(tarSize(entries));
      expect(bytes.byteLength).toBe(tarSize(entries));
      expect(layer.diffId).toBe(`sha256:${createHash('sha256').update(bytes).digest('hex')}`);
      writeFileSync(join(dir, 'layer.tar'), bytes);
      mkdirSync(join(dir, 'out'));
      execFileSync('tar', ['-xf', join(dir, 'layer.tar'), '-C', join(dir, 'out')]);
      const digest = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
      SIZES.forEach((_, i) => {
        expect(digest(join(dir, 'out', 'model', `f${i}.bin`))).toBe(digest(join(dir, 'm', `f${i}.bin`)));
      });
    });

    it('fails naming the file that shrank or grew after it was listed', async () => {
      for (const [change, detail] of [
        [-600, '3146328 → 3145728 bytes'],
        [+10, '3146328 → 3146338 bytes'],
      ] as const) {
        const dir = model();
        const entries = listTree(join(dir, 'm'), 'model');
        const file = join(dir, 'm', 'f7.bin');
        writeFileSync(file, Buffer.alloc(SIZES[7]! + change, 1));
        const error = await packed(entries, 1024 * 1024).catch((e: Error) => e);
        expect(error).toBeInstanceOf(SourceChangedError);
        expect((error as Error).message).toBe(`'${file}' changed size while the layer was read (${detail})`);
      }
    });

    /** Files of `dir` this process still has open. */
    function openFiles(dir: string): string[] {
      return readdirSync('/proc/self/fd').flatMap((fd) => {
        try {
          const target = readlinkSync(`/proc/self/fd/${fd}`);
          return target.startsWith(dir) ? [target] : [];
        } catch {
          return [];
        }
      });
    }

    it('closed while it opens or reads a file, fails the pending read and leaves no file open', async () => {
      const dir = model();
      const entries = listTree(join(dir, 'm'), 'model');
      const outcomes: string[] = [];
      await streamLayer(entries, { gzip: false }, async (open) => {
        // The first read queues the folder's header and then waits for the first file to open.
        const opening = open() as ReturnType<typeof open> & {
          readInto(b: Buffer): Promise<number>;
          close(): void;
        };
        const first = opening.readInto(Buffer.alloc(64 * 1024));
        opening.close();
        outcomes.push(await first.then(String, (e: Error) => e.name));
        const reading = open() as typeof opening;
        const buffer = Buffer.alloc(2 * 1024 * 1024);
        let n = 0;
        // Past the small files, into the one of 3 MB, where a read of the file is in flight when it closes.
        while (n < 2 * 1024 * 1024 + 8192) n += await reading.readInto(buffer.subarray(0, 8192));
        const cut = reading.readInto(buffer);
        reading.close();
        outcomes.push(await cut.then(String, (e: Error) => e.name));
        throw new Error('both readers were left');
      }).catch((e: Error) => outcomes.push(e.message));
      expect(outcomes).toEqual(['AbortError', 'AbortError', 'both readers were left']);
      await new Promise((r) => setTimeout(r, 50));
      expect(openFiles(dir)).toEqual([]);
    });

    it('writeHashed to a folder that does not exist fails and closes its source', async () => {
      const dir = model();
      const entries = listTree(join(dir, 'm'), 'model');
      const error = await streamLayer(entries, { gzip: true }, (open) =>
        writeHashed(open(), join(dir, 'missing', 'layer.tgz')),
      ).catch((e: NodeJS.ErrnoException) => e);
      expect((error as NodeJS.ErrnoException).code).toBe('ENOENT');
      await new Promise((r) => setTimeout(r, 100));
      expect(openFiles(dir)).toEqual([]);
    });
  });
});
