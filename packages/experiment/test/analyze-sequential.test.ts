import { describe, expect, it } from 'vitest';
import { python } from '../../stats/test/scipy';
import { analyze, parseExperiment, planQuery } from '../src/index';
import { PRELUDE } from './references';
import { close, unitSums, units } from './unit-sums';

/**
 * Sequential modes through analyze(): always-valid confidence sequences with GrowthBook's published
 * normal-mixture formulas (docs.growthbook.io/statistics/sequential: ρ = sqrt((−2 ln α + ln(−2 ln α + 1)) / N*),
 * halfwidth s·sqrt(2(nρ² + 1)/(n²ρ²) · ln(sqrt(nρ² + 1)/α)), the one-sided bound with ln(1 + sqrt(nρ² + 1)/(2α))
 * and ρ at 2α), re-implemented in Python, and group-sequential designs against the published Lan-DeMets
 * O'Brien-Fleming bounds (gsDesign, two-sided 0.05, 5 looks: 4.8769, 3.3569, …).
 */
interface Data {
  a: Record<string, number[]>;
  b: Record<string, number[]>;
  rel: Record<string, [number, number]>;
  abs: [number, number];
  bound: number;
  n: Record<string, number>;
  raw: Record<string, { rel: number; rse: number }>;
}

const DATA = `
rng = np.random.default_rng(23)
A = dict(revenue=rng.normal(100, 30, 1500), latency=rng.normal(200, 40, 1500))
B = dict(revenue=rng.normal(102, 30, 1500), latency=rng.normal(196, 40, 1500))
`;

describe('always-valid sequential analysis (GrowthBook confidence sequences)', () => {
  it('intervals, the one-sided guardrail bound over both arms’ units, and units needed by search on the sequence', () => {
    const e = parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
sequential: true
sequential-tuning: 4000
metrics:
  - { name: revenue, kind: mean, column: revenue, role: primary }
  - { name: latency, kind: mean, column: latency, role: guardrail, direction: decrease, margin: 5% }
`);
    const ref = python<Data>(`${PRELUDE}${DATA}
from scipy.optimize import brentq
alpha, tuning = 0.05, 4000
n = 3000
def rho(a):
    return np.sqrt((-2 * np.log(a) + np.log(-2 * np.log(a) + 1)) / tuning)
def hw(s2, n, a):
    r2 = n * rho(a) ** 2
    return np.sqrt(s2) * np.sqrt(2 * (r2 + 1) / (n * r2) * np.log(np.sqrt(r2 + 1) / a))
rv, lt = plain(A['revenue'], B['revenue'], alpha), plain(A['latency'], B['latency'], alpha)
out = dict(rel={}, n={}, raw={})
for name, r in (('revenue', rv), ('latency', lt)):
    h = hw(r['rse'] ** 2 * n, n, alpha)
    out['rel'][name] = [r['rel'] - h, r['rel'] + h]
    out['raw'][name] = dict(rel=r['rel'], rse=r['rse'])
h = hw(rv['se'] ** 2 * n, n, alpha)
out['abs'] = [rv['effect'] - h, rv['effect'] + h]
# One-sided bound at α for latency (harm is a rise): ρ at 2α, ln(1 + sqrt(nρ² + 1)/(2α)).
r2 = n * rho(2 * alpha) ** 2
s2 = lt['rse'] ** 2 * n
out['bound'] = lt['rel'] + np.sqrt(s2 * 2 * (r2 + 1) / (n * r2) * np.log(1 + np.sqrt(r2 + 1) / (2 * alpha)))
# Units needed: the smallest n with halfwidth(n) + z_power·sqrt(s2/n) ≤ mde·mean (guardrails: 2α, margin).
for name, r, a_, mde in (('revenue', rv, alpha, 0.01), ('latency', lt, 2 * alpha, 0.05)):
    s2 = r['va'] / 0.5 + r['vb'] / 0.5
    f = lambda m: hw(s2, m, a_) + stats.norm.ppf(0.8) * np.sqrt(s2 / m) - mde * r['meanA']
    out['n'][name] = int(np.ceil(brentq(f, 2, 1e15, xtol=1e-9)))
out['a'] = {k: v.tolist() for k, v in A.items()}; out['b'] = {k: v.tolist() for k, v in B.items()}
print(json.dumps(out, default=float))
`);
    const a = analyze(e, planQuery(e), unitSums(e, { A: units(ref.a), B: units(ref.b) }));
    const [revenue, latency] = a.metrics;
    expect(revenue!.method).toBe('Welch t-test, sequential (always-valid)');
    expect(revenue!.sequential).toBe(true);
    close(revenue!.relativeCi?.[0], ref.rel.revenue![0], 'revenue relative low');
    close(revenue!.relativeCi?.[1], ref.rel.revenue![1], 'revenue relative high');
    close(revenue!.ci?.[0], ref.abs[0], 'revenue absolute low');
    close(revenue!.ci?.[1], ref.abs[1], 'revenue absolute high');
    close(latency!.relativeCi?.[1], ref.rel.latency![1], 'latency relative high');
    close(latency!.nonInferiority?.bound, ref.bound, 'latency one-sided bound');
    expect(latency!.nonInferiority!.pValue < 0.05).toBe(ref.bound < 0.05);
    expect(revenue!.requiredUnits).toBe(ref.n.revenue);
    expect(latency!.requiredUnits).toBe(ref.n.latency);
  });

  it('a control mean so small that no sample size reaches the power: keep-running with no finite count', () => {
    const e = parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
sequential: true
metrics:
  - { name: revenue, kind: mean, column: revenue, role: primary }
`);
    // Mean 1e-6 with sd 1: detecting 1 % of it takes about 8·4/(1e-8)² ≈ 3e17 units, beyond any search.
    const arm = (n: number) =>
      units({ revenue: Array.from({ length: n }, (_, k) => 1e-6 + (k % 2 ? 1 : -1)) });
    const a = analyze(e, planQuery(e), unitSums(e, { A: arm(1000), B: arm(1000) }));
    expect(a.metrics[0]!.outcome).toBe('flat');
    expect(a.metrics[0]!.requiredUnits).toBe(Number.POSITIVE_INFINITY);
    expect(a.decision).toBe('keep-running');
    expect(a.usersNeeded).toBe(Number.POSITIVE_INFINITY);
    expect(a.reasons).toEqual([
      "primary metric 'revenue' is not significant yet",
      'the data cannot reach the configured power (no variance information)',
    ]);
  });
});

describe('group-sequential analysis (Lan-DeMets spending, published bounds)', () => {
  const definition = (alpha: number, spending: string) =>
    parseExperiment(`
unit: user_id
variant: variant
control: A
treatment: B
alpha: ${alpha}
sequential: true
sequential-method: group-sequential
looks: 5
look: 2
spending: ${spending}
metrics:
  - { name: revenue, kind: mean, column: revenue, role: primary }
  - { name: latency, kind: mean, column: latency, role: guardrail, direction: decrease, margin: 5% }
`);
  const reference = () =>
    python<Data>(`${PRELUDE}${DATA}
out = dict(raw={}, a={k: v.tolist() for k, v in A.items()}, b={k: v.tolist() for k, v in B.items()})
for name in ('revenue', 'latency'):
    r = plain(A[name], B[name], 0.05)
    out['raw'][name] = dict(rel=r['rel'], rse=r['rse'])
print(json.dumps(out, default=float))
`);

  it('look 2 of 5 (O’Brien-Fleming): the repeated interval is ±3.3569 standard errors', () => {
    const ref = reference();
    const e = definition(0.05, 'obrien-fleming');
    const [revenue] = analyze(e, planQuery(e), unitSums(e, { A: units(ref.a), B: units(ref.b) })).metrics;
    expect(revenue!.method).toBe('Welch t-test, group-sequential (look 2 of 5, obrien-fleming spending)');
    expect(revenue!.sequential).toBe(true);
    const { rel, rse } = ref.raw.revenue!;
    expect(Math.abs(revenue!.relativeCi![1] - (rel + 3.3569 * rse))).toBeLessThan(2e-4 * rse);
    expect(Math.abs(revenue!.relativeCi![0] - (rel - 3.3569 * rse))).toBeLessThan(2e-4 * rse);
  });

  it('a guardrail one-sided at α = 0.025 takes the two-sided 0.05 bound of its look (3.3569)', () => {
    const ref = reference();
    const e = definition(0.025, 'obrien-fleming');
    const [, latency] = analyze(e, planQuery(e), unitSums(e, { A: units(ref.a), B: units(ref.b) })).metrics;
    const { rel, rse } = ref.raw.latency!;
    expect(Math.abs(latency!.nonInferiority!.bound - (rel + 3.3569 * rse))).toBeLessThan(2e-4 * rse);
  });

  it('names the Pocock spending it used: look 2 of 5 is ±2.4268 standard errors', () => {
    const ref = reference();
    const e = definition(0.05, 'pocock');
    const [revenue] = analyze(e, planQuery(e), unitSums(e, { A: units(ref.a), B: units(ref.b) })).metrics;
    expect(revenue!.method).toBe('Welch t-test, group-sequential (look 2 of 5, pocock spending)');
    const { rel, rse } = ref.raw.revenue!;
    expect(Math.abs(revenue!.relativeCi![1] - (rel + 2.4268 * rse))).toBeLessThan(2e-4 * rse);
  });
});
