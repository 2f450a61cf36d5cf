import { describe, expect, it } from 'vitest';
import { bayesian, type Comparison } from '../src/index';
import { expectRel, python } from './scipy';

/** Only the relative effect enters the Bayesian summary. */
function relative(effect: number, standardError: number): Comparison {
  const e = { effect, standardError, ci: [effect, effect] as [number, number], pValue: 1, statistic: 0 };
  return {
    absolute: e,
    relative: e,
    dof: Infinity,
    test: 'z',
    sequential: false,
    alpha: 0.05,
    degenerate: false,
  };
}

interface Ref {
  ctw: number;
  loss: number;
  lossControl: number;
  mean: number;
  sd: number;
}

/**
 * The posterior of δ (conjugate normal: precision-weighted, or the likelihood itself with a flat prior),
 * and, for a metric where lower is better, P(δ < 0), E[max(0, δ)] (harm shipped) and E[max(0, −δ)]
 * (gain forgone), from scipy's normal and truncated-normal moments.
 */
function lowerIsBetterRef(effect: number, se: number, prior?: { mean: number; sd: number }): Ref {
  return python<Ref>(
    `
import json, sys
from scipy import stats
d = json.load(sys.stdin); mu, se, prior = d['effect'], d['se'], d.get('prior')
if prior:
    prec = 1/se**2 + 1/prior['sd']**2
    m = (mu/se**2 + prior['mean']/prior['sd']**2)/prec; s = prec**-0.5
else:
    m, s = mu, se
inf = float('inf'); b = -m/s
loss = stats.norm.sf(b) * stats.truncnorm.mean(b, inf, loc=m, scale=s)
gain = -stats.norm.cdf(b) * stats.truncnorm.mean(-inf, b, loc=m, scale=s)
print(json.dumps(dict(ctw=stats.norm.cdf(0, m, s), loss=loss, lossControl=gain, mean=m, sd=s)))
`,
    { effect, se, prior },
  );
}

describe('Bayesian summary where lower is better (latency, errors)', () => {
  it('a treatment that lowers the metric: chance to win P(δ < 0) and both expected losses match scipy', () => {
    const ref = lowerIsBetterRef(-0.013, 0.009);
    const r = bayesian(relative(-0.013, 0.009), 'decrease');
    expectRel(r.chanceToWin, ref.ctw, 1e-9, 'chance to win');
    expectRel(r.expectedLoss, ref.loss, 1e-7, 'expected loss');
    expectRel(r.expectedLossControl, ref.lossControl, 1e-7, 'expected loss of control');
    expect(r.posteriorMean).toBe(-0.013);
    expect(r.posteriorSd).toBe(0.009);
    expect(r.chanceToWin).toBeGreaterThan(0.9);
  });

  it('a treatment that raises the metric, with an informative prior: posterior and summaries match scipy', () => {
    const prior = { mean: -0.01, sd: 0.02 };
    const ref = lowerIsBetterRef(0.004, 0.006, prior);
    const r = bayesian(relative(0.004, 0.006), 'decrease', prior);
    expectRel(r.posteriorMean, ref.mean, 1e-12, 'posterior mean');
    expectRel(r.posteriorSd, ref.sd, 1e-12, 'posterior sd');
    expectRel(r.chanceToWin, ref.ctw, 1e-9, 'chance to win');
    expectRel(r.expectedLoss, ref.loss, 1e-7, 'expected loss');
    expectRel(r.expectedLossControl, ref.lossControl, 1e-7, 'expected loss of control');
    expect(r.chanceToWin).toBeLessThan(0.5);
  });
});

describe('Bayesian summary of an exact effect (no variance)', () => {
  it('the posterior is a point mass: chance to win 1, 0 or ½ and the losses are the effect itself', () => {
    expect(bayesian(relative(0.02, 0), 'increase')).toEqual({
      chanceToWin: 1,
      expectedLoss: 0,
      expectedLossControl: 0.02,
      posteriorMean: 0.02,
      posteriorSd: 0,
    });
    expect(bayesian(relative(0.02, 0), 'decrease')).toEqual({
      chanceToWin: 0,
      expectedLoss: 0.02,
      expectedLossControl: 0,
      posteriorMean: 0.02,
      posteriorSd: 0,
    });
    expect(bayesian(relative(-0.03, 0), 'increase')).toEqual({
      chanceToWin: 0,
      expectedLoss: 0.03,
      expectedLossControl: 0,
      posteriorMean: -0.03,
      posteriorSd: 0,
    });
    const tie = bayesian(relative(0, 0), 'increase');
    expect(tie.chanceToWin).toBe(0.5);
    expect(tie.expectedLoss).toBe(0);
    expect(tie.expectedLossControl).toBe(0);
  });

  it('an informative prior does not move an exact effect (infinite likelihood precision)', () => {
    expect(bayesian(relative(0.02, 0), 'increase', { mean: -0.05, sd: 0.01 })).toEqual({
      chanceToWin: 1,
      expectedLoss: 0,
      expectedLossControl: 0.02,
      posteriorMean: 0.02,
      posteriorSd: 0,
    });
  });
});
