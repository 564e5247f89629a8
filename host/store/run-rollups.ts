/**
 * Run rollups (migration 0008): what the dashboard reads instead of the runs table. The run sink adds each final row
 * to its hour and minute buckets in the transaction that writes the row, and only when the row was not final before
 * (an insert sent again, an update repeated after a lost answer, a run ended twice): every final row counts once.
 */
import { FINAL_RUN_STATUSES, type RunStatus, type RunTrigger } from '../domain/index.js';
import { ROLLUP_LAG_BOUNDS, ROLLUP_LAG_COLUMNS } from './migrations/0008-run-rollups.js';
import type { StoreContext } from './context.js';
import { num } from './records.js';
import type { RollupRepo } from './types.js';

export const HOUR_MS = 3_600_000;
export const MINUTE_MS = 60_000;

const FINAL = new Set<string>(FINAL_RUN_STATUSES);

export function isFinalStatus(status: string | undefined): boolean {
  return status !== undefined && FINAL.has(status);
}

/** What a final row adds to its buckets. */
export interface FinalRun {
  jobId: number;
  projectId: number;
  status: RunStatus;
  trigger: RunTrigger;
  scheduledAt: Date;
  startedAt: Date | null;
  endedAt: Date | null;
}

interface Cell {
  span: 'h' | 'm';
  bucket: number;
  jobId: number;
  projectId: number;
  status: string;
  runs: number;
  durN: number;
  durSum: number;
  durMax: number;
  lagN: number;
  lagSum: number;
  lagMax: number;
  lag: number[];
}

const SUMS = ['runs', 'dur_n', 'dur_sum', 'lag_n', 'lag_sum', ...ROLLUP_LAG_COLUMNS];
const MAXES = ['dur_max', 'lag_max'];
const COLUMNS = ['span', 'bucket', 'job_id', 'project_id', 'status', 'runs', 'dur_n', 'dur_sum', 'dur_max', 'lag_n', 'lag_sum', 'lag_max', ...ROLLUP_LAG_COLUMNS];

/** The histogram bucket of a lag. */
function lagSlot(lagMs: number): number {
  const slot = ROLLUP_LAG_BOUNDS.findIndex((bound) => lagMs <= bound);
  return slot === -1 ? ROLLUP_LAG_BOUNDS.length : slot;
}

/** The runs' cells, one per (span, bucket, job, status), summed in memory: a batch of a thousand ends is a few cells. */
function cellsOf(runs: readonly FinalRun[]): Cell[] {
  const cells = new Map<string, Cell>();
  for (const run of runs) {
    // A run counts in the minute it ended (a SKIPPED row that never started: its fire time).
    const at = (run.endedAt ?? run.startedAt ?? run.scheduledAt).getTime();
    const duration = run.startedAt && run.endedAt ? Math.max(0, run.endedAt.getTime() - run.startedAt.getTime()) : null;
    const lag = run.trigger === 'SCHEDULE' && run.startedAt ? Math.max(0, run.startedAt.getTime() - run.scheduledAt.getTime()) : null;
    for (const [span, size] of [['h', HOUR_MS], ['m', MINUTE_MS]] as const) {
      const bucket = Math.floor(at / size) * size;
      const key = `${span}${bucket}:${run.jobId}:${run.status}`;
      let cell = cells.get(key);
      if (!cell) {
        cell = { span, bucket, jobId: run.jobId, projectId: run.projectId, status: run.status, runs: 0, durN: 0, durSum: 0, durMax: 0, lagN: 0, lagSum: 0, lagMax: 0, lag: ROLLUP_LAG_COLUMNS.map(() => 0) };
        cells.set(key, cell);
      }
      cell.runs++;
      if (duration !== null) {
        cell.durN++;
        cell.durSum += duration;
        cell.durMax = Math.max(cell.durMax, duration);
      }
      if (lag !== null) {
        cell.lagN++;
        cell.lagSum += lag;
        cell.lagMax = Math.max(cell.lagMax, lag);
        cell.lag[lagSlot(lag)]!++;
      }
    }
  }
  return [...cells.values()];
}

/** One upsert adding the runs to their buckets, or null when there are none. */
export function rollupStatement(runs: readonly FinalRun[], ctx: Pick<StoreContext, 'driver' | 'traits'>): string | null {
  if (runs.length === 0) return null;
  const literal = ctx.driver.literal;
  const rows = cellsOf(runs).map((c) =>
    [c.span, c.bucket, c.jobId, c.projectId, c.status, c.runs, c.durN, c.durSum, c.durMax, c.lagN, c.lagSum, c.lagMax, ...c.lag].map(literal).join(', '),
  );
  const head = `INSERT INTO \`run_rollups\` (${COLUMNS.map((c) => `\`${c}\``).join(', ')}) VALUES (${rows.join('), (')})`;
  return `${head} ${ctx.traits.upsertAdding(['span', 'bucket', 'job_id', 'status'], SUMS, MAXES)}`;
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
