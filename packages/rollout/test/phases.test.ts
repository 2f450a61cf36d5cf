import { describe, expect, it } from 'vitest';
import type { WindowJudgement } from '../src/judge';
import { checkSteps, type PhaseConfig, planSteps, runPhases } from '../src/phases';
import { QueryError } from '../src/prometheus';
import type { Router } from '../src/routers/router';

class RecordingRouter implements Router {
  readonly kind = 'memory';
  weights: number[] = [];
  describe() {
    return 'memory';
  }
  async setWeight(w: number) {
    this.weights.push(w);
  }
  async current() {
    return this.weights[this.weights.length - 1];
  }
  async rollback() {
    this.weights.push(0);
  }
  async promote() {
    this.weights.push(100);
  }
}

const base: PhaseConfig = {
  steps: [10, 50, 100],
  intervalMs: 1,
  count: 2,
  initialDelayMs: 0,
  failureLimit: 0,
  inconclusiveLimit: 1,
  consecutiveErrorLimit: 2,
};

type Script = Array<WindowJudgement['verdict'] | 'error' | 'critical' | 'bad-query'>;

function run(script: Script, config: Partial<PhaseConfig> = {}, signal = new AbortController().signal) {
  const router = new RecordingRouter();
  const saved: number[] = [];
  const lines: string[] = [];
  let i = 0;
  const promise = runPhases(
    { ...base, ...config },
    {
      router,
      log: (l) => lines.push(l),
      warn: (l) => lines.push(l),
      signal,
      onWeight: (w) => saved.push(w),
      sleep: async () => undefined,
      evaluate: async () => {
        const next = script[i++] ?? 'pass';
        if (next === 'error') throw new Error('connection refused');
        if (next === 'bad-query') throw new QueryError('sum(', 'bad_data', 'parse error');
        const verdict = next === 'critical' ? 'fail' : next;
        return { verdict, metrics: [], classes: {}, critical: next === 'critical', reason: next, hints: [] };
      },
    },
  );
  return { promise, router, saved, lines };
}

describe('phase state machine', () => {
  it('walks every step with count passing windows each, then promotes', async () => {
    const { promise, router, saved } = run([]);
    const result = await promise;
    expect(result.outcome).toBe('promoted');
    expect(router.weights).toEqual([10, 50, 100]);
    expect(result.windows.map((w) => w.weight)).toEqual([10, 10, 50, 50]);
    expect(saved[saved.length - 1]).toBe(100);
  });

  it('rolls back on the first failure with failure-limit 0 and names the step', async () => {
    const { promise, router } = run(['pass', 'pass', 'fail']);
    const result = await promise;
    expect(result.outcome).toBe('rolled-back');
    expect(result.failedStep).toEqual({ index: 2, weight: 50 });
    expect(router.weights).toEqual([10, 50, 0]);
  });

  it('tolerates failures up to failure-limit but not a critical one', async () => {
    expect((await run(['fail', 'pass', 'pass'], { failureLimit: 1 }).promise).outcome).toBe('promoted');
    const critical = await run(['critical'], { failureLimit: 5 }).promise;
    expect(critical.outcome).toBe('rolled-back');
    expect(critical.reason).toContain('critical');
  });

  it('does not pass on silence: inconclusive windows never count as passes and end as inconclusive beyond the limit', async () => {
    const { promise, router } = run(['inconclusive', 'inconclusive'], { inconclusiveLimit: 1 });
    const result = await promise;
    expect(result.outcome).toBe('inconclusive');
    expect(router.weights).toEqual([10, 0]);
    expect(result.finalWeight).toBe(0);
  });

  it('rides out errors up to consecutive-error-limit, and rolls back beyond it', async () => {
    expect((await run(['error', 'error', 'pass', 'error', 'pass']).promise).outcome).toBe('promoted');
    const tooMany = await run(['pass', 'error', 'error', 'error']).promise;
    expect(tooMany.outcome).toBe('rolled-back');
    expect(tooMany.windows.filter((w) => w.verdict === 'error')).toHaveLength(3);
  });

  it('fails fast on a query Prometheus rejects, after restoring stable', async () => {
    const { promise, router } = run(['bad-query']);
    await expect(promise).rejects.toThrow(/sum\(/);
    expect(router.weights).toEqual([10, 0]);
  });

  it('pauses at pause-at once that step passed', async () => {
    const { promise, router } = run([], { pauseAt: 10 });
    const paused = await promise;
    expect(paused.outcome).toBe('paused');
    expect(paused.finalWeight).toBe(10);
    expect(router.weights).toEqual([10]);
  });

  it('restores stable when cancelled mid-window', async () => {
    const controller = new AbortController();
    const router = new RecordingRouter();
    const promise = runPhases(base, {
      router,
      log: () => undefined,
      warn: () => undefined,
      signal: controller.signal,
      onWeight: () => undefined,
      evaluate: async () => ({
        verdict: 'pass',
        metrics: [],
        classes: {},
        critical: false,
        reason: '',
        hints: [],
      }),
      sleep: (_ms, signal) =>
        new Promise((_, reject) => {
          signal.addEventListener('abort', () => reject(new Error('cancelled')));
          controller.abort();
        }),
    });
    await expect(promise).rejects.toThrow('cancelled');
    expect(router.weights).toEqual([10, 0]);
  });
});

describe('analysis scope', () => {
  async function ranges(scope: 'window' | 'step') {
    let clock = 0;
    const seen: number[] = [];
    await runPhases(
      { ...base, intervalMs: 1000, count: 3, steps: [10, 100], scope },
      {
        router: new RecordingRouter(),
        log: () => undefined,
        warn: () => undefined,
        signal: new AbortController().signal,
        onWeight: () => undefined,
        now: () => clock,
        sleep: async (ms) => {
          clock += ms;
        },
        evaluate: async (_w, rangeMs) => {
          seen.push(rangeMs);
          return { verdict: 'pass', metrics: [], classes: {}, critical: false, reason: '', hints: [] };
        },
      },
    );
    return seen;
  }

  it('judges each window on its interval, or on everything since the step began', async () => {
    expect(await ranges('window')).toEqual([1000, 1000, 1000]);
    expect(await ranges('step')).toEqual([1000, 2000, 3000]);
  });
});

describe('steps', () => {
  it('plans from a list, from step-weight/max-weight, and appends 100%', () => {
    expect(planSteps([10, 25, 50])).toEqual([10, 25, 50, 100]);
    expect(planSteps(undefined, 20, 60)).toEqual([20, 40, 60, 100]);
    expect(planSteps(undefined)).toEqual([10, 25, 50, 100]);
  });

  it('rejects weights that do not increase or leave 0–100', () => {
    expect(checkSteps([10, 50, 25, 100])).toMatch(/must increase, but 25% follows 50%/);
    expect(checkSteps([10, 150])).toMatch(/150%/);
    expect(checkSteps([0, 100])).toMatch(/above 0%/);
    expect(checkSteps([10, 100])).toBeUndefined();
  });
});
