/**
 * Run rollups (migrations 0008 and 0011): what the dashboard reads instead of the runs table. The run sink adds each
 * final row to its job's hour bucket and its project's minute bucket in the transaction that writes the row, and only
 * when the row was not final before (an insert sent again, an update repeated after a lost answer, a run ended twice):
 * every final row counts once. The host does the sums (rollupUpsert); the run sink knows which rows were not final
 * (run-sink.ts).
 */
import { FINAL_RUN_STATUSES } from '../domain/index.js';
import { ROLLUP_LAG_BOUNDS, ROLLUP_LAG_COLUMNS } from './migrations/0008-run-rollups.js';
import { ROLLUP_KEY } from './migrations/0011-rollup-minutes-by-project.js';
import type { DialectTraits } from './capabilities.js';
import type { StoreContext } from './context.js';
import { num } from './records.js';
import type { RollupRepo } from './types.js';

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

const FINAL = new Set<string>(FINAL_RUN_STATUSES);

export function isFinalStatus(status: string | undefined): boolean {
  return status !== undefined && FINAL.has(status);
}

/** What a final row adds to the rollups: the run's facts, its times as epoch milliseconds. */
export interface RollupFact {
  jobId: number;
  projectId: number;
  status: string;
  trigger: string;
  /** The fire time (scheduled_at). */
  fired: number;
  started: number | null;
  ended: number | null;
}

const SUMS = ['runs', 'dur_n', 'dur_sum', 'lag_n', 'lag_sum', ...ROLLUP_LAG_COLUMNS];
const MAXES = ['dur_max', 'lag_max'];
/** A cell's figures, in the order they are written after its key (span, bucket, job, project, status). */
const FIGURES = ['runs', 'dur_n', 'dur_sum', 'dur_max', 'lag_n', 'lag_sum', 'lag_max', ...ROLLUP_LAG_COLUMNS];
const COLUMNS = ['span', 'bucket', 'job_id', 'project_id', 'status', ...FIGURES];
const HEAD = `INSERT INTO \`run_rollups\` (${COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES `;
/**
 * The spans a run is counted in: hour cells per job (the 24-hour figures name the slowest jobs), minute cells per
 * project (the last hour's series is read per project), whose job is 0 (migration 0011).
 */
const SPANS = [
  { span: 'h', size: HOUR_MS, perJob: true },
  { span: 'm', size: MINUTE_MS, perJob: false },
] as const;
const [RUNS, DUR_N, DUR_SUM, DUR_MAX, LAG_N, LAG_SUM, LAG_MAX, LAG_H0] = ['runs', 'dur_n', 'dur_sum', 'dur_max', 'lag_n', 'lag_sum', 'lag_max', 'lag_h0'].map(
  (column) => FIGURES.indexOf(column),
) as [number, number, number, number, number, number, number, number];

interface Cell {
  span: string;
  bucket: number;
  jobId: number;
  projectId: number;
  status: string;
  figures: number[];
}

/**
 * The slot of ROLLUP_LAG_BOUNDS a lag falls in: the first bound it does not pass, the last slot taking the rest.
 */
function lagSlot(lag: number): number {
  for (let i = 0; i < ROLLUP_LAG_BOUNDS.length; i++) if (lag <= ROLLUP_LAG_BOUNDS[i]!) return i;
  return ROLLUP_LAG_BOUNDS.length;
}

/**
 * One upsert that adds these runs to their hour and minute buckets (null: no runs), summed here. The run sink sends
 * it in the transaction that makes the rows final, and only for rows that were not final before (run-sink.ts).
 * - A run counts in the minute it ended (one that never started: its fire time).
 * - Its duration is ended − started when it has both; its fire lag, started − fire time, for SCHEDULE runs that
 *   started. Both are at least 0.
 *
 * The database used to sum them, with an INSERT … SELECT over the rows: a read of every row back, its date text
 * parsed, and a sort of two cells per run, about a fifth of SQLite's work in a burst (docs/benchmarks.md).
 */
export function rollupUpsert(facts: readonly RollupFact[], traits: Pick<DialectTraits, 'upsertAdding'>, literal: (value: unknown) => string): string | null {
  if (facts.length === 0) return null;
  const cells = new Map<string, Cell>();
  // A burst's runs mostly share their job, status and minute: the last cell is looked at before the map.
  const last: Cell[] = [];
  for (const fact of facts) {
    const at = fact.ended ?? fact.started ?? fact.fired;
    const dur = fact.started !== null && fact.ended !== null ? Math.max(0, fact.ended - fact.started) : null;
    const lag = fact.trigger === 'SCHEDULE' && fact.started !== null ? Math.max(0, fact.started - fact.fired) : null;
    for (let s = 0; s < SPANS.length; s++) {
      const { span, size, perJob } = SPANS[s]!;
      const bucket = at - (at % size);
      const jobId = perJob ? fact.jobId : 0;
      let cell = last[s];
      if (!cell || cell.bucket !== bucket || cell.jobId !== jobId || cell.projectId !== fact.projectId || cell.status !== fact.status) {
        const key = `${span} ${bucket} ${fact.projectId} ${jobId} ${fact.status}`;
        const known = cells.get(key);
        cell = known ?? { span, bucket, jobId, projectId: fact.projectId, status: fact.status, figures: new Array<number>(FIGURES.length).fill(0) };
        if (!known) cells.set(key, cell);
        last[s] = cell;
      }
      const f = cell.figures;
      f[RUNS]!++;
      if (dur !== null) {
        f[DUR_N]!++;
        f[DUR_SUM]! += dur;
        f[DUR_MAX] = Math.max(f[DUR_MAX]!, dur);
      }
      if (lag !== null) {
        f[LAG_N]!++;
        f[LAG_SUM]! += lag;
        f[LAG_MAX] = Math.max(f[LAG_MAX]!, lag);
        f[LAG_H0 + lagSlot(lag)]!++;
      }
    }
  }
  // Spans and statuses are few: each is quoted once per upsert, not once per cell.
  const quoted = new Map<string, string>();
  const quote = (text: string): string => {
    let q = quoted.get(text);
    if (q === undefined) quoted.set(text, (q = literal(text)));
    return q;
  };
  const rows: string[] = [];
  for (const cell of cells.values()) {
    rows.push(`(${quote(cell.span)}, ${cell.bucket}, ${cell.jobId}, ${cell.projectId}, ${quote(cell.status)}, ${cell.figures.join(', ')})`);
  }
  return `${HEAD}${rows.join(', ')} ${traits.upsertAdding(ROLLUP_KEY, SUMS, MAXES)}`;
}

export function createRollupRepo({ driver }: StoreContext): RollupRepo {
  const scoped = (projectIds: number[] | undefined): [string, number[]] => [
    projectIds ? ` AND \`project_id\` IN (${projectIds.map(() => '?').join(', ') || 'NULL'})` : '',
    projectIds ?? [],
  ];
  return {
    async day({ projectIds, hoursSince, slowest: top }) {
      const [scope, ids] = scoped(projectIds);
      const values = ['h', hoursSince.getTime(), ...ids];
      const [byStatus, slowest] = await Promise.all([
        driver.select(`SELECT \`status\`, SUM(\`runs\`) AS n FROM \`run_rollups\` WHERE \`span\` = ? AND \`bucket\` >= ?${scope} GROUP BY \`status\``, values),
        driver.select(
          `SELECT \`job_id\` AS jobId, MAX(\`project_id\`) AS projectId, SUM(\`runs\`) AS runs, SUM(\`dur_sum\`) / SUM(\`dur_n\`) AS avgMs, MAX(\`dur_max\`) AS maxMs
           FROM \`run_rollups\` WHERE \`span\` = ? AND \`bucket\` >= ?${scope} GROUP BY \`job_id\` HAVING SUM(\`dur_n\`) > 0
           ORDER BY avgMs DESC, \`job_id\` LIMIT ${Math.max(1, Math.floor(top))}`,
          values,
        ),
      ]);
      return {
        byStatus: Object.fromEntries(byStatus.map((row) => [String(row.status), num(row.n)])),
        slowest: slowest.map((row) => ({ jobId: num(row.jobId), projectId: num(row.projectId), runs: num(row.runs), avgMs: num(row.avgMs), maxMs: num(row.maxMs) })),
      };
    },
    async minutes({ projectIds, minutesSince }) {
      const [scope, ids] = scoped(projectIds);
      const rows = await driver.select(
        `SELECT \`bucket\`, SUM(\`runs\`) AS runs, ${ROLLUP_LAG_COLUMNS.map((c) => `SUM(\`${c}\`) AS ${c}`).join(', ')}, MAX(\`lag_max\`) AS lagMax
         FROM \`run_rollups\` WHERE \`span\` = ? AND \`bucket\` >= ?${scope} GROUP BY \`bucket\``,
        ['m', minutesSince.getTime(), ...ids],
      );
      return rows.map((row) => ({
        bucket: num(row.bucket),
        runs: num(row.runs),
        lagP95Ms: lagP95(ROLLUP_LAG_COLUMNS.map((c) => num(row[c])), num(row.lagMax)),
      }));
    },
  };
}

/** The p95 of a minute's lag from its histogram: the upper bound of the bucket it falls in (the maximum for the last). */
function lagP95(histogram: readonly number[], maxMs: number): number | null {
  const total = histogram.reduce((a, b) => a + b, 0);
  if (total === 0) return null;
  const rank = Math.ceil(total * 0.95);
  let seen = 0;
  for (let i = 0; i < histogram.length; i++) {
    seen += histogram[i]!;
    if (seen >= rank) return Math.min(ROLLUP_LAG_BOUNDS[i] ?? maxMs, maxMs);
  }
  return maxMs;
}
