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

function parseDelimited(text: string, file: string, delimiter: string): MetricsResult {
  const lines = text.split(/\r?\n/);
  const split = (line: string) => line.split(delimiter).map((cell) => cell.trim().replace(/^"(.*)"$/, '$1'));
  const headerIndex = lines.findIndex((l) => l.trim() !== '');
  if (headerIndex < 0)
    fail(
      file,
      undefined,
      undefined,
      'the file is empty; expected a header row and at least one row of values',
    );
  const header = split(lines[headerIndex]!);
  const stepIndex = header.findIndex((h) => STEP_COLUMNS.includes(h.toLowerCase()));
  const result: MetricsResult = { latest: {}, history: {} };
  let rowCount = 0;
  for (let n = headerIndex + 1; n < lines.length; n++) {
    const line = lines[n]!;
    if (line.trim() === '') continue;
    const cells = split(line);
    if (cells.length !== header.length) {
      fail(
        file,
        n + 1,
        undefined,
        `expected ${header.length} ${delimiter === '\t' ? 'tab' : 'comma'}-separated values as in the header, found ${cells.length}`,
      );
    }
    let step = rowCount;
    if (stepIndex >= 0) {
      const parsed = parseNumberText(cells[stepIndex]!);
      if (parsed === undefined || !Number.isInteger(parsed)) {
        fail(
          file,
          n + 1,
          undefined,
          `the ${header[stepIndex]} column must hold whole numbers, found ${JSON.stringify(cells[stepIndex])}`,
        );
      }
      step = parsed;
    }
    header.forEach((name, column) => {
      if (column === stepIndex || IGNORED_COLUMNS.includes(name.toLowerCase())) return;
      const cell = cells[column]!;
      if (cell === '') return;
      const value = parseNumberText(cell);
      if (value === undefined)
        fail(file, n + 1, undefined, `column '${name}' holds ${JSON.stringify(cell)}, which is not a number`);
      const points = result.history[name] ?? [];
      points.push({ step, value });
      result.history[name] = points;
    });
    rowCount++;
  }
  if (rowCount === 0) fail(file, headerIndex + 1, undefined, 'there is a header but no rows of values');
  for (const [name, points] of Object.entries(result.history)) {
    points.sort((a, b) => a.step - b.step);
    result.latest[name] = points[points.length - 1]!.value;
  }
  return result;
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

/** Reads and merges metrics files (later files win on a name clash); `display` names them in errors. */
export function readMetricsFiles(
  files: Array<{ path: string; display: string }>,
  warn: (line: string) => void = () => {},
): MetricsResult {
  const merged: MetricsResult = { latest: {}, history: {} };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file.path, 'utf8');
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      fail(
        file.display,
        undefined,
        undefined,
        code === 'ENOENT'
          ? 'not found after the training finished; did it write the file (check working-directory)?'
          : `cannot be read (${code})`,
      );
    }
    const { result, skipped } = parseMetricsText(text, file.display);
    if (skipped.length)
      warn(
        `Metrics file '${file.display}': skipped values that are not numbers: ${skipped.slice(0, 10).join(', ')}`,
      );
    for (const [name, value] of Object.entries(result.latest)) {
      if (name in merged.latest)
        warn(`Metric '${name}' appears in more than one metrics file; using '${file.display}'`);
      merged.latest[name] = value;
    }
    Object.assign(merged.history, result.history);
  }
  return merged;
}
