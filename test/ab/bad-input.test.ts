import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXPERIMENT, toCsv, type UserRow, users, writeCsv } from './data';
import { evaluate, metric, workspace } from './helpers';

/** The standard experiment on small data, with one thing broken per test. */
async function run(rows: Array<Record<string, unknown>>, experiment = EXPERIMENT, csv?: string) {
  const dir = workspace();
  if (csv !== undefined) writeFileSync(join(dir, 'users.csv'), csv);
  else writeCsv(join(dir, 'users.csv'), rows);
  return evaluate(dir, { experiment, data: 'users.csv' });
}

const base = (): UserRow[] => users({ seed: 5, control: 1500, treatment: 1500, ctrLift: 0.3 });

describe('ab-evaluate bad input', () => {
  it('an unknown column fails naming the column, its role and the columns the data has', async () => {
    const step = await run(base(), EXPERIMENT.replace('numerator: clicks', 'numerator: clikcs'));
    expect(step.exitCode).toBe(1);
    expect(step.error).toMatch(
      /column 'clikcs' \(metric 'ctr' numerator\) is not in the data; the data has: user_id, variant, impressions, clicks/,
    );
  });

  it('a variant name absent from the data fails naming it and the variants found', async () => {
    const step = await run(
      base(),
      EXPERIMENT.replace('treatment: v2', 'treatment: B').replace('v2: 50', 'B: 50'),
    );
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe(
      "Input 'experiment': variant 'B' (treatment) is not in the data column 'variant'; found: v1 (1,500), v2 (1,500)",
    );
  });

  it('one arm empty makes the experiment invalid (missing data)', async () => {
    const step = await run(base().filter((r) => r.variant === 'v1'));
    expect(step.exitCode).toBe(0);
    expect(step.result.decision).toBe('invalid');
    expect(step.result.reasons).toContain("variant 'v2' has no units in the data");
  });

  it('a non-numeric value in a metric column fails naming the column and the first bad row', async () => {
    const rows = base();
    const csv = toCsv(rows).split('\n');
    // Data row 37 is line 38 of the file (after the header); row 90 is bad too but comes later.
    csv[37] = csv[37]!.replace(/,(\d+),(\d+),/, ',$1,n/a,');
    csv[90] = csv[90]!.replace(/,(\d+),(\d+),/, ',$1,oops,');
    const step = await run([], EXPERIMENT, csv.join('\n'));
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe(
      `Input 'data': column 'clicks' holds a non-numeric value "n/a" at row 37 (line 38), unit "${rows[36]!.user_id}"; metric columns must be numbers`,
    );
  });

  it('a zero-variance metric is reported with a warning and does not block the decision', async () => {
    const rows = base().map((r) => ({ ...r, errors: 0, build: 7 }));
    const experiment = `${EXPERIMENT}
  - name: error_rate
    kind: mean
    column: errors
    role: guardrail
    direction: decrease
    margin: 0.01
    group: technical
  - name: build
    kind: mean
    column: build
    role: secondary
`;
    const step = await run(rows, experiment);
    expect(step.exitCode).toBe(0);
    const errors = metric(step.result, 'error_rate');
    expect(errors.warning).toMatch(/zero for every unit/);
    expect(errors.nonInferiority!.status).toBe('pass');
    const build = metric(step.result, 'build');
    expect(build.warning).toMatch(/zero variance in both arms/);
    expect(build.effect).toBe(0);
    expect(build.pValue).toBe(1);
    const without = await run(base());
    expect(step.result.decision).toBe(without.result.decision);
    expect(step.stdout).toMatch(/::warning::'build' has zero variance/);
  });

  it('an empty (0-byte) file says it is empty; a header-only file says there are no rows', async () => {
    const empty = await run([], EXPERIMENT, '');
    expect(empty.exitCode).toBe(1);
    expect(empty.error).toMatch(/^Input 'data': data file \S*users\.csv is empty \(0 bytes\)$/);
    const header = await run(
      [],
      EXPERIMENT,
      'user_id,variant,impressions,clicks,session_seconds,pre_session_seconds,converted,latency_ms\n',
    );
    expect(header.exitCode).toBe(1);
    expect(header.error).toBe(
      "Input 'data': the data has no rows (a header or schema only); nothing to evaluate",
    );
  });

  it('relative numbers may be percentages: margin: 2% is margin: 0.02', async () => {
    const rows = base();
    const asFraction = await run(rows);
    const asPercent = await run(
      rows,
      EXPERIMENT.replace('margin: 0.02', 'margin: 2%').replace('mde: 0.05', 'mde: 5%'),
    );
    expect(asPercent.exitCode).toBe(0);
    expect(metric(asPercent.result, 'session_duration').nonInferiority).toEqual(
      metric(asFraction.result, 'session_duration').nonInferiority,
    );
    const bad = await run(rows, EXPERIMENT.replace('margin: 0.02', 'margin: two percent'));
    expect(bad.exitCode).toBe(1);
    expect(bad.error).toBe(
      "Input 'experiment': metrics.1.margin: expected a number such as 0.02 or a percentage such as 2%",
    );
  });

  it('a proportion over a column that is not 0/1 is untestable with the cause, never NaN; as primary it makes the experiment invalid', async () => {
    const rows = base().map((r) => ({ ...r, converted: r.converted * 3 }));
    const step = await run(rows);
    expect(step.exitCode).toBe(0);
    const conversion = metric(step.result, 'conversion');
    expect(conversion.error).toBe(
      "column 'converted' holds values other than 0 and 1, so it is not a proportion (use kind: mean)",
    );
    expect(conversion.pValue).toBeNull();
    expect(conversion.relativeCi).toBeNull();
    const primary = await run(
      rows,
      EXPERIMENT.replace('role: primary', 'role: secondary').replace(
        'column: converted\n    role: secondary',
        'column: converted\n    role: primary',
      ),
    );
    expect(primary.exitCode).toBe(0);
    expect(primary.result.decision).toBe('invalid');
    expect(primary.result.reasons).toContain(
      "primary metric 'conversion' cannot be computed: column 'converted' holds values other than 0 and 1, so it is not a proportion (use kind: mean)",
    );
  });

  it('a denominator summing to zero in an arm makes the experiment invalid, naming the column and variant', async () => {
    const rows = base().map((r) => (r.variant === 'v2' ? { ...r, impressions: 0, clicks: 0 } : r));
    const step = await run(rows);
    expect(step.exitCode).toBe(0);
    expect(step.result.decision).toBe('invalid');
    expect(metric(step.result, 'ctr').error).toBe("denominator 'impressions' sums to zero in variant 'v2'");
    expect(step.result.reasons.join(' ')).toContain("primary metric 'ctr' cannot be computed");
  });

  it('units in more than one variant are reported and make the experiment invalid', async () => {
    const rows = base();
    const dupes = rows
      .filter((r) => r.variant === 'v1')
      .slice(0, 7)
      .map((r) => ({ ...r, variant: 'v2' }));
    const step = await run([...rows, ...dupes]);
    expect(step.exitCode).toBe(0);
    expect(step.result['duplicate-units']).toBe(7);
    expect(step.result.decision).toBe('invalid');
    expect(step.result.reasons).toContain('7 unit(s) appear in more than one variant');
    expect(step.result.query).toMatch(/MIN\(v\) AS lo, MAX\(v\) AS hi/);
  });

  it('per-event data finds units in more than one variant in its own per-unit pass and leaves them out', async () => {
    const rows = base();
    const dupes = rows
      .filter((r) => r.variant === 'v1')
      .slice(0, 5)
      .map((r) => ({ ...r, variant: 'v2' }));
    const step = await run(
      [...rows, ...dupes],
      EXPERIMENT.replace('unit: user_id', 'unit: user_id\ngranularity: event'),
    );
    expect(step.result['duplicate-units']).toBe(5);
    expect(step.result.decision).toBe('invalid');
    expect(metric(step.result, 'ctr').control.units).toBe(1495);
  });

  it('per-user data with several rows for one unit in one variant is invalid', async () => {
    const rows = base();
    const step = await run([...rows, ...rows.slice(0, 4)]);
    expect(step.result['duplicate-units']).toBe(0);
    expect(step.result.decision).toBe('invalid');
    expect(step.result.reasons).toContain(
      '4 unit(s) have several rows in per-user data (one row per unit, or granularity: event)',
    );
  });

  it('a malformed memory-limit fails naming the input and what it accepts', async () => {
    const dir = workspace();
    writeCsv(join(dir, 'users.csv'), base());
    const step = await evaluate(dir, { experiment: EXPERIMENT, data: 'users.csv', 'memory-limit': 'lots' });
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe('Input \'memory-limit\': expected a size such as 1GB or 512MB (got "lots")');
  });

  it('an experiment definition without a primary metric fails naming the input', async () => {
    const step = await run(base(), EXPERIMENT.replace('role: primary', 'role: secondary'));
    expect(step.exitCode).toBe(1);
    expect(step.error).toBe("Input 'experiment': exactly one metric needs role: primary (found 0)");
  });
});
