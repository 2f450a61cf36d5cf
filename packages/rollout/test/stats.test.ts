import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import {
  exceedsMargin,
  fisherExactGreater,
  histogramQuantile,
  mannWhitneyBinned,
  normalSf,
  proportionDifference,
} from '../src/stats';

function seeded(seed: number) {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('Mann-Whitney U on binned samples', () => {
  // Random bucket counts of two tracks; some with empty bins, one shifted.
  const random = seeded(42);
  const cases = Array.from({ length: 12 }, (_, k) => {
    const bins = 4 + Math.floor(random() * 10);
    const shift = k % 3;
    const a = Array.from({ length: bins }, (_, i) =>
      random() < 0.15 ? 0 : Math.floor(random() * 30 * (i >= shift ? 1 : 0.3)),
    );
    const b = Array.from({ length: bins }, () => (random() < 0.15 ? 0 : Math.floor(random() * 40)));
    a[0]! += 1;
    b[bins - 1]! += 1;
    return { a, b };
  });
  const reference = python(
    `
import json, sys
import numpy as np
from scipy.stats import mannwhitneyu
out = []
for c in json.load(sys.stdin):
    x = np.repeat(np.arange(len(c['a'])), c['a'])
    y = np.repeat(np.arange(len(c['b'])), c['b'])
    row = {}
    for alt in ['two-sided', 'greater', 'less']:
        for cont in [True, False]:
            r = mannwhitneyu(x, y, alternative=alt, method='asymptotic', use_continuity=cont)
            row[f'{alt}-{cont}'] = [float(r.statistic), float(r.pvalue)]
    out.append(row)
print(json.dumps(out))
`,
    cases,
  ) as Array<Record<string, [number, number]>>;

  it('matches scipy.stats.mannwhitneyu(method="asymptotic") with ties, both continuity settings, all alternatives', () => {
    cases.forEach((c, k) => {
      for (const alternative of ['two-sided', 'greater', 'less'] as const) {
        for (const continuity of [true, false]) {
          const [u, p] = reference[k]![`${alternative}-${continuity ? 'True' : 'False'}`]!;
          const ours = mannWhitneyBinned(c.a, c.b, { alternative, continuity });
          expect(ours.u).toBeCloseTo(u, 6);
          expect(ours.p).toBeCloseTo(p, 10);
          if (p > 1e-300) expect(Math.abs(ours.p - p) / p).toBeLessThan(1e-6);
        }
      }
    });
  });

  it("gives DeLong's standard error of the effect as the midrank placement values of the expanded samples do", () => {
    // The reference computes DeLong's structural components from scipy.stats.rankdata midranks of the
    // expanded samples (Sun & Xu's fast form), an independent route to the same quantity.
    const delong = python(
      `
import json, sys
import numpy as np
from scipy.stats import rankdata
out = []
for c in json.load(sys.stdin):
    x = np.repeat(np.arange(len(c['a'])), c['a']).astype(float)
    y = np.repeat(np.arange(len(c['b'])), c['b']).astype(float)
    m, n = len(x), len(y)
    r = rankdata(np.concatenate([x, y]))
    v10 = (r[:m] - rankdata(x)) / n
    v01 = 1 - (r[m:] - rankdata(y)) / m
    auc = v10.mean()
    out.append([float(auc), float(np.sqrt(v10.var(ddof=1) / m + v01.var(ddof=1) / n))])
print(json.dumps(out))
`,
      cases,
    ) as Array<[number, number]>;
    cases.forEach((c, k) => {
      const ours = mannWhitneyBinned(c.a, c.b);
      expect(ours.effect).toBeCloseTo(delong[k]![0], 12);
      expect(ours.se).toBeCloseTo(delong[k]![1], 12);
    });
  });

  it('gives the probability of superiority as the effect size, 0.5 for identical samples', () => {
    expect(mannWhitneyBinned([5, 5, 5], [5, 5, 5]).effect).toBe(0.5);
    expect(mannWhitneyBinned([0, 0, 10], [10, 0, 0]).effect).toBe(1);
    const same = mannWhitneyBinned([0, 10, 0], [0, 30, 0]);
    expect(same.p).toBe(1);
  });
});

describe('difference against a margin', () => {
  it('adds one success and one failure per group (Agresti-Caffo) and tests the bound against the margin with scipy.stats.norm', () => {
    const cases = [
      [12, 200, 20, 1800, 0.005],
      [0, 150, 3, 1200, 0],
      [40, 400, 35, 420, 0.01],
      [70, 300, 120, 2700, 0.05],
    ];
    const reference = python(
      `
import json, sys
from scipy.stats import norm
out = []
for x1, n1, x2, n2, margin in json.load(sys.stdin):
    a1, a2 = (x1 + 1) / (n1 + 2), (x2 + 1) / (n2 + 2)
    se = (a1 * (1 - a1) / (n1 + 2) + a2 * (1 - a2) / (n2 + 2)) ** 0.5
    out.append([a1 - a2, se, float(norm.sf((a1 - a2 - margin) / se))])
print(json.dumps(out))
`,
      cases,
    ) as Array<[number, number, number]>;
    cases.forEach(([x1, n1, x2, n2, margin], k) => {
      const d = proportionDifference(x1!, n1!, x2!, n2!);
      const [adjusted, se, p] = reference[k]!;
      expect(d.difference).toBeCloseTo(x1! / n1! - x2! / n2!, 12);
      expect(d.adjusted).toBeCloseTo(adjusted, 12);
      expect(d.se).toBeCloseTo(se, 12);
      expect(exceedsMargin(d.adjusted, d.se, margin!).p).toBeCloseTo(p, 10);
    });
  });

  it('rejects only an estimate whose lower confidence bound clears the margin', () => {
    // z = (0.12 − 0.05) / 0.03 = 2.333…: the 99 % lower bound 0.12 − 2.326·0.03 = 0.0502 just clears 0.05.
    expect(exceedsMargin(0.12, 0.03, 0.05).p).toBeLessThan(0.01);
    expect(exceedsMargin(0.11, 0.03, 0.05).p).toBeGreaterThan(0.01);
    expect(exceedsMargin(0.2, 0, 0.05).p).toBe(0);
    expect(exceedsMargin(0.05, 0, 0.05).p).toBe(1);
    expect(exceedsMargin(Number.NaN, 0.1, 0).p).toBe(1);
  });
});

describe('normal tail and histogram quantiles', () => {
  it('matches scipy.stats.norm.sf far into the tail', () => {
    const zs = [-3, -0.2, 0, 0.3, 0.49, 0.51, 1.96, 3.5, 6, 9];
    const reference = python(
      'import json,sys\nfrom scipy.stats import norm\nprint(json.dumps([float(norm.sf(z)) for z in json.load(sys.stdin)]))',
      zs,
    ) as number[];
    zs.forEach((z, i) => {
      expect(Math.abs(normalSf(z) - reference[i]!) / reference[i]!).toBeLessThan(1e-9);
    });
  });

  it('interpolates inside a bucket as histogram_quantile does', () => {
    // 100 observations: 50 ≤ 0.1, 90 ≤ 0.2, all ≤ 0.4.
    expect(histogramQuantile(0.5, [0.1, 0.2, 0.4, Number.POSITIVE_INFINITY], [50, 90, 100, 100])).toBeCloseTo(
      0.1,
      12,
    );
    expect(histogramQuantile(0.7, [0.1, 0.2, 0.4, Number.POSITIVE_INFINITY], [50, 90, 100, 100])).toBeCloseTo(
      0.15,
      12,
    );
    expect(
      histogramQuantile(0.95, [0.1, 0.2, 0.4, Number.POSITIVE_INFINITY], [50, 90, 100, 100]),
    ).toBeCloseTo(0.3, 12);
    expect(histogramQuantile(0.5, [0.1], [0])).toBeNaN();
  });
});

describe("Fisher's exact test", () => {
  const cases = [
    [2, 20, 4, 180],
    [0, 20, 3, 180],
    [5, 200, 20, 1800],
    [9, 200, 18, 1800],
    [30, 400, 12, 420],
  ];
  const reference = python(
    `
import json, sys
from scipy.stats import fisher_exact
print(json.dumps([float(fisher_exact([[x1, n1 - x1], [x2, n2 - x2]], alternative='greater')[1]) for x1, n1, x2, n2 in json.load(sys.stdin)]))
`,
    cases,
  ) as number[];

  it("matches scipy.stats.fisher_exact(alternative='greater')", () => {
    cases.forEach(([x1, n1, x2, n2], k) => {
      expect(Math.abs(fisherExactGreater(x1!, n1!, x2!, n2!) - reference[k]!) / reference[k]!).toBeLessThan(
        1e-9,
      );
    });
  });
});
