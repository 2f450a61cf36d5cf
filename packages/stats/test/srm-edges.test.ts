import { describe, expect, it } from 'vitest';
import { sampleRatioMismatch } from '../src/index';
import { expectRel, python } from './scipy';

describe('sample ratio mismatch: expected counts, the configured split and degenerate inputs', () => {
  it('a 90/10 experiment is judged against 90/10, not 50/50 (scipy.stats.chisquare with f_exp)', () => {
    const ref = python<Array<{ stat: number; p: number; exp: number[] }>>(`
import json
from scipy import stats
out = []
for obs, w in [([9040, 960], [0.9, 0.1]), ([9040, 960], [0.5, 0.5]), ([1210, 1180, 2690], [1, 1, 2])]:
    exp = [sum(obs) * x / sum(w) for x in w]
    r = stats.chisquare(obs, exp)
    out.append(dict(stat=r.statistic, p=r.pvalue, exp=exp))
print(json.dumps(out))
`);
    const cases: Array<[number[], number[]]> = [
      [
        [9040, 960],
        [90, 10],
      ],
      [
        [9040, 960],
        [1, 1],
      ],
      [
        [1210, 1180, 2690],
        [25, 25, 50],
      ],
    ];
    for (const [i, [obs, w]] of cases.entries()) {
      const r = sampleRatioMismatch(obs, w);
      expectRel(r.chiSquare, ref[i]!.stat, 1e-10, `χ² of case ${i}`);
      expectRel(r.pValue, ref[i]!.p, 1e-6, `p of case ${i}`);
      expect(r.dof).toBe(obs.length - 1);
      for (const [k, e] of r.expected.entries())
        expectRel(e, ref[i]!.exp[k]!, 1e-12, `expected[${k}] of case ${i}`);
    }
    expect(sampleRatioMismatch([9040, 960], [90, 10]).pValue).toBeGreaterThan(0.05);
    expect(sampleRatioMismatch([9040, 960], [1, 1]).pValue).toBeLessThan(1e-100);
  });

  it('a billion units split one unit off 50/50 keeps χ² to 1e-10 relative (scipy.stats.chisquare), with no cancellation', () => {
    const ref = python<{ stat: number; p: number }>(`
import json
from scipy import stats
r = stats.chisquare([500000001, 499999999], [5e8, 5e8])
print(json.dumps(dict(stat=r.statistic, p=r.pvalue)))
`);
    const r = sampleRatioMismatch([500000001, 499999999], [1, 1]);
    expectRel(r.chiSquare, ref.stat, 1e-10, 'χ²');
    expectRel(r.pValue, ref.p, 1e-10, 'p');
  });

  it('no units at all is no mismatch: χ² 0, p 1, and expected counts of zero', () => {
    expect(sampleRatioMismatch([0, 0, 0], [1, 1, 2])).toEqual({
      chiSquare: 0,
      dof: 2,
      pValue: 1,
      expected: [0, 0, 0],
    });
  });

  it('a weight per arm and at least two arms are required, with a message saying so', () => {
    const message = 'sample ratio check needs one weight per arm and at least two arms';
    expect(() => sampleRatioMismatch([100, 120], [1, 1, 1])).toThrow(message);
    expect(() => sampleRatioMismatch([100, 120, 90], [1, 1])).toThrow(message);
    expect(() => sampleRatioMismatch([100], [1])).toThrow(message);
    expect(() => sampleRatioMismatch([], [])).toThrow(message);
  });
});
