/**
 * Pulls the first chunk of a lazy stream so that "not found" (which SDK streams report only on first read)
 * can be told apart before the caller starts writing; the returned iterable replays that chunk.
 */
export async function primeStream(
  stream: AsyncIterable<Uint8Array>,
  isMissing: (error: unknown) => boolean,
): Promise<AsyncIterable<Uint8Array> | undefined> {
  const iterator = stream[Symbol.asyncIterator]();
  let first: IteratorResult<Uint8Array>;
  try {
    first = await iterator.next();
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
  return (async function* () {
    if (!first.done) yield first.value;
    for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value;
  })();
}
