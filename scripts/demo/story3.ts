/**
 * Story 3, A/B test: ab-evaluate decides two generated experiments of the recommender, read from per-user
 * exports with embedded DuckDB — v2 with more clicks and session length unchanged (ship), and v3 with
 * the same clicks but sessions 5 % shorter, which the guardrail catches (dont-ship).
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runStep } from '../../test/harness';
import { checkout, type DemoContext, recorded } from './context';

export const STORY = 'Story 3: A/B test of the recommender';

/** A seeded generator, so every demo run sees the same experiments. */
function mulberry32(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Per-user rows: treatment users click `ctr` per impression and their sessions last `sessionFactor` times as long. */
function experimentCsv(treatment: { ctr: number; sessionFactor: number }): string {
  const random = mulberry32(7);
  const rows = ['user_id,variant,impressions,clicks,session_seconds,pre_session_seconds'];
  for (let user = 1; user <= 20_000; user++) {
    const variant = random() < 0.5 ? 'control' : 'treatment';
    const impressions = 1 + Math.floor(random() * 20);
    const ctr = variant === 'treatment' ? treatment.ctr : 0.05;
    let clicks = 0;
    for (let i = 0; i < impressions; i++) if (random() < ctr) clicks++;
    const habit = 120 + random() * 240;
    const session = (habit + random() * 60) * (variant === 'treatment' ? treatment.sessionFactor : 1);
    rows.push(`${user},${variant},${impressions},${clicks},${session.toFixed(1)},${habit.toFixed(1)}`);
  }
  return `${rows.join('\n')}\n`;
}

function experiment(name: string): string {
  return [
    `name: ${name}`,
    'unit: user_id',
    'variant: variant',
    'control: control',
    'treatment: treatment',
    'metrics:',
    '  - { name: ctr, kind: ratio, numerator: clicks, denominator: impressions, role: primary, group: business }',
    '  - { name: session_duration, kind: mean, column: session_seconds, pre: pre_session_seconds, role: guardrail, margin: 0.02, group: business }',
  ].join('\n');
}

export async function story3(ctx: DemoContext): Promise<void> {
  if (!ctx.built.has('ab-evaluate')) {
    ctx.record.skip(STORY, 'ab-evaluate is not built (no dist/ab-evaluate/index.js)');
    return;
  }
  const workspace = checkout(ctx, 'ab');
  const cases = [
    { name: 'recommender-v2', file: 'v2-users.csv', ctr: 0.055, sessionFactor: 1, expected: 'ship' },
    { name: 'recommender-v3', file: 'v3-users.csv', ctr: 0.055, sessionFactor: 0.95, expected: 'dont-ship' },
  ];
  for (const c of cases) {
    writeFileSync(join(workspace, c.file), experimentCsv(c));
    const result = await recorded(
      ctx,
      STORY,
      `ab-evaluate ${c.name} (sessions ×${c.sessionFactor})`,
      () =>
        runStep({
          action: 'ab-evaluate',
          workspace,
          env: ctx.env,
          event: ctx.event,
          inputs: { data: c.file, experiment: experiment(c.name), comment: 'true' },
        }),
      (r) => `decision ${r.outputs.decision} (SRM p ${Number(r.outputs['srm-p-value']).toFixed(3)})`,
    );
    if (result.outputs.decision !== c.expected) {
      throw new Error(`${c.name}: expected ${c.expected}, ab-evaluate decided ${result.outputs.decision}`);
    }
  }
}
