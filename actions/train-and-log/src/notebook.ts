import { spawnSync } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

interface Cell {
  cell_type: string;
  metadata?: { tags?: string[]; [key: string]: unknown };
  source: string | string[];
  outputs?: unknown[];
  execution_count?: number | null;
  [key: string]: unknown;
}

export interface Notebook {
  cells: Cell[];
  metadata?: Record<string, unknown>;
  nbformat: number;
  nbformat_minor: number;
}

/** A Python literal for a parameter: numbers and booleans typed as papermill infers them, text quoted. */
export function pythonLiteral(value: unknown): string {
  if (typeof value === 'number')
    return Number.isFinite(value) ? String(value) : `float(${JSON.stringify(String(value).toLowerCase())})`;
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null || value === undefined) return 'None';
  const text = String(value);
  if (/^-?\d+$/.test(text)) return text;
  if (/^-?(\d+\.\d*|\.\d+|\d+)([eE][+-]?\d+)?$/.test(text)) return text;
  if (/^(true|True)$/.test(text)) return 'True';
  if (/^(false|False)$/.test(text)) return 'False';
  if (/^(none|None|null)$/.test(text)) return 'None';
  return JSON.stringify(text);
}

export function isPythonIdentifier(name: string): boolean {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(name);
}

/**
 * Injects parameters as papermill does: a new code cell tagged `injected-parameters` right after the cell
 * tagged `parameters` (or first, when there is none), so the values override the notebook's defaults.
 * Any earlier injected cell is replaced.
 */
export function injectParameters(notebook: Notebook, parameters: Record<string, unknown>): Notebook {
  const cells = notebook.cells.filter((c) => !c.metadata?.tags?.includes('injected-parameters'));
  const lines = ['# Parameters', ...Object.entries(parameters).map(([k, v]) => `${k} = ${pythonLiteral(v)}`)];
  const injected: Cell = {
    cell_type: 'code',
    execution_count: null,
    metadata: { tags: ['injected-parameters'] },
    outputs: [],
    source: lines.map((line, i) => (i < lines.length - 1 ? `${line}\n` : line)),
  };
  if ((notebook.nbformat ?? 4) >= 4 && (notebook.nbformat_minor ?? 0) >= 5)
    injected.id = 'injected-parameters';
  const index = cells.findIndex((c) => c.metadata?.tags?.includes('parameters'));
  cells.splice(index + 1, 0, injected);
  return { ...notebook, cells };
}

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** nbconvert's arguments to execute a notebook in place of papermill, with no cell timeout (the step has one). */
function nbconvertArgs(input: string, outputDir: string, outputName: string): string[] {
  return [
    '--execute',
    '--to',
    'notebook',
    '--ExecutePreprocessor.timeout=-1',
    '--output-dir',
    outputDir,
    '--output',
    outputName,
    input,
  ];
}
export function findOnPath(
  name: string,
  pathVar: string | undefined,
  extra: string[] = [],
): string | undefined {
  for (const dir of [...(pathVar ?? '').split(delimiter), ...extra]) {
    if (dir && executable(join(dir, name))) return join(dir, name);
  }
  return undefined;
}

export interface NotebookRunner {
  kind: 'papermill' | 'nbconvert';
  command: string;
  args(input: string, outputDir: string, outputName: string, cwd: string): string[];
}

/**
 * papermill when it is on PATH; otherwise `jupyter nbconvert` from the first directory holding both
 * `jupyter` and `jupyter-nbconvert` (PATH, then /usr/bin where Debian installs them); otherwise
 * `python3 -m nbconvert` with a Python that can import nbconvert and ipykernel.
 */
export function findNotebookRunner(pathVar: string | undefined): NotebookRunner | undefined {
  const papermill = findOnPath('papermill', pathVar);
  if (papermill) {
    return {
      kind: 'papermill',
      command: papermill,
      args: (input, outputDir, outputName, cwd) => [
        input,
        join(outputDir, outputName),
        '--cwd',
        cwd,
        '--log-output',
      ],
    };
  }
  for (const dir of [...(pathVar ?? '').split(delimiter), '/usr/bin']) {
    if (dir && executable(join(dir, 'jupyter')) && executable(join(dir, 'jupyter-nbconvert'))) {
      return {
        kind: 'nbconvert',
        command: join(dir, 'jupyter'),
        args: (input, outputDir, outputName) => ['nbconvert', ...nbconvertArgs(input, outputDir, outputName)],
      };
    }
  }
  // No jupyter-nbconvert script (Debian ships it separately): run the module with a Python that has it.
  for (const python of [findOnPath('python3', pathVar), '/usr/bin/python3']) {
    if (!python || !executable(python)) continue;
    if (
      spawnSync(python, ['-c', 'import nbconvert, ipykernel'], { stdio: 'ignore', timeout: 30_000 })
        .status !== 0
    )
      continue;
    return {
      kind: 'nbconvert',
      command: python,
      args: (input, outputDir, outputName) => [
        '-m',
        'nbconvert',
        ...nbconvertArgs(input, outputDir, outputName),
      ],
    };
  }
  return undefined;
}

const ANSI = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*[A-Za-z]`, 'g');

/** The failing cell and its traceback from nbconvert's or papermill's error output. */
export function extractCellError(output: string): string | undefined {
  const text = output.replace(ANSI, '');
  const markers = ['An error occurred while executing the following cell:', 'Exception encountered at'];
  for (const marker of markers) {
    const at = text.lastIndexOf(marker);
    if (at >= 0) return text.slice(at).trim().slice(0, 4000);
  }
  return undefined;
}

/** The error outputs of an executed notebook (papermill writes one even when a cell fails). */
export function notebookErrors(notebook: Notebook): string[] {
  const out: string[] = [];
  for (const cell of notebook.cells) {
    for (const o of (cell.outputs ?? []) as Array<{
      output_type?: string;
      ename?: string;
      evalue?: string;
      traceback?: string[];
    }>) {
      if (o.output_type === 'error') {
        const source = Array.isArray(cell.source) ? cell.source.join('') : cell.source;
        out.push(`${source}\n\n${(o.traceback ?? [`${o.ename}: ${o.evalue}`]).join('\n').replace(ANSI, '')}`);
      }
    }
  }
  return out;
}
