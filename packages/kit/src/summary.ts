import { appendFileSync } from 'node:fs';
import { redactUrls } from './secrets';

/** GitHub refuses a step summary above 1024 KiB. */
export const SUMMARY_LIMIT_BYTES = 1024 * 1024;

/** Cuts text to at most `limit` UTF-8 bytes at a line boundary and says that it did. */
export function truncateUtf8(text: string, limit: number, note: string): string {
  if (Buffer.byteLength(text) <= limit) return text;
  const budget = limit - Buffer.byteLength(note) - 2;
  let cut = Buffer.from(text).subarray(0, Math.max(budget, 0)).toString('utf8');
  cut = cut.replace(/\uFFFD$/, '');
  const lastNewline = cut.lastIndexOf('\n');
  if (lastNewline > budget / 2) cut = cut.slice(0, lastNewline);
  return `${cut}\n\n${note}`;
}

/** Collects markdown for the job summary and writes it once, within GitHub's size limit. */
export class Summary {
  private readonly parts: string[] = [];

  /** Adds markdown; URLs in it lose their credentials, so no caller can leak them by mistake. */
  add(markdown: string): this {
    this.parts.push(redactUrls(markdown));
    return this;
  }

  /** True when this markdown was already added (a report the action also tried to comment). */
  has(markdown: string): boolean {
    return this.parts.includes(redactUrls(markdown));
  }

  get text(): string {
    return this.parts.join('\n\n');
  }

  get isEmpty(): boolean {
    return this.parts.length === 0;
  }

  write(path = process.env.GITHUB_STEP_SUMMARY): void {
    if (!path || this.isEmpty) return;
    const body = truncateUtf8(
      `${this.text}\n`,
      SUMMARY_LIMIT_BYTES,
      '_Summary truncated: it exceeded 1024 KiB._',
    );
    appendFileSync(path, body);
    this.parts.length = 0;
  }
}
