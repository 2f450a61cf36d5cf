import { describe, expect, it } from 'vitest';
import { expectRel, python } from '../../stats/test/scipy';
import {
  erfc,
  exceedsMargin,
  fisherExactGreater,
  histogramQuantile,
  logGamma,
  mannWhitneyBinned,
  normalCdf,
} from '../src/stats';

/** The edges of the judge's statistics: defaults, degenerate samples, the other tails, boundaries. */
describe('normal distribution and erfc against scipy', () => {
  it('erfc matches scipy.special.erfc on both sides of 0 and across the switch from series to continued fraction at 0.5', () => {
    const xs = [-2.5, -0.5, -0.1, 0, 0.1, 0.3, 0.4999, 0.5, 0.5001, 0.75, 1, 2, 4, 8, 15, 25];
    const ref = python<number[]>(
      'import json,sys\nfrom scipy.special import erfc\nprint(json.dumps([float(erfc(x)) for x in json.load(sys.stdin)]))',
      xs,
    );
    for (const [i, x] of xs.entries()) expectRel(erfc(x), ref[i]!, 1e-12, `erfc(${x})`);
  });

  it('normalCdf matches scipy.stats.norm.cdf, lower tail included, and keeps NaN', () => {
    const zs = [-30, -8, -3, -1, -0.2, 0, 0.4, 1.5, 3];
    const ref = python<number[]>(
      'import json,sys\nfrom scipy.stats import norm\nprint(json.dumps([float(norm.cdf(z)) for z in json.load(sys.stdin)]))',
      zs,
    );
    for (const [i, z] of zs.entries()) expectRel(normalCdf(z), ref[i]!, 1e-9, `norm.cdf(${z})`);
    expect(normalCdf(Number.NaN)).toBeNaN();
  });
});

describe('Mann-Whitney U on bins: defaults and degenerate samples', () => {
  it("defaults to scipy's mannwhitneyu defaults: two-sided with the continuity correction", () => {
    const a = [4, 9, 12, 7, 3];
    const b = [10, 14, 8, 3, 1];
    const ref = python<[number, number]>(
      `
import json, sys
import numpy as np
from scipy.stats import mannwhitneyu
a, b = json.load(sys.stdin)
r = mannwhitneyu(np.repeat(np.arange(5), a), np.repeat(np.arange(5), b), method='asymptotic')
print(json.dumps([float(r.statistic), float(r.pvalue)]))
`,
      [a, b],
    );
    const r = mannWhitneyBinned(a, b);
    expect(r.u).toBe(ref[0]);
    expectRel(r.p, ref[1], 1e-9, 'two-sided p');
  });

  it('clips the two-sided p at 1 when U sits at its mean (scipy does too)', () => {
    const ref = python<number>(
      `
import json
import numpy as np
from scipy.stats import mannwhitneyu
x = np.repeat(np.arange(3), [5, 5, 5])
print(json.dumps(float(mannwhitneyu(x, x, method='asymptotic').pvalue)))
`,
    );
    expect(ref).toBe(1);
    const r = mannWhitneyBinned([5, 5, 5], [5, 5, 5]);
    expect(r.p).toBe(1);
    expect(r.u).toBe((15 * 15) / 2);
  });

  it('refuses samples over different bins', () => {
    expect(() => mannWhitneyBinned([1, 2], [1, 2, 3])).toThrow('both samples need the same bins');
  });

  it('an empty track has no effect size and no standard error; one observation has no DeLong variance', () => {
    const empty = mannWhitneyBinned([0, 0, 0], [3, 4, 5]);
    expect(empty.effect).toBeNaN();
    expect(empty.se).toBeNaN();
    expect(empty.p).toBe(1);
    // numpy's var(ddof=1) of a single placement value is undefined, so is DeLong's standard error.
    const single = mannWhitneyBinned([0, 1, 0], [3, 4, 5]);
    expect(single.effect).toBeCloseTo((3 + 4 / 2) / 12, 15);
    expect(single.se).toBeNaN();
  });
});

describe('margin test: the values callers read', () => {
  it('returns the z of the margin test: (estimate − margin) / se, ±∞ without spread', () => {
    const r = exceedsMargin(0.12, 0.03, 0.05);
    expect(r.z).toBeCloseTo(0.07 / 0.03, 12);
    expect(exceedsMargin(0.2, 0, 0.05)).toEqual({ z: Number.POSITIVE_INFINITY, p: 0 });
    expect(exceedsMargin(0.05, 0, 0.05)).toEqual({ z: Number.NEGATIVE_INFINITY, p: 1 });
    expect(exceedsMargin(0.01, 0, 0.05)).toEqual({ z: Number.NEGATIVE_INFINITY, p: 1 });
    expect(exceedsMargin(Number.POSITIVE_INFINITY, 0.1, 0).p).toBe(1);
  });
});

describe('log-gamma near 0', () => {
  it('keeps scipy.special.gammaln precision as x approaches 0, where Lanczos alone loses digits', () => {
    const xs = [1e-8, 1e-4, 0.02];
    const ref = python<number[]>(
      'import json,sys\nfrom scipy.special import gammaln\nprint(json.dumps([float(gammaln(x)) for x in json.load(sys.stdin)]))',
      xs,
    );
    for (const [i, x] of xs.entries()) expectRel(logGamma(x), ref[i]!, 1e-12, `gammaln(${x})`);
  });
});

describe('histogram quantiles and Fisher: boundaries', () => {
  it('a rank equal to a cumulative count lands in that bucket, as Prometheus picks the first bucket with count ≥ rank', () => {
    // 50 of 100 observations ≤ 0.1, none in (0.1, 0.2]: the median is 0.1, not 0.2.
    const bounds = [0.1, 0.2, 0.4, Number.POSITIVE_INFINITY];
    expect(histogramQuantile(0.5, bounds, [50, 50, 100, 100])).toBeCloseTo(0.1, 12);
    expect(histogramQuantile(0.75, bounds, [50, 50, 100, 100])).toBeCloseTo(0.3, 12);
    // Inside the first bucket the lower bound is 0: rank 25 of the 50 below 0.1 is 0.05.
    expect(histogramQuantile(0.25, bounds, [50, 90, 100, 100])).toBeCloseTo(0.05, 12);
    expect(histogramQuantile(0.5, [], [])).toBeNaN();
  });

  it("matches scipy.stats.fisher_exact(alternative='greater') where the tail is one term and where events outnumber the first group", () => {
    const cases = [
      [5, 5, 0, 100],
      [8, 10, 20, 30],
      [10, 10, 18, 30],
      [3, 40, 1, 400],
    ];
    const ref = python<number[]>(
      `
import json, sys
from scipy.stats import fisher_exact
print(json.dumps([float(fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative='greater')[1]) for x1, n1, x2, n2 in json.load(sys.stdin)]))
`,
      cases,
    );
    for (const [k, [x1, n1, x2, n2]] of cases.entries())
      expectRel(fisherExactGreater(x1!, n1!, x2!, n2!), ref[k]!, 1e-9, `fisher ${cases[k]!.join(',')}`);
  });
});
