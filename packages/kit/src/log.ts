/**
 * The log is a command channel: the runner acts on any stdout line that starts (after blanks) with
 * `::`, and on the legacy `##[` form anywhere in a line. Untrusted values (metric names, paths, server
 * messages) must never begin such a line, so the kit's writer neutralises every line it prints and
 * `logValue` keeps an interpolated value on one line.
 */

// A zero-width space between the colons: the line reads the same, but no longer starts with `::`.
const BREAK = '\u200b';

/** A line the runner will print and never act on. */
export function neutraliseLine(line: string): string {
  return line.replace(/^(\s*):(?=:)/, `$1:${BREAK}`).replace(/##\[/g, `#${BREAK}#[`);
}

/** Text of any number of lines, each one neutralised. */
export function neutraliseText(text: string): string {
  return String(text)
    .split(/\r\n|[\r\n\u2028\u2029]/)
    .map(neutraliseLine)
    .join('\n');
}

/**
 * An untrusted value to interpolate into a log line: line breaks and other control characters shown
 * escaped (`\n`), so the value cannot start a line of its own or forge the lines around it.
 */
export function logValue(value: unknown): string {
  return neutraliseLine(
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
    String(value).replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, (c) => {
      if (c === '\n') return '\\n';
      if (c === '\r') return '\\r';
      if (c === '\t') return '\t';
      return `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }),
  );
}
