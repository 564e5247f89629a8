/**
 * A horizontal bar chart as a hand-written SVG: one labelled bar per row, the value printed beside it. A log
 * scale for figures that span decades (microseconds to tens of milliseconds).
 */

export interface Bar {
  label: string;
  value: number;
  /** Printed instead of the value (e.g. "out of memory"); the bar is left out. */
  text?: string;
  /** Highlights JobCenter's own bars. */
  ours?: boolean;
}

export interface Chart {
  title: string;
  unit: string;
  bars: Bar[];
  log?: boolean;
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

export function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return '–';
  if (n !== 0 && Math.abs(n) < 0.01) return n.toPrecision(2);
  const digits = Math.abs(n) >= 100 ? 0 : Math.abs(n) >= 10 ? 1 : 2;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

export function barChart(chart: Chart): string {
  const labelW = 300;
  const barW = 380;
  const rowH = 24;
  const top = 36;
  const width = labelW + barW + 120;
  const height = top + chart.bars.length * rowH + 12;
  const values = chart.bars.filter((b) => b.text === undefined && Number.isFinite(b.value) && b.value > 0).map((b) => b.value);
  const max = Math.max(...values, 1e-9);
  const min = Math.min(...values, max);
  const floor = chart.log ? Math.floor(Math.log10(min)) : 0;
  const span = chart.log ? Math.max(1e-9, Math.log10(max) - floor) : max;
  const length = (v: number): number => Math.max(2, ((chart.log ? Math.log10(v) - floor : v) / span) * barW);
  const rows = chart.bars.map((bar, i) => {
    const y = top + i * rowH;
    const label = `<text x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(bar.label)}</text>`;
    if (bar.text !== undefined || !Number.isFinite(bar.value) || bar.value <= 0) {
      return `${label}<text x="${labelW + 4}" y="${y + 16}" fill="#666">${esc(bar.text ?? 'n/a')}</text>`;
    }
    const w = length(bar.value);
    const fill = bar.ours ? '#2b6cb0' : '#a0aec0';
    return `${label}<rect x="${labelW}" y="${y + 4}" width="${w.toFixed(1)}" height="${rowH - 8}" fill="${fill}"/><text x="${(labelW + w + 6).toFixed(1)}" y="${y + 16}">${esc(fmtNumber(bar.value))} ${esc(chart.unit)}</text>`;
  });
  const scale = chart.log ? ' (log scale)' : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="13">`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="8" y="22" font-size="15" font-weight="bold">${esc(chart.title)}${scale}</text>`,
    ...rows,
    '</svg>',
    '',
  ].join('\n');
}
