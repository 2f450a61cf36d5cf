/**
 * Mermaid `xychart-beta` line charts, which GitHub renders in summaries and comments. Labels come from
 * untrusted files, so they are quoted and stripped of anything that could end the block or the string.
 */

export interface Series {
  name: string;
  points: Array<{ x: number; y: number }>;
}

export interface LineChartOptions {
  title: string;
  xLabel?: string;
  yLabel?: string;
  /** At most this many x positions; longer histories are thinned evenly, keeping the last point. */
  maxPoints?: number;
}

/** A quoted Mermaid string: no quotes, backticks, newlines or fence-breaking characters inside. */
export function mermaidString(text: string): string {
  const clean = String(text)
    .replace(/[\r\n]+/g, ' ')
    .replace(/["`#;{}<>\\]/g, '')
    .replace(/-->/g, '->')
    .trim()
    .slice(0, 80);
  return `"${clean}"`;
}

function mermaidNumber(value: number): string {
  if (!Number.isFinite(value)) return '0';
  return String(Number(value.toPrecision(6)));
}

function thin<T>(items: T[], max: number): T[] {
  if (items.length <= max) return items;
  const out: T[] = [];
  for (let i = 0; i < max; i++) out.push(items[Math.round((i * (items.length - 1)) / (max - 1))]!);
  return out;
}

/**
 * One line per series over the union of their x values (steps). Non-finite values cannot be drawn by
 * Mermaid; such points are dropped and the gap is filled with the previous value. Returns '' when there is
 * nothing to draw.
 */
export function lineChart(series: Series[], options: LineChartOptions): string {
  const drawable = series
    .map((s) => ({ ...s, points: s.points.filter((p) => Number.isFinite(p.y) && Number.isFinite(p.x)) }))
    .filter((s) => s.points.length > 0);
  if (drawable.length === 0) return '';
  const xs = thin(
    [...new Set(drawable.flatMap((s) => s.points.map((p) => p.x)))].sort((a, b) => a - b),
    options.maxPoints ?? 50,
  );
  const lines = drawable.map((s) => {
    const byX = new Map<number, number>();
    for (const p of s.points) byX.set(p.x, p.y);
    const sorted = [...s.points].sort((a, b) => a.x - b.x);
    let last = sorted[0]!.y;
    return xs.map((x) => {
      if (byX.has(x)) last = byX.get(x)!;
      else {
        const before = sorted.filter((p) => p.x <= x).pop();
        if (before) last = before.y;
      }
      return last;
    });
  });
  const all = lines.flat();
  let min = Math.min(...all);
  let max = Math.max(...all);
  if (min === max) {
    const pad = Math.abs(min) * 0.05 || 1;
    min -= pad;
    max += pad;
  }
  const out = [
    '```mermaid',
    'xychart-beta',
    `  title ${mermaidString(options.title)}`,
    `  x-axis ${options.xLabel ? `${mermaidString(options.xLabel)} ` : ''}[${xs.map((x) => mermaidNumber(x)).join(', ')}]`,
    `  y-axis ${options.yLabel ? `${mermaidString(options.yLabel)} ` : ''}${mermaidNumber(min)} --> ${mermaidNumber(max)}`,
    ...lines.map((values) => `  line [${values.map(mermaidNumber).join(', ')}]`),
    '```',
  ];
  return out.join('\n');
}

/** A legend for a multi-line chart (xychart-beta draws no legend of its own). */
export function chartLegend(series: Series[]): string {
  return series.map((s, i) => `${i + 1}. ${s.name.replace(/[\r\n|<>`*_[\]]/g, ' ')}`).join('\n');
}

/** A bar chart of one value per category (e.g. per variant or per phase); non-finite values are drawn as 0. */
export function barChart(
  bars: Array<{ label: string; value: number }>,
  options: Omit<LineChartOptions, 'maxPoints'>,
): string {
  if (bars.length === 0) return '';
  const values = bars.map((b) => (Number.isFinite(b.value) ? b.value : 0));
  const max = Math.max(...values, 0);
  const min = Math.min(...values, 0);
  return [
    '```mermaid',
    'xychart-beta',
    `  title ${mermaidString(options.title)}`,
    `  x-axis ${options.xLabel ? `${mermaidString(options.xLabel)} ` : ''}[${bars.map((b) => mermaidString(b.label)).join(', ')}]`,
    `  y-axis ${options.yLabel ? `${mermaidString(options.yLabel)} ` : ''}${mermaidNumber(min)} --> ${mermaidNumber(max === min ? min + 1 : max)}`,
    `  bar [${values.map(mermaidNumber).join(', ')}]`,
    '```',
  ].join('\n');
}
