import { beforeEach, describe, expect, it } from 'vitest';
import { evaluateGates, noRegression, parseGates, parseImprovements, renderGateTable } from '../src/gates';

describe('gate expressions', () => {
  it('parses thresholds', () => {
    expect(
      parseGates(['test.accuracy >= 0.90', 'latency_p95_ms<=50', '', '# comment', '  loss < 1e-3  ']),
    ).toEqual([
      { text: 'test.accuracy >= 0.90', metric: 'test.accuracy', op: '>=', value: 0.9 },
      { text: 'latency_p95_ms<=50', metric: 'latency_p95_ms', op: '<=', value: 50 },
      { text: 'loss < 1e-3', metric: 'loss', op: '<', value: 0.001 },
    ]);
  });

  it('shows the expression and the grammar when a gate does not parse', () => {
    expect(() => parseGates(['accuracy => 0.9'])).toThrow(
      /Input 'gates': cannot parse the gate 'accuracy => 0\.9'; expected '<metric> <op> <number>' with op one of >= <= > < == !=/,
    );
    expect(() => parseGates(['accuracy >= high'])).toThrow(/'accuracy >= high'/);
  });

  it('parses improvements with the direction from the name, or given', () => {
    expect(parseImprovements(['test.f1 +0.01', 'val_rmse +1%', 'widgets -0.5 higher'])).toEqual([
      { text: 'test.f1 +0.01', metric: 'test.f1', amount: 0.01, relative: false, direction: 'higher' },
      { text: 'val_rmse +1%', metric: 'val_rmse', amount: 1, relative: true, direction: 'lower' },
      { text: 'widgets -0.5 higher', metric: 'widgets', amount: -0.5, relative: false, direction: 'higher' },
    ]);
    expect(() => parseImprovements(['widgets +1'])).toThrow(
      /cannot tell whether higher or lower is better for 'widgets'/,
    );
    expect(() => parseImprovements(['test.f1 0.01'])).toThrow(
      /cannot parse 'test\.f1 0\.01'; expected '<metric> \+<number>'/,
    );
  });
});

describe('evaluateGates', () => {
  // Parsed inside each test, not while the file is collected: a parser bug must fail tests, not the collection.
  let thresholds: ReturnType<typeof parseGates>;
  beforeEach(() => {
    thresholds = parseGates(['test.accuracy >= 0.90', 'latency_p95_ms <= 50']);
  });

  it('passes and fails thresholds in both directions', () => {
    const ok = evaluateGates({
      thresholds,
      improvements: [],
      candidate: { 'test.accuracy': 0.9, latency_p95_ms: 50 },
    });
    expect(ok.passed).toBe(true);
    const bad = evaluateGates({
      thresholds,
      improvements: [],
      candidate: { 'test.accuracy': 0.95, latency_p95_ms: 51 },
    });
    expect(bad.passed).toBe(false);
    expect(bad.rows.map((r) => r.passed)).toEqual([true, false]);
  });

  it('fails a NaN metric', () => {
    const r = evaluateGates({
      thresholds,
      improvements: [],
      candidate: { 'test.accuracy': Number.NaN, latency_p95_ms: 1 },
    });
    expect(r.rows[0]!.passed).toBe(false);
  });

  it('names a metric missing from the run and lists what the run has', () => {
    expect(() =>
      evaluateGates({ thresholds, improvements: [], candidate: { 'test.accuracy': 0.95, p50: 3 } }),
    ).toThrow(
      "gate 'latency_p95_ms <= 50': the run has no metric 'latency_p95_ms' (it has p50, test.accuracy)",
    );
  });

  it('compares to the champion by absolute and relative amounts, direction-aware', () => {
    const improvements = parseImprovements(['test.f1 +0.01', 'val_rmse +10%']);
    const champion = { label: 'champion (version 3)', metrics: { 'test.f1': 0.8, val_rmse: 2 } };
    const pass = evaluateGates({
      thresholds: [],
      improvements,
      compareTo: 'champion',
      champion,
      candidate: { 'test.f1': 0.81, val_rmse: 1.8 },
    });
    expect(pass.rows.map((r) => r.passed)).toEqual([true, true]);
    const fail = evaluateGates({
      thresholds: [],
      improvements,
      compareTo: 'champion',
      champion,
      candidate: { 'test.f1': 0.805, val_rmse: 1.81 },
    });
    expect(fail.rows.map((r) => r.passed)).toEqual([false, false]);
    expect(fail.rows[1]!.expected).toBe('<= 1.8 (champion (version 3): 2 +10%)');
  });

  it('passes the first model ever with a note', () => {
    const r = evaluateGates({
      thresholds: [],
      improvements: parseImprovements(['test.f1 +0.01']),
      compareTo: 'champion',
      candidate: { 'test.f1': 0.5 },
    });
    expect(r.passed).toBe(true);
    expect(r.notes[0]).toMatch(/No model has the alias 'champion' yet: this is the first model/);
  });

  it('asks for no regression on the thresholded metrics when no min-improvement is given', () => {
    expect(noRegression(thresholds).map((g) => [g.metric, g.direction, g.amount])).toEqual([
      ['test.accuracy', 'higher', 0],
      ['latency_p95_ms', 'lower', 0],
    ]);
  });

  it('renders a table that escapes metric names', () => {
    const r = evaluateGates({
      thresholds: [{ text: 'a|b >= 1', metric: 'a|b', op: '>=', value: 1 }],
      improvements: [],
      candidate: { 'a|b': 2 },
    });
    const md = renderGateTable(r);
    expect(md).toContain('| `a¦b` | 2 | &gt;= 1 | ✅ pass |');
  });

  it('judges every operator at its boundary', () => {
    const judge = (gate: string, value: number) =>
      evaluateGates({ thresholds: parseGates([gate]), improvements: [], candidate: { m: value } }).rows[0]!
        .passed;
    expect([judge('m > 1', 1), judge('m > 1', 1.001)]).toEqual([false, true]);
    expect([judge('m < 1', 1), judge('m < 1', 0.999)]).toEqual([false, true]);
    expect([judge('m >= 1', 0.999), judge('m >= 1', 1)]).toEqual([false, true]);
    expect([judge('m <= 1', 1.001), judge('m <= 1', 1)]).toEqual([false, true]);
    expect([judge('m == 1', 1.001), judge('m == 1', 1)]).toEqual([false, true]);
    expect([judge('m != 1', 1), judge('m != 1', 2)]).toEqual([false, true]);
    // NaN is not "different from 1": a metric that is not a number never passes a gate.
    expect(judge('m != 1', Number.NaN)).toBe(false);
  });

  it('marks each row with its kind and says when the run has no metrics at all', () => {
    const r = evaluateGates({
      thresholds,
      improvements: parseImprovements(['test.accuracy +0']),
      compareTo: 'champion',
      champion: { label: 'champion', metrics: { 'test.accuracy': 0.9 } },
      candidate: { 'test.accuracy': 0.95, latency_p95_ms: 10 },
    });
    expect(r.rows.map((row) => row.kind)).toEqual(['threshold', 'threshold', 'champion']);
    expect(r.notes).toEqual([]);
    expect(() => evaluateGates({ thresholds, improvements: [], candidate: {} })).toThrow(
      "gate 'test.accuracy >= 0.90': the run has no metric 'test.accuracy' (it has no metrics)",
    );
  });

  it('ignores min-improvement unless a champion comparison is asked for', () => {
    const r = evaluateGates({
      thresholds: [],
      improvements: parseImprovements(['test.f1 +0.5']),
      champion: { label: 'champion', metrics: { 'test.f1': 0.9 } },
      candidate: { 'test.f1': 0.1 },
    });
    expect(r).toEqual({ passed: true, rows: [], notes: [] });
  });

  it('does not compare a metric the champion lacks or holds as NaN, and says so', () => {
    for (const metrics of [{}, { 'test.f1': Number.NaN }]) {
      const r = evaluateGates({
        thresholds: [],
        improvements: parseImprovements(['test.f1 +0.01']),
        compareTo: 'champion',
        champion: { label: 'champion (version 2)', metrics },
        candidate: { 'test.f1': 0.1 },
      });
      expect(r.passed).toBe(true);
      expect(r.rows).toEqual([
        {
          metric: 'test.f1',
          value: 0.1,
          expected: 'champion (version 2) has no value',
          kind: 'champion',
          passed: true,
          note: "the champion (version 2) has no metric 'test.f1': not compared",
        },
      ]);
      expect(r.notes).toEqual(["The champion (version 2) has no metric 'test.f1', so it was not compared."]);
    }
  });

  it('writes the required amount with its sign in the expected column', () => {
    const expected = (line: string) =>
      evaluateGates({
        thresholds: [],
        improvements: parseImprovements([line]),
        compareTo: 'champion',
        champion: { label: 'champion', metrics: { score: 2 } },
        candidate: { score: 2 },
      }).rows[0]!;
    expect(expected('score +0.25 higher')).toMatchObject({
      expected: '>= 2.25 (champion: 2 +0.25)',
      passed: false,
    });
    expect(expected('score -0.5 higher')).toMatchObject({
      expected: '>= 1.5 (champion: 2 -0.5)',
      passed: true,
    });
    expect(expected('score +0 lower')).toMatchObject({ expected: '<= 2 (champion: 2 +0)', passed: true });
  });

  it('renders the header, alignment and notes of the gate table, and says when there are no gates', () => {
    expect(renderGateTable({ passed: true, rows: [], notes: [] })).toBe('_No gates were configured._');
    const md = renderGateTable({
      passed: false,
      rows: [{ metric: 'm', value: 1, expected: '>= 2', kind: 'threshold', passed: false }],
      notes: ['First <model>'],
    });
    expect(md).toBe(
      [
        '| Metric | Value | Threshold or champion | Result |\n| --- | ---: | --- | --- |\n| `m` | 1 | &gt;= 2 | ❌ fail |',
        '> First &lt;model&gt;',
      ].join('\n\n'),
    );
  });

  it('derives no-regression gates once per metric, skipping equality gates', () => {
    expect(noRegression(parseGates(['a > 1', 'a >= 2', 'b < 3', 'c == 1', 'd != 2']))).toEqual([
      { text: 'a +0', metric: 'a', amount: 0, relative: false, direction: 'higher' },
      { text: 'b +0', metric: 'b', amount: 0, relative: false, direction: 'lower' },
    ]);
  });
});

describe('improvement lines', () => {
  it('trims lines and skips blank and comment lines', () => {
    expect(parseImprovements(['  test.f1 +0.01  ', '', '   ', '# test.f1 +5'], 'min-improvement')).toEqual([
      { text: 'test.f1 +0.01', metric: 'test.f1', amount: 0.01, relative: false, direction: 'higher' },
    ]);
    expect(() => parseImprovements(['x'], 'my-input')).toThrow(/^Input 'my-input': cannot parse 'x'/);
    expect(() => parseImprovements(['x'])).toThrow(/^Input 'min-improvement': cannot parse 'x'/);
  });
});
