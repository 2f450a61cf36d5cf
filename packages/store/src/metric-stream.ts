import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { ActionError } from '@mlops-actions/kit';
import {
  DelimitedMetrics,
  type HistoryPoint,
  type MetricsResult,
  metricsFileError,
  parseMetricsText,
  readMetricsText,
} from './metrics';

export interface MetricsLogOptions {
  /** Points per call of `log`: MLflow's log-batch takes at most 1000 metrics per request. */
  batchSize?: number;
  /** Calls of `log` in flight at once (1 for a store that rewrites a file per call). */
  concurrency?: number;
  warn?: (line: string) => void;
  /** Called with the bytes of metrics files read since the last call. */
  onRead?: (bytes: number) => void;
  /** Called with the points of each batch once it is logged. */
  onLogged?: (points: number) => void;
  signal?: AbortSignal;
}

/** Lines of a text file with their 1-based numbers, read in chunks so memory does not grow with the file. */
async function* readLines(path: string, onRead?: (bytes: number) => void): AsyncGenerator<[string, number]> {
  const stream = createReadStream(path, { highWaterMark: 1024 * 1024 });
  let rest = '';
  let lineNumber = 0;
  const decoder = new TextDecoder('utf-8');
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    onRead?.(chunk.length);
    const text = rest + decoder.decode(chunk, { stream: true });
    const lines = text.split('\n');
    rest = lines.pop() ?? '';
    for (const line of lines) yield [line.endsWith('\r') ? line.slice(0, -1) : line, ++lineNumber];
  }
  rest += decoder.decode();
  if (rest) yield [rest.endsWith('\r') ? rest.slice(0, -1) : rest, ++lineNumber];
}

/** Hands points to `log` in batches, with a bounded number of batches in flight. */
class Batcher {
  private batch: HistoryPoint[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  logged = 0;

  constructor(
    private readonly log: (points: HistoryPoint[]) => Promise<void>,
    private readonly options: Required<Pick<MetricsLogOptions, 'batchSize' | 'concurrency'>> &
      MetricsLogOptions,
  ) {}

  async add(points: HistoryPoint[]): Promise<void> {
    for (const point of points) {
      this.batch.push(point);
      if (this.batch.length >= this.options.batchSize) await this.flush();
    }
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error;
    this.options.signal?.throwIfAborted();
  }

  private async flush(): Promise<void> {
    this.rethrow();
    if (this.batch.length === 0) return;
    const points = this.batch;
    this.batch = [];
    while (this.inFlight.size >= this.options.concurrency) await Promise.race(this.inFlight);
    this.rethrow();
    const pending: Promise<void> = this.log(points).then(
      () => {
        this.logged += points.length;
        this.options.onLogged?.(points.length);
      },
      (error: unknown) => {
        this.failure ??= { error };
      },
    );
    const tracked = pending.finally(() => this.inFlight.delete(tracked));
    this.inFlight.add(tracked);
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all(this.inFlight);
    this.rethrow();
  }
}

/** A CSV/TSV history, streamed: each row's points go to the batcher as the file is read. */
async function streamDelimited(
  file: { path: string; display: string },
  batcher: Batcher,
  options: MetricsLogOptions,
): Promise<MetricsResult> {
  const parser = new DelimitedMetrics(file.display, extname(file.path).toLowerCase() === '.tsv' ? '\t' : ',');
  try {
    for await (const [line, lineNumber] of readLines(file.path, options.onRead))
      await batcher.add(parser.line(line, lineNumber));
  } catch (error) {
    if (error instanceof ActionError || !(error as NodeJS.ErrnoException).code) throw error;
    metricsFileError(file.display, error);
  }
  return parser.finish();
}

/** A JSON/YAML metrics file: small by nature, so it is parsed whole; a list becomes steps 0…n−1. */
async function readStructured(
  file: { path: string; display: string },
  batcher: Batcher,
  options: MetricsLogOptions,
): Promise<MetricsResult> {
  const text = readMetricsText(file);
  options.onRead?.(statSync(file.path).size);
  const { result, skipped } = parseMetricsText(text, file.path, file.display);
  if (skipped.length)
    options.warn?.(
      `Metrics file '${file.display}': skipped values that are not numbers: ${skipped.slice(0, 10).join(', ')}`,
    );
  for (const [key, value] of Object.entries(result.latest)) {
    const history = result.history[key];
    await batcher.add(history?.length ? history.map((p) => ({ key, ...p })) : [{ key, step: 0, value }]);
  }
  return result;
}

/**
 * Reads metrics files and logs every point they hold through `log`, streaming CSV/TSV histories so
 * that memory stays bounded whatever their length. Returns the latest value of each metric (later files
 * win on a name clash) and a bounded sample of each history, for the report.
 */
export async function logMetricsFiles(
  files: Array<{ path: string; display: string }>,
  log: (points: HistoryPoint[]) => Promise<void>,
  options: MetricsLogOptions = {},
): Promise<MetricsResult & { points: number }> {
  const batcher = new Batcher(log, { batchSize: 1000, concurrency: 1, ...options });
  const merged: MetricsResult = { latest: {}, history: {} };
  for (const file of files) {
    const ext = extname(file.path).toLowerCase();
    const result =
      ext === '.csv' || ext === '.tsv'
        ? await streamDelimited(file, batcher, options)
        : await readStructured(file, batcher, options);
    for (const [name, value] of Object.entries(result.latest)) {
      if (name in merged.latest)
        options.warn?.(`Metric '${name}' appears in more than one metrics file; using '${file.display}'`);
      merged.latest[name] = value;
    }
    Object.assign(merged.history, result.history);
  }
  await batcher.close();
  return { ...merged, points: batcher.logged };
}
