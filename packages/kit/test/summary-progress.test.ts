import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Progress } from '../src/progress';
import { SUMMARY_LIMIT_BYTES, Summary, truncateUtf8 } from '../src/summary';

describe('Summary', () => {
  it('appends its markdown once and stays under 1024 KiB', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'summary-')), 'summary.md');
    const summary = new Summary();
    summary.add('# Title').add(`${'ü'.repeat(100)}\n`.repeat(10_000));
    summary.write(file);
    summary.write(file);
    const text = readFileSync(file, 'utf8');
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(SUMMARY_LIMIT_BYTES);
    expect(text.startsWith('# Title')).toBe(true);
    expect(text.trimEnd().endsWith('_Summary truncated: it exceeded 1024 KiB._')).toBe(true);
    expect(text).not.toContain('\uFFFD');
  });

  it('leaves short text alone', () => {
    expect(truncateUtf8('abc', 10, 'cut')).toBe('abc');
  });
});

describe('Progress', () => {
  it('logs counts, bytes, rate and ETA at most once per interval', () => {
    let now = 0;
    const lines: string[] = [];
    const progress = new Progress({
      label: 'download',
      total: 4,
      totalBytes: 4_000_000,
      unit: 'files',
      intervalMs: 1000,
      log: (line) => lines.push(line),
      now: () => now,
    });
    now = 500;
    progress.tick(1, 1_000_000);
    expect(lines).toHaveLength(0);
    now = 1000;
    progress.tick(1, 1_000_000);
    expect(lines).toEqual(['download: 2/4 files, 2.0 MB/4.0 MB, 2.0 MB/s, ETA 1s']);
    now = 2000;
    progress.tick(2, 2_000_000);
    expect(progress.done()).toBe('download: 4/4 files, 4.0 MB/4.0 MB, 2.0 MB/s, in 2s');
  });
});
