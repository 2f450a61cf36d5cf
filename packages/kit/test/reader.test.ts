import { createHash } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { listen } from '../../../test/doubles/http-server';
import { HttpClient, NetworkError } from '../src/http';
import { type ChunkReader, forEachChunk, readableOf, readerOf } from '../src/reader';

let closers: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(closers.map((close) => close()));
  closers = [];
});

async function serve(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const server = await listen(handler);
  closers.push(server.close);
  return server.url;
}

/** Byte i of the pattern: it changes with the offset, so a buffer overwritten too early changes the digest. */
function pattern(size: number): Buffer {
  const bytes = Buffer.allocUnsafe(size);
  for (let i = 0; i < size; i++) bytes[i] = (i * 31 + (i >> 13)) & 0xff;
  return bytes;
}

/** A reader over `bytes` that fills every buffer it is given completely (the fast path's behaviour). */
function arrayReader(bytes: Buffer, fail?: { at: number; message: string }) {
  let at = 0;
  let closed = 0;
  const reader: ChunkReader = {
    async readInto(into) {
      await new Promise((r) => setImmediate(r));
      if (fail && at >= fail.at) throw new Error(fail.message);
      const n = bytes.copy(into, 0, at, Math.min(bytes.byteLength, at + into.byteLength));
      at += n;
      return n;
    },
    close() {
      closed++;
    },
  };
  return { reader, closed: () => closed };
}

const sha = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

describe('chunk readers', () => {
  it('adapt a stream in both directions without losing, reordering or repeating a byte', async () => {
    const bytes = pattern(3 * 1024 * 1024 + 17);
    const parts = [0, 5, 70_000, 1_048_577, 2_500_000, bytes.byteLength].map((end, i, all) =>
      bytes.subarray(all[i - 1] ?? 0, end),
    );
    const back: Buffer[] = [];
    for await (const chunk of readableOf(readerOf(Readable.from(parts)), 65_536)) back.push(chunk as Buffer);
    expect(sha(Buffer.concat(back))).toBe(sha(bytes));
    expect(Math.max(...back.map((b) => b.byteLength))).toBeLessThanOrEqual(65_536);
  });

  it('forEachChunk hands every chunk over once, in order, and closes the reader at the end', async () => {
    const bytes = pattern(5 * 1024 * 1024 + 3);
    const { reader, closed } = arrayReader(bytes);
    const hash = createHash('sha256');
    const total = await forEachChunk(
      reader,
      async (chunk) => {
        // Slower than the read ahead: a chunk overwritten by the next read would change the digest.
        await new Promise((r) => setTimeout(r, 1));
        hash.update(chunk);
      },
      { chunkSize: 100_000 },
    );
    expect(total).toBe(bytes.byteLength);
    expect(hash.digest('hex')).toBe(sha(bytes));
    expect(closed()).toBe(1);
  });

  it('forEachChunk stops at a failure of its consumer or of the reader, closing the reader', async () => {
    const first = arrayReader(pattern(1_000_000));
    await expect(
      forEachChunk(
        first.reader,
        () => {
          throw new Error('disk full');
        },
        { chunkSize: 4096 },
      ),
    ).rejects.toThrow('disk full');
    expect(first.closed()).toBe(1);
    const second = arrayReader(pattern(1_000_000), { at: 8192, message: 'weights.bin vanished' });
    await expect(forEachChunk(second.reader, () => undefined, { chunkSize: 4096 })).rejects.toThrow(
      'weights.bin vanished',
    );
    expect(second.closed()).toBe(1);
  });
  it('forEachChunk ends at an abort, even one that comes while a read waits on a stalled source', async () => {
    const stalled = () => {
      let closed = 0;
      let wake: (() => void) | undefined;
      const reader: ChunkReader = {
        readInto: (into) =>
          new Promise<number>((resolve, reject) => {
            if (closed) return reject(new Error('closed'));
            wake = () => reject(new Error('closed'));
            if (into.byteLength < 0) resolve(0);
          }),
        close() {
          closed++;
          wake?.();
        },
      };
      return { reader, closed: () => closed };
    };
    const before = stalled();
    await expect(
      forEachChunk(before.reader, () => undefined, { signal: AbortSignal.abort(new Error('cancelled')) }),
    ).rejects.toThrow('cancelled');
    expect(before.closed()).toBeGreaterThanOrEqual(1);
    const during = stalled();
    const controller = new AbortController();
    const run = forEachChunk(during.reader, () => undefined, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error('job cancelled')), 20);
    await expect(run).rejects.toThrow('job cancelled');
    expect(during.closed()).toBeGreaterThanOrEqual(1);
  });
});

describe('HttpClient with a chunk-reader body', () => {
  it('sends every byte as the socket drains, reusing its buffers only once the socket took them', async () => {
    const bytes = pattern(9 * 1024 * 1024 + 123);
    const received: Array<{ length?: string; encoding?: string; digest: string; size: number }> = [];
    const url = await serve((req, res) => {
      // Reads nothing at first: the client's writes queue up behind a full socket.
      req.pause();
      setTimeout(() => {
        const hash = createHash('sha256');
        let size = 0;
        req.on('data', (chunk: Buffer) => {
          hash.update(chunk);
          size += chunk.byteLength;
        });
        req.on('end', () => {
          received.push({
            length: req.headers['content-length'],
            encoding: req.headers['transfer-encoding'],
            digest: hash.digest('hex'),
            size,
          });
          res.writeHead(201, { location: '/done' });
          res.end();
        });
        req.resume();
      }, 100);
    });
    const opened: Array<() => number> = [];
    const response = await new HttpClient({ name: 'test server', baseUrl: url }).request('PUT', '/upload', {
      headers: { 'content-length': String(bytes.byteLength) },
      body: () => {
        const { reader, closed } = arrayReader(bytes);
        opened.push(closed);
        return reader;
      },
    });
    expect(response.status).toBe(201);
    expect(response.headers.get('location')).toBe('/done');
    expect(received).toEqual([
      { length: String(bytes.byteLength), encoding: undefined, digest: sha(bytes), size: bytes.byteLength },
    ]);
    expect(opened).toHaveLength(1);
    expect(opened[0]!()).toBeGreaterThanOrEqual(1);
  });

  it("fails with the reader's own error when it breaks midway, and closes it", async () => {
    const url = await serve((req) => req.resume());
    const { reader, closed } = arrayReader(pattern(4 * 1024 * 1024), {
      at: 2 * 1024 * 1024,
      message: 'model.bin vanished',
    });
    const error = await new HttpClient({ name: 'test server', baseUrl: url })
      .request('PUT', '/upload', {
        headers: { 'content-length': String(4 * 1024 * 1024) },
        body: () => reader,
        retry: false,
      })
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(NetworkError);
    expect((error as Error).message).toMatch(
      /PUT http:\/\/127\.0\.0\.1:\d+\/upload failed after 1 attempt\(s\): model\.bin vanished/,
    );
    expect(closed()).toBe(1);
  });

  it('stops reading and closes the reader when the server cuts the connection midway', async () => {
    const url = await serve((req) => {
      let seen = 0;
      req.on('data', (chunk: Buffer) => {
        seen += chunk.byteLength;
        if (seen >= 1024 * 1024) req.socket.destroy();
      });
    });
    let reads = 0;
    let closed = 0;
    const size = 512 * 1024 * 1024;
    const error = await new HttpClient({ name: 'test server', baseUrl: url })
      .request('PUT', '/upload', {
        headers: { 'content-length': String(size) },
        body: () => ({
          async readInto(into: Buffer) {
            reads++;
            await new Promise((r) => setTimeout(r, 1));
            return into.byteLength;
          },
          close() {
            closed++;
          },
        }),
        retry: false,
      })
      .catch((e: Error) => e);
    expect(error).toBeInstanceOf(NetworkError);
    await new Promise((r) => setTimeout(r, 50));
    expect(closed).toBeGreaterThanOrEqual(1);
    const after = reads;
    await new Promise((r) => setTimeout(r, 50));
    expect(reads).toBe(after);
    expect(reads).toBeLessThan(64);
  });
});
