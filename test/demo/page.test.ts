import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { barChart, lineChart, table } from '@mlops-actions/report';
import { afterAll, describe, expect, it } from 'vitest';
import { writePage } from '../../scripts/demo/page';
import { DemoRecord } from '../../scripts/demo/record';

const run = promisify(execFile);
const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p)) ?? 'chromium';
const dirs: string[] = [];

afterAll(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

/** The DOM after the page's scripts ran, in headless Chromium with the network switched off. */
async function renderedDom(page: string): Promise<string> {
  const profile = mkdtempSync(join(tmpdir(), 'chromium-profile-'));
  dirs.push(profile);
  const { stdout } = await run(
    CHROMIUM,
    [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      `--user-data-dir=${profile}`,
      // Any request leaving the machine fails: the page must carry everything it needs.
      '--proxy-server=127.0.0.1:9',
      '--virtual-time-budget=20000',
      '--dump-dom',
      `file://${page}`,
    ],
    { timeout: 90_000, maxBuffer: 64 * 1024 * 1024 },
  );
  return stdout;
}

/** What the charts came to: the page's own status, drawn diagrams, and Mermaid's error text outside scripts. */
function charts(dom: string) {
  const visible = dom.replace(/<script\b[\s\S]*?<\/script>/gi, '');
  return {
    status: /data-charts="([^"]*)"/.exec(visible)?.[1],
    blocks: (visible.match(/<pre class="mermaid"/g) ?? []).length,
    drawn: (visible.match(/<svg[^>]*aria-roledescription="(?:xychart|flowchart-v2)"/g) ?? []).length,
    errors: (visible.match(/Syntax error in text|aria-roledescription="error"/g) ?? []).length,
    tables: (visible.match(/<table>/g) ?? []).length,
  };
}

function pageWith(summary: string, comment?: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'demo-page-'));
  dirs.push(dir);
  const record = new DemoRecord(dir);
  record.step({ story: 'Story', title: 'step', ok: true, line: 'ok', summary, comment });
  return writePage(record, 'page test', 'A page made by the test.');
}

describe('the demo HTML page in headless Chromium', () => {
  it('draws the Mermaid charts of summaries and comments as SVG, with no network', async () => {
    const summary = [
      table(['metric', 'value'], [['accuracy', '0.958']]),
      lineChart(
        [
          { name: 'train_loss', points: [0, 1, 2, 3].map((x) => ({ x, y: 1 / (x + 1) })) },
          { name: 'val_loss', points: [0, 1, 2, 3].map((x) => ({ x, y: 1.2 / (x + 1) })) },
        ],
        { title: 'loss per epoch', xLabel: 'epoch' },
      ),
    ].join('\n\n');
    const comment = barChart(
      [
        { label: 'control', value: 0.05 },
        { label: 'treatment', value: 0.055 },
      ],
      { title: 'CTR' },
    );
    const page = pageWith(summary, `${comment}\n\n\`\`\`mermaid\nflowchart LR\n  data --> train\n\`\`\``);
    const html = readFileSync(page, 'utf8');
    expect(html).not.toMatch(/(?:src|href)="https?:/);
    expect(charts(await renderedDom(page))).toEqual({
      status: 'drawn',
      blocks: 3,
      drawn: 3,
      errors: 0,
      tables: 1,
    });
  }, 120_000);

  it('shows when a chart could not be drawn', async () => {
    const page = pageWith('```mermaid\nxychart-beta\n  line [1, oops\n```');
    const result = charts(await renderedDom(page));
    expect(result.drawn).toBe(0);
    expect(result.status).toMatch(/^error: /);
  }, 120_000);
});
