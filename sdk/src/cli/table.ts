/**
 * Tables for people: a header row and aligned columns, values shortened so one row stays one line.
 */

const MAX_CELL = 60;

/** Writes `rows` under `header`, columns two spaces apart; `empty` when there are no rows. */
export function writeTable(out: NodeJS.WritableStream, header: string[], rows: string[][], empty: string): void {
  if (rows.length === 0) return void out.write(`${empty}\n`);
  const cells = rows.map((row) => row.map(cell));
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]): string => row.map((c, i) => (i === row.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  out.write(`${[header, ...cells].map(line).join('\n')}\n`);
}

function cell(value: string): string {
  const flat = value.replace(/\s+/g, ' ').trim();
  return flat.length > MAX_CELL ? `${flat.slice(0, MAX_CELL - 1)}…` : flat;
}

/** An ISO time as `2026-01-31 12:00:05Z` (UTC, to the second); '-' when there is none. */
export function time(iso: string | null | undefined): string {
  if (!iso) return '-';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : `${date.toISOString().slice(0, 19).replace('T', ' ')}Z`;
}

/** A duration as `850ms`, `12.3s` or `4m05s`. */
export function duration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined) return '-';
  if (ms < 1000) return `${ms}ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}
