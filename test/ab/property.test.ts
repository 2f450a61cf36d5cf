import {
  analyze,
  type Experiment,
  parseExperiment,
  planQuery,
  renderReport,
  type VariantSums,
} from '@mlops-actions/experiment';
import { describe, expect, it } from 'vitest';
import { outputs, toOutputs } from '../../actions/ab-evaluate/src/main';

/** mulberry32: a small seeded generator, so a failing case can be replayed from its seed. */
function generator(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const pick = <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!;
  return { next, pick };
}

type Random = ReturnType<typeof generator>;

const COLUMNS = ['y', 'pre', 'num', 'den', 'pnum', 'pden', 'flag'] as const;

function experimentFor(r: Random): Experiment {
  const primary = r.pick([
    '{ name: m, kind: mean, column: y, role: primary }',
    '{ name: m, kind: mean, column: y, pre: pre, role: primary }',
    '{ name: m, kind: proportion, column: flag, role: primary }',
    '{ name: m, kind: proportion, column: flag, role: primary, test: t }',
    '{ name: m, kind: ratio, numerator: num, denominator: den, role: primary }',
    '{ name: m, kind: ratio, numerator: num, denominator: den, pre-numerator: pnum, pre-denominator: pden, role: primary }',
  ]);
  const guardrail = r.pick([
    '{ name: g, kind: mean, column: y, role: guardrail, margin: 2% }',
    '{ name: g, kind: mean, column: y, pre: pre, role: guardrail, direction: decrease, absolute-margin: 0.5 }',
    '{ name: g, kind: ratio, numerator: num, denominator: den, role: guardrail, margin: 0.05 }',
    '{ name: g, kind: proportion, column: flag, role: guardrail, absolute-margin: 0.01 }',
  ]);
  return parseExperiment(`
unit: u
variant: v
control: A
treatment: B
${r.next() < 0.05 ? 'sequential: true\nsequential-method: group-sequential\nlooks: 4\nlook: 2' : r.pick(['sequential: true', 'sequential: false'])}
correction: ${r.pick(['holm', 'bh', 'none'])}
cuped: ${r.pick(['pooled-within-arm', 'overall'])}
${r.pick(['', 'prior: { mean: 0, sd: 30% }'])}
metrics:
  - ${primary}
  - ${guardrail}
  - { name: s, kind: mean, column: pre, role: secondary }
`);
}

/** Sums from real unit values: always consistent (Σx² ≥ (Σx)²/n and so on). */
function consistent(r: Random, n: number, e: Experiment): VariantSums {
  const plan = planQuery(e);
  const scale = r.pick([0, 1, 1e-9, 1e6, 1e12]);
  const constant = r.next() < 0.3;
  const units = Array.from({ length: n }, () => {
    const unit: Record<string, number> = {};
    for (const c of COLUMNS) unit[c] = constant ? scale : Math.round(r.next() * 10) * scale;
    unit.flag = r.next() < 0.7 ? Math.round(r.next()) : r.pick([0, 1, 2, 0.5]);
    return unit;
  });
  return fromUnits(plan, units);
}

function fromUnits(plan: ReturnType<typeof planQuery>, units: Array<Record<string, number>>): VariantSums {
  const value = (u: Record<string, number>, i: number) => u[plan.values[i]!.column] ?? 0;
  return {
    variant: null,
    units: units.length,
    rows: units.length,
    sums: plan.values.map((_, i) => units.reduce((s, u) => s + value(u, i), 0)),
    products: new Map(
      plan.products.map(([i, j]) => [`${i},${j}`, units.reduce((s, u) => s + value(u, i) * value(u, j), 0)]),
    ),
  };
}

/** Arbitrary sums: not necessarily from any data (rounding in a warehouse, or plain nonsense). */
function arbitrary(r: Random, e: Experiment): VariantSums {
  const plan = planQuery(e);
  const x = () => r.pick([0, 1, -1, 0.5, 1e-300, 1e300, -1e300, 1e15, r.next() * 1000 - 500]);
  return {
    variant: null,
    units: r.pick([0, 1, 2, 3, 1000, 1e7]),
    rows: 0,
    sums: plan.values.map(x),
    products: new Map(plan.products.map(([i, j]) => [`${i},${j}`, x()])),
  };
}

function arm(r: Random, e: Experiment, variant: string): VariantSums {
  const n = r.pick([0, 1, 2, 3, 5, 40]);
  const sums = r.next() < 0.6 ? consistent(r, n, e) : arbitrary(r, e);
  return { ...sums, variant, rows: sums.units };
}

function numbersIn(value: unknown, path: string, out: Array<[string, number]>): void {
  if (typeof value === 'number') out.push([path, value]);
  else if (Array.isArray(value)) for (const [i, v] of value.entries()) numbersIn(v, `${path}[${i}]`, out);
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) numbersIn(v, `${path}.${k}`, out);
}

describe('property: any per-variant sums through the whole analysis', () => {
  it('never throws and never puts NaN or ±∞ in the outputs (500 random and degenerate cases)', () => {
    let untestable = 0;
    for (let seed = 1; seed <= 500; seed++) {
      const r = generator(seed);
      const e = experimentFor(r);
      const rows = [arm(r, e, 'A'), arm(r, e, 'B')];
      const plan = planQuery(e);
      const analysis = analyze(e, plan, rows);
      const report = renderReport(e, analysis);
      expect(report, `seed ${seed}`).not.toMatch(/NaN|Infinity/);
      const result = outputs.safeParse(toOutputs(analysis, 'SELECT 1'));
      if (!result.success) throw new Error(`seed ${seed}: ${result.error.message}`);
      const numbers: Array<[string, number]> = [];
      numbersIn(result.data, '', numbers);
      for (const [path, x] of numbers) expect(Number.isFinite(x), `seed ${seed} ${path} = ${x}`).toBe(true);
      for (const m of analysis.metrics) {
        if (m.outcome === 'untestable') {
          untestable++;
          // The cause is one line, for the report and the reasons of an invalid decision.
          expect(m.error, `seed ${seed}`).toMatch(/^[^\n]+$/);
        }
      }
      if (analysis.metrics[0]!.outcome === 'untestable') expect(analysis.decision).toBe('invalid');
    }
    // The generator reaches the degenerate cases, not only well-behaved data.
    expect(untestable).toBeGreaterThan(100);
  }, 120_000);
});
