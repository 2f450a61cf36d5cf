import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { analyze, type Experiment, parseExperiment, planQuery } from '../src/index';
import { PRELUDE } from './references';
import { close, spread, type Unit, unitSums, units } from './unit-sums';

/**
 * Multiple testing over the primary and secondary metrics (Holm, Benjamini–Hochberg, none) on the
 * relative p-values, the outcome each metric gets from its (adjusted) p-value and its direction, and
 * the guardrails kept out of the family. Relative p-values come from scipy (Welch t on the delta-method
 * relative effect); the corrections are Holm's and BH's published step-down / step-up rules in Python.
 */
const COLUMNS = ['revenue', 'other', 'bounce', 'latency'] as const;

/** A and B with 1000 units each: revenue +0.97 % (p ≈ 0.03), other +0.92 % (p ≈ 0.04), bounce and latency moved by `bounce`/`latency` %. */
function arms(
  bounce: number,
  latency: number,
): { A: Unit[]; B: Unit[]; columns: Record<string, number[][]> } {
  const a = {
    revenue: spread(1000, 100, 10),
    other: spread(1000, 100, 10),
    bounce: spread(1000, 50, 5),
    latency: spread(1000, 200, 20),
  };
  const b = {
    revenue: spread(1000, 100.97, 10),
    other: spread(1000, 100.92, 10),
    bounce: spread(1000, 50 * (1 + bounce / 100), 5),
    latency: spread(1000, 200 * (1 + latency / 100), 20),
  };
  const columns = Object.fromEntries(COLUMNS.map((c) => [c, [a[c], b[c]]]));
  return { A: units(a), B: units(b), columns };
}

function experiment(correction: string, extra = ''): Experiment {
  return parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
correction: ${correction}
metrics:
  - { name: revenue, kind: mean, column: revenue, role: primary }
  - { name: other, kind: mean, column: other }
  - { name: bounce, kind: mean, column: bounce, direction: decrease }
  - { name: latency, kind: mean, column: latency, role: guardrail, direction: decrease, margin: 5% }
${extra}`);
}

interface Ref {
  rp: Record<string, number>;
  holm: number[];
  bh: number[];
}

/** scipy's relative p-values and Holm's and BH's adjustments over revenue, other and bounce. */
function reference(columns: Record<string, number[][]>): Ref {
  return python<Ref>(
    `${PRELUDE}
import sys
cols = json.load(sys.stdin)
rp = {k: plain(np.array(a), np.array(b), 0.05)['rp'] for k, (a, b) in cols.items()}
p = np.array([rp['revenue'], rp['other'], rp['bounce']]); m = len(p); o = np.argsort(p)
holm = np.empty(m); holm[o] = np.minimum(1, np.maximum.accumulate((m - np.arange(m)) * p[o]))
bh = np.empty(m); bh[o] = np.minimum(1, np.minimum.accumulate((m / np.arange(1, m + 1) * p[o])[::-1])[::-1])
print(json.dumps(dict(rp=rp, holm=holm.tolist(), bh=bh.tolist())))
`,
    columns,
  );
}

describe('corrections over the primary and secondary metrics, guardrails apart', () => {
  it('Holm: p ≈ 0.03 and 0.04 become 0.06 and 0.06, so nothing is significant and the test does not ship', () => {
    const data = arms(-10, -10);
    const ref = reference(data.columns);
    expect(ref.rp.revenue).toBeLessThan(0.05);
    expect(ref.holm[0]).toBeGreaterThan(0.05);
    const a = analyze(
      experiment('holm'),
      planQuery(experiment('holm')),
      unitSums(experiment('holm'), { A: data.A, B: data.B }),
    );
    const [revenue, other, bounce, latency] = a.metrics;
    close(revenue!.adjustedPValue, ref.holm[0]!, 'revenue holm');
    close(other!.adjustedPValue, ref.holm[1]!, 'other holm');
    close(bounce!.adjustedPValue, ref.holm[2]!, 'bounce holm');
    // The guardrail keeps its own relative p-value: it is no member of the family.
    close(latency!.adjustedPValue, ref.rp.latency!, 'latency unadjusted');
    expect([revenue!.outcome, other!.outcome, bounce!.outcome, latency!.outcome]).toEqual([
      'flat',
      'flat',
      'better',
      'better',
    ]);
    expect(a.decision).not.toBe('ship');
  });

  it('Benjamini–Hochberg: 0.03 and 0.04 both become 0.04, and the primary metric ships', () => {
    const data = arms(10, -10);
    const ref = reference(data.columns);
    const e = experiment('bh');
    const a = analyze(e, planQuery(e), unitSums(e, { A: data.A, B: data.B }));
    const [revenue, other, bounce] = a.metrics;
    close(revenue!.adjustedPValue, ref.bh[0]!, 'revenue bh');
    close(other!.adjustedPValue, ref.bh[1]!, 'other bh');
    close(bounce!.adjustedPValue, ref.bh[2]!, 'bounce bh');
    // Bounce (lower is better) rising 10 % is worse; the decision rests on the primary metric.
    expect([revenue!.outcome, other!.outcome, bounce!.outcome]).toEqual(['better', 'better', 'worse']);
    expect(a.decision).toBe('ship');
  });

  it('none: the relative p-values as they are', () => {
    const data = arms(0, -10);
    const ref = reference(data.columns);
    const e = experiment('none');
    const a = analyze(e, planQuery(e), unitSums(e, { A: data.A, B: data.B }));
    for (const r of a.metrics) close(r.adjustedPValue, ref.rp[r.name]!, `${r.name} unadjusted`);
    expect(a.metrics.map((r) => r.outcome)).toEqual(['better', 'better', 'flat', 'better']);
  });

  it('an untestable secondary metric stays out of the family (Holm over three, not four)', () => {
    const data = arms(-10, -10);
    const ref = reference(data.columns);
    const e = experiment('holm', '  - { name: broken, kind: proportion, column: other }');
    const a = analyze(e, planQuery(e), unitSums(e, { A: data.A, B: data.B }));
    expect(a.metrics[4]!.outcome).toBe('untestable');
    expect(a.metrics[4]!.adjustedPValue).toBeNull();
    close(a.metrics[0]!.adjustedPValue, ref.holm[0]!, 'revenue holm');
  });
});
