import { describe, expect, it } from 'vitest';
import {
  analyze,
  type Experiment,
  MULTIPLE,
  parseExperiment,
  planQuery,
  type VariantSums,
} from '../src/index';

const BASE = `
unit: user_id
variant: variant
control: A
treatment: B
mde: 0.05
metrics:
  - { name: revenue, kind: mean, column: revenue, role: primary }
  - { name: latency, kind: mean, column: latency, role: guardrail, direction: decrease, margin: 0.05 }
`;

/** Per-variant sums of per-unit values, as the aggregation query would return them. */
function sums(e: Experiment, arms: Record<string, Array<Record<string, number>>>): VariantSums[] {
  const plan = planQuery(e);
  return Object.entries(arms).map(([variant, units]) => ({
    variant,
    units: units.length,
    rows: units.length,
    sums: plan.values.map((v) => units.reduce((s, u) => s + (u[v.column] ?? 0), 0)),
    products: new Map(
      plan.products.map(([i, j]) => [
        `${i},${j}`,
        units.reduce((s, u) => s + (u[plan.values[i]!.column] ?? 0) * (u[plan.values[j]!.column] ?? 0), 0),
      ]),
    ),
  }));
}

/** Deterministic per-unit values: a mean, spread evenly (no randomness needed for the rule). */
function arm(n: number, revenue: number, latency: number, spread = 1): Array<Record<string, number>> {
  return Array.from({ length: n }, (_, k) => ({
    revenue: revenue + ((k % 10) - 4.5) * spread,
    latency: latency + ((k % 7) - 3) * 5,
  }));
}

describe('experiment definition', () => {
  it('parses the defaults', () => {
    const e = parseExperiment(BASE);
    expect(e.alpha).toBe(0.05);
    expect(e['srm-alpha']).toBe(0.001);
    expect(e.correction).toBe('holm');
    expect(e.sequential).toBe(false);
    expect(e['sequential-tuning']).toBe(5000);
    expect(e.granularity).toBe('user');
    expect(e.metrics[0]!.group).toBe('business');
  });

  it.each([
    [BASE.replace('role: primary', 'role: secondary'), 'exactly one metric needs role: primary (found 0)'],
    [
      BASE.replace('margin: 0.05', 'group: technical'),
      "metrics.1: metric 'latency': a guardrail needs one non-inferiority margin, relative (margin: 2%) or absolute (absolute-margin: 5)",
    ],
    [
      BASE.replace('kind: mean, column: revenue', 'kind: ratio, numerator: revenue'),
      "metrics.0: metric 'revenue': a ratio needs numerator and denominator columns",
    ],
    [`${BASE}split: { A: 50, C: 50 }\n`, "split has no share for variant 'B'"],
    [BASE.replace('treatment: B', 'treatment: A'), 'control and treatment must differ'],
    [`${BASE}alpha: 5\n`, 'alpha: alpha must be below 1'],
    [`${BASE}colour: red\n`, 'Unrecognized key: "colour"'],
  ])('rejects a bad definition with one line saying what is wrong (%#)', (text, message) => {
    expect(() => parseExperiment(text)).toThrow(message);
  });
});

describe('decision rule on per-variant sums', () => {
  const e = parseExperiment(BASE);
  const plan = planQuery(e);

  it('ship: primary significantly better, guardrail non-inferior', () => {
    const a = analyze(e, plan, sums(e, { A: arm(20000, 100, 200), B: arm(20000, 106, 200) }));
    expect(a.decision).toBe('ship');
    expect(a.metrics[0]!.outcome).toBe('better');
    expect(a.metrics[1]!.nonInferiority!.status).toBe('pass');
  });

  it('dont-ship: primary significantly worse', () => {
    const a = analyze(e, plan, sums(e, { A: arm(20000, 100, 200), B: arm(20000, 95, 200) }));
    expect(a.decision).toBe('dont-ship');
    expect(a.reasons).toContain("primary metric 'revenue' is significantly worse");
  });

  it('dont-ship: a guardrail proven beyond its margin, even with a better primary', () => {
    const a = analyze(e, plan, sums(e, { A: arm(20000, 100, 200), B: arm(20000, 106, 230) }));
    expect(a.metrics[1]!.nonInferiority!.status).toBe('fail');
    expect(a.decision).toBe('dont-ship');
  });

  it('keep-running: no significant change yet, with the units still needed', () => {
    const a = analyze(e, plan, sums(e, { A: arm(20, 100, 200, 20), B: arm(20, 100.5, 200, 20) }));
    expect(a.decision).toBe('keep-running');
    expect(a.usersNeeded).toBeGreaterThan(0);
    expect(a.metrics[0]!.requiredUnits).toBe(a.usersNeeded + 40);
  });

  it('dont-ship: enough units and still no improvement', () => {
    const a = analyze(e, plan, sums(e, { A: arm(20000, 100, 200), B: arm(20000, 100, 200) }));
    expect(a.decision).toBe('dont-ship');
    expect(a.reasons[0]).toMatch(/no significant improvement with enough units to detect 5%/);
  });

  it('invalid: sample ratio mismatch wins over a clear improvement', () => {
    const a = analyze(e, plan, sums(e, { A: arm(20000, 100, 200), B: arm(21000, 106, 200) }));
    expect(a.srm.alert).toBe(true);
    expect(a.decision).toBe('invalid');
  });

  it('invalid: units in more than one variant; other variants are reported, not errors', () => {
    const rows = sums(e, {
      A: arm(20000, 100, 200),
      B: arm(20000, 106, 200),
      [MULTIPLE]: arm(3, 1, 1),
      C: arm(50, 1, 1),
    });
    const a = analyze(e, plan, rows);
    expect(a.duplicateUnits).toBe(3);
    expect(a.unknownVariants).toEqual({ C: 50 });
    expect(a.decision).toBe('invalid');
  });
});
