import { writeFileSync } from 'node:fs';

/** Mulberry32: a small seeded generator, so every test writes the same data on every machine. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function normal(random: () => number): number {
  const u = 1 - random();
  const v = random();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

function poisson(random: () => number, lambda: number): number {
  const l = Math.exp(-lambda);
  let k = 0;
  let p = 1;
  do {
    k++;
    p *= random();
  } while (p > l);
  return k - 1;
}

export type UserRow = {
  user_id: string;
  variant: string;
  impressions: number;
  clicks: number;
  session_seconds: number;
  pre_session_seconds: number;
  latency_ms: number;
  converted: number;
};

export interface Scenario {
  seed?: number;
  control?: number;
  treatment?: number;
  /** Relative lift of the click probability in the treatment. */
  ctrLift?: number;
  /** Relative change of session duration in the treatment. */
  sessionLift?: number;
  latencyLift?: number;
  conversionLift?: number;
}

/** Per-user rows of a recommender experiment: v1 (control) against v2 (treatment). */
export function users(s: Scenario = {}): UserRow[] {
  const random = rng(s.seed ?? 1);
  const rows: UserRow[] = [];
  const arms: Array<[string, number, boolean]> = [
    ['v1', s.control ?? 4000, false],
    ['v2', s.treatment ?? 4000, true],
  ];
  let id = 0;
  for (const [variant, n, treated] of arms) {
    for (let k = 0; k < n; k++) {
      const impressions = 1 + poisson(random, 9);
      const p = 0.08 * (treated ? 1 + (s.ctrLift ?? 0) : 1);
      let clicks = 0;
      for (let j = 0; j < impressions; j++) if (random() < p) clicks++;
      const habit = Math.exp(5.3 + 0.6 * normal(random));
      const pre = Math.round(habit * Math.exp(0.3 * normal(random)) * 10) / 10;
      const session =
        Math.round(habit * Math.exp(0.3 * normal(random)) * (treated ? 1 + (s.sessionLift ?? 0) : 1) * 10) /
        10;
      const latency =
        Math.round((120 + 25 * normal(random)) * (treated ? 1 + (s.latencyLift ?? 0) : 1) * 100) / 100;
      const converted = random() < 0.1 * (treated ? 1 + (s.conversionLift ?? 0) : 1) ? 1 : 0;
      rows.push({
        user_id: `u${String(id++).padStart(6, '0')}`,
        variant,
        impressions,
        clicks,
        session_seconds: session,
        pre_session_seconds: pre,
        latency_ms: latency,
        converted,
      });
    }
  }
  // Interleave the arms as an assignment log would.
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rows[i], rows[j]] = [rows[j]!, rows[i]!];
  }
  return rows;
}

export function toCsv(rows: Array<Record<string, unknown>>): string {
  const columns = Object.keys(rows[0]!);
  return `${columns.join(',')}\n${rows.map((r) => columns.map((c) => String(r[c])).join(',')).join('\n')}\n`;
}

export function writeCsv(path: string, rows: Array<Record<string, unknown>>): string {
  writeFileSync(path, toCsv(rows));
  return path;
}

/** One row per impression (click 0/1), plus the user's session and latency on the first row. */
export function events(rows: UserRow[]): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const r of rows) {
    for (let j = 0; j < r.impressions; j++) {
      out.push({
        user_id: r.user_id,
        variant: r.variant,
        impression: 1,
        click: j < r.clicks ? 1 : 0,
        session_seconds: j === 0 ? r.session_seconds : 0,
        pre_session_seconds: j === 0 ? r.pre_session_seconds : 0,
        converted: j === 0 ? r.converted : 0,
      });
    }
  }
  return out;
}

/** The recommender experiment of the user story, as the action's experiment input. */
export const EXPERIMENT = `
name: recommender-v2
unit: user_id
variant: variant
control: v1
treatment: v2
split: { v1: 50, v2: 50 }
mde: 0.05
metrics:
  - name: ctr
    kind: ratio
    numerator: clicks
    denominator: impressions
    role: primary
    group: business
  - name: session_duration
    kind: mean
    column: session_seconds
    pre: pre_session_seconds
    role: guardrail
    margin: 0.02
    group: business
  - name: conversion
    kind: proportion
    column: converted
    role: secondary
    group: business
  - name: latency_ms
    kind: mean
    column: latency_ms
    role: guardrail
    direction: decrease
    margin: 0.05
    group: technical
`;
