import { describe, expect, it } from 'vitest';
import { chiSquareSf, normalPdf, normalQuantile, normalSf, tCdf, tQuantile, tSf } from '../src/index';
import { expectRel, python } from './scipy';

describe('distribution functions not covered by the main scipy table', () => {
  it('normal upper tail and density agree with scipy.stats.norm to 1e-9 relative, far into the tails', () => {
    const ref = python<{ sf: number[][]; pdf: number[][] }>(`
import json
from scipy import stats
print(json.dumps(dict(sf=[[x, float(stats.norm.sf(x))] for x in [-6, -1.3, 0, 0.4, 2.2, 9, 30]],
  pdf=[[x, float(stats.norm.pdf(x))] for x in [-7, -1, 0, 0.3, 2.5, 12]])))
`);
    for (const [x, p] of ref.sf) expectRel(normalSf(x!), p!, 1e-9, `norm.sf(${x})`);
    for (const [x, d] of ref.pdf) expectRel(normalPdf(x!), d!, 1e-9, `norm.pdf(${x})`);
  });

  it('t upper tail agrees with scipy.stats.t.sf to 1e-9 relative', () => {
    const ref = python<number[][]>(`
import json
from scipy import stats
print(json.dumps([[x, df, float(stats.t.sf(x, df))] for df in [1, 3, 12.5, 400] for x in [-4, -0.5, 0.8, 3, 25]]))
`);
    for (const [x, df, p] of ref) expectRel(tSf(x!, df!), p!, 1e-9, `t.sf(${x}, ${df})`);
  });

  it('t with infinitely many degrees of freedom is the standard normal (scipy.stats.norm)', () => {
    const ref = python<{ cdf: number[][]; sf: number[][]; ppf: number[][] }>(`
import json
from scipy import stats
xs = [-12, -2, 0.5, 3.3]; ps = [1e-9, 0.01, 0.3, 0.5, 0.77, 0.999999]
print(json.dumps(dict(cdf=[[x, float(stats.norm.cdf(x))] for x in xs], sf=[[x, float(stats.norm.sf(x))] for x in xs],
  ppf=[[p, float(stats.norm.ppf(p))] for p in ps])))
`);
    const inf = Number.POSITIVE_INFINITY;
    for (const [x, p] of ref.cdf) expectRel(tCdf(x!, inf), p!, 1e-9, `t.cdf(${x}, ∞)`);
    for (const [x, p] of ref.sf) expectRel(tSf(x!, inf), p!, 1e-9, `t.sf(${x}, ∞)`);
    for (const [p, q] of ref.ppf) {
      // The median: scipy gives exactly 0 there, which a relative tolerance compares exactly.
      expectRel(tQuantile(p!, inf), q!, 1e-9, `t.ppf(${p}, ∞)`);
      expectRel(normalQuantile(p!), q!, 1e-9, `norm.ppf(${p})`);
    }
  });

  it('χ² upper tail is 1 at and below zero, where the statistic cannot exceed x', () => {
    for (const k of [1, 2, 5]) {
      expect(chiSquareSf(0, k), `k = ${k}, x = 0`).toBe(1);
      expect(chiSquareSf(-3, k), `k = ${k}, x = −3`).toBe(1);
    }
  });
});
