import { relClose } from '../../stats/test/scipy';
import { type Experiment, planQuery, type VariantSums } from '../src/index';

/** One unit's values by column name; a column it lacks counts as 0, as the aggregation query treats a missing value. */
export type Unit = Record<string, number>;

/**
 * Per-variant sums and sums of products of the plan's value columns over per-unit rows, as the one
 * `GROUP BY variant` query returns them (computed here by plain addition, independently of the code under test).
 */
export function unitSums(e: Experiment, arms: Record<string, Unit[]>): VariantSums[] {
  const plan = planQuery(e);
  const value = (u: Unit, i: number) => u[plan.values[i]!.column] ?? 0;
  return Object.entries(arms).map(([variant, units]) => ({
    variant,
    units: units.length,
    rows: units.length,
    sums: plan.values.map((_, i) => units.reduce((s, u) => s + value(u, i), 0)),
    products: new Map(
      plan.products.map(([i, j]) => [`${i},${j}`, units.reduce((s, u) => s + value(u, i) * value(u, j), 0)]),
    ),
  }));
}

/** Units from columns of equal length: `{ revenue: [..], pre: [..] }` → one record per index. */
export function units(columns: Record<string, number[]>): Unit[] {
  const names = Object.keys(columns);
  const n = columns[names[0]!]!.length;
  return Array.from({ length: n }, (_, k) => Object.fromEntries(names.map((c) => [c, columns[c]![k]!])));
}

/** n values alternating mean − sd and mean + sd: the mean is exact and the sample variance sd²·n/(n − 1). */
export function spread(n: number, mean: number, sd: number): number[] {
  return Array.from({ length: n }, (_, k) => (k % 2 === 0 ? mean - sd : mean + sd));
}

/** Fails unless `actual` is a number within `tolerance` of `expected`, relatively (NaN, null and undefined fail). */
export function close(
  actual: number | null | undefined,
  expected: number,
  what: string,
  tolerance = 1e-9,
): void {
  if (typeof actual !== 'number' || !relClose(actual, expected, tolerance))
    throw new Error(`${what}: got ${actual}, expected ${expected}`);
}
