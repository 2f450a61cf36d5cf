/**
 * Always-valid confidence sequences for a difference in means, the normal-mixture boundary of
 * Waudby-Smith et al., "Time-uniform central limit theory and asymptotic confidence sequences"
 * (arXiv:2103.06476v7, eq. 155), as GrowthBook computes it in gbstats
 * (packages/stats/gbstats/frequentist/tests.py: sequential_rho, sequential_interval_halfwidth and
 * SequentialTwoSidedTTest.p_value; documented at docs.growthbook.io/statistics/sequential).
 *
 * ρ is tuned so that the boundary is tightest at a total sample size N* (the tuning parameter,
 * GrowthBook's default 5000):
 *   ρ = sqrt((−2 ln α + ln(−2 ln α + 1)) / N*)
 *   halfwidth(n) = s · sqrt(2(nρ² + 1) / (n²ρ²) · ln(sqrt(nρ² + 1) / α))
 * where n counts units in both arms and s² = n·se² is the unit-level variance of the estimate.
 */

export const DEFAULT_SEQUENTIAL_TUNING = 5000;

/** ρ for level α and tuning N*; one-sided bounds spend 2α in the formula, as gbstats does. */
export function sequentialRho(alpha: number, tuning: number, twoSided = true): number {
  const a = twoSided ? alpha : 2 * alpha;
  return Math.sqrt((-2 * Math.log(a) + Math.log(-2 * Math.log(a) + 1)) / tuning);
}

export function sequentialHalfwidth(s2: number, n: number, alpha: number, rho: number): number {
  const nr2 = n * rho * rho;
  return Math.sqrt(s2) * Math.sqrt(((2 * (nr2 + 1)) / (nr2 * n)) * Math.log(Math.sqrt(nr2 + 1) / alpha));
}

/** gbstats' one-sided halfwidth: ln(1 + sqrt(nρ² + 1) / (2α)) in place of ln(sqrt(nρ² + 1) / α). */
export function sequentialHalfwidthOneSided(s2: number, n: number, alpha: number, rho: number): number {
  const nr2 = n * rho * rho;
  return Math.sqrt(s2 * ((2 * (nr2 + 1)) / (nr2 * n)) * Math.log(1 + Math.sqrt(nr2 + 1) / (2 * alpha)));
}

/**
 * Always-valid p-value: 1 / e-value of the normal mixture martingale, capped at 1. It is below α
 * exactly when the confidence sequence excludes zero.
 */
export function sequentialPValue(effect: number, s2: number, n: number, rho: number): number {
  // (n·effect)² / s2: the squared sum statistic over its variance, as in gbstats (pe²·n / se²).
  const st2 = (effect * effect * n * n) / s2;
  const tr2p1 = n * rho * rho + 1;
  const logE = (rho * rho * st2) / (2 * tr2p1) - 0.5 * Math.log(tr2p1);
  return Math.min(Math.exp(-logE), 1);
}
