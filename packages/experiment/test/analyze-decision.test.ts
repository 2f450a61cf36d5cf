import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { type Analysis, analyze, type Experiment, MULTIPLE, parseExperiment, planQuery } from '../src/index';
import { spread, type Unit, unitSums, units } from './unit-sums';

/**
 * The decision rule of actions/ab-evaluate/README.md ("Decision rule"), case by case, with every
 * business-metric comparison checked in both directions (issue 16). The data are two-point arms (`spread`):
 * each arm's mean is exact and its variance sd²·n/(n − 1). With 2000 units per arm and sd 10 % of the
 * mean, a 5 % move is about 16 standard errors (significant beyond doubt), and a move of exactly the
 * margin leaves a guardrail inconclusive by construction (its one-sided bounds lie on either side of
 * the margin). Unit counts come from the normal-approximation formula in scipy.
 */
function experiment(metrics: string, extra = ''): Experiment {
  return parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
${extra}
metrics:
${metrics}`);
}

function run(
  e: Experiment,
  arms: Record<string, Unit[]>,
  duplicates?: { multiVariant: number; repeated: number },
) {
  return analyze(e, planQuery(e), unitSums(e, arms), duplicates);
}

const REVENUE = '  - { name: revenue, kind: mean, column: revenue, role: primary }';
const LATENCY =
  '  - { name: latency, kind: mean, column: latency, role: guardrail, direction: decrease, margin: 5% }';
const SESSION = '  - { name: session, kind: mean, column: session, role: guardrail, absolute-margin: 10 }';

/** Units of the three columns at the given means (sd 10 % of each mean). */
function arm(n: number, revenue: number, latency = 200, session = 300): Unit[] {
  return units({
    revenue: spread(n, revenue, 10),
    latency: spread(n, latency, 20),
    session: spread(n, session, 30),
  });
}

function statuses(a: Analysis) {
  return Object.fromEntries(a.metrics.map((m) => [m.name, [m.outcome, m.nonInferiority?.status]]));
}

/** Total units for a 50/50 two-point pair at power 0.8 (normal approximation, as scipy computes it). */
function units5050(n: number, sd: number, mean: number, mde: number, alpha: number, power = 0.8): number {
  return python<number>(`
import math
from scipy import stats
v = ${sd} ** 2 * ${n} / (${n} - 1)
z = stats.norm.ppf(1 - ${alpha} / 2) + stats.norm.ppf(${power})
print(math.ceil(z * z * (v / 0.5 + v / 0.5) / (${mde} * ${mean}) ** 2))
`);
}

describe('ship: the primary metric significantly better and every guardrail passing', () => {
  it('an increase metric rising, a decrease guardrail falling and an increase guardrail rising all count as good', () => {
    const e = experiment([REVENUE, LATENCY, SESSION].join('\n'));
    const a = run(e, { A: arm(2000, 100), B: arm(2000, 105, 180, 310) });
    expect(statuses(a)).toEqual({
      revenue: ['better', undefined],
      latency: ['better', 'pass'],
      session: ['better', 'pass'],
    });
    expect(a.decision).toBe('ship');
    expect(a.reasons).toEqual([
      "primary metric 'revenue' improved significantly",
      'every guardrail is non-inferior (latency, session)',
    ]);
    expect(a.usersNeeded).toBe(0);
    expect(a.units).toBe(4000);
  });

  it('without guardrails the only reason is the primary metric', () => {
    const e = experiment(REVENUE);
    const a = run(e, { A: arm(2000, 100), B: arm(2000, 105) });
    expect(a.decision).toBe('ship');
    expect(a.reasons).toEqual(["primary metric 'revenue' improved significantly"]);
  });

  it('a primary metric where lower is better: a fall ships, a rise is significantly worse', () => {
    const e = experiment(
      '  - { name: latency, kind: mean, column: latency, role: primary, direction: decrease }',
    );
    const fall = run(e, { A: arm(2000, 100, 200), B: arm(2000, 100, 190) });
    expect(fall.metrics[0]!.outcome).toBe('better');
    expect(fall.decision).toBe('ship');
    const rise = run(e, { A: arm(2000, 100, 200), B: arm(2000, 100, 210) });
    expect(rise.metrics[0]!.outcome).toBe('worse');
    expect(rise.decision).toBe('dont-ship');
    expect(rise.reasons).toEqual(["primary metric 'latency' is significantly worse"]);
  });
});

describe('dont-ship: the primary metric significantly worse or a guardrail failing', () => {
  it('an increase primary falling is worse, whatever the guardrails', () => {
    const e = experiment([REVENUE, LATENCY].join('\n'));
    const a = run(e, { A: arm(2000, 100), B: arm(2000, 95, 180) });
    expect(statuses(a)).toEqual({ revenue: ['worse', undefined], latency: ['better', 'pass'] });
    expect(a.decision).toBe('dont-ship');
    expect(a.reasons).toEqual(["primary metric 'revenue' is significantly worse"]);
  });

  it('a decrease guardrail rising 10 % fails its 5 % margin even with a better primary', () => {
    const e = experiment([REVENUE, LATENCY, SESSION].join('\n'));
    const a = run(e, { A: arm(2000, 100), B: arm(2000, 105, 220) });
    expect(statuses(a)).toEqual({
      revenue: ['better', undefined],
      latency: ['worse', 'fail'],
      session: ['flat', 'pass'],
    });
    expect(a.decision).toBe('dont-ship');
    expect(a.reasons).toEqual(["guardrail 'latency' is worse than its 5% margin"]);
  });

  it('an increase guardrail falling 30 beyond its absolute margin of 10 fails, reported beside a worse primary', () => {
    const e = experiment([REVENUE, LATENCY, SESSION].join('\n'));
    const a = run(e, { A: arm(2000, 100), B: arm(2000, 95, 200, 270) });
    expect(statuses(a)).toEqual({
      revenue: ['worse', undefined],
      latency: ['flat', 'pass'],
      session: ['worse', 'fail'],
    });
    expect(a.metrics[2]!.nonInferiority).toMatchObject({ margin: 10, scale: 'absolute' });
    expect(a.decision).toBe('dont-ship');
    expect(a.reasons).toEqual([
      "primary metric 'revenue' is significantly worse",
      "guardrail 'session' is worse than its 10 (absolute) margin",
    ]);
  });
});

describe('keep-running and dont-ship on an unsettled guardrail (moved by exactly its margin)', () => {
  it('too few units to settle it: keep-running with the guardrail’s one-sided sample size, not the primary’s', () => {
    const e = experiment([REVENUE, LATENCY].join('\n'));
    // Latency sd 100 on a mean of 200; the primary (mde 1 %) would want more units than the guardrail,
    // but it is already significantly better, so only the guardrail's count matters.
    const a = run(e, {
      A: units({ revenue: spread(200, 100, 10), latency: spread(200, 200, 100) }),
      B: units({ revenue: spread(200, 105, 10), latency: spread(200, 210, 100) }),
    });
    expect(statuses(a)).toEqual({ revenue: ['better', undefined], latency: ['flat', 'inconclusive'] });
    const needed = units5050(200, 100, 200, 0.05, 0.1);
    expect(needed).toBeLessThan(units5050(200, 10, 100, 0.01, 0.05));
    expect(a.metrics[1]!.requiredUnits).toBe(needed);
    expect(a.decision).toBe('keep-running');
    expect(a.usersNeeded).toBe(needed - 400);
    expect(a.reasons).toEqual([
      "guardrail 'latency' is not yet proven non-inferior",
      `about ${(needed - 400).toLocaleString('en-US')} more units are needed (${needed.toLocaleString('en-US')} in total) to detect the minimum effect with 80% power`,
    ]);
  });

  it('enough units and still unsettled: dont-ship', () => {
    const e = experiment([REVENUE, LATENCY].join('\n'));
    const a = run(e, { A: arm(2000, 100), B: arm(2000, 105, 210) });
    expect(statuses(a)).toEqual({ revenue: ['better', undefined], latency: ['worse', 'inconclusive'] });
    expect(a.metrics[1]!.requiredUnits).toBe(units5050(2000, 20, 200, 0.05, 0.1));
    expect(a.decision).toBe('dont-ship');
    expect(a.usersNeeded).toBe(0);
    expect(a.reasons).toEqual(["guardrail 'latency' is not proven non-inferior with enough units"]);
  });
});

describe('keep-running and dont-ship on a flat primary metric', () => {
  it('keep-running: the primary metric’s own mde and power give the units still needed', () => {
    const e = experiment(
      [
        '  - { name: other, kind: mean, column: session, mde: 20% }',
        '  - { name: revenue, kind: mean, column: revenue, role: primary, mde: 1.5% }',
        LATENCY,
      ].join('\n'),
      'power: 0.9',
    );
    const a = run(e, { A: arm(100, 100, 200), B: arm(100, 100.2, 180) });
    expect(statuses(a)).toEqual({
      other: ['flat', undefined],
      revenue: ['flat', undefined],
      latency: ['better', 'pass'],
    });
    const needed = units5050(100, 10, 100, 0.015, 0.05, 0.9);
    expect(needed).toBeGreaterThan(1000);
    expect(a.metrics[1]!.requiredUnits).toBe(needed);
    expect(a.decision).toBe('keep-running');
    expect(a.usersNeeded).toBe(needed - 200);
    expect(a.reasons).toEqual([
      "primary metric 'revenue' is not significant yet",
      `about ${(needed - 200).toLocaleString('en-US')} more units are needed (${needed.toLocaleString('en-US')} in total) to detect the minimum effect with 90% power`,
    ]);
  });

  it('dont-ship: enough units for the primary metric’s mde (not another metric’s) and no improvement', () => {
    const e = experiment(
      [
        '  - { name: other, kind: mean, column: session, mde: 20% }',
        '  - { name: revenue, kind: mean, column: revenue, role: primary, mde: 2.5% }',
      ].join('\n'),
    );
    const a = run(e, { A: arm(2000, 100), B: arm(2000, 100) });
    expect(a.metrics[1]!.relativePValue).toBe(1);
    expect(a.decision).toBe('dont-ship');
    expect(a.reasons).toEqual([
      "primary metric 'revenue' shows no significant improvement with enough units to detect 2.5%",
    ]);
  });
});

describe('invalid: what makes the data unusable, each reason in one line', () => {
  const e = experiment([REVENUE, LATENCY].join('\n'));

  it('a sample ratio mismatch, with the units per arm and scipy’s χ² p-value', () => {
    const p = python<string>(`
from scipy import stats
p = stats.chisquare([1000, 1200]).pvalue
m, x = f'{p:.2e}'.split('e')
print('"%se%d"' % (m, int(x)))
`);
    const a = run(e, { A: arm(1000, 100), B: arm(1200, 105) });
    expect(a.srm.alert).toBe(true);
    expect(a.decision).toBe('invalid');
    expect(a.reasons).toEqual([
      `sample ratio mismatch: units A=1000, B=1200 against the configured split (χ² p = ${p} < 0.001)`,
    ]);
  });

  it('a p-value at srm-alpha is no mismatch (strictly below alerts)', () => {
    // 1000 against 1200 gives p ≈ 2.0e-5: an srm-alpha just above alerts, one just below does not.
    const loose = experiment(REVENUE, 'srm-alpha: 0.0001');
    expect(run(loose, { A: arm(1000, 100), B: arm(1200, 105) }).srm.alert).toBe(true);
    const strict = experiment(REVENUE, 'srm-alpha: 0.00001');
    const a = run(strict, { A: arm(1000, 100), B: arm(1200, 105) });
    expect(a.srm.alert).toBe(false);
    expect(a.decision).toBe('ship');
  });

  it('units in several variants (the query’s row and the duplicate check) and repeated units', () => {
    const a = run(
      e,
      { A: arm(2000, 100), B: arm(2000, 105), [MULTIPLE]: arm(3, 1) },
      { multiVariant: 2, repeated: 6 },
    );
    expect(a.duplicateUnits).toBe(5);
    expect(a.repeatedUnits).toBe(4);
    expect(a.decision).toBe('invalid');
    expect(a.reasons).toEqual([
      '5 unit(s) appear in more than one variant',
      '4 unit(s) have several rows in per-user data (one row per unit, or granularity: event)',
    ]);
  });

  it('a clean duplicate check adds nothing', () => {
    const a = run(e, { A: arm(2000, 100), B: arm(2000, 105) }, { multiVariant: 0, repeated: 0 });
    expect([a.duplicateUnits, a.repeatedUnits, a.decision]).toEqual([0, 0, 'ship']);
  });

  it('an arm without units: said once, not again as an uncomputable metric', () => {
    const noB = run(e, { A: arm(2000, 100) });
    expect(noB.reasons).toEqual([
      'sample ratio mismatch: units A=2000, B=0 against the configured split (χ² p = 0.00e+0 < 0.001)',
      "variant 'B' has no units in the data",
    ]);
    expect(noB.metrics[0]!.error).toBe("variant 'B' has 0 unit(s); at least 2 are needed");
    const noA = run(e, { B: arm(2000, 100) });
    expect(noA.reasons.at(-1)).toBe("variant 'A' has no units in the data");
    expect(noA.reasons).toHaveLength(2);
    expect(noA.metrics[0]!.error).toBe("variant 'A' has 0 unit(s); at least 2 are needed");
  });

  it('an arm with one unit: the primary metric and the guardrail cannot be computed', () => {
    const oneB = run(e, { A: arm(3, 100), B: arm(1, 100) });
    expect(oneB.srm.alert).toBe(false);
    expect(oneB.reasons).toEqual([
      "primary metric 'revenue' cannot be computed: variant 'B' has 1 unit(s); at least 2 are needed",
      "guardrail 'latency' cannot be computed: variant 'B' has 1 unit(s); at least 2 are needed",
    ]);
    expect(oneB.metrics[0]).toMatchObject({
      method: 'none',
      outcome: 'untestable',
      effect: null,
      relativeEffect: null,
      adjustedPValue: null,
      control: { variant: 'A', units: 3, mean: null },
      treatment: { variant: 'B', units: 1, mean: null },
    });
    const oneA = run(e, { A: arm(1, 100), B: arm(3, 100) });
    expect(oneA.reasons[0]).toBe(
      "primary metric 'revenue' cannot be computed: variant 'A' has 1 unit(s); at least 2 are needed",
    );
    expect(run(e, { A: arm(2, 100), B: arm(2, 105) }).metrics[0]!.outcome).not.toBe('untestable');
    // Two control units are enough: only the one-unit treatment is named.
    expect(run(e, { A: arm(2, 100), B: arm(1, 100) }).metrics[0]!.error).toBe(
      "variant 'B' has 1 unit(s); at least 2 are needed",
    );
  });

  it('an uncomputable primary metric is named beside duplicate units, not hidden by them', () => {
    const a = run(
      e,
      { A: arm(3, 100), B: arm(1, 100), [MULTIPLE]: arm(2, 1) },
      { multiVariant: 0, repeated: 0 },
    );
    expect(a.decision).toBe('invalid');
    expect(a.reasons).toContain('2 unit(s) appear in more than one variant');
    expect(a.reasons).toContain(
      "primary metric 'revenue' cannot be computed: variant 'B' has 1 unit(s); at least 2 are needed",
    );
  });

  it('a guardrail proportion holding other values than 0 and 1', () => {
    const g = experiment(
      [REVENUE, '  - { name: errors, kind: proportion, column: errors, role: guardrail, margin: 1% }'].join(
        '\n',
      ),
    );
    const errors = (n: number) => units({ revenue: spread(n, 100, 10), errors: spread(n, 1, 1) });
    const a = run(g, { A: errors(2000), B: errors(2000) });
    expect(a.decision).toBe('invalid');
    expect(a.reasons).toEqual([
      "guardrail 'errors' cannot be computed: column 'errors' holds values other than 0 and 1, so it is not a proportion (use kind: mean)",
    ]);
    const binary = (n: number, ones: number) =>
      units({ revenue: spread(n, 100, 10), errors: Array.from({ length: n }, (_, k) => (k < ones ? 1 : 0)) });
    expect(run(g, { A: binary(2000, 200), B: binary(2000, 190) }).metrics[1]!.method).toBe('z-test');
  });

  it('a ratio whose denominator or pre-period denominator sums to zero in one arm', () => {
    const r = experiment(
      '  - { name: ctr, kind: ratio, numerator: clicks, denominator: impressions, pre-numerator: pc, pre-denominator: pi, role: primary }',
    );
    const rows = (n: number, impressions: number, pi: number) =>
      units({
        clicks: spread(n, 5, 1),
        impressions: spread(n, impressions, impressions / 2),
        pc: spread(n, 5, 1),
        pi: spread(n, pi, pi / 2),
      });
    expect(run(r, { A: rows(100, 0, 10), B: rows(100, 10, 10) }).reasons).toEqual([
      "primary metric 'ctr' cannot be computed: denominator 'impressions' sums to zero in variant 'A'",
    ]);
    expect(run(r, { A: rows(100, 10, 10), B: rows(100, 10, 0) }).reasons).toEqual([
      "primary metric 'ctr' cannot be computed: pre-period denominator 'pi' sums to zero in variant 'B'",
    ]);
    const plainRatio = experiment(
      '  - { name: ctr, kind: ratio, numerator: clicks, denominator: impressions, role: primary }',
    );
    expect(run(plainRatio, { A: rows(100, 10, 0), B: rows(100, 10, 0) }).metrics[0]!.method).toBe(
      'delta-method ratio, Welch t',
    );
  });

  it('a control mean of zero leaves the relative effect undefined', () => {
    const a = run(e, { A: arm(100, 0), B: arm(100, 5) });
    expect(a.reasons).toEqual([
      "primary metric 'revenue' cannot be computed: the control mean is zero, so the relative effect is undefined",
    ]);
    expect(a.metrics[0]!.control.mean).toBe(0);
    expect(a.metrics[0]!.treatment.mean).toBe(5);
  });
});

describe('metrics that are zero or constant', () => {
  const zero = (n: number, revenue: number, errors: number[]) =>
    units({
      revenue: spread(n, revenue, 10),
      errors: Array.from({ length: n }, (_, k) => errors[k % errors.length]!),
    });

  it('zero in every unit of both arms: an exact zero effect, and a guardrail that passes at any margin', () => {
    const e = experiment(
      [
        REVENUE,
        '  - { name: errors, kind: mean, column: errors, role: guardrail, direction: decrease, absolute-margin: 0.5 }',
        '  - { name: errors2, kind: mean, column: errors }',
      ].join('\n'),
    );
    const a = run(e, { A: zero(2000, 100, [0]), B: zero(2000, 105, [0]) });
    const [, guard, secondary] = a.metrics;
    expect(guard).toMatchObject({
      method: 'none (zero in every unit)',
      effect: 0,
      ci: [0, 0],
      pValue: 1,
      relativeEffect: 0,
      relativeCi: [0, 0],
      relativePValue: 1,
      adjustedPValue: 1,
      outcome: 'flat',
      control: { variant: 'A', units: 2000, mean: 0 },
      treatment: { variant: 'B', units: 2000, mean: 0 },
      nonInferiority: { margin: 0.5, scale: 'absolute', pValue: 0, bound: 0, status: 'pass' },
      warning: "'errors' is zero for every unit in both arms: no change to test",
    });
    expect(guard!.error).toBeUndefined();
    expect(secondary!.nonInferiority).toBeUndefined();
    expect(secondary!.warning).toBe("'errors2' is zero for every unit in both arms: no change to test");
    expect(a.decision).toBe('ship');
  });

  it('a zero control mean with any change in the treatment arm is untestable', () => {
    const e = experiment([REVENUE, '  - { name: errors, kind: mean, column: errors }'].join('\n'));
    // Treatment constant but not zero; treatment varying around zero; control varying around zero.
    for (const [a, b] of [
      [[0], [1]],
      [[0], [-1, 1]],
      [[-1, 1], [0]],
    ]) {
      const r = run(e, { A: zero(2000, 100, a!), B: zero(2000, 105, b!) }).metrics[1]!;
      expect(r.outcome).toBe('untestable');
      expect(r.error).toBe('the control mean is zero, so the relative effect is undefined');
    }
  });

  it('constant in each arm: the exact effect with a warning, significant because no variance is left', () => {
    const e = experiment(REVENUE);
    const a = run(e, {
      A: arm(100, 100).map((u) => ({ ...u, revenue: 100 })),
      B: arm(100, 105).map((u) => ({ ...u, revenue: 105 })),
    });
    expect(a.metrics[0]).toMatchObject({
      effect: 5,
      ci: [5, 5],
      pValue: 0,
      relativeEffect: 0.05,
      relativeCi: [0.05, 0.05],
      outcome: 'better',
      warning: "'revenue' has zero variance in both arms: the effect is exact and no test applies",
    });
    expect(a.decision).toBe('ship');
  });
});
