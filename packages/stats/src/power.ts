import { normalQuantile } from './distributions';
import { sequentialHalfwidth, sequentialRho } from './sequential';

export interface PowerInput {
  /** Unit-level variances of the arm estimates (as observed so far). */
  varianceControl: number;
  varianceTreatment: number;
  /** Share of units in each arm of the two being compared (need not sum to 1). */
  weightControl: number;
  weightTreatment: number;
  /** The control mean the relative minimum effect applies to. */
  baseline: number;
  /** Minimum relative effect worth detecting, e.g. 0.02 for 2 %. */
  mde: number;
  alpha: number;
  power: number;
  sequential?: { tuning: number };
}

/**
 * Units (both arms together) needed so that a true relative effect of `mde` is detected with the
 * given power: (z₁₋α/₂ + z_power)² · (σ²_A/w_A + σ²_B/w_B) / (mde · mean_A)² for fixed-horizon tests;
 * for confidence sequences, the smallest n at which halfwidth(n) + z_power · se(n) ≤ the effect.
 */
export function requiredSampleSize(p: PowerInput): number {
  const share = p.weightControl + p.weightTreatment;
  const wA = p.weightControl / share;
  const wB = p.weightTreatment / share;
  const d = Math.abs(p.mde * p.baseline);
  const s2 = p.varianceControl / wA + p.varianceTreatment / wB;
  if (!(d > 0) || !Number.isFinite(s2)) return Number.POSITIVE_INFINITY;
  if (s2 === 0) return 2;
  const zPower = normalQuantile(p.power);
  if (!p.sequential) {
    const z = normalQuantile(1 - p.alpha / 2) + zPower;
    return Math.ceil((z * z * s2) / (d * d));
  }
  const rho = sequentialRho(p.alpha, p.sequential.tuning);
  const detects = (n: number) => sequentialHalfwidth(s2, n, p.alpha, rho) + zPower * Math.sqrt(s2 / n) <= d;
  let lo = 2;
  let hi = 4;
  while (!detects(hi)) {
    hi *= 2;
    if (hi > 1e15) return Number.POSITIVE_INFINITY;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (detects(mid)) hi = mid;
    else lo = mid;
  }
  return hi;
}
