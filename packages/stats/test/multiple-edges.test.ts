import { describe, expect, it } from 'vitest';
import { adjustPValues, benjaminiHochberg, holm } from '../src/index';
import { expectRel, python } from './scipy';

describe('multiple-testing corrections: published example, capping at 1, and no correction', () => {
  it('Benjamini & Hochberg (1995, §4.1): of their 15 p-values at q = 0.05, BH rejects four and Holm three', () => {
    // The fifteen p-values of the worked example in Benjamini & Hochberg, JRSS B 57(1), 1995, given out of order.
    const p = [
      0.0344, 0.0001, 0.4262, 0.0019, 0.0298, 0.5719, 0.0004, 0.6528, 0.0095, 0.759, 0.0201, 1, 0.0278, 0.324,
      0.0459,
    ];
    const small = [0.0001, 0.0004, 0.0019, 0.0095];
    const rejected = (adjusted: number[]) => p.filter((_, i) => adjusted[i]! <= 0.05).sort((a, b) => a - b);
    expect(rejected(adjustPValues(p, 'bh'))).toEqual(small);
    expect(rejected(adjustPValues(p, 'holm'))).toEqual(small.slice(0, 3));
  });

  it('adjusted p-values are capped at 1 and keep the order given (numpy step-down / step-up definitions)', () => {
    const p = [0.6, 0.02, 0.35, 0.9, 0.02, 0.5];
    const ref = python<{ holm: number[]; bh: number[] }>(`
import json, numpy as np
p = np.array(${JSON.stringify(p)}); m = len(p); o = np.argsort(p, kind='stable')
h = np.minimum(1, np.maximum.accumulate((m - np.arange(m)) * p[o])); holm = np.empty(m); holm[o] = h
b = np.minimum(1, np.minimum.accumulate((m / np.arange(m, 0, -1)) * p[o][::-1]))[::-1]; bh = np.empty(m); bh[o] = b
print(json.dumps(dict(holm=holm.tolist(), bh=bh.tolist())))
`);
    expect(ref.holm.filter((v) => v === 1).length).toBeGreaterThan(2);
    for (const [i, v] of holm(p).entries()) expectRel(v, ref.holm[i]!, 1e-12, `holm[${i}]`);
    for (const [i, v] of benjaminiHochberg(p).entries()) expectRel(v, ref.bh[i]!, 1e-12, `bh[${i}]`);
    for (const v of [...holm([0.8, 0.9]), ...benjaminiHochberg([0.8, 0.9, 0.95])])
      expect(v).toBeLessThanOrEqual(1);
  });

  it('one p-value is its own adjustment; none and an empty family change nothing', () => {
    expect(holm([0.03])).toEqual([0.03]);
    expect(benjaminiHochberg([0.03])).toEqual([0.03]);
    expect(holm([])).toEqual([]);
    const p = [0.04, 0.01, 0.3];
    const none = adjustPValues(p, 'none');
    expect(none).toEqual([0.04, 0.01, 0.3]);
    none[0] = 1;
    expect(p[0]).toBe(0.04);
  });
});
