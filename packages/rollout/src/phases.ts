import { ActionError, errorMessage } from '@mlops-actions/kit';
import {
  formatValue,
  type MetricResult,
  type Verdict,
  type WindowJudgement,
  type WindowVerdict,
} from './judge';
import { QueryError } from './prometheus';
import type { Router } from './routers/router';

export type Outcome = 'promoted' | 'rolled-back' | 'paused' | 'inconclusive';

export interface PhaseConfig {
  /** Canary weights in percent, strictly increasing, ending at 100. */
  steps: number[];
  intervalMs: number;
  /** Passing windows needed at each step before the next. */
  count: number;
  initialDelayMs: number;
  /** Stop after this weight's analysis passes; a later run resumes. */
  pauseAt?: number;
  failureLimit: number;
  inconclusiveLimit: number;
  consecutiveErrorLimit: number;
  /**
   * `window`: each window judged on its own interval of data; `step`: on everything since the step's
   * analysis began (more requests per verdict; later looks at growing data, so keep alpha small).
   */
  scope?: 'window' | 'step';
}

export interface WindowRecord {
  step: number;
  weight: number;
  window: number;
  startedAt: number;
  endedAt: number;
  verdict: WindowVerdict;
  reason: string;
  metrics: MetricResult[];
  classes: WindowJudgement['classes'];
  hints: string[];
}

export interface RolloutResult {
  outcome: Outcome;
  finalWeight: number;
  /** 1-based index of the step that failed, and its weight. */
  failedStep?: { index: number; weight: number };
  reason: string;
  windows: WindowRecord[];
  startedAt: number;
  endedAt: number;
}

export type Evaluate = (
  weight: number,
  windowMs: number,
  signal: AbortSignal,
) => Promise<WindowJudgement & { hints: string[] }>;

export interface RolloutEvent {
  kind: 'step' | 'verdict' | 'rollback' | 'promoted' | 'paused';
  weight: number;
  /** One line for people: what happened and why. */
  text: string;
  at: number;
}

export interface RolloutDeps {
  router: Router;
  evaluate: Evaluate;
  log: (line: string) => void;
  warn: (line: string) => void;
  signal: AbortSignal;
  /** Called after every change of weight, before anything else can fail (state for the post step). */
  onWeight: (weight: number) => void;
  /**
   * Told of every phase change, window verdict and rollback once it happened (dashboards annotate them);
   * awaited, so a listener should not throw.
   */
  onEvent?: (event: RolloutEvent) => Promise<void>;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  now?: () => number;
}

export function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Steps from `10%, 25%, 50%, 100%`, or from step-weight/max-weight; 100 is appended when missing. */
export function planSteps(listed: number[] | undefined, stepWeight?: number, maxWeight = 100): number[] {
  let steps: number[];
  if (listed && listed.length > 0) steps = [...listed];
  else if (stepWeight !== undefined) {
    steps = [];
    for (let w = stepWeight; w < maxWeight; w += stepWeight) steps.push(Number(w.toFixed(4)));
    steps.push(maxWeight);
  } else steps = [10, 25, 50, 100];
  if (steps[steps.length - 1] !== 100) steps.push(100);
  return steps;
}

/** Empty when the steps are valid, else what is wrong with them. */
export function checkSteps(steps: number[]): string | undefined {
  for (const [i, w] of steps.entries()) {
    if (!(w > 0 && w <= 100)) return `step ${i + 1} is ${w}%; each weight must be above 0% and at most 100%`;
    if (i > 0 && w <= steps[i - 1]!) return `weights must increase, but ${w}% follows ${steps[i - 1]}%`;
  }
  return undefined;
}

function windowLine(r: WindowRecord): string {
  const classes = Object.entries(r.classes)
    .map(([c, v]) => `${c} ${v}`)
    .join(', ');
  return `[step ${r.step} · ${r.weight}% · window ${r.window}] ${r.verdict.toUpperCase()}${classes ? ` (${classes})` : ''}: ${r.reason}`;
}

export function metricLine(m: MetricResult): string {
  const rules = m.rules.map((r) => `${r.rule} → ${r.verdict} (${r.detail})`).join('; ');
  return `    ${m.name} [${m.class}${m.critical ? ', critical' : ''}]: canary ${formatValue(m.canary)}, stable ${formatValue(m.stable)} | ${rules || 'no rule'}`;
}

/**
 * The phase state machine: for each step, set the weight, wait the initial delay, then judge windows of
 * `interval` until `count` of them pass. Limits end it: failures beyond failure-limit (or one critical
 * failure) and query errors in a row beyond consecutive-error-limit roll back; inconclusive windows beyond
 * inconclusive-limit end as inconclusive, also on stable. Any throw (crash, cancellation) rolls back too.
 */
export async function runPhases(
  config: PhaseConfig,
  deps: RolloutDeps,
  startIndex = 0,
): Promise<RolloutResult> {
  const sleep = deps.sleep ?? abortableSleep;
  const now = deps.now ?? Date.now;
  const windows: WindowRecord[] = [];
  const startedAt = now();
  let weight = 0;
  let failures = 0;
  let inconclusives = 0;
  let errorsInRow = 0;
  const finish = (
    outcome: Outcome,
    reason: string,
    failedStep?: RolloutResult['failedStep'],
  ): RolloutResult => ({
    outcome,
    finalWeight: weight,
    failedStep,
    reason,
    windows,
    startedAt,
    endedAt: now(),
  });
  const emit = async (kind: RolloutEvent['kind'], text: string) => {
    await deps.onEvent?.({ kind, weight, text, at: now() });
  };
  const rollback = async (why: string) => {
    deps.warn(`Rolling back to 100% stable: ${why}`);
    const t0 = now();
    await deps.router.rollback();
    weight = 0;
    deps.onWeight(0);
    deps.log(`Stable has 100% of traffic again (${now() - t0} ms after the decision).`);
    await emit('rollback', `canary rolled back to 0%: ${why}`);
  };
  try {
    for (let index = startIndex; index < config.steps.length; index++) {
      const target = config.steps[index]!;
      const step = index + 1;
      if (target >= 100) {
        deps.log(`Step ${step}: promoting the canary to 100%.`);
        await deps.router.promote(deps.signal);
        weight = 100;
        deps.onWeight(100);
        await emit('promoted', 'canary promoted to 100%: every step passed its analysis');
        return finish('promoted', 'every step passed its analysis');
      }
      deps.log(`Step ${step}: canary ${target}%, stable ${100 - target}% (${deps.router.describe()}).`);
      // Record the intent first: a crash between the change and the save must still roll back.
      deps.onWeight(target);
      await deps.router.setWeight(target, deps.signal);
      weight = target;
      await emit('step', `canary step ${step}: ${target}% of traffic`);
      if (config.initialDelayMs > 0) {
        deps.log(`Waiting ${config.initialDelayMs} ms before the first window.`);
        await sleep(config.initialDelayMs, deps.signal);
      }
      let passes = 0;
      let windowNo = 0;
      const analysisStart = now();
      while (passes < config.count) {
        windowNo++;
        const began = now();
        await sleep(config.intervalMs, deps.signal);
        const record: WindowRecord = {
          step,
          weight: target,
          window: windowNo,
          startedAt: began,
          endedAt: began,
          verdict: 'error',
          reason: '',
          metrics: [],
          classes: {},
          hints: [],
        };
        let judgement: (WindowJudgement & { hints: string[] }) | undefined;
        try {
          await deps.router.check?.(deps.signal);
        } catch (error) {
          if (deps.signal.aborted) throw error;
          record.verdict = 'fail';
          record.reason = errorMessage(error);
          record.endedAt = now();
          windows.push(record);
          deps.log(windowLine(record));
          await rollback(record.reason);
          return finish('rolled-back', record.reason, { index: step, weight: target });
        }
        try {
          const rangeMs =
            config.scope === 'step'
              ? Math.max(config.intervalMs, Math.round((now() - analysisStart) / 1000) * 1000)
              : config.intervalMs;
          judgement = await deps.evaluate(target, rangeMs, deps.signal);
        } catch (error) {
          // A query Prometheus rejects will be rejected again: only transient errors count against the limit.
          if (deps.signal.aborted || error instanceof QueryError) throw error;
          errorsInRow++;
          record.reason = `measurement failed (${errorsInRow} in a row, limit ${config.consecutiveErrorLimit}): ${errorMessage(error)}`;
        }
        record.endedAt = now();
        if (judgement) {
          errorsInRow = 0;
          record.verdict = judgement.verdict;
          record.reason = judgement.reason;
          record.metrics = judgement.metrics;
          record.classes = judgement.classes;
          record.hints = judgement.hints;
        }
        windows.push(record);
        deps.log(windowLine(record));
        for (const m of record.metrics) deps.log(metricLine(m));
        for (const hint of record.hints) deps.warn(`hint: ${hint}`);
        await emit(
          'verdict',
          `canary window ${record.window} at ${target}%: ${record.verdict} (${record.reason})`,
        );
        const verdict: WindowVerdict = record.verdict;
        if (verdict === 'error') {
          if (errorsInRow > config.consecutiveErrorLimit) {
            const why = `${errorsInRow} measurements in a row failed (consecutive-error-limit ${config.consecutiveErrorLimit})`;
            await rollback(why);
            return finish('rolled-back', why, { index: step, weight: target });
          }
          continue;
        }
        const v: Verdict = verdict;
        if (v === 'pass') passes++;
        if (v === 'fail') {
          failures++;
          if (judgement?.critical || failures > config.failureLimit) {
            const why = judgement?.critical
              ? `a critical metric failed at ${target}% (${record.reason})`
              : `${failures} failed window(s) (failure-limit ${config.failureLimit}); last: ${record.reason}`;
            await rollback(why);
            return finish('rolled-back', why, { index: step, weight: target });
          }
        }
        if (v === 'inconclusive') {
          inconclusives++;
          if (inconclusives > config.inconclusiveLimit) {
            const why = `${inconclusives} inconclusive window(s) (inconclusive-limit ${config.inconclusiveLimit}); last: ${record.reason}`;
            await rollback(why);
            return finish('inconclusive', why, { index: step, weight: target });
          }
        }
      }
      if (config.pauseAt !== undefined && target === config.pauseAt) {
        deps.log(
          `Paused at ${target}% as asked (pause-at); run again with action: resume to continue, or promote/abort.`,
        );
        await emit('paused', `canary paused at ${target}% for a manual decision`);
        return finish('paused', `paused at ${target}% for a manual decision`);
      }
    }
    throw new ActionError('the steps ended without reaching 100%');
  } catch (error) {
    try {
      await rollback(`the rollout stopped: ${errorMessage(error)}`);
    } catch (rollbackError) {
      deps.warn(`Rollback failed too (${errorMessage(rollbackError)}); the post step will try again.`);
    }
    throw error;
  }
}
