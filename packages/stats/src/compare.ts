import { normalCdf, normalSf, tCdf, tQuantile, tSf } from './distributions';
import { groupSequentialBounds, repeatedPValue, type Spending } from './group-sequential';
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
  /** A group-sequential design at one of its planned looks: repeated CIs and repeated p-values. */
  groupSequential?: GroupSequential;
}

export interface GroupSequential {
  /** This look, 1-based. */
  look: number;
  /** Information fractions of the planned looks. */
  fractions: number[];
  spending: Spending;
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

/**
 * At look k of a group-sequential design: the repeated confidence interval effect ± c_k·se and the
 * repeated p-value, which is below α exactly when that interval excludes zero (normal statistic).
 */
function groupSequentialEffect(effect: number, se: number, alpha: number, design: GroupSequential): Effect {
  if (se === 0) {
    return { effect, standardError: 0, ci: [effect, effect], pValue: effect === 0 ? 1 : 0, statistic: 0 };
  }
  const c = groupSequentialBounds(alpha, design.fractions.slice(0, design.look), design.spending)[
    design.look - 1
  ]!;
  const statistic = effect / se;
  return {
    effect,
    standardError: se,
    ci: [effect - c * se, effect + c * se],
    pValue: repeatedPValue(statistic, design.look, design.fractions, design.spending),
    statistic,
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
  const design = options.groupSequential;
  const effect = design
    ? (e: number, se: number) => groupSequentialEffect(e, se, options.alpha, design)
    : options.sequential
      ? (e: number, se: number) =>
          sequentialEffect(e, se, options.alpha, a.n + b.n, options.sequential!.tuning)
      : (e: number, se: number) => fixedEffect(e, se, options.alpha, dof);
  return {
    absolute: effect(diff, seAbs),
    relative: effect(rel, seRel),
    dof,
    test: options.test,
    sequential: options.sequential !== undefined || design !== undefined,
    alpha: options.alpha,
    degenerate,
  };
}

export type Direction = 'increase' | 'decrease';

/** On which effect a non-inferiority margin is set: relative (a share of the control) or absolute (the metric's units). */
export type MarginScale = 'relative' | 'absolute';

export interface NonInferiority {
  /** The margin, e.g. 0.02 (relative: may not get worse by more than 2 %) or 5 (absolute: 5 ms). */
  margin: number;
  scale: MarginScale;
  /**
   * One-sided p-value of H0 "worse by at least the margin": the t-test's for fixed-horizon tests, the
   * always-valid one for sequential ones (below α exactly when the bound clears the margin).
   */
  pValue: number;
  /** The one-sided (1 − α) bound on the effect (on the margin's scale) on the side of harm. */
  bound: number;
  /** Proven no worse than the margin. */
  nonInferior: boolean;
  /** Proven worse than the margin: even the favourable one-sided bound is beyond it. */
  inferior: boolean;
}

/** How the one-sided non-inferiority test is sequential, if at all. */
export type SequentialNonInferiority = { tuning: number; n: number } | { design: GroupSequential };

function oneSidedQuantile(
  c: Comparison,
  se: number,
  alpha: number,
  sequential?: SequentialNonInferiority,
): number {
  if (!sequential) return tQuantile(1 - alpha, c.dof);
  // One-sided at α is one side of the two-sided boundary at 2α.
  if ('design' in sequential) {
    const { design } = sequential;
    return groupSequentialBounds(2 * alpha, design.fractions.slice(0, design.look), design.spending)[
      design.look - 1
    ]!;
  }
  if (se === 0) return 0;
  const rho = sequentialRho(alpha, sequential.tuning, false);
  return sequentialHalfwidthOneSided(se * se * sequential.n, sequential.n, alpha, rho) / se;
}

/**
 * The always-valid one-sided p-value: the α′ at which gbstats' one-sided halfwidth, with ρ kept at the
 * configured α's value (as gbstats' two-sided p-value keeps it), equals the distance to the margin, z
 * standard errors. Solving sqrt(2(nρ² + 1)/(nρ²) · ln(1 + sqrt(nρ² + 1)/(2α′))) = z for α′ gives
 * α′ = sqrt(nρ² + 1) / (2(e^L − 1)) with L = z² nρ² / (2(nρ² + 1)). With ρ fixed the halfwidth falls
 * as α′ grows, so p < α exactly when the bound clears the margin.
 */
function sequentialOneSidedPValue(z: number, alpha: number, tuning: number, n: number): number {
  if (!(z > 0)) return 1;
  const rho = sequentialRho(alpha, tuning, false);
  const nr2 = n * rho * rho;
  const exponent = (z * z * nr2) / (2 * (nr2 + 1));
  return Math.min(1, Math.sqrt(nr2 + 1) / (2 * Math.expm1(exponent)));
}

/**
 * Non-inferiority, one-sided at α, on the relative effect (relative margin) or the absolute effect
 * (a margin in the metric's units). For metrics where lower is better (latency), harm is an increase.
 */
export function nonInferiority(
  c: Comparison,
  margin: number,
  direction: Direction,
  alpha: number,
  sequential?: SequentialNonInferiority,
  scale: MarginScale = 'relative',
): NonInferiority {
  const { effect, standardError: se } = scale === 'relative' ? c.relative : c.absolute;
  const q = oneSidedQuantile(c, se, alpha, sequential);
  // Oriented so that positive is good: the distance from the margin, in the direction of benefit.
  const sign = direction === 'increase' ? 1 : -1;
  const distance = sign * effect + margin;
  let pValue: number;
  if (se === 0) pValue = distance > 0 ? 0 : 1;
  else if (sequential && 'design' in sequential) {
    const z = distance / se;
    const { design } = sequential;
    pValue = z > 0 ? repeatedPValue(z, design.look, design.fractions, design.spending) / 2 : 1;
  } else if (sequential)
    pValue = sequentialOneSidedPValue(distance / se, alpha, sequential.tuning, sequential.n);
  else pValue = tSf(distance / se, c.dof);
  const bound = effect - sign * q * se;
  return {
    margin,
    scale,
    pValue,
    bound,
    nonInferior: sign * bound > -margin,
    inferior: sign * (effect + sign * q * se) < -margin,
  };
}

export interface BayesianSummary {
  /** P(treatment better than control) under the prior on the relative effect (flat by default). */
  chanceToWin: number;
  /** E[max(0, −δ)]: the relative loss expected from shipping the treatment. */
  expectedLoss: number;
  /** E[max(0, δ)]: the relative gain forgone by keeping the control. */
  expectedLossControl: number;
  /** Posterior mean and standard deviation of the relative effect (in the metric's own sign). */
  posteriorMean: number;
  posteriorSd: number;
}

/** GrowthBook's informative prior: a normal prior on the relative effect (lift). */
export interface NormalPrior {
  mean: number;
  sd: number;
}

/**
 * Chance to win and expected loss from the normal approximation of the relative effect, as GrowthBook's
 * gbstats does: the likelihood N(δ̂, σ²) combined with a normal prior N(m, τ²) on δ by precision
 * weighting (posterior precision 1/σ² + 1/τ², mean (δ̂/σ² + m/τ²) over it), or with a flat prior, then
 * oriented so that positive means better.
 */
export function bayesian(c: Comparison, direction: Direction, prior?: NormalPrior): BayesianSummary {
  const sign = direction === 'increase' ? 1 : -1;
  let mean = c.relative.effect;
  let sigma = c.relative.standardError;
  if (prior && sigma > 0) {
    const precision = 1 / (sigma * sigma) + 1 / (prior.sd * prior.sd);
    mean = (mean / (sigma * sigma) + prior.mean / (prior.sd * prior.sd)) / precision;
    sigma = Math.sqrt(1 / precision);
  }
  const mu = sign * mean;
  if (sigma === 0) {
    return {
      chanceToWin: mu > 0 ? 1 : mu < 0 ? 0 : 0.5,
      expectedLoss: Math.max(-mu, 0),
      expectedLossControl: Math.max(mu, 0),
      posteriorMean: mean,
      posteriorSd: 0,
    };
  }
  const z = mu / sigma;
  const density = Math.exp(-0.5 * z * z) / Math.sqrt(2 * Math.PI);
  return {
    chanceToWin: normalCdf(z),
    expectedLoss: sigma * density - mu * normalSf(z),
    expectedLossControl: sigma * density + mu * normalCdf(z),
    posteriorMean: mean,
    posteriorSd: sigma,
  };
}
