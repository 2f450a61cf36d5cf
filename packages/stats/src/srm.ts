import { chiSquareSf } from './distributions';

export interface SrmResult {
  chiSquare: number;
  dof: number;
  pValue: number;
  expected: number[];
}

/** Pearson's χ² goodness of fit of the observed units per arm to the configured split. */
export function sampleRatioMismatch(observed: number[], weights: number[]): SrmResult {
  if (observed.length !== weights.length || observed.length < 2) {
    throw new Error('sample ratio check needs one weight per arm and at least two arms');
  }
  const total = observed.reduce((s, x) => s + x, 0);
  const weightSum = weights.reduce((s, x) => s + x, 0);
  const expected = weights.map((w) => (total * w) / weightSum);
  let chiSquare = 0;
  // No units at all: nothing mismatches (and 0/0 must not reach the χ² sum).
  if (total === 0) return { chiSquare, dof: observed.length - 1, pValue: 1, expected };
  for (const [i, o] of observed.entries()) {
    const e = expected[i]!;
    chiSquare += ((o - e) * (o - e)) / e;
  }
  const dof = observed.length - 1;
  return { chiSquare, dof, pValue: chiSquareSf(chiSquare, dof), expected };
}
