import erfcinv from '@stdlib/math-base-special-erfcinv';
import gammainc from '@stdlib/math-base-special-gammainc';
import normalCdfImpl from '@stdlib/stats-base-dists-normal-cdf';
import tCdfImpl from '@stdlib/stats-base-dists-t-cdf';
import tQuantileImpl from '@stdlib/stats-base-dists-t-quantile';

/**
 * Distribution functions from stdlib (ports of Boost/Cephes incomplete beta and gamma). Upper tails
 * are computed directly, never as 1 − cdf, so tiny p-values keep their relative precision.
 */

export function normalCdf(x: number): number {
  return normalCdfImpl(x, 0, 1);
}

export function normalSf(x: number): number {
  return normalCdfImpl(-x, 0, 1);
}

export function normalPdf(x: number): number {
  return Math.exp(-0.5 * x * x) / Math.sqrt(2 * Math.PI);
}

/** Through erfcinv of the nearer tail: stdlib's normal quantile goes through erfinv(2p − 1), which loses the tails. */
export function normalQuantile(p: number): number {
  if (p < 0.5) return -Math.SQRT2 * erfcinv(2 * p);
  return Math.SQRT2 * erfcinv(2 * (1 - p));
}

export function tCdf(x: number, dof: number): number {
  if (!Number.isFinite(dof)) return normalCdf(x);
  return tCdfImpl(x, dof);
}

export function tSf(x: number, dof: number): number {
  return tCdf(-x, dof);
}

export function tQuantile(p: number, dof: number): number {
  if (!Number.isFinite(dof)) return normalQuantile(p);
  return tQuantileImpl(p, dof);
}

/** P(X > x) for X ~ χ²(k): the regularized upper incomplete gamma Q(k/2, x/2). */
export function chiSquareSf(x: number, k: number): number {
  if (x <= 0) return 1;
  return gammainc(x / 2, k / 2, true, true);
}
