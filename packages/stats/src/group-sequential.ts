import { normalCdf, normalPdf, normalQuantile } from './distributions';

/**
 * Group-sequential tests with a planned number of looks and a Lan-DeMets alpha-spending function
 * (Lan & DeMets, "Discrete sequential boundaries for clinical trials", Biometrika 1983), the design
 * Spotify's Confidence offers; two-sided symmetric boundaries on the z-statistic, computed by the
 * recursive numerical integration of Armitage, McPherson & Rowe (1969) as in Jennison & Turnbull,
 * "Group Sequential Methods with Applications to Clinical Trials" (2000), §19.2.
 */
export type Spending = 'obrien-fleming' | 'pocock';

/**
 * Two-sided α spent by information fraction t ∈ (0, 1], as twice the one-sided spending of α/2 per
 * side (Lan & DeMets 1983; DeMets & Lan, Statistics in Medicine 1994): O'Brien-Fleming type
 * α₁(t) = 2 − 2Φ(z_{1−α₁/2} / √t), Pocock type α₁(t) = α₁ ln(1 + (e − 1)t), with α₁ = α/2.
 */
export function alphaSpent(alpha: number, t: number, spending: Spending): number {
  if (t <= 0) return 0;
  const f = Math.min(t, 1);
  const side = alpha / 2;
  if (spending === 'pocock') return 2 * side * Math.log(1 + (Math.E - 1) * f);
  return 2 * (2 * normalCdf(-normalQuantile(1 - side / 2) / Math.sqrt(f)));
}

/** Grid points per look: Simpson's rule on the continuation region of the score B(t) = Z√t. */
const GRID = 101;

interface Density {
  /** Half-width of the continuation region on the score scale. */
  half: number;
  points: number[];
  /** Density times Simpson weight at each point. */
  weighted: number[];
}

function simpsonWeights(n: number, h: number): number[] {
  return Array.from({ length: n }, (_, i) => ((i === 0 || i === n - 1 ? 1 : i % 2 === 1 ? 4 : 2) * h) / 3);
}

function gridOf(half: number, density: (b: number) => number): Density {
  const h = (2 * half) / (GRID - 1);
  const weights = simpsonWeights(GRID, h);
  const points = Array.from({ length: GRID }, (_, i) => -half + i * h);
  return { half, points, weighted: points.map((b, i) => weights[i]! * density(b)) };
}

/** P(|B(t_k)| ≥ half_k and no earlier crossing), from the sub-density at the previous look. */
function exitProbability(previous: Density, half: number, step: number): number {
  const s = Math.sqrt(step);
  let total = 0;
  for (const [i, u] of previous.points.entries()) {
    total += previous.weighted[i]! * (normalCdf((-half - u) / s) + normalCdf((u - half) / s));
  }
  return total;
}

function nextDensity(previous: Density, half: number, step: number): Density {
  const s = Math.sqrt(step);
  return gridOf(half, (b) => {
    let total = 0;
    for (const [i, u] of previous.points.entries()) total += previous.weighted[i]! * normalPdf((b - u) / s);
    return total / s;
  });
}

/**
 * Critical values c₁…c_K of |Z| at increasing information fractions t₁ < … < t_K ≤ 1: the probability
 * under H0 of first crossing at look k is the α spent between t_{k−1} and t_k.
 */
export function groupSequentialBounds(alpha: number, fractions: number[], spending: Spending): number[] {
  const bounds: number[] = [];
  let density: Density | undefined;
  let spent = 0;
  let previousT = 0;
  for (const t of fractions) {
    const target = alphaSpent(alpha, t, spending);
    const increment = Math.max(target - spent, 0);
    let c: number;
    if (!density) {
      c = increment > 0 ? normalQuantile(1 - increment / 2) : Number.POSITIVE_INFINITY;
      const sd = Math.sqrt(t);
      c = Math.min(c, 40);
      density = gridOf(c * sd, (b) => normalPdf(b / sd) / sd);
    } else {
      const prev: Density = density;
      const step = t - previousT;
      // Crossing probability falls as c grows: bisection on c.
      let lo = 0;
      let hi = 40;
      for (let k = 0; k < 44; k++) {
        const mid = (lo + hi) / 2;
        if (exitProbability(prev, mid * Math.sqrt(t), step) > increment) lo = mid;
        else hi = mid;
      }
      c = (lo + hi) / 2;
      density = nextDensity(prev, c * Math.sqrt(t), step);
    }
    bounds.push(c);
    spent = target;
    previousT = t;
  }
  return bounds;
}

/** Equally spaced planned looks: t_j = j / K. */
export function plannedFractions(looks: number): number[] {
  return Array.from({ length: looks }, (_, j) => (j + 1) / looks);
}

/**
 * The repeated p-value at look k (Jennison & Turnbull §9.1): the smallest α′ at which the repeated
 * confidence interval at this look, effect ± c_k(α′)·se, excludes zero. It is below α exactly when
 * |z| ≥ c_k(α), so it agrees with the interval reported beside it.
 */
export function repeatedPValue(z: number, look: number, fractions: number[], spending: Spending): number {
  const upto = fractions.slice(0, look);
  const crosses = (a: number) => Math.abs(z) >= groupSequentialBounds(a, upto, spending)[look - 1]!;
  if (!crosses(1 - 1e-9)) return 1;
  let lo = Math.log(1e-12);
  let hi = Math.log(1 - 1e-9);
  if (crosses(Math.exp(lo))) return 1e-12;
  for (let k = 0; k < 32; k++) {
    const mid = (lo + hi) / 2;
    if (crosses(Math.exp(mid))) hi = mid;
    else lo = mid;
  }
  return Math.exp(hi);
}
