import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { ActionError } from '@mlops-actions/kit';
import { LineCounter, parseDocument } from 'yaml';

/** Metrics read from files: the latest value of each and, where a file has steps, the history. */
export interface MetricsResult {
  latest: Record<string, number>;
  /** Points by metric name, in step order (CSV/TSV with a step column, or JSON/YAML lists). */
  history: Record<string, Array<{ step: number; value: number }>>;
}

const STEP_COLUMNS = ['step', 'epoch', 'iteration', 'iter', 'global_step'];
const IGNORED_COLUMNS = ['timestamp', 'time', 'wall_time', 'date'];

function fail(file: string, line: number | undefined, column: number | undefined, problem: string): never {
  const where = line ? ` line ${line}${column ? `, column ${column}` : ''}` : '';
  throw new ActionError(`Metrics file '${file}'${where}: ${problem}`);
}

/** Numbers as Python, YAML and pandas write them, including NaN and the infinities. */
export function parseNumberText(text: string): number | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  if (/^[+-]?(nan|\.nan)$/i.test(t)) return Number.NaN;
  if (/^\+?(inf|infinity|\.inf)$/i.test(t)) return Number.POSITIVE_INFINITY;
  if (/^-(inf|infinity|\.inf)$/i.test(t)) return Number.NEGATIVE_INFINITY;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(t)) return undefined;
  return Number(t);
}

/** JSON as Python's json module writes it: bare NaN, Infinity and -Infinity are allowed. Errors give line/column. */
export function parseJsonWithNaN(text: string, file: string): unknown {
  let i = 0;
  const position = (at: number) => {
    const before = text.slice(0, at);
    const line = before.split('\n').length;
    return { line, column: at - before.lastIndexOf('\n') };
  };
  const error = (problem: string): never => {
    const { line, column } = position(Math.min(i, text.length));
    fail(file, line, column, `not valid JSON: ${problem}`);
  };
  const ws = () => {
    while (i < text.length && /[\s\uFEFF]/.test(text[i]!)) i++;
  };
  const value = (): unknown => {
    ws();
    const c = text[i];
    if (c === undefined) return error('unexpected end of file');
    if (c === '{') {
      i++;
      const obj: Record<string, unknown> = {};
      ws();
      if (text[i] === '}') {
        i++;
        return obj;
      }
      for (;;) {
        ws();
        if (text[i] !== '"')
          error(`expected a quoted key, found ${JSON.stringify(text[i] ?? 'end of file')}`);
        const key = value() as string;
        ws();
        if (text[i] !== ':') error(`expected ':' after key "${key}"`);
        i++;
        obj[key] = value();
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === '}') {
          i++;
          return obj;
        }
        error(`expected ',' or '}', found ${JSON.stringify(text[i] ?? 'end of file')}`);
      }
    }
    if (c === '[') {
      i++;
      const arr: unknown[] = [];
      ws();
      if (text[i] === ']') {
        i++;
        return arr;
      }
      for (;;) {
        arr.push(value());
        ws();
        if (text[i] === ',') {
          i++;
          continue;
        }
        if (text[i] === ']') {
          i++;
          return arr;
        }
        error(`expected ',' or ']', found ${JSON.stringify(text[i] ?? 'end of file')}`);
      }
    }
    if (c === '"') {
      const start = i;
      i++;
      while (i < text.length && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      if (text[i] !== '"') error('unterminated string');
      i++;
      try {
        return JSON.parse(text.slice(start, i));
      } catch {
        i = start;
        return error('invalid string escape');
      }
    }
    for (const [word, result] of [
      ['true', true],
      ['false', false],
      ['null', null],
      ['NaN', Number.NaN],
      ['Infinity', Number.POSITIVE_INFINITY],
      ['-Infinity', Number.NEGATIVE_INFINITY],
    ] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return result;
      }
    }
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(text.slice(i, i + 400));
    if (!m) return error(`unexpected ${JSON.stringify(c)}`);
    i += m[0].length;
    return Number(m[0]);
  };
  const result = value();
  ws();
  if (i < text.length) error(`unexpected ${JSON.stringify(text[i])} after the value`);
  return result;
}

/**
 * Flattens nested metrics the way DVC shows them (`{"train": {"acc": 1}}` → `train.acc`). Lists of numbers
 * become a history with steps 0…n−1; strings that spell a number (including "NaN") count; other values
 * (text, booleans, null) are skipped and reported.
 */
export function flattenMetrics(value: unknown, result: MetricsResult, skipped: string[], prefix = ''): void {
  if (typeof value === 'number') {
    if (prefix) result.latest[prefix] = value;
    return;
  }
  if (typeof value === 'string') {
    const parsed = parseNumberText(value);
    if (parsed !== undefined && prefix) result.latest[prefix] = parsed;
    else skipped.push(prefix || '(root)');
    return;
  }
  if (Array.isArray(value)) {
    const numbers = value.map((v) =>
      typeof v === 'number' ? v : typeof v === 'string' ? parseNumberText(v) : undefined,
    );
    if (prefix && numbers.length > 0 && numbers.every((n) => n !== undefined)) {
      result.history[prefix] = numbers.map((v, step) => ({ step, value: v! }));
      result.latest[prefix] = numbers[numbers.length - 1]!;
      return;
    }
    value.forEach((v, index) => {
      flattenMetrics(v, result, skipped, prefix ? `${prefix}.${index}` : String(index));
    });
    return;
  }
  if (value && typeof value === 'object') {
    for (const [key, v] of Object.entries(value))
      flattenMetrics(v, result, skipped, prefix ? `${prefix}.${key}` : key);
    return;
  }
  if (prefix) skipped.push(prefix);
}

/** Points kept per metric in a result's `history` (charts, outputs); the run itself gets every point. */
export const MAX_HISTORY_POINTS = 500;

/**
 * An evenly spaced sample of a stream of points, at most `limit` long: when it fills up, every other
 * point is dropped and the spacing doubles, so memory stays bounded whatever the length of the history.
 */
export class HistorySample {
  private points: Array<{ step: number; value: number }> = [];
  private stride = 1;
  private seen = 0;

  constructor(private readonly limit = MAX_HISTORY_POINTS) {}

  add(point: { step: number; value: number }): void {
    if (this.seen++ % this.stride !== 0) return;
    this.points.push(point);
    if (this.points.length > this.limit) {
      this.points = this.points.filter((_, index) => index % 2 === 0);
      this.stride *= 2;
    }
  }

  /** The sample in step order (a stable sort: equal steps keep the order they were written in). */
  sorted(): Array<{ step: number; value: number }> {
    return [...this.points].sort((a, b) => a.step - b.step);
  }
}

/** One metric value of a row of a CSV/TSV history. */
export interface HistoryPoint {
  key: string;
  step: number;
  value: number;
}

/**
 * Parses a CSV/TSV metric history one line at a time, so a file of any length is read in bounded
 * memory: a header naming the metrics (and optionally a step column), then one row per step. Keeps the
 * latest value of each metric (the one at the highest step; on equal steps the last written) and a
 * bounded sample of its history.
 */
export class DelimitedMetrics {
  private header?: string[];
  private stepIndex = -1;
  private headerLine = 0;
  private rows = 0;
  private readonly latest = new Map<string, { step: number; value: number }>();
  private readonly samples = new Map<string, HistorySample>();

  constructor(
    private readonly file: string,
    private readonly delimiter: ',' | '\t',
  ) {}

  private split(line: string): string[] {
    return line.split(this.delimiter).map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
  }

  /** Feeds line `lineNumber` (1-based, without its line break); returns the points of a data row. */
  line(text: string, lineNumber: number): HistoryPoint[] {
    if (text.trim() === '') return [];
    const cells = this.split(text);
    if (!this.header) {
      this.header = cells;
      this.headerLine = lineNumber;
      this.stepIndex = cells.findIndex((h) => STEP_COLUMNS.includes(h.toLowerCase()));
      return [];
    }
    const header = this.header;
    if (cells.length !== header.length) {
      fail(
        this.file,
        lineNumber,
        undefined,
        `expected ${header.length} ${this.delimiter === '\t' ? 'tab' : 'comma'}-separated values as in the header, found ${cells.length}`,
      );
    }
    let step = this.rows;
    if (this.stepIndex >= 0) {
      const parsed = parseNumberText(cells[this.stepIndex]!);
      if (parsed === undefined || !Number.isInteger(parsed)) {
        fail(
          this.file,
          lineNumber,
          undefined,
          `the ${header[this.stepIndex]} column must hold whole numbers, found ${JSON.stringify(cells[this.stepIndex])}`,
        );
      }
      step = parsed;
    }
    const points: HistoryPoint[] = [];
    header.forEach((key, column) => {
      if (column === this.stepIndex || IGNORED_COLUMNS.includes(key.toLowerCase())) return;
      const cell = cells[column]!;
      if (cell === '') return;
      const value = parseNumberText(cell);
      if (value === undefined)
        fail(
          this.file,
          lineNumber,
          undefined,
          `column '${key}' holds ${JSON.stringify(cell)}, which is not a number`,
        );
      points.push({ key, step, value });
      const latest = this.latest.get(key);
      if (!latest || step >= latest.step) this.latest.set(key, { step, value });
      let sample = this.samples.get(key);
      if (!sample) {
        sample = new HistorySample();
        this.samples.set(key, sample);
      }
      sample.add({ step, value });
    });
    this.rows++;
    return points;
  }

  /** The result once every line was fed; fails on a file with no header or no rows. */
  finish(): MetricsResult {
    if (!this.header)
      fail(
        this.file,
        undefined,
        undefined,
        'the file is empty; expected a header row and at least one row of values',
      );
    if (this.rows === 0)
      fail(this.file, this.headerLine, undefined, 'there is a header but no rows of values');
    const result: MetricsResult = { latest: {}, history: {} };
    for (const [key, point] of this.latest) result.latest[key] = point.value;
    for (const [key, sample] of this.samples) result.history[key] = sample.sorted();
    return result;
  }
}

function parseDelimited(text: string, file: string, delimiter: ',' | '\t'): MetricsResult {
  const parser = new DelimitedMetrics(file, delimiter);
  text.split(/\r?\n/).forEach((line, index) => {
    parser.line(line, index + 1);
  });
  return parser.finish();
}

/** Reads one metrics file by extension: .json, .yaml/.yml, .csv, .tsv. */
export function parseMetricsText(
  text: string,
  path: string,
  display = path,
): { result: MetricsResult; skipped: string[] } {
  const file = display;
  const ext = extname(path).toLowerCase();
  const skipped: string[] = [];
  if (ext === '.csv' || ext === '.tsv') {
    return { result: parseDelimited(text, file, ext === '.tsv' ? '\t' : ','), skipped };
  }
  let data: unknown;
  if (ext === '.yaml' || ext === '.yml') {
    const lineCounter = new LineCounter();
    const doc = parseDocument(text, { lineCounter });
    const first = doc.errors[0];
    if (first) {
      const pos = lineCounter.linePos(first.pos[0]);
      fail(file, pos.line, pos.col, `not valid YAML: ${first.message.split('\n')[0]}`);
    }
    data = doc.toJS();
  } else if (ext === '.json' || ext === '') {
    data = parseJsonWithNaN(text, file);
  } else {
    fail(
      file,
      undefined,
      undefined,
      `unsupported extension '${ext}'; metrics files may be .json, .yaml, .yml, .csv or .tsv`,
    );
  }
  if (data === null || typeof data !== 'object') {
    fail(
      file,
      1,
      undefined,
      'expected an object of metric names to values (nested objects allowed, as DVC writes them)',
    );
  }
  const result: MetricsResult = { latest: {}, history: {} };
  flattenMetrics(data, result, skipped);
  return { result, skipped };
}

/** Fails with what to check when a metrics file cannot be read. */
export function metricsFileError(display: string, error: unknown): never {
  const code = (error as NodeJS.ErrnoException).code;
  fail(
    display,
    undefined,
    undefined,
    code === 'ENOENT'
      ? 'not found after the training finished; did it write the file (check working-directory)?'
      : `cannot be read (${code})`,
  );
}

/** The text of a metrics file. */
export function readMetricsText(file: { path: string; display: string }): string {
  try {
    return readFileSync(file.path, 'utf8');
  } catch (error) {
    metricsFileError(file.display, error);
  }
}
