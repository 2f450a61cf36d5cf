/**
 * Statistics for the canary judge, as pure functions over sufficient statistics: bucket counts of a
 * latency histogram and error/request counts.
 */

/** Standard normal CDF. */
export function normalCdf(z: number): number {
  return 0.5 * erfc(-z / Math.SQRT2);
}

/** Upper tail P(Z > z). */
export function normalSf(z: number): number {
  return 0.5 * erfc(z / Math.SQRT2);
}

/** Complementary error function: a power series near 0, a continued fraction beyond, so tiny p-values keep their precision. */
export function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 0.5) return 1 - erfSeries(x);
  // Lentz continued fraction for erfc(x) * exp(x^2) * sqrt(pi). For x ≥ 0.5 every denominator is at least x, so
  // Lentz's guard against a zero denominator is never needed.
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = 1 / (x + a * d);
    c = x + a / c;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (f * Math.sqrt(Math.PI));
}

function erfSeries(x: number): number {
  let sum = x;
  let term = x;
  const x2 = x * x;
  for (let n = 1; n < 100; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

export type Alternative = 'two-sided' | 'greater' | 'less';

export interface MannWhitneyResult {
  /** U of the first sample (canary): pairs where canary > stable, ties counting one half. */
  u: number;
  n1: number;
  n2: number;
  z: number;
  p: number;
  /** Probability of superiority U / (n1·n2): 0.5 means no shift, above 0.5 means the first sample is larger. */
  effect: number;
  /**
   * DeLong's standard error of `effect` (from the placement values of each observation, ties counting one
   * half): unlike the null variance of U it holds when the samples differ, so a confidence bound of the
   * effect can be set against a margin.
   */
  se: number;
}

/**
 * Mann-Whitney U of two samples given as counts over the same ordered bins (histogram buckets): every
 * observation in a bin ties with every other in it. Normal approximation with the tie correction, as
 * scipy.stats.mannwhitneyu(x, y, method='asymptotic', use_continuity=…) computes on the expanded samples.
 */
export function mannWhitneyBinned(
  first: number[],
  second: number[],
  options: { alternative?: Alternative; continuity?: boolean } = {},
): MannWhitneyResult {
  if (first.length !== second.length) throw new Error('both samples need the same bins');
  const alternative = options.alternative ?? 'two-sided';
  const continuity = options.continuity ?? true;
  let n1 = 0;
  let n2 = 0;
  for (let i = 0; i < first.length; i++) {
    n1 += first[i]!;
    n2 += second[i]!;
  }
  const n = n1 + n2;
  // Mid-ranks of each bin, then U1 = R1 - n1(n1+1)/2.
  let below = 0;
  let rankSum1 = 0;
  let tieTerm = 0;
  for (let i = 0; i < first.length; i++) {
    const t = first[i]! + second[i]!;
    const midRank = below + (t + 1) / 2;
    rankSum1 += first[i]! * midRank;
    tieTerm += t * t * t - t;
    below += t;
  }
  const u = rankSum1 - (n1 * (n1 + 1)) / 2;
  const mean = (n1 * n2) / 2;
  const variance = n > 1 ? ((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))) : 0;
  const sd = Math.sqrt(variance);
  const effect = n1 > 0 && n2 > 0 ? u / (n1 * n2) : Number.NaN;
  const se = delongStandardError(first, second, n1, n2, effect);
  if (!(sd > 0)) return { u, n1, n2, z: 0, p: 1, effect, se };
  // As scipy: 'greater' tests U1, 'less' tests U2, 'two-sided' the larger of the two with p doubled.
  const u2 = n1 * n2 - u;
  const stat = alternative === 'greater' ? u : alternative === 'less' ? u2 : Math.max(u, u2);
  const z = (stat - mean - (continuity ? 0.5 : 0)) / sd;
  const p = normalSf(z) * (alternative === 'two-sided' ? 2 : 1);
  return { u, n1, n2, z, p: Math.min(1, Math.max(0, p)), effect, se };
}

function delongStandardError(first: number[], second: number[], n1: number, n2: number, auc: number): number {
  if (!(n1 > 1 && n2 > 1)) return Number.NaN;
  let secondBelow = 0;
  let firstBelow = 0;
  let s10 = 0;
  let s01 = 0;
  for (let i = 0; i < first.length; i++) {
    const f = first[i]!;
    const s = second[i]!;
    // A first-sample value in this bin beats every second-sample value below it and half of those tied.
    const v10 = (secondBelow + s / 2) / n2;
    // A second-sample value here is beaten by every first-sample value above it and half of those tied.
    const v01 = (n1 - firstBelow - f + f / 2) / n1;
    s10 += f * (v10 - auc) ** 2;
    s01 += s * (v01 - auc) ** 2;
    secondBelow += s;
    firstBelow += f;
  }
  return Math.sqrt(s10 / (n1 - 1) / n1 + s01 / (n2 - 1) / n2);
}

/**
 * One-sided test that a difference exceeds a margin, H0: d ≤ margin, from an estimate and its standard
 * error: p < alpha exactly when the lower (1 − alpha) confidence bound of d clears the margin.
 */
export function exceedsMargin(estimate: number, se: number, margin: number): { z: number; p: number } {
  if (!Number.isFinite(estimate)) return { z: Number.NaN, p: 1 };
  if (!(se > 0)) return estimate > margin ? { z: Infinity, p: 0 } : { z: -Infinity, p: 1 };
  const z = (estimate - margin) / se;
  return { z, p: normalSf(z) };
}

export interface ProportionDifference {
  /** The first proportion minus the second, as observed. */
  difference: number;
  /** Agresti-Caffo adjusted difference and its standard error (one success and one failure added to each group). */
  adjusted: number;
  se: number;
}

/**
 * The difference of two proportions with the Agresti-Caffo adjustment, whose Wald interval keeps its
 * coverage with few events (the plain Wald interval collapses to zero width at 0 events).
 */
export function proportionDifference(x1: number, n1: number, x2: number, n2: number): ProportionDifference {
  const a1 = (x1 + 1) / (n1 + 2);
  const a2 = (x2 + 1) / (n2 + 2);
  return {
    difference: x1 / n1 - x2 / n2,
    adjusted: a1 - a2,
    se: Math.sqrt((a1 * (1 - a1)) / (n1 + 2) + (a2 * (1 - a2)) / (n2 + 2)),
  };
}

/** Per-bin counts from cumulative `le` bucket counts sorted by bound (Prometheus histograms are cumulative). */
export function binCounts(cumulative: number[]): number[] {
  const out: number[] = [];
  let previous = 0;
  for (const value of cumulative) {
    out.push(Math.max(0, value - previous));
    previous = Math.max(previous, value);
  }
  return out;
}

/** A quantile from cumulative bucket counts, interpolated linearly inside the bucket as histogram_quantile does. */
export function histogramQuantile(q: number, bounds: number[], cumulative: number[]): number {
  const total = cumulative[cumulative.length - 1] ?? 0;
  if (!(total > 0)) return Number.NaN;
  const rank = q * total;
  for (let i = 0; i < bounds.length; i++) {
    if (cumulative[i]! >= rank) {
      const upper = bounds[i]!;
      if (!Number.isFinite(upper)) return bounds[i - 1] ?? Number.NaN;
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = cumulative[i]! - below;
      return inBucket > 0 ? lower + (upper - lower) * ((rank - below) / inBucket) : upper;
    }
  }
  return Number.NaN;
}

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const z = x - 1;
  let a = LANCZOS[0]!;
  const t = z + 7.5;
  for (let i = 1; i < 9; i++) a += LANCZOS[i]! / (z + i);
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(a);
}

function logChoose(n: number, k: number): number {
  return logGamma(n + 1) - logGamma(k + 1) - logGamma(n - k + 1);
}

/**
 * Fisher's exact test, one-sided: P(X ≥ x1) for X hypergeometric given the margins, i.e. the chance of
 * the first group having at least this many of the events by luck alone. Exact where the z-test's normal
 * approximation is not (few expected errors), as scipy.stats.fisher_exact(alternative='greater').
 */
export function fisherExactGreater(x1: number, n1: number, x2: number, n2: number): number {
  const events = x1 + x2;
  const total = n1 + n2;
  const upper = Math.min(events, n1);
  const base = logChoose(total, n1);
  let p = 0;
  for (let k = x1; k <= upper; k++)
    p += Math.exp(logChoose(events, k) + logChoose(total - events, n1 - k) - base);
  return Math.min(1, p);
}
