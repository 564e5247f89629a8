/**
 * Turns the samples of every repetition into rows (median, min–max of each figure), then into the markdown tables
 * and the charts of docs/benchmarks.md.
 */
import type { Gap, Step, Workload } from './plan.js';
import type { Sample } from './measure.js';
import { fmtNumber, type Bar, type Chart } from './svg.js';

export interface Outcome {
  step: Step;
  samples: Sample[];
  /** The UTC minute of the hour the process started in (fire lag depends on it for node-cron). */
  minute: number;
}

export interface Row {
  workload: Workload;
  size: number;
  subject: string;
  values: Record<string, number[]>;
  notes: string[];
  minutes: number[];
}

export function aggregate(outcomes: Outcome[]): Row[] {
  const rows = new Map<string, Row>();
  for (const { step, samples, minute } of outcomes) {
    for (const sample of samples) {
      const key = `${step.workload}|${step.size}|${sample.subject}`;
      let row = rows.get(key);
      if (!row) rows.set(key, (row = { workload: step.workload, size: step.size, subject: sample.subject, values: {}, notes: [], minutes: [] }));
      row.minutes.push(minute);
      for (const [name, value] of Object.entries(sample.metrics)) (row.values[name] ??= []).push(value);
      if (sample.note && !row.notes.includes(sample.note)) row.notes.push(sample.note);
    }
  }
  return [...rows.values()];
}

export function median(values: number[] | undefined): number {
  if (!values || values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** "median (min–max)" when the repetitions differ. */
export function cell(values: number[] | undefined, scale = 1): string {
  if (!values || values.length === 0) return '–';
  const v = values.filter(Number.isFinite).map((x) => x * scale);
  if (v.length === 0) return '–';
  const lo = Math.min(...v);
  const hi = Math.max(...v);
  const mid = fmtNumber(median(v));
  return v.length > 1 && fmtNumber(lo) !== fmtNumber(hi) ? `${mid} (${fmtNumber(lo)}–${fmtNumber(hi)})` : mid;
}

interface Column {
  title: string;
  value(row: Row, all: Row[]): string;
}

const metric = (title: string, name: string, scale = 1): Column => ({ title, value: (row) => cell(row.values[name], scale) });

function piscinaOf(all: Row[]): number {
  return median(all.find((r) => r.workload === 'throughput' && r.subject.startsWith('raw piscina'))?.values.runsPerSec);
}

function baselineRss(row: Row, all: Row[]): number {
  return median(all.find((r) => r.workload === 'scale' && r.size === 0 && r.subject === row.subject)?.values.rss);
}

const COLUMNS: Record<Workload, Column[]> = {
  tick: [metric('lag p50 ms', 'p50'), metric('lag p99 ms', 'p99'), metric('lag max ms', 'max'), metric('missed', 'missed'), metric('CPU % of a core', 'cpu'), metric('RSS MB', 'rss')],
  spread: [metric('lag p50 ms', 'p50'), metric('lag p99 ms', 'p99'), metric('lag max ms', 'max'), metric('missed', 'missed'), metric('CPU % of a core', 'cpu'), metric('RSS MB', 'rss')],
  throughput: [
    metric('runs/s', 'runsPerSec'),
    { title: '× raw piscina', value: (row, all) => (row.values.runsPerSec ? fmtNumber(median(row.values.runsPerSec) / piscinaOf(all)) : '–') },
    metric('drain after the last accepted, ms', 'drainMs'),
  ],
  rest: [
    metric('runs/s', 'runsPerSec'),
    { title: '× raw piscina', value: (row, all) => (row.values.runsPerSec ? fmtNumber(median(row.values.runsPerSec) / piscinaOf(all)) : '–') },
    metric('drain ms', 'drainMs'),
    metric('refused', 'refused'),
  ],
  scale: [
    metric('start-up ms', 'startMs'),
    metric('restart ms', 'restartMs'),
    metric('idle CPU %', 'idleCpu'),
    metric('RSS MB', 'rss'),
    {
      title: 'KB per job',
      value: (row, all) => (row.size > 0 && row.values.rss ? fmtNumber(((median(row.values.rss) - baselineRss(row, all)) * 1024) / row.size) : '–'),
    },
    metric('setup ms', 'setupMs'),
  ],
  isolation: [metric('p50 µs', 'p50Us'), metric('p99 µs', 'p99Us'), metric('MB per loaded project', 'mbPerProject')],
  console: [metric('p50 ms', 'p50'), metric('p95 ms', 'p95'), metric('max ms', 'max')],
  reload: [metric('switch ms', 'switchMs'), metric('upload ms', 'uploadMs'), metric('missed', 'missed'), metric('lag p50 ms', 'p50'), metric('lag p99 ms', 'p99')],
};

const SIZE_NAME: Record<Workload, string> = { tick: 'jobs', spread: 'jobs', throughput: 'runs', rest: 'runs', scale: 'jobs', isolation: 'runs', reload: 'jobs', console: 'runs' };

export function table(workload: Workload, all: Row[], gaps: Gap[]): string {
  const rows = all.filter((r) => r.workload === workload);
  const cols = COLUMNS[workload];
  const lines = [`| ${SIZE_NAME[workload]} | contender | ${cols.map((c) => c.title).join(' | ')} | note |`, `|---|---|${cols.map(() => '---|').join('')}---|`];
  for (const row of rows) {
    const minutes = workload === 'tick' || workload === 'spread' || workload === 'reload' ? `minute ${[...new Set(row.minutes)].join(', ')}` : '';
    const note = [...row.notes, minutes].filter(Boolean).join('; ');
    lines.push(`| ${row.size.toLocaleString('en-US')} | ${row.subject} | ${cols.map((c) => c.value(row, all)).join(' | ')} | ${note} |`);
  }
  for (const gap of gaps.filter((g) => g.workload === workload || (workload === 'throughput' && g.workload === 'rest'))) {
    lines.push(`| | ${gap.label} | ${cols.map(() => '–').join(' | ')} | ${gap.reason} |`);
  }
  return lines.join('\n');
}

const ours = (subject: string): boolean => subject.startsWith('JobCenter');

function bars(rows: Row[], name: string, scale = 1): Bar[] {
  return rows.map((r) => ({
    label: r.subject,
    value: median(r.values[name]) * scale,
    ours: ours(r.subject),
    ...(r.values[name] ? {} : { text: r.notes[0]?.slice(0, 60) ?? 'n/a' }),
  }));
}

/** The charts the page embeds, by file name. */
export function charts(all: Row[]): Record<string, Chart> {
  const out: Record<string, Chart> = {};
  const tickSize = Math.max(...all.filter((r) => r.workload === 'tick' && r.size <= 1000).map((r) => r.size), 0);
  const tick = all.filter((r) => r.workload === 'tick' && r.size === tickSize);
  if (tick.length) out['tick-p99.svg'] = { title: `Fire lag p99, ${tickSize.toLocaleString('en-US')} every-second jobs`, unit: 'ms', bars: bars(tick, 'p99'), log: true };
  const tput = all.filter((r) => r.workload === 'throughput' || r.workload === 'rest').map((r) => (r.workload === 'rest' ? { ...r, subject: `${r.subject} via REST` } : r));
  if (tput.length) out['throughput.svg'] = { title: 'Completed runs per second', unit: 'runs/s', bars: bars(tput, 'runsPerSec'), log: true };
  const scaleSize = Math.max(...all.filter((r) => r.workload === 'scale').map((r) => r.size), 0);
  const scale = all.filter((r) => r.workload === 'scale' && r.size === scaleSize);
  if (scale.length) out['scale-rss.svg'] = { title: `RSS holding ${scaleSize.toLocaleString('en-US')} cron jobs`, unit: 'MB', bars: bars(scale, 'rss') };
  const iso = all.filter((r) => r.workload === 'isolation');
  if (iso.length) out['isolation-p50.svg'] = { title: 'One empty run, p50', unit: 'µs', bars: bars(iso, 'p50Us'), log: true };
  return out;
}
