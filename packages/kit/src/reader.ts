import { Readable } from 'node:stream';

/**
 * Bytes read into buffers the consumer owns and reuses. A Node stream hands out a new buffer per chunk:
 * at 1 MB a chunk the kernel maps and zeroes fresh pages for each, which cost more CPU than reading the
 * bytes themselves (1 GB from the page cache: 1.3 s through `createReadStream`, 0.05 s into one reused
 * buffer). The large uploads and copies read this way.
 */
export interface ChunkReader {
  /** Fills `into` from its start; the number of bytes written there, 0 at the end. Never called twice at once. */
  readInto(into: Buffer): Promise<number>;
  /** Releases what the reader holds (open files) when it is left before its end. Safe to call twice. */
  close(): void;
}

/** Bytes as one or the other: a stream (tests, compressed data), or a reader (files, plain tar). */
export type ByteSource = Readable | ChunkReader;

export function isChunkReader(value: unknown): value is ChunkReader {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as ChunkReader).readInto === 'function' &&
    typeof (value as ChunkReader).close === 'function'
  );
}

/** A reader over a stream: its chunks are copied into the caller's buffers (one copy, for streams that are not hot). */
export function readerOf(source: ByteSource): ChunkReader {
  if (isChunkReader(source)) return source;
  const iterator = (source as AsyncIterable<Uint8Array>)[Symbol.asyncIterator]();
  let rest: Uint8Array | undefined;
  let ended = false;
  return {
    async readInto(into) {
      // A short read is allowed: hand over what the stream gave rather than wait for it to fill `into`.
      while (!rest || rest.byteLength === 0) {
        if (ended) return 0;
        const next = await iterator.next();
        if (next.done) {
          ended = true;
          return 0;
        }
        rest = next.value;
      }
      const n = Math.min(rest.byteLength, into.byteLength);
      into.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return n;
    },
    close() {
      ended = true;
      source.destroy();
    },
  };
}

/** A stream over a reader, for consumers that need one: each chunk is a new buffer (the Node way). */
export function readableOf(source: ByteSource, chunkSize = 1024 * 1024): Readable {
  if (!isChunkReader(source)) return source;
  return new Readable({
    highWaterMark: chunkSize,
    async read() {
      try {
        const buffer = Buffer.allocUnsafe(chunkSize);
        const n = await source.readInto(buffer);
        this.push(n === 0 ? null : buffer.subarray(0, n));
      } catch (error) {
        this.destroy(error as Error);
      }
    },
    destroy(error, callback) {
      source.close();
      callback(error);
    },
  });
}

/**
 * Calls `each` with every chunk of `source`, read into two buffers in turn: the next read is under way
 * while `each` works on the current chunk (hashing it, writing it), never into a buffer `each` has not
 * finished with. The source is closed at the end, on failure and when `signal` aborts.
 */
export async function forEachChunk(
  source: ByteSource,
  each: (chunk: Buffer) => Promise<void> | void,
  options: { chunkSize?: number; signal?: AbortSignal } = {},
): Promise<number> {
  const reader = readerOf(source);
  const size = options.chunkSize ?? 1024 * 1024;
  const buffers = [Buffer.allocUnsafe(size), Buffer.allocUnsafe(size)];
  const signal = options.signal;
  // An abort closes the reader at once, so a read waiting on a stalled source ends too.
  const stop = () => reader.close();
  signal?.addEventListener('abort', stop, { once: true });
  let total = 0;
  try {
    signal?.throwIfAborted();
    let turn = 0;
    let pending = reader.readInto(buffers[0]!);
    for (;;) {
      const n = await pending.catch((error: unknown) => {
        signal?.throwIfAborted();
        throw error;
      });
      signal?.throwIfAborted();
      if (n === 0) return total;
      const current = buffers[turn]!;
      turn = 1 - turn;
      pending = reader.readInto(buffers[turn]!);
      // A failed early read surfaces at the next await, never as an unhandled rejection.
      pending.catch(() => undefined);
      total += n;
      try {
        await each(current.subarray(0, n));
      } catch (error) {
        await pending.catch(() => undefined);
        throw error;
      }
    }
  } finally {
    signal?.removeEventListener('abort', stop);
    reader.close();
  }
}
