export type Correction = 'holm' | 'bh' | 'none';

/** Holm's step-down adjusted p-values (family-wise error rate), in the order given. */
export function holm(pValues: number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
  const adjusted = new Array<number>(m);
  let running = 0;
  for (const [rank, { p, i }] of order.entries()) {
    running = Math.max(running, Math.min(1, (m - rank) * p));
    adjusted[i] = running;
  }
  return adjusted;
}

/** Benjamini–Hochberg step-up adjusted p-values (false discovery rate), in the order given. */
export function benjaminiHochberg(pValues: number[]): number[] {
  const m = pValues.length;
  const order = pValues.map((p, i) => ({ p, i })).sort((x, y) => x.p - y.p);
  const adjusted = new Array<number>(m);
  let running = 1;
  for (let rank = m - 1; rank >= 0; rank--) {
    const { p, i } = order[rank]!;
    running = Math.min(running, Math.min(1, (m / (rank + 1)) * p));
    adjusted[i] = running;
  }
  return adjusted;
}

export function adjustPValues(pValues: number[], correction: Correction): number[] {
  if (correction === 'holm') return holm(pValues);
  if (correction === 'bh') return benjaminiHochberg(pValues);
  return [...pValues];
}
