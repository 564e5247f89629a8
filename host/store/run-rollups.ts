/**
 * Run rollups (migration 0008): what the dashboard reads instead of the runs table. The run sink adds each final row
 * to its hour and minute buckets in the transaction that writes the row, and only when the row was not final before
 * (an insert sent again, an update repeated after a lost answer, a run ended twice): every final row counts once.
 * The database does the sums (rollupFrom), from the rows as the transaction sees them.
 */
import { FINAL_RUN_STATUSES } from '../domain/index.js';
import { ROLLUP_LAG_BOUNDS, ROLLUP_LAG_COLUMNS } from './migrations/0008-run-rollups.js';
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

/**
 * What a rollup reads from its source, each row one run that is final now and was not before: `job_id`,
 * `project_id`, `status`, `trigger_type`, `scheduled_at` as the runs table holds it, and `started` and `ended` as epoch
 * milliseconds. The run sink knows most starts and ends as numbers already (a run's final update carries both), so
 * the database reads a date's text only where the sink does not have it: on SQLite that parse (strftime and substr,
 * epochMs) was a tenth of the writer thread's time in a 40,000-run burst (perf record).
 */
export function rollupSource(traits: Pick<DialectTraits, 'epochMs'>, from: string): string {
  return `SELECT \`job_id\`, \`project_id\`, \`status\`, \`trigger_type\`, \`scheduled_at\`,
    ${traits.epochMs('`started_at`')} AS \`started\`, ${traits.epochMs('`ended_at`')} AS \`ended\` FROM ${from}`;
}

const SUMS = ['runs', 'dur_n', 'dur_sum', 'lag_n', 'lag_sum', ...ROLLUP_LAG_COLUMNS];
const MAXES = ['dur_max', 'lag_max'];
const COLUMNS = ['span', 'bucket', 'job_id', 'project_id', 'status', 'runs', 'dur_n', 'dur_sum', 'dur_max', 'lag_n', 'lag_sum', 'lag_max', ...ROLLUP_LAG_COLUMNS];
/**
 * A LIMIT no batch reaches, on the runs' subquery: SQLite then keeps it a subquery rather than copying its
 * expressions into each of the outer query's 20 uses (a statement 4 times as long to prepare: 1.0 ms against 0.23
 * for one run, measured with sqlite3's exec). Harmless on MySQL.
 */
const NOT_FLATTENED = 1_000_000_000;
const SPANS = `SELECT 'h' AS span, ${HOUR_MS} AS size UNION ALL SELECT 'm', ${MINUTE_MS}`;

/** The lag histogram: one count per bucket of ROLLUP_LAG_BOUNDS, the last one taking the rest. */
function lagCounts(): string[] {
  return ROLLUP_LAG_COLUMNS.map((_, i) => {
    const above = i === 0 ? null : ROLLUP_LAG_BOUNDS[i - 1]!;
    const upTo = ROLLUP_LAG_BOUNDS[i] ?? null;
    const test = [above === null ? null : `e.lag > ${above}`, upTo === null ? null : `e.lag <= ${upTo}`].filter(Boolean).join(' AND ');
    return `SUM(CASE WHEN ${test} THEN 1 ELSE 0 END)`;
  });
}

/**
 * One INSERT … SELECT that adds the source's runs to their hour and minute buckets, summed by the database: the
 * sink sends it in the transaction that makes the rows final, in the same call (driver.script), so that a lone run's
 * end costs the writer one trip and not four (BEGIN, a read of the rows, the upsert, COMMIT).
 * - A run counts in the minute it ended (a SKIPPED row that never started: its fire time).
 * - Its duration is ended − started when it has both; its fire lag, started − fire time, for SCHEDULE runs that
 *   started. Both are at least 0.
 */
export function rollupFrom(source: string, traits: Pick<DialectTraits, 'epochMs' | 'upsertAdding'>): string {
  const ms = traits.epochMs;
  const positive = (a: string, b: string) => `CASE WHEN ${a} > ${b} THEN ${a} - ${b} ELSE 0 END`;
  // The fire time is read only where it counts: the lag of a SCHEDULE run, and the bucket of a run that never started.
  const fired = `CASE WHEN s.trigger_type = 'SCHEDULE' OR COALESCE(s.ended, s.started) IS NULL THEN ${ms('s.scheduled_at')} END`;
  const times = `SELECT s.job_id, s.project_id, s.status, s.trigger_type, ${fired} AS fired, s.started, s.ended FROM (${source}) s`;
  const runs = `SELECT t.job_id, t.project_id, t.status, COALESCE(t.ended, t.started, t.fired) AS at,
    CASE WHEN t.started IS NOT NULL AND t.ended IS NOT NULL THEN ${positive('t.ended', 't.started')} END AS dur,
    CASE WHEN t.trigger_type = 'SCHEDULE' AND t.started IS NOT NULL THEN ${positive('t.started', 't.fired')} END AS lag
    FROM (${times}) t LIMIT ${NOT_FLATTENED}`;
  const bucket = 'e.at - e.at % p.size';
  return `INSERT INTO \`run_rollups\` (${COLUMNS.map((c) => `\`${c}\``).join(', ')})
    SELECT p.span, ${bucket}, e.job_id, MAX(e.project_id), e.status, COUNT(*),
      COUNT(e.dur), COALESCE(SUM(e.dur), 0), COALESCE(MAX(e.dur), 0),
      COUNT(e.lag), COALESCE(SUM(e.lag), 0), COALESCE(MAX(e.lag), 0), ${lagCounts().join(', ')}
    FROM (${runs}) e CROSS JOIN (${SPANS}) p
    WHERE e.at IS NOT NULL
    GROUP BY p.span, ${bucket}, e.job_id, e.status
    ${traits.upsertAdding(['span', 'bucket', 'job_id', 'status'], SUMS, MAXES)}`;
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
