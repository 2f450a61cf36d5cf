/**
 * The demo's single self-contained HTML page: every step's job summary and would-be PR comment, tables as
 * HTML and Mermaid charts drawn in the browser by the Mermaid bundle inlined in the page, so it opens
 * with no network.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { Marked } from 'marked';
import type { DemoRecord } from './record';

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

const markdown = new Marked({
  gfm: true,
  renderer: {
    code({ text, lang }) {
      if (lang === 'mermaid') return `<pre class="mermaid">${escapeHtml(text)}</pre>\n`;
      return false;
    },
  },
});

function html(md: string): string {
  return markdown.parse(md, { async: false });
}

/** Mermaid's standalone browser bundle, made safe to inline in a script element. */
function mermaidBundle(): string {
  const file = createRequire(import.meta.url).resolve('mermaid/dist/mermaid.min.js');
  return readFileSync(file, 'utf8').replace(/<\/script/gi, '<\\/script');
}

const STYLE = `body{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#1f2328}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #d0d7de;padding:3px 8px}th{background:#f6f8fa}
section.step{border:1px solid #d0d7de;border-radius:6px;padding:0 1em;margin:1em 0}
section.step>h3{margin:.6em 0}.fail{color:#cf222e}.ok{color:#1a7f37}
details.comment{background:#f6f8fa;border-left:4px solid #0969da;padding:.3em 1em;margin:.8em 0}
pre{background:#f6f8fa;padding:.6em;overflow:auto}pre.mermaid{background:none}`;

/** Writes the page and answers its path. */
export function writePage(record: DemoRecord, title: string, preamble: string): string {
  const stories = [...new Set([...record.steps.map((s) => s.story), ...record.notes.map((n) => n.story)])];
  const body: string[] = [`<h1>${escapeHtml(title)}</h1>`, html(preamble)];
  if (record.skipped.length > 0) {
    body.push(
      '<h2>Skipped</h2><ul>',
      ...record.skipped.map((s) => `<li><b>${escapeHtml(s.story)}</b>: ${escapeHtml(s.reason)}</li>`),
      '</ul>',
    );
  }
  for (const story of stories) {
    body.push(`<h2>${escapeHtml(story)}</h2>`);
    for (const note of record.notes.filter((n) => n.story === story)) {
      body.push(`<section class="step"><h3>${escapeHtml(note.title)}</h3>${html(note.markdown)}</section>`);
    }
    for (const step of record.steps.filter((s) => s.story === story)) {
      body.push(
        `<section class="step"><h3 class="${step.ok ? 'ok' : 'fail'}">${step.ok ? '✓' : '✗'} ${escapeHtml(step.title)}</h3>`,
        `<p>${escapeHtml(step.line)}</p>`,
        step.comment
          ? `<details class="comment" open><summary>Pull request comment</summary>${html(step.comment)}</details>`
          : '',
        `<details open><summary>Job summary</summary>${html(step.summary)}</details></section>`,
      );
    }
  }
  const page = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title><style>${STYLE}</style></head>
<body>
${body.join('\n')}
<script>${mermaidBundle()}</script>
<script>
mermaid.initialize({ startOnLoad: false, securityLevel: 'strict' });
mermaid.run({ querySelector: 'pre.mermaid' }).then(
  () => { document.body.dataset.charts = 'drawn'; },
  (error) => { document.body.dataset.charts = 'error: ' + error; },
);
</script>
</body></html>
`;
  const file = join(record.outputDir, 'index.html');
  writeFileSync(file, page);
  return file;
}
