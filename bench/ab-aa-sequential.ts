/**
 * A/A simulation of daily looks: AB_AA_EXPERIMENTS experiments (default 2000), each looked at every day
 * for AB_AA_DAYS days (default 30) with AB_AA_USERS_PER_DAY new users per arm and day (default 100).
 * Both arms draw from the same distribution, so any "significant" look is a false positive. Prints the
 * share of experiments with at least one false positive for the sequential confidence sequences, and
 * for fixed-horizon tests peeked at daily (the baseline this procedure exists to fix), against α.
 *
 *   npx tsx bench/ab-aa-sequential.ts
 */
import { compareArms, meanEstimate, proportionEstimate } from '@mlops-actions/stats';

const experiments = Number(process.env.AB_AA_EXPERIMENTS ?? 2000);
const days = Number(process.env.AB_AA_DAYS ?? 30);
const perDay = Number(process.env.AB_AA_USERS_PER_DAY ?? 100);
const alpha = Number(process.env.AB_AA_ALPHA ?? 0.05);
const tuning = Number(process.env.AB_AA_TUNING ?? 5000);

let state = 0x9e3779b9;
function random(): number {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function normal(): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

type Metric = 'lognormal mean' | 'proportion (10%)';
const draws: Record<Metric, () => number> = {
  // A skewed revenue-like metric: the CLT has work to do.
  'lognormal mean': () => Math.exp(1 + 0.8 * normal()),
  'proportion (10%)': () => (random() < 0.1 ? 1 : 0),
};

const started = Date.now();
console.log(
  `A/A: ${experiments} experiments × ${days} daily looks, ${perDay} users per arm per day, α = ${alpha}, tuning ${tuning}`,
);
for (const [name, draw] of Object.entries(draws) as Array<[Metric, () => number]>) {
  let sequentialHits = 0;
  let peekingHits = 0;
  let finalHits = 0;
  for (let e = 0; e < experiments; e++) {
    const arms = [
      { n: 0, sum: 0, sumSquares: 0 },
      { n: 0, sum: 0, sumSquares: 0 },
    ];
    let sequentialFired = false;
    let peekingFired = false;
    for (let day = 1; day <= days; day++) {
      for (const arm of arms) {
        for (let k = 0; k < perDay; k++) {
          const x = draw();
          arm.n++;
          arm.sum += x;
          arm.sumSquares += x * x;
        }
      }
      const estimate = name === 'proportion (10%)' ? proportionEstimate : meanEstimate;
      const a = estimate(arms[0]!);
      const b = estimate(arms[1]!);
      if (a.variance === 0 || b.variance === 0) continue;
      const test = name === 'proportion (10%)' ? 'z' : 't';
      const seq = compareArms(a, b, { alpha, test, sequential: { tuning } });
      const fixed = compareArms(a, b, { alpha, test });
      if (seq.absolute.ci[0] > 0 || seq.absolute.ci[1] < 0) sequentialFired = true;
      if (fixed.absolute.pValue < alpha) {
        peekingFired = true;
        if (day === days) finalHits++;
      }
    }
    if (sequentialFired) sequentialHits++;
    if (peekingFired) peekingHits++;
  }
  const rate = (hits: number) => {
    const p = hits / experiments;
    return `${(p * 100).toFixed(2)}% ± ${(196 * Math.sqrt((p * (1 - p)) / experiments)).toFixed(2)}%`;
  };
  console.log(`\n${name}`);
  console.log(
    `  sequential (always-valid), any of ${days} looks: ${rate(sequentialHits)}  ratio to α: ${(sequentialHits / experiments / alpha).toFixed(3)}`,
  );
  console.log(
    `  fixed-horizon test, peeking daily:         ${rate(peekingHits)}  ratio to α: ${(peekingHits / experiments / alpha).toFixed(3)}`,
  );
  console.log(
    `  fixed-horizon test, last look only:        ${rate(finalHits)}  ratio to α: ${(finalHits / experiments / alpha).toFixed(3)}`,
  );
}
console.log(`\n${((Date.now() - started) / 1000).toFixed(1)} s`);
