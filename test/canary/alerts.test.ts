import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStep } from '../harness';
import { type CanaryWorld, startWorld } from './setup';

/**
 * abort-on-alerts end to end through the harness on dist/canary-deploy: a real Prometheus evaluates a
 * rule file whose alert fires on the canary's traffic; the rollout aborts at the first window.
 */
const RULES = `groups:
  - name: canary
    rules:
      - alert: CanaryTrafficSeen
        expr: sum(rate(http_requests_total{track="canary-alerts"}[5s])) > 0
        labels:
          severity: page
        annotations:
          summary: the canary answers requests
`;

let world: CanaryWorld;

beforeAll(async () => {
  world = await startWorld({ rules: RULES });
});

afterAll(async () => {
  await world?.close();
});

describe('canary-deploy abort-on-alerts (real nginx, Prometheus rule file, model servers)', () => {
  it('rolls back at the first window when a named alert fires, with its name and summary in the report', async () => {
    await world.reset('alerts');
    const load = world.load(100);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: {
          ...world.inputs('alerts'),
          interval: '4s',
          'initial-delay': '2s',
          'min-samples': '10',
          metrics: '- name: error-rate\n  max: 0.5',
          'abort-on-alerts': 'severity="page"\nSomethingElse',
          steps: '10%, 50%, 100%',
        },
      });
      expect(result.outputs.outcome).toBe('rolled-back');
      expect(result.outputs['failed-step']).toBe('1');
      expect(result.stdout).toContain(
        'alert firing: CanaryTrafficSeen (the canary answers requests) from prometheus',
      );
      expect(world.weight()).toBe(0);
    } finally {
      await load.stop();
    }
  });
});
