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
 * How CUPED fits θ. `pooled-within-arm`: the least-squares slope of the metric on its covariate with an
 * intercept per arm, Σₖ Σ(x − x̄ₖ)(y − ȳₖ) / Σₖ Σ(x − x̄ₖ)² (the ANCOVA estimator; a treatment effect
 * cannot leak into the slope). `overall`: one slope over the units of both arms ignoring the arm,
 * cov(x, y) / var(x) over the pooled sample, as GrowthBook's gbstats and Spotify's Confidence fit it.
 */
export type CupedMode = 'pooled-within-arm' | 'overall';

/** CUPED's θ over the arms; zero when the covariate does not vary. */
export function cupedTheta(arms: CovariateSums[], mode: CupedMode = 'pooled-within-arm'): number {
  let cross = 0;
  let pre = 0;
  if (mode === 'overall') {
    let n = 0;
    let sum = 0;
    let sumPre = 0;
    for (const s of arms) {
      n += s.n;
      sum += s.sum;
      sumPre += s.sumPre;
      cross += s.sumCross;
      pre += s.sumPreSquares;
    }
    cross -= (sum * sumPre) / n;
    pre -= (sumPre * sumPre) / n;
  } else {
    for (const s of arms) {
      cross += s.sumCross - (s.sum * s.sumPre) / s.n;
      pre += s.sumPreSquares - (s.sumPre * s.sumPre) / s.n;
    }
  }
  // A covariate constant up to rounding leaves a residue of ~1e-16 of its squares; that is not variation.
  const scale = arms.reduce((t, s) => t + Math.abs(s.sumPreSquares), 0);
  return pre > 1e-12 * scale ? cross / pre : 0;
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

/** A ratio metric and its pre-period ratio (numerator X, denominator E), for CUPED on ratios. */
export interface RatioCovariateSums extends RatioSums {
  sumPreNum: number;
  sumPreNumSquares: number;
  sumPreDen: number;
  sumPreDenSquares: number;
  sumPreNumDen: number;
  /** Cross products of the period's numerator (Y) and denominator (D) with the pre-period's X and E. */
  sumNumPreNum: number;
  sumNumPreDen: number;
  sumDenPreNum: number;
  sumDenPreDen: number;
}

/**
 * Unit-level moments of the two linearised ratios L = (Y − r·D)/D̄ and L' = (X − r'·E)/Ē (the delta
 * method of Deng et al., "Improving the sensitivity of online controlled experiments by utilizing
 * pre-experiment data", WSDM 2013, §3.3 and appendix): their variances and covariance.
 */
export function ratioCovariateMoments(s: RatioCovariateSums) {
  const r = s.sumNum / s.sumDen;
  const rPre = s.sumPreNum / s.sumPreDen;
  const d = s.sumDen / s.n;
  const e = s.sumPreDen / s.n;
  const cov = (sx: number, sy: number, sxy: number) => sampleCovariance(s.n, sx, sy, sxy);
  const varY = sampleVariance(s.n, s.sumNum, s.sumNumSquares);
  const varD = sampleVariance(s.n, s.sumDen, s.sumDenSquares);
  const varX = sampleVariance(s.n, s.sumPreNum, s.sumPreNumSquares);
  const varE = sampleVariance(s.n, s.sumPreDen, s.sumPreDenSquares);
  const varL = Math.max((varY - 2 * r * cov(s.sumNum, s.sumDen, s.sumNumDen) + r * r * varD) / (d * d), 0);
  const varPre = Math.max(
    (varX - 2 * rPre * cov(s.sumPreNum, s.sumPreDen, s.sumPreNumDen) + rPre * rPre * varE) / (e * e),
    0,
  );
  const covLPre =
    (cov(s.sumNum, s.sumPreNum, s.sumNumPreNum) -
      rPre * cov(s.sumNum, s.sumPreDen, s.sumNumPreDen) -
      r * cov(s.sumDen, s.sumPreNum, s.sumDenPreNum) +
      r * rPre * cov(s.sumDen, s.sumPreDen, s.sumDenPreDen)) /
    (d * e);
  return { n: s.n, ratio: r, preRatio: rPre, variance: varL, preVariance: varPre, covariance: covLPre };
}

type RatioMoments = ReturnType<typeof ratioCovariateMoments>;

/**
 * θ for CUPED on a ratio: the slope of L on L' pooled within arms, Σₖ(nₖ − 1)cov(L, L')ₖ / Σₖ(nₖ − 1)var(L')ₖ.
 * Each arm's linearised values centre on zero, so a fit over both arms ignoring the arm is the same
 * slope: the `overall` mode needs no separate formula here.
 */
export function ratioCupedTheta(arms: RatioMoments[]): number {
  let cross = 0;
  let pre = 0;
  for (const m of arms) {
    cross += (m.n - 1) * m.covariance;
    pre += (m.n - 1) * m.preVariance;
  }
  return pre > 0 && Number.isFinite(cross / pre) ? cross / pre : 0;
}

/** A CUPED-adjusted ratio arm: r − θ(r' − r'_pooled), unit variance var(L) + θ²var(L') − 2θcov(L, L'). */
export function ratioCupedEstimate(m: RatioMoments, theta: number, pooledPreRatio: number): ArmEstimate {
  return {
    n: m.n,
    estimate: m.ratio - theta * (m.preRatio - pooledPreRatio),
    variance: Math.max(m.variance + theta * theta * m.preVariance - 2 * theta * m.covariance, 0),
    baseline: m.ratio,
    baselineVariance: m.variance,
    covariance: m.variance - theta * m.covariance,
  };
}
