import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStep } from '../harness';
import { type CanaryWorld, startWorld } from './setup';

/**
 * A business metric judged like a technical one, end to end through the harness on dist/canary-deploy
 * against real nginx, Prometheus and model servers: the positive-prediction rate as numerator and
 * denominator queries, under the two-proportion test on its own denominator.
 */
const POSITIVE_RATE = `- name: error-rate
  test: two-proportion
  critical: true
- name: positive-rate
  class: business
  numerator: sum(increase(model_predictions_total{$selector, label="positive"}[$window]))
  denominator: sum(increase(model_predictions_total{$selector}[$window]))
  test: two-proportion
  min-effect: 0.02`;

let world: CanaryWorld;

beforeAll(async () => {
  world = await startWorld();
});

afterAll(async () => {
  await world?.close();
});

describe('canary-deploy business metrics (real nginx, Prometheus, model servers)', () => {
  it('rolls back at the first step when the positive-prediction rate drops by 30 %', async () => {
    await world.reset('business-drop');
    world.stable.setPositiveRate(0.5);
    world.canary.setPositiveRate(0.35);
    const load = world.load(200);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: {
          ...world.inputs('business-drop'),
          interval: '4s',
          'initial-delay': '1s',
          count: '2',
          'min-samples': '100',
          'inconclusive-limit': '0',
          metrics: POSITIVE_RATE,
          steps: '25%, 50%, 100%',
        },
      });
      expect(result.outputs.outcome).toBe('rolled-back');
      expect(result.outputs['failed-step']).toBe('1');
      const report = JSON.parse(result.outputs.report!) as {
        windows: Array<{ weight: number; verdict: string }>;
      };
      expect(report.windows.every((w) => w.weight === 25)).toBe(true);
      expect(report.windows.at(-1)!.verdict).toBe('fail');
      expect(result.stdout).toMatch(/positive-rate \[business\]: .*two-proportion: difference > 0\.02/);
      expect(result.stdout).toContain('failed: business positive-rate');
      expect(world.weight()).toBe(0);
    } finally {
      await load.stop();
    }
  });

  it('promotes a canary whose positive-prediction rate matches stable', async () => {
    await world.reset('business-same');
    world.stable.setPositiveRate(0.5);
    world.canary.setPositiveRate(0.5);
    const load = world.load(200);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: {
          ...world.inputs('business-same'),
          interval: '3s',
          'initial-delay': '1s',
          'min-samples': '50',
          metrics: POSITIVE_RATE,
          steps: '25%, 100%',
        },
      });
      expect(result.outputs.outcome).toBe('promoted');
      expect(world.weight()).toBe(100);
    } finally {
      await load.stop();
    }
  });
});
