import { ActionError } from '@mlops-actions/kit';
import type { KeyValue, Metric, WireMetricValue } from './types';

/** log-batch limits of the MLflow server (mlflow/utils/validation.py): exceeding one fails the whole batch. */
export const LIMITS = {
  metrics: 1000,
  params: 100,
  tags: 100,
  entities: 1000,
  /** Request body size. */
  bytes: 1024 * 1024,
  keyLength: 250,
  paramValueLength: 6000,
  tagValueLength: 5000,
} as const;

const KEY_PATTERN = /^[/\w.\- ]+$/;

/** Validates a param/tag/metric key as the server does, so the error comes before any request. */
export function validateKey(kind: 'param' | 'tag' | 'metric', key: string): void {
  if (typeof key !== 'string' || key.length === 0) throw new ActionError(`MLflow ${kind} key is empty`);
  if (key.length > LIMITS.keyLength) {
    throw new ActionError(
      `MLflow ${kind} key '${key.slice(0, 40)}…' has ${key.length} characters; the server accepts at most ${LIMITS.keyLength}`,
    );
  }
  if (
    !KEY_PATTERN.test(key) ||
    key.split('/').some((part) => part === '..' || part === '.') ||
    key.startsWith('/')
  ) {
    throw new ActionError(
      `MLflow ${kind} key '${key}' is not accepted: keys may only contain letters, digits, _ - . / and spaces (no '..' or leading '/')`,
    );
  }
}

/** MLflow turns non-finite numbers sent as JSON numbers into garbage: send them as protobuf-JSON strings. */
export function wireValue(value: number): WireMetricValue {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return 'Infinity';
  if (value === Number.NEGATIVE_INFINITY) return '-Infinity';
  return value;
}

/** Reads a metric value from the server: "NaN" strings and ±DBL_MAX (how the server stores ±Infinity). */
export function readWireValue(value: unknown): number {
  if (value === 'NaN') return Number.NaN;
  if (value === 'Infinity' || value === Number.MAX_VALUE) return Number.POSITIVE_INFINITY;
  if (value === '-Infinity' || value === -Number.MAX_VALUE) return Number.NEGATIVE_INFINITY;
  return typeof value === 'number' ? value : Number(value);
}

export interface WireMetric {
  key: string;
  value: WireMetricValue;
  timestamp: number;
  step: number;
}

export interface Batch {
  metrics: WireMetric[];
  params: KeyValue[];
  tags: KeyValue[];
}

export interface BatchInput {
  metrics?: Metric[];
  params?: KeyValue[];
  tags?: KeyValue[];
}

/** Checks everything the server would reject or silently alter; returns tags cut to the server's limit. */
export function validateBatch(input: BatchInput): {
  metrics: WireMetric[];
  params: KeyValue[];
  tags: KeyValue[];
} {
  const seen = new Map<string, string>();
  for (const p of input.params ?? []) {
    validateKey('param', p.key);
    const value = String(p.value);
    if (value.length > LIMITS.paramValueLength) {
      throw new ActionError(
        `MLflow param '${p.key}' is ${value.length} characters long; the server keeps only ${LIMITS.paramValueLength} and would truncate it silently: shorten it or log it as an artifact`,
      );
    }
    const before = seen.get(p.key);
    if (before !== undefined && before !== value) {
      throw new ActionError(
        `MLflow param '${p.key}' is given twice with different values ('${before}', '${value}')`,
      );
    }
    seen.set(p.key, value);
  }
  const params = [...seen.entries()].map(([key, value]) => ({ key, value }));
  const tags = (input.tags ?? []).map((t) => {
    validateKey('tag', t.key);
    const value = String(t.value);
    return {
      key: t.key,
      value: value.length > LIMITS.tagValueLength ? `${value.slice(0, LIMITS.tagValueLength - 1)}…` : value,
    };
  });
  const metrics = (input.metrics ?? []).map((m) => {
    validateKey('metric', m.key);
    if (typeof m.value !== 'number')
      throw new ActionError(`MLflow metric '${m.key}' has a value that is not a number: ${String(m.value)}`);
    if (!Number.isSafeInteger(m.timestamp))
      throw new ActionError(`MLflow metric '${m.key}' has an invalid timestamp ${m.timestamp}`);
    if (!Number.isSafeInteger(m.step))
      throw new ActionError(`MLflow metric '${m.key}' has a step that is not an integer: ${m.step}`);
    return { key: m.key, value: wireValue(m.value), timestamp: m.timestamp, step: m.step };
  });
  return { metrics, params, tags };
}

const sizeOf = (item: unknown) => Buffer.byteLength(JSON.stringify(item)) + 1;

/**
 * Splits validated entities into as few log-batch requests as the limits allow: each request takes up to
 * 100 params and 100 tags and fills the rest (up to 1000 entities and 1 MB) with metrics.
 */
export function planBatches(
  input: { metrics: WireMetric[]; params: KeyValue[]; tags: KeyValue[] },
  runId = 'x'.repeat(32),
): Batch[] {
  const batches: Batch[] = [];
  const overhead = Buffer.byteLength(JSON.stringify({ run_id: runId, metrics: [], params: [], tags: [] }));
  let p = 0;
  let t = 0;
  let m = 0;
  while (p < input.params.length || t < input.tags.length || m < input.metrics.length) {
    const batch: Batch = { metrics: [], params: [], tags: [] };
    let bytes = overhead;
    let count = 0;
    const take = <T>(list: T[], index: number, into: T[], limit: number): number => {
      let i = index;
      while (i < list.length && into.length < limit && count < LIMITS.entities) {
        const size = sizeOf(list[i]);
        if (bytes + size > LIMITS.bytes && count > 0) break;
        into.push(list[i]!);
        bytes += size;
        count++;
        i++;
      }
      return i;
    };
    p = take(input.params, p, batch.params, LIMITS.params);
    t = take(input.tags, t, batch.tags, LIMITS.tags);
    m = take(input.metrics, m, batch.metrics, LIMITS.metrics);
    batches.push(batch);
  }
  return batches;
}

/** The fewest log-batch requests the limits allow for these counts (ignoring the size limit). */
export function minimumBatches(metrics: number, params: number, tags: number): number {
  return Math.max(
    Math.ceil(metrics / LIMITS.metrics),
    Math.ceil(params / LIMITS.params),
    Math.ceil(tags / LIMITS.tags),
    Math.ceil((metrics + params + tags) / LIMITS.entities),
    metrics + params + tags > 0 ? 1 : 0,
  );
}
