import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { PrometheusClient } from '@mlops-actions/rollout';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runStep } from '../harness';
import { type CanaryWorld, startWorld, until } from './setup';

/**
 * End to end through the harness on dist/canary-deploy, against real nginx, real Prometheus and two real
 * model servers under a bounded load. Windows are 3 s so the whole file stays well under a minute or two.
 */
const FAST = {
  interval: '3s',
  'initial-delay': '1s',
  count: '1',
  'min-samples': '15',
  'inconclusive-limit': '0',
  metrics: `- name: error-rate
  test: two-proportion
  max: 0.05
  critical: true
- name: latency
  test: mann-whitney
- name: p99-latency
  max: 1`,
};

let world: CanaryWorld;

/** 20 requests in a row on new connections all answered by stable, within 10 s of reload. */
async function stableOnly(w: CanaryWorld): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    let streak = 0;
    for (; streak < 20; streak++) {
      const response = await fetch(`${w.nginx.url}/predict`, { headers: { connection: 'close' } });
      await response.body?.cancel();
      if (response.headers.get('x-track') !== w.stable.track) break;
    }
    if (streak === 20) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

beforeAll(async () => {
  world = await startWorld();
});

afterAll(async () => {
  await world?.close();
});

describe('canary-deploy scenarios (real nginx, Prometheus, model servers)', () => {
  it('promotes a healthy canary to 100%', async () => {
    await world.reset('healthy');
    const load = world.load(100);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: { ...world.inputs('healthy'), ...FAST, steps: '10%, 50%, 100%' },
      });
      expect(result.error).toBeUndefined();
      expect(result.exitCode).toBe(0);
      expect(result.outputs.outcome).toBe('promoted');
      expect(result.outputs['final-weight']).toBe('100');
      expect(result.outputs['failed-step']).toBe('');
      const report = JSON.parse(result.outputs.report!) as {
        windows: Array<{ weight: number; verdict: string; metrics: unknown[] }>;
      };
      expect(report.windows.map((w) => [w.weight, w.verdict])).toEqual([
        [10, 'pass'],
        [50, 'pass'],
      ]);
      expect(report.windows[0]!.metrics).toHaveLength(3);
      expect(world.weight()).toBe(100);
      expect(result.stdout).toMatch(/error-rate \[technical, critical\]: canary [\d.]+, stable [\d.]+/);
      expect(result.summary).toContain('| step | weight |');
      expect(result.summary).toContain('```mermaid');
      expect(result.post?.stdout).toContain('nothing to restore');
    } finally {
      await load.stop();
    }
  });

  it('rolls back at the first step when the canary is slower at 10%', async () => {
    await world.reset('slow');
    world.canary.setLatency(40);
    const load = world.load(100);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: { ...world.inputs('slow'), ...FAST, steps: '10%, 50%, 100%' },
      });
      expect(result.outputs.outcome).toBe('rolled-back');
      expect(result.outputs['failed-step']).toBe('1');
      expect(result.outputs['final-weight']).toBe('0');
      expect(result.exitCode).toBe(1);
      expect(result.error).toContain('rolled-back');
      expect(result.stdout).toMatch(
        /latency \[technical\]: .*Mann-Whitney: P\(canary worse\) − 0\.5 > 0\.05 at α=0\.01 → fail/,
      );
      expect(world.weight()).toBe(0);
      expect(readFileSync(world.include, 'utf8')).toMatch(new RegExp(`server ${world.canary.address} down;`));
    } finally {
      await load.stop();
    }
  });

  it('rolls back at 50% when errors start there', async () => {
    await world.reset('errors');
    const load = world.load(100);
    const watcher = until(() => world.weight() === 50, 30_000).then((reached) => {
      if (reached) world.canary.setErrorRate(0.3);
    });
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: { ...world.inputs('errors'), ...FAST, steps: '10%, 50%, 100%' },
      });
      await watcher;
      expect(result.outputs.outcome).toBe('rolled-back');
      expect(result.outputs['failed-step']).toBe('2');
      const report = JSON.parse(result.outputs.report!) as {
        windows: Array<{ weight: number; verdict: string }>;
      };
      expect(report.windows.map((w) => [w.weight, w.verdict])).toEqual([
        [10, 'pass'],
        [50, 'fail'],
      ]);
      expect(result.stdout).toContain('a critical metric failed at 50%');
      expect(world.weight()).toBe(0);
    } finally {
      await load.stop();
    }
  });

  it('ends inconclusive, not promoted, when there is no traffic', async () => {
    await world.reset('idle');
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { ...world.inputs('idle'), ...FAST, steps: '10%, 100%', 'fail-on-rollback': 'false' },
    });
    expect(result.exitCode).toBe(0);
    expect(result.outputs.outcome).toBe('inconclusive');
    expect(result.outputs['final-weight']).toBe('0');
    expect(result.stdout).toContain('too little traffic');
    expect(world.weight()).toBe(0);
  });

  it('restores stable from the post step when the action process is killed mid-rollout', async () => {
    await world.reset('killed');
    const load = world.load(100);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: { ...world.inputs('killed'), ...FAST, steps: '10%, 50%, 100%' },
        killWhenStdout: 'nginx reloaded: canary 50%',
      });
      expect(result.signal).toBe('SIGKILL');
      expect(result.outputs.outcome).toBeUndefined();
      expect(result.post?.exitCode).toBe(0);
      expect(result.post?.stdout).toContain('100% stable restored by the post step');
      expect(world.weight()).toBe(0);
      // nginx serves stable only again, once the reloaded workers took over.
      expect(await stableOnly(world)).toBe(true);
    } finally {
      await load.stop();
    }
  });

  it('pauses at the manual gate, then a second run with action resume continues to 100%', async () => {
    await world.reset('gate');
    const load = world.load(100);
    try {
      const inputs = { ...world.inputs('gate'), ...FAST, steps: '10%, 50%, 100%', 'pause-at': '10%' };
      const paused = await runStep({ action: 'canary-deploy', inputs });
      expect(paused.exitCode).toBe(0);
      expect(paused.outputs.outcome).toBe('paused');
      expect(paused.outputs['final-weight']).toBe('10');
      expect(paused.post?.stdout).toContain('nothing to restore');
      expect(world.weight()).toBe(10);
      const resumed = await runStep({ action: 'canary-deploy', inputs: { ...inputs, action: 'resume' } });
      expect(resumed.outputs.outcome).toBe('promoted');
      expect(resumed.stdout).toContain('Resuming from 10%: next step 50%.');
      const report = JSON.parse(resumed.outputs.report!) as { windows: Array<{ weight: number }> };
      expect(report.windows.map((w) => w.weight)).toEqual([50]);
      expect(world.weight()).toBe(100);
    } finally {
      await load.stop();
    }
  });

  it('returns to 100% stable when the job is cancelled mid-rollout', async () => {
    await world.reset('cancelled');
    const load = world.load(100);
    const atTen = until(() => world.weight() === 10, 20_000);
    try {
      const started = runStep({
        action: 'canary-deploy',
        inputs: { ...world.inputs('cancelled'), ...FAST, interval: '10s', steps: '10%, 50%, 100%' },
        cancelAfterMs: 4000,
      });
      expect(await atTen).toBe(true);
      const result = await started;
      expect(result.exitCode).toBe(1);
      expect(result.error).toContain('was cancelled (SIGINT)');
      expect(result.stdout).toContain('Rolling back to 100%25 stable');
      // The kit ends a cancelled step at once; the post step finishes the rollback whatever the main step got to.
      expect(result.post?.exitCode).toBe(0);
      expect(world.weight()).toBe(0);
      expect(await stableOnly(world)).toBe(true);
    } finally {
      await load.stop();
    }
  });

  it('reads NaN, empty results and bad_data from the real Prometheus HTTP API', async () => {
    const client = new PrometheusClient({ url: world.prometheus.url });
    const nan = await client.query('0/0');
    expect(nan).toHaveLength(1);
    expect(nan[0]!.value).toBeNaN();
    expect(await client.query('no_such_metric_anywhere')).toEqual([]);
    expect(await client.scalar('no_such_metric_anywhere')).toEqual({ value: Number.NaN, series: 0 });
    const up = await client.queryRange('up', { start: Date.now() - 5000, end: Date.now(), stepMs: 1000 });
    expect(up.length).toBeGreaterThan(0);
    expect(up[0]!.values[0]![1]).toBe(1);
    await expect(client.query('sum(rate(x[5m])')).rejects.toThrow(
      /Prometheus rejected the query \(bad_data: .*\): sum\(rate\(x\[5m\]\)$/,
    );
  });

  it('bad input: PromQL that Prometheus rejects fails at once with the 400 bad_data error and the query', async () => {
    await world.reset('badquery');
    const load = world.load(50);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: {
          ...world.inputs('badquery'),
          ...FAST,
          steps: '10%, 100%',
          metrics:
            '- name: feedback\n  class: business\n  query: sum(rate(feedback_total{$selector}[$window])\n  min: 0.5',
        },
      });
      expect(result.exitCode).toBe(1);
      // Both tracks are queried at once: whichever answer arrives first is the error reported.
      expect(result.error).toMatch(
        /Prometheus rejected the query \(bad_data: .*\): sum\(rate\(feedback_total\{track="(canary|stable)-badquery"\}\[3s\]\)$/,
      );
      expect(result.outputs.outcome).toBeUndefined();
      expect(world.weight()).toBe(0);
    } finally {
      await load.stop();
    }
  });

  it('bad input: a selector that matches no series ends inconclusive with a hint', async () => {
    await world.reset('noseries');
    const load = world.load(50);
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: {
          ...world.inputs('noseries'),
          ...FAST,
          steps: '10%, 100%',
          'canary-selector': 'track="nope"',
        },
      });
      expect(result.outputs.outcome).toBe('inconclusive');
      expect(result.stdout).toContain(
        'hint: no series matched http_requests_total{track="nope"} in the last 6h: check canary-selector',
      );
      expect(world.weight()).toBe(0);
    } finally {
      await load.stop();
    }
  });

  it('bad input: an nginx config that fails nginx -t reloads nothing and leaves stable untouched', async () => {
    await world.reset('nginxt');
    const before = readFileSync(world.include, 'utf8');
    // Every upstream input is validated before nginx sees it, so the broken part is elsewhere in the
    // configuration nginx -t reads: a copy of the main file with a directive nginx does not know.
    const inputs = world.inputs('nginxt');
    const broken = join(dirname(String(inputs['nginx-conf'])), 'broken.conf');
    writeFileSync(
      broken,
      `${readFileSync(String(inputs['nginx-conf']), 'utf8')}\nmlops_no_such_directive on;\n`,
    );
    const result = await runStep({
      action: 'canary-deploy',
      inputs: { ...inputs, ...FAST, 'nginx-conf': broken },
    });
    expect(result.exitCode).toBe(1);
    expect(result.error).toMatch(
      /nginx rejected the configuration with the canary at 10% \(.*unknown directive.*\); the previous .*canary.conf is back and nothing was reloaded/,
    );
    expect(readFileSync(world.include, 'utf8')).toBe(before);
    expect(await stableOnly(world)).toBe(true);
  });

  // Last: it stops the shared Prometheus.
  it('rolls back after the consecutive-error limit when Prometheus stops mid-analysis', async () => {
    await world.reset('flaky');
    const load = world.load(100);
    const stopper = until(() => world.weight() === 50, 30_000).then(async (reached) => {
      if (reached) await world.prometheus.stop();
    });
    try {
      const result = await runStep({
        action: 'canary-deploy',
        inputs: {
          ...world.inputs('flaky'),
          ...FAST,
          steps: '10%, 50%, 100%',
          'consecutive-error-limit': '1',
        },
      });
      await stopper;
      expect(result.outputs.outcome).toBe('rolled-back');
      expect(result.outputs['failed-step']).toBe('2');
      const report = JSON.parse(result.outputs.report!) as {
        windows: Array<{ weight: number; verdict: string }>;
      };
      expect(report.windows.map((w) => [w.weight, w.verdict])).toEqual([
        [10, 'pass'],
        [50, 'error'],
        [50, 'error'],
      ]);
      expect(result.stdout).toContain('consecutive-error-limit 1');
      expect(world.weight()).toBe(0);
    } finally {
      await load.stop();
    }
  });
});
