import { describe, expect, it } from 'vitest';
import {
  analyze,
  type Experiment,
  formatCount,
  formatMargin,
  missingVariants,
  parseExperiment,
  pct,
  planQuery,
} from '../src/index';
import { unitSums, units } from './unit-sums';

/**
 * The parts of analyze.ts around the statistics: variants outside the split, sums that overflow, the
 * message for a misnamed variant, and the formatting of margins, shares and counts in the reasons.
 */
function experiment(extra = ''): Experiment {
  return parseExperiment(`
unit: user_id
variant: variant
control: v1
treatment: v2
${extra}
metrics:
  - { name: revenue, kind: mean, column: revenue, role: primary }
`);
}

const arm = (n: number, mean = 100) =>
  units({ revenue: Array.from({ length: n }, (_, k) => mean + (k % 2 ? 10 : -10)) });

describe('variants and the sample ratio check', () => {
  it('a third configured arm counts in the χ²; a variant outside the split is reported, not counted', () => {
    const e = experiment('split: { v1: 50, v2: 40, v3: 10 }');
    const a = analyze(
      e,
      planQuery(e),
      unitSums(e, { v1: arm(500), v2: arm(400), v3: arm(100), other: arm(7) }),
    );
    expect(a.unknownVariants).toEqual({ other: 7 });
    expect(a.srm.observed).toEqual({ v1: 500, v2: 400, v3: 100 });
    expect(a.srm.expected).toEqual({ v1: 500, v2: 400, v3: 100 });
    expect(a.srm.chiSquare).toBe(0);
    expect(a.units).toBe(900);
  });

  it('a configured arm without data counts as 0 units', () => {
    const e = experiment('split: { v1: 50, v2: 40, v3: 10 }');
    const a = analyze(e, planQuery(e), unitSums(e, { v1: arm(500), v2: arm(400) }));
    expect(a.srm.observed).toEqual({ v1: 500, v2: 400, v3: 0 });
    expect(a.srm.alert).toBe(true);
    expect(a.unknownVariants).toEqual({});
  });
});

describe('sums too large for doubles make the metric untestable, naming the first non-finite number', () => {
  it('squares that overflow: the interval is not finite', () => {
    const e = experiment();
    // 1e200² overflows: the variances are NaN while the means stay finite.
    const a = analyze(e, planQuery(e), unitSums(e, { v1: arm(4, 1e200), v2: arm(4, 1.1e200) }));
    expect(a.metrics[0]!.error).toBe(
      "the data's sums give a non-finite ci[0] (values too large or degenerate)",
    );
    expect(a.metrics[0]!.control.mean).toBe(1e200);
    expect(a.decision).toBe('invalid');
  });

  it('sums that overflow: the control mean itself, shown as null', () => {
    const e = experiment();
    const a = analyze(
      e,
      planQuery(e),
      unitSums(e, { v1: units({ revenue: [1e308, 1e308, 1e308] }), v2: units({ revenue: [1, 2, 3] }) }),
    );
    expect(a.metrics[0]!.error).toBe(
      "the data's sums give a non-finite control.mean (values too large or degenerate)",
    );
    expect(a.metrics[0]!.control.mean).toBeNull();
    expect(a.metrics[0]!.treatment.mean).toBe(2);
  });
});

describe('missingVariants: a misnamed variant is an error, a missing arm is not', () => {
  const e = experiment();
  it('names the absent arm with its role and lists what the data holds, sorted, with counts', () => {
    const rows = unitSums(e, { V2: arm(800), v1: arm(1200), other: arm(5) });
    expect(missingVariants(e, rows)).toBe(
      "variant 'v2' (treatment) is not in the data column 'variant'; found: other (5), v1 (1,200), V2 (800)",
    );
    // Locale order: letters compare case-blind first, so V1 comes before v2.
    expect(missingVariants(e, unitSums(e, { v2: arm(4), V1: arm(3) }))).toBe(
      "variant 'v1' (control) is not in the data column 'variant'; found: V1 (3), v2 (4)",
    );
  });

  it('both arms absent', () => {
    expect(missingVariants(e, unitSums(e, { a: arm(2), b: arm(3) }))).toBe(
      "variant 'v1' (control) and 'v2' (treatment) is not in the data column 'variant'; found: a (2), b (3)",
    );
  });

  it('no message when both arms are there, or when nothing else is (missing data, judged invalid)', () => {
    expect(missingVariants(e, unitSums(e, { v1: arm(2), v2: arm(2), other: arm(1) }))).toBeUndefined();
    expect(missingVariants(e, unitSums(e, { v1: arm(2) }))).toBeUndefined();
  });
});

describe('formatting in the reasons', () => {
  it('pct keeps three significant digits', () => {
    expect(pct(0.05)).toBe('5%');
    expect(pct(0.0125)).toBe('1.25%');
    expect(pct(0.123456)).toBe('12.3%');
  });

  it('formatMargin: relative as a percentage, absolute in the metric’s units to four digits', () => {
    expect(formatMargin({ margin: 0.02, scale: 'relative' })).toBe('2%');
    expect(formatMargin({ margin: 5.123456, scale: 'absolute' })).toBe('5.123 (absolute)');
  });

  it('formatCount rounds, groups thousands and shows ∞', () => {
    expect(formatCount(1234.5)).toBe('1,235');
    expect(formatCount(Number.POSITIVE_INFINITY)).toBe('∞');
  });
});
