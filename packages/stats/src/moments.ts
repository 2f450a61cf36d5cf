/**
 * Per-arm sufficient statistics, as one `GROUP BY variant` query returns them, and the arm estimates
 * derived from them. Variances are unit-level sample variances (n − 1 denominators).
 */

/** Sums over units of one value column: a mean or a proportion (0/1 values). */
export interface MeanSums {
  n: number;
  sum: number;
  sumSquares: number;
}

/** Sums over units of a numerator and a denominator column (e.g. clicks and impressions per user). */
export interface RatioSums {
  n: number;
  sumNum: number;
  sumNumSquares: number;
  sumDen: number;
  sumDenSquares: number;
  sumNumDen: number;
}

/** A value column and its pre-period covariate, for CUPED. */
export interface CovariateSums extends MeanSums {
  sumPre: number;
  sumPreSquares: number;
  sumCross: number;
}

/**
 * One arm's estimate in the form every test consumes: the estimate compared across arms, the
 * baseline it is divided by for relative effects (the unadjusted mean; equal to the estimate unless
 * CUPED moved it), their unit-level variances and covariance, so the delta method sees both.
 */
export interface ArmEstimate {
  n: number;
  estimate: number;
  variance: number;
  baseline: number;
  baselineVariance: number;
  covariance: number;
}

export function sampleVariance(n: number, sum: number, sumSquares: number): number {
  if (n < 2) return Number.NaN;
  const mean = sum / n;
  // Sums of squares can come back a hair below n·mean² from rounding; a variance is never negative.
  return Math.max((sumSquares - sum * mean) / (n - 1), 0);
}

export function sampleCovariance(n: number, sumX: number, sumY: number, sumXY: number): number {
  if (n < 2) return Number.NaN;
  return (sumXY - (sumX * sumY) / n) / (n - 1);
}

function plain(n: number, mean: number, variance: number): ArmEstimate {
  return { n, estimate: mean, variance, baseline: mean, baselineVariance: variance, covariance: variance };
}

export function meanEstimate(s: MeanSums): ArmEstimate {
  return plain(s.n, s.sum / s.n, sampleVariance(s.n, s.sum, s.sumSquares));
}

/** A proportion with the binomial variance p(1 − p), as the Wald z-test uses. */
export function proportionEstimate(s: MeanSums): ArmEstimate {
  const p = s.sum / s.n;
  return plain(s.n, p, p * (1 - p));
}

/**
 * A ratio of sums (Σ num / Σ den) with the delta-method variance of the linearised unit value
 * (num − r·den)/mean(den), using the per-unit covariance of numerator and denominator.
 */
export function ratioEstimate(s: RatioSums): ArmEstimate {
  const ratio = s.sumNum / s.sumDen;
  const meanDen = s.sumDen / s.n;
  const varNum = sampleVariance(s.n, s.sumNum, s.sumNumSquares);
  const varDen = sampleVariance(s.n, s.sumDen, s.sumDenSquares);
  const cov = sampleCovariance(s.n, s.sumNum, s.sumDen, s.sumNumDen);
  const variance = Math.max((varNum - 2 * ratio * cov + ratio * ratio * varDen) / (meanDen * meanDen), 0);
  return plain(s.n, ratio, variance);
}

/**
 * CUPED's θ pooled over arms: the within-arm least-squares slope of the metric on its pre-period
 * covariate, Σₖ Σ(x − x̄ₖ)(y − ȳₖ) / Σₖ Σ(x − x̄ₖ)². Zero when the covariate does not vary.
 */
export function cupedTheta(arms: CovariateSums[]): number {
  let cross = 0;
  let pre = 0;
  for (const s of arms) {
    cross += s.sumCross - (s.sum * s.sumPre) / s.n;
    pre += s.sumPreSquares - (s.sumPre * s.sumPre) / s.n;
  }
  return pre > 0 ? cross / pre : 0;
}

/**
 * A CUPED-adjusted arm: ȳ − θ(x̄ − x̄_pooled), with unit variance var(y) + θ²var(x) − 2θcov(x, y).
 * The pooled pre-period mean cancels in differences; it keeps the adjusted means on the metric's scale.
 */
export function cupedEstimate(s: CovariateSums, theta: number, pooledPreMean: number): ArmEstimate {
  const mean = s.sum / s.n;
  const varY = sampleVariance(s.n, s.sum, s.sumSquares);
  const varX = sampleVariance(s.n, s.sumPre, s.sumPreSquares);
  const cov = sampleCovariance(s.n, s.sum, s.sumPre, s.sumCross);
  return {
    n: s.n,
    estimate: mean - theta * (s.sumPre / s.n - pooledPreMean),
    variance: Math.max(varY + theta * theta * varX - 2 * theta * cov, 0),
    baseline: mean,
    baselineVariance: varY,
    covariance: varY - theta * cov,
  };
}
