/**
 * What the demo shows: one short progress line per step on the terminal, and every step's job summary
 * and would-be PR comment written to one output folder, from which the HTML page is made.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface StepRecord {
  story: string;
  title: string;
  ok: boolean;
  /** One line for the terminal: the figures that matter. */
  line: string;
  /** Markdown: the job summary GitHub would show on the run page. */
  summary: string;
  /** Markdown of the sticky PR comment the step would post, when it posts one. */
  comment?: string;
}

export interface Skipped {
  story: string;
  reason: string;
}

export class DemoRecord {
  readonly steps: StepRecord[] = [];
  readonly skipped: Skipped[] = [];
  /** Markdown sections written by the demo itself (reproducibility table, traffic shares). */
  readonly notes: Array<{ story: string; title: string; markdown: string }> = [];

  constructor(readonly outputDir: string) {
    mkdirSync(outputDir, { recursive: true });
  }

  step(record: StepRecord): void {
    this.steps.push(record);
    const n = String(this.steps.length).padStart(2, '0');
    const slug = `${n}-${record.title.replace(/[^a-z0-9]+/gi, '-').toLowerCase()}`;
    writeFileSync(join(this.outputDir, `${slug}.summary.md`), record.summary);
    if (record.comment) writeFileSync(join(this.outputDir, `${slug}.comment.md`), record.comment);
    console.log(`${record.ok ? '✓' : '✗'} [${record.story}] ${record.title}: ${record.line}`);
  }

  note(story: string, title: string, markdown: string): void {
    this.notes.push({ story, title, markdown });
    writeFileSync(
      join(this.outputDir, `${story.replace(/\W+/g, '-')}-${title.replace(/\W+/g, '-').toLowerCase()}.md`),
      markdown,
    );
  }

  skip(story: string, reason: string): void {
    this.skipped.push({ story, reason });
    console.log(`- [${story}] skipped: ${reason}`);
  }
}
