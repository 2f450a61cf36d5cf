/**
 * Markdown building blocks that are safe for untrusted text (metric names from files, branch names,
 * error output): nothing a user controls can close a table cell, open a link or inject HTML.
 */

const INLINE_SPECIALS = /[\\`*_{}[\]()#+\-.!|<>&~$:@]/g;

/** Escapes text for inline markdown in a table cell or a sentence: one line, no HTML, no markup. */
export function escapeMarkdown(text: string): string {
  return String(text)
    .replace(/\r?\n|\r/g, ' ')
    .replace(INLINE_SPECIALS, (c) => {
      if (c === '<') return '&lt;';
      if (c === '>') return '&gt;';
      if (c === '&') return '&amp;';
      if (c === '|') return '\\|';
      return `\\${c}`;
    });
}

/** Inline code that cannot be broken out of: picks a fence longer than any backtick run inside. */
export function inlineCode(text: string): string {
  const value = String(text)
    .replace(/\r?\n|\r/g, ' ')
    .replace(/\|/g, '¦');
  const longest = Math.max(0, ...[...value.matchAll(/`+/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  const pad = value.startsWith('`') || value.endsWith('`') || value === '' ? ' ' : '';
  return `${fence}${pad}${value}${pad}${fence}`;
}

/** A fenced code block that the content cannot close. */
export function codeBlock(text: string, language = ''): string {
  const longest = Math.max(2, ...[...String(text).matchAll(/`{3,}|~{3,}/g)].map((m) => m[0].length));
  const fence = '`'.repeat(longest + 1);
  return `${fence}${language.replace(/[^\w+-]/g, '')}\n${String(text).replace(/\n$/, '')}\n${fence}`;
}

export type Align = 'left' | 'right' | 'center';

/**
 * A GitHub table. Cells are raw markdown the caller built (escape untrusted text with escapeMarkdown);
 * newlines and pipes are neutralised here anyway so a cell can never break the table's shape.
 */
export function table(headers: string[], rows: string[][], align: Align[] = []): string {
  const cell = (text: string) =>
    String(text)
      .replace(/\r?\n|\r/g, ' ')
      .replace(/(?<!\\)\|/g, '\\|') || ' ';
  const rule = headers.map((_, i) => {
    const a = align[i] ?? 'left';
    return a === 'right' ? '---:' : a === 'center' ? ':---:' : '---';
  });
  const lines = [
    `| ${headers.map(cell).join(' | ')} |`,
    `| ${rule.join(' | ')} |`,
    ...rows.map((row) => `| ${headers.map((_, i) => cell(row[i] ?? '')).join(' | ')} |`),
  ];
  return lines.join('\n');
}

/** A collapsible section; the summary text is escaped. */
export function details(summary: string, body: string): string {
  return `<details><summary>${escapeHtml(summary)}</summary>\n\n${body}\n\n</details>`;
}

export function escapeHtml(text: string): string {
  return String(text).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** Formats a metric value for a table: NaN and infinities spelled out, at most `digits` significant digits. */
export function formatNumber(value: number | undefined, digits = 4): string {
  if (value === undefined) return '—';
  if (Number.isNaN(value)) return 'NaN';
  if (value === Number.POSITIVE_INFINITY) return '+Inf';
  if (value === Number.NEGATIVE_INFINITY) return '-Inf';
  if (value === 0) return '0';
  const abs = Math.abs(value);
  if (abs >= 1e6 || abs < 1e-4) return value.toExponential(digits - 1).replace(/\.?0+e/, 'e');
  return String(Number(value.toPrecision(digits)));
}
