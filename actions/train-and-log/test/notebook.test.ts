import { describe, expect, it } from 'vitest';
import { parseBaseline } from '../src/baseline';
import { extractCellError, injectParameters, type Notebook, pythonLiteral } from '../src/notebook';

const nb = (cells: Notebook['cells']): Notebook => ({ cells, nbformat: 4, nbformat_minor: 5 });
const code = (source: string, tags?: string[]) => ({
  cell_type: 'code',
  source,
  metadata: tags ? { tags } : {},
  outputs: [],
});

describe('papermill-style parameter injection', () => {
  it('adds a cell tagged injected-parameters right after the parameters cell', () => {
    const out = injectParameters(nb([code('import x'), code('lr = 0.1', ['parameters']), code('train()')]), {
      lr: '0.5',
      name: 'a"b',
      seed: 7,
    });
    expect(out.cells.map((c) => c.metadata?.tags?.[0] ?? '')).toEqual([
      '',
      'parameters',
      'injected-parameters',
      '',
    ]);
    expect((out.cells[2]!.source as string[]).join('')).toBe(
      '# Parameters\nlr = 0.5\nname = "a\\"b"\nseed = 7',
    );
  });

  it('puts the cell first when no cell is tagged, and replaces an earlier injection', () => {
    const once = injectParameters(nb([code('a = 1')]), { a: 2 });
    expect(once.cells[0]!.metadata?.tags).toEqual(['injected-parameters']);
    const twice = injectParameters(once, { a: 3 });
    expect(twice.cells).toHaveLength(2);
    expect((twice.cells[0]!.source as string[]).join('')).toContain('a = 3');
  });

  it('types values as papermill does', () => {
    expect(pythonLiteral('10')).toBe('10');
    expect(pythonLiteral('1e-3')).toBe('1e-3');
    expect(pythonLiteral('true')).toBe('True');
    expect(pythonLiteral('none')).toBe('None');
    expect(pythonLiteral('adam')).toBe('"adam"');
  });

  it("finds the failing cell in nbconvert's error output", () => {
    const stderr =
      '[NbConvertApp] Executing\nTraceback...\nnbconvert.preprocessors.execute.CellExecutionError: An error occurred while executing the following cell:\n------------------\nraise ValueError("x")\n------------------\nValueError: x\n';
    expect(extractCellError(stderr)).toMatch(/^An error occurred.*\n[\s\S]*ValueError: x$/);
  });
});

describe('baseline input', () => {
  it.each([
    ['pr-base', { kind: 'pr-base' }],
    ['none', { kind: 'none' }],
    ['git:main', { kind: 'git', rev: 'main' }],
    ['0123456789abcdef0123456789abcdef', { kind: 'run', runId: '0123456789abcdef0123456789abcdef' }],
    ['models:/clf@champion', { kind: 'alias', name: 'clf', alias: 'champion' }],
  ])('%s', (text, spec) => {
    expect(parseBaseline(text)).toEqual(spec);
  });

  it('rejects anything else with what it accepts', () => {
    expect(() => parseBaseline('champion')).toThrow(/models:\/<name>@<alias>/);
    expect(() => parseBaseline('git:--upload-pack=x')).toThrow();
  });
});
