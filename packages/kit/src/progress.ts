import { formatBytes, formatDuration } from './parse';

export interface ProgressOptions {
  label: string;
  total?: number;
  totalBytes?: number;
  unit?: string;
  /** Minimum time between two log lines. */
  intervalMs?: number;
  log: (line: string) => void;
  now?: () => number;
}

/**
 * Counts items and bytes of long work and logs a line at most every `intervalMs`: done/total, bytes,
 * rate and an ETA from the rate so far.
 */
export class Progress {
  private count = 0;
  private bytes = 0;
  private readonly started: number;
  private lastLog: number;
  private readonly now: () => number;

  constructor(private readonly options: ProgressOptions) {
    this.now = options.now ?? Date.now;
    this.started = this.now();
    this.lastLog = this.started;
  }

  tick(count = 1, bytes = 0): void {
    this.count += count;
    this.bytes += bytes;
    const now = this.now();
    if (now - this.lastLog >= (this.options.intervalMs ?? 5000)) {
      this.lastLog = now;
      this.options.log(this.line());
    }
  }

  /** Logs and returns the final line. */
  done(): string {
    const line = this.line(true);
    this.options.log(line);
    return line;
  }

  get totals(): { count: number; bytes: number; elapsedMs: number } {
    return { count: this.count, bytes: this.bytes, elapsedMs: this.now() - this.started };
  }

  line(final = false): string {
    const { label, total, totalBytes, unit = 'items' } = this.options;
    const elapsed = Math.max(this.now() - this.started, 1);
    const parts = [total === undefined ? `${this.count} ${unit}` : `${this.count}/${total} ${unit}`];
    if (this.bytes > 0 || totalBytes) {
      parts.push(
        totalBytes ? `${formatBytes(this.bytes)}/${formatBytes(totalBytes)}` : formatBytes(this.bytes),
      );
      parts.push(`${formatBytes((this.bytes * 1000) / elapsed)}/s`);
    }
    if (final) {
      parts.push(`in ${formatDuration(elapsed)}`);
    } else {
      const fraction = totalBytes ? this.bytes / totalBytes : total ? this.count / total : 0;
      if (fraction > 0) parts.push(`ETA ${formatDuration((elapsed * (1 - fraction)) / fraction)}`);
    }
    return `${label}: ${parts.join(', ')}`;
  }
}
