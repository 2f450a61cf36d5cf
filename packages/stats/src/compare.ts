import { normalCdf, normalSf, tCdf, tQuantile, tSf } from './distributions';
import type { ArmEstimate } from './moments';
import {
  sequentialHalfwidth,
  sequentialHalfwidthOneSided,
  sequentialPValue,
  sequentialRho,
} from './sequential';

export type TestKind = 't' | 'z';

export interface CompareOptions {
  /** Two-sided significance level. */
  alpha: number;
  test: TestKind;
  /** Always-valid confidence sequences instead of fixed-horizon intervals. */
  sequential?: { tuning: number };
}

export interface Effect {
  /** Point estimate: treatment − control, or (treatment − control) / control. */
  effect: number;
  standardError: number;
  ci: [number, number];
  pValue: number;
  statistic: number;
}

export interface Comparison {
  absolute: Effect;
  relative: Effect;
  /** Welch–Satterthwaite degrees of freedom (Infinity for z-tests). */
  dof: number;
  test: TestKind;
  sequential: boolean;
  alpha: number;
  /** Both arms without variance: the effect is exact and the test degenerate. */
  degenerate: boolean;
}

/** Welch–Satterthwaite degrees of freedom from unit-level variances. */
export function welchDof(varA: number, nA: number, varB: number, nB: number): number {
  const a = varA / nA;
  const b = varB / nB;
  const denominator = (a * a) / (nA - 1) + (b * b) / (nB - 1);
  if (denominator === 0) return Number.POSITIVE_INFINITY;
  return ((a + b) * (a + b)) / denominator;
}

/** Variance of the relative effect (e_B − e_A)/b_A by the delta method, both arms' terms. */
export function relativeVariance(a: ArmEstimate, b: ArmEstimate): number {
  const base = a.baseline;
  const diff = b.estimate - a.estimate;
  const treatment = b.variance / (b.n * base * base);
  const control =
    (a.variance / (base * base) +
      (diff * diff * a.baselineVariance) / base ** 4 +
      (2 * diff * a.covariance) / base ** 3) /
    a.n;
  return treatment + control;
}

function fixedEffect(effect: number, se: number, alpha: number, dof: number): Effect {
  if (se === 0) {
    return { effect, standardError: 0, ci: [effect, effect], pValue: effect === 0 ? 1 : 0, statistic: 0 };
  }
  const statistic = effect / se;
  const q = tQuantile(1 - alpha / 2, dof);
  return {
    effect,
    standardError: se,
    ci: [effect - q * se, effect + q * se],
    pValue: 2 * tCdf(-Math.abs(statistic), dof),
    statistic,
  };
}

function sequentialEffect(effect: number, se: number, alpha: number, n: number, tuning: number): Effect {
  if (se === 0) {
    return { effect, standardError: 0, ci: [effect, effect], pValue: effect === 0 ? 1 : 0, statistic: 0 };
  }
  const s2 = se * se * n;
  const rho = sequentialRho(alpha, tuning);
  const hw = sequentialHalfwidth(s2, n, alpha, rho);
  return {
    effect,
    standardError: se,
    ci: [effect - hw, effect + hw],
    pValue: sequentialPValue(effect, s2, n, rho),
    statistic: effect / se,
  };
}

/** Compares treatment (b) with control (a): absolute and relative effects with CIs and p-values. */
export function compareArms(a: ArmEstimate, b: ArmEstimate, options: CompareOptions): Comparison {
  const dof = options.test === 'z' ? Number.POSITIVE_INFINITY : welchDof(a.variance, a.n, b.variance, b.n);
  const diff = b.estimate - a.estimate;
  const seAbs = Math.sqrt(a.variance / a.n + b.variance / b.n);
  const rel = diff / a.baseline;
  const seRel = Math.sqrt(Math.max(relativeVariance(a, b), 0));
  const degenerate = a.variance === 0 && b.variance === 0;
  const effect = options.sequential
    ? (e: number, se: number) => sequentialEffect(e, se, options.alpha, a.n + b.n, options.sequential!.tuning)
    : (e: number, se: number) => fixedEffect(e, se, options.alpha, dof);
  return {
    absolute: effect(diff, seAbs),
    relative: effect(rel, seRel),
    dof,
    test: options.test,
    sequential: options.sequential !== undefined,
    alpha: options.alpha,
    degenerate,
  };
}

export type Direction = 'increase' | 'decrease';

export interface NonInferiority {
  /** Relative margin, e.g. 0.02: the metric may not get worse by more than 2 %. */
  margin: number;
  /** One-sided p-value of H0 "worse by at least the margin" (fixed-horizon only). */
  pValue: number | null;
  /** The one-sided (1 − α) bound on the relative effect on the side of harm. */
  bound: number;
  /** Proven no worse than the margin. */
  nonInferior: boolean;
  /** Proven worse than the margin: even the favourable one-sided bound is beyond it. */
  inferior: boolean;
}

/**
 * Non-inferiority on the relative effect with a relative margin, one-sided at α. For metrics where
 * lower is better (latency), harm is an increase.
 */
export function nonInferiority(
  c: Comparison,
  margin: number,
  direction: Direction,
  alpha: number,
  sequential?: { tuning: number; n: number },
): NonInferiority {
  const { effect, standardError: se } = c.relative;
  let q: number;
  if (sequential) {
    const rho = sequentialRho(alpha, sequential.tuning, false);
    q = se === 0 ? 0 : sequentialHalfwidthOneSided(se * se * sequential.n, sequential.n, alpha, rho) / se;
  } else {
    q = tQuantile(1 - alpha, c.dof);
  }
  if (direction === 'increase') {
    const bound = effect - q * se;
    const pValue = sequential
      ? null
      : se === 0
        ? effect > -margin
          ? 0
          : 1
        : tSf((effect + margin) / se, c.dof);
    return { margin, pValue, bound, nonInferior: bound > -margin, inferior: effect + q * se < -margin };
  }
  const bound = effect + q * se;
  const pValue = sequential
    ? null
    : se === 0
      ? effect < margin
        ? 0
        : 1
      : tCdf((effect - margin) / se, c.dof);
  return { margin, pValue, bound, nonInferior: bound < margin, inferior: effect - q * se > margin };
}

export interface BayesianSummary {
  /** P(treatment better than control) under a flat prior on the relative effect. */
  chanceToWin: number;
  /** E[max(0, −δ)]: the relative loss expected from shipping the treatment. */
  expectedLoss: number;
  /** E[max(0, δ)]: the relative gain forgone by keeping the control. */
  expectedLossControl: number;
}

/**
 * Chance to win and expected loss from the normal approximation of the relative effect, as GrowthBook's
 * gbstats does with an uninformative prior: δ ~ N(μ, σ²), oriented so that positive means better.
 */
export function bayesian(c: Comparison, direction: Direction): BayesianSummary {
  const sign = direction === 'increase' ? 1 : -1;
  const mu = sign * c.relative.effect;
  const sigma = c.relative.standardError;
  if (sigma === 0) {
    return {
      chanceToWin: mu > 0 ? 1 : mu < 0 ? 0 : 0.5,
      expectedLoss: Math.max(-mu, 0),
      expectedLossControl: Math.max(mu, 0),
    };
  }
  const z = mu / sigma;
  const density = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  return {
    chanceToWin: normalCdf(z),
    expectedLoss: sigma * density - mu * normalSf(z),
    expectedLossControl: sigma * density + mu * normalCdf(z),
  };
}
